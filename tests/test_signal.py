"""Physical properties of the conditioning filters (property-based where it matters)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgdl.signal import bandpass, condition, ConditioningConfig, notch, remove_baseline, resample, snr_db

FS = st.sampled_from([250.0, 360.0, 500.0, 1000.0])


def _sine(freq, fs, seconds=10.0, amp=1.0, phase=0.0):
    t = np.arange(int(seconds * fs)) / fs
    return amp * np.sin(2 * np.pi * freq * t + phase)


def _core(x, fs):
    """Drop 2 s at each end, where any IIR filter has transients."""
    return x[int(2 * fs): -int(2 * fs)]


@settings(max_examples=25, deadline=None)
@given(fs=FS, amp=st.floats(0.05, 5.0), phase=st.floats(0, 2 * np.pi))
def test_bandpass_keeps_a_10hz_sine(fs, amp, phase):
    y = bandpass(_sine(10.0, fs, amp=amp, phase=phase), fs)
    ratio = np.abs(_core(y, fs)).max() / amp
    assert abs(ratio - 1.0) < 0.05


@settings(max_examples=25, deadline=None)
@given(fs=FS, amp=st.floats(0.1, 10.0), phase=st.floats(0, 2 * np.pi))
def test_bandpass_removes_a_0p1hz_drift(fs, amp, phase):
    y = bandpass(_sine(0.1, fs, seconds=30.0, amp=amp, phase=phase), fs)
    assert np.abs(_core(y, fs)).max() < 0.02 * amp


@settings(max_examples=10, deadline=None)
@given(fs=FS, shift=st.integers(-50, 50))
def test_bandpass_is_zero_phase(fs, shift):
    x = np.zeros(int(10 * fs))
    peak = len(x) // 2 + shift
    x[peak] = 1.0
    assert int(np.argmax(bandpass(x, fs))) == peak


def test_bandpass_works_per_lead():
    x = np.stack([_sine(10, 360), _sine(0.1, 360)], axis=1)
    y = bandpass(x, 360.0)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.abs(_core(y[:, 1], 360)).max() < 0.02


def test_notch_removes_mains_and_keeps_ecg_band():
    fs = 360.0
    y = notch(_sine(10, fs) + _sine(60, fs, amp=0.5), fs, mains_hz=60.0)
    clean = _core(y, fs) - _core(_sine(10, fs), fs)
    assert np.abs(clean).max() < 0.02


def test_condition_with_notch():
    fs = 360.0
    y = condition(_sine(10, fs) + _sine(60, fs, amp=0.5), fs, ConditioningConfig(high_hz=100.0, notch_hz=60.0))
    assert snr_db(_core(_sine(10, fs), fs), _core(y, fs)) > 25


@settings(max_examples=10, deadline=None)
@given(amp=st.floats(0.2, 5.0))
def test_median_baseline_removal_removes_drift(amp):
    fs = 360.0
    x = _sine(0.1, fs, seconds=30.0, amp=amp)
    assert np.abs(_core(remove_baseline(x, fs), fs)).max() < 0.01 * amp


@settings(max_examples=10, deadline=None)
@given(fs_in=st.sampled_from([128.0, 250.0, 500.0, 1000.0]))
def test_resample_preserves_duration_and_frequency(fs_in):
    y = resample(_sine(5.0, fs_in), fs_in, 360.0)
    assert len(y) == 3600
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 360.0 / len(y) - 5.0) < 0.11


def test_snr_db_definition():
    clean = _sine(10, 360)
    assert abs(snr_db(clean, clean + 0.1 * clean) - 20.0) < 1e-9


@pytest.mark.parametrize("notch_hz", [None, 60.0])
def test_long_record_conditioning_equals_the_whole_record_filter(notch_hz):
    """Over CHUNK_CONDITION_S the record is filtered in pieces: the same values (to float32 rounding) as the
    zero-phase filter of the whole record at once (scipy.signal's sosfiltfilt / filtfilt)."""
    from scipy import signal as sps

    from ecgdl.signal import CHUNK_CONDITION_S, ConditioningConfig, condition_record

    fs = 128.0
    rng = np.random.default_rng(5)
    n = int(CHUNK_CONDITION_S * fs) + 12_345
    x = (np.cumsum(rng.standard_normal((n, 2)), axis=0) * 0.02 + rng.standard_normal((n, 2))).astype(np.float32)
    cfg = ConditioningConfig(notch_hz=notch_hz)
    got = condition_record(x, fs, cfg, chunk_s=600.0)
    ref = sps.sosfiltfilt(sps.butter(2, (0.5, 40.0), btype="bandpass", fs=fs, output="sos"), x, axis=0).astype(np.float32)
    if notch_hz:
        ref = sps.filtfilt(*sps.iirnotch(notch_hz, 30.0, fs=fs), ref, axis=0).astype(np.float32)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=4 * np.finfo(np.float32).eps * np.abs(ref).max())
