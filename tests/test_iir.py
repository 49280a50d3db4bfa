"""ecgdl.iir / ecgdl.iir_filter against scipy.signal (the reference they replace on the scoring path).

Designs must equal scipy's coefficients; filtering must equal scipy's recursion to float64 rounding
(relative to the output's scale), at the rates ECG comes at (128/250/360/500 Hz).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal as sps

from ecgdl import iir
from ecgdl.signal import median_filter

RATES = (128.0, 250.0, 360.0, 500.0)
#: (btype, edges in Hz): the pipeline's bands (conditioning, detector, quality, VF) and plain low/high-pass.
BANDS = (("bandpass", (0.5, 40.0)), ("bandpass", (1.0, 15.0)), ("bandpass", (5.0, 20.0)), ("bandpass", (1.0, 8.0)),
         ("bandpass", (10.0, 25.0)), ("highpass", 0.5), ("lowpass", 40.0))


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a, float) - b).max() / max(np.abs(b).max(), 1e-300))


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("btype,band", BANDS)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_butter_sos_equals_scipy(fs, btype, band, order):
    ours = iir.butter(order, band, btype=btype, fs=fs, output="sos")
    ref = sps.butter(order, band, btype=btype, fs=fs, output="sos")
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(iir.sosfilt_zi(ours), sps.sosfilt_zi(ref), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("fs", RATES)
def test_notch_group_delay_and_tf_equal_scipy(fs):
    b, a = iir.iirnotch(50.0, 30.0, fs=fs)
    rb, ra = sps.iirnotch(50.0, 30.0, fs=fs)
    np.testing.assert_allclose(b, rb, atol=1e-12)
    np.testing.assert_allclose(a, ra, atol=1e-12)
    sos = sps.butter(2, (5.0, 15.0), btype="bandpass", fs=fs, output="sos")
    tb, ta = iir.sos2tf(sos)
    rtb, rta = sps.sos2tf(sos)
    np.testing.assert_allclose(tb, rtb, atol=1e-14)
    np.testing.assert_allclose(ta, rta, atol=1e-14)
    f = [3.0, 8.66, 20.0]
    np.testing.assert_allclose(iir.group_delay((tb, ta), w=f, fs=fs)[1], sps.group_delay((rtb, rta), w=f, fs=fs)[1],
                               rtol=1e-9)


def test_bad_designs_are_refused():
    with pytest.raises(ValueError, match="0 < wn < fs/2"):
        iir.butter(2, (0.5, 200.0), btype="bandpass", fs=360.0)
    with pytest.raises(ValueError, match="not stable"):
        iir.sosfilt(np.array([[1.0, 0, 0, 1.0, -1.0, 0]]), np.ones(10))


def _signal(seed: int, n: int, leads: int) -> np.ndarray:
    """ECG-like test input: a random walk (baseline wander) plus white noise, in mV."""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.standard_normal((n, leads)), axis=0) * 0.05 + rng.standard_normal((n, leads))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(40, 70_000), fs=st.sampled_from(RATES),
       band=st.sampled_from(BANDS), leads=st.integers(1, 3))
def test_sosfilt_with_zi_equals_scipy(seed, n, fs, band, leads):
    sos = sps.butter(2, band[1], btype=band[0], fs=fs, output="sos")
    x = _signal(seed, n, leads)
    zi = sps.sosfilt_zi(sos)[:, :, None] * x[0]
    y, zf = iir.sosfilt(sos, x, axis=0, zi=zi)
    ry, rzf = sps.sosfilt(sos, x, axis=0, zi=zi)
    assert _rel(y, ry) < 1e-10
    assert _rel(zf, rzf) < 1e-9
    assert _rel(iir.sosfilt(sos, x[:, 0]), sps.sosfilt(sos, x[:, 0])) < 1e-10


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(40, 70_000), fs=st.sampled_from(RATES),
       band=st.sampled_from(BANDS[:3]), order=st.integers(1, 3))
def test_sosfiltfilt_equals_scipy(seed, n, fs, band, order):
    sos = sps.butter(order, band[1], btype=band[0], fs=fs, output="sos")
    x = _signal(seed, n, 2).astype(np.float32)
    y = iir.sosfiltfilt(sos, x, axis=0)
    assert y.dtype == np.float64
    assert _rel(y, sps.sosfiltfilt(sos, x, axis=0)) < 1e-10


@pytest.mark.parametrize("fs", RATES)
def test_filtfilt_notch_equals_scipy(fs):
    b, a = sps.iirnotch(60.0 if fs > 120 else 50.0, 30.0, fs=fs)
    x = _signal(1, 20_000, 2)
    assert _rel(iir.filtfilt(b, a, x, axis=0), sps.filtfilt(b, a, x, axis=0)) < 1e-12


def test_float32_follows_scipy_dtype_and_stays_within_its_rounding():
    """float32 sos + input: float32 out (scipy's dtype rule); scipy's own float32 recursion rounds, ours
    keeps the states in float64 and takes only the output product in float32, so its error stays at a
    few float32 roundings (it does not accumulate) and below scipy's own."""
    sos = sps.butter(2, (1.0, 15.0), btype="bandpass", fs=51.4, output="sos").astype(np.float32)
    zi = sps.sosfilt_zi(sos).astype(np.float32)
    x = _signal(3, 50_000, 1)[:, 0].astype(np.float32)
    y, zf = iir.sosfilt(sos, x, zi=zi * x[0])
    ry, _ = sps.sosfilt(sos, x, zi=zi * x[0])
    exact = sps.sosfilt(sos.astype(np.float64), x.astype(np.float64), zi=(zi * x[0]).astype(np.float64))[0]
    assert y.dtype == zf.dtype == np.float32
    assert _rel(y, exact) < 1e-5                       # ours: float64 states, one float32 product
    assert _rel(y, exact) < _rel(ry, exact)            # scipy float32 rounding accumulates
    assert _rel(y, ry) < 1e-4


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 3000), size=st.integers(1, 40))
def test_median_filter_equals_scipy_ndimage(seed, n, size):
    from scipy import ndimage

    x = np.random.default_rng(seed).integers(-50, 50, n).astype(np.float64)   # many ties
    np.testing.assert_array_equal(median_filter(x, size), ndimage.median_filter(x, size=size, mode="nearest"))


def test_long_two_lead_filtering_in_threads_is_bit_equal_to_the_lead_loop():
    """A long record's leads are filtered in one thread each: the very values of the one-lead-at-a-time loop."""
    from ecgdl.iir_filter import sosfiltfilt_into

    rng = np.random.default_rng(11)
    x = rng.standard_normal((400_000, 2)).astype(np.float32)
    sos = iir.butter(2, (0.5, 40.0), btype="bandpass", fs=360.0, output="sos")
    threaded = sosfiltfilt_into(sos, x, np.empty(x.shape, np.float32), piece=60_000)   # n >= 4 pieces: threads
    looped = np.stack([sosfiltfilt_into(sos, x[:, [j]], np.empty((len(x), 1), np.float32), piece=60_000)[:, 0]
                       for j in range(2)], axis=1)                                      # one lead: no thread
    assert np.array_equal(threaded, looped)


@pytest.mark.parametrize("n", [1, 2, 31, 32, 33, 64, 65, 1000])
def test_sosfilt_block_edges_equal_scipy(n):
    """The causal filter works on blocks of 32 samples: inputs shorter than, equal to and just past a block."""
    sos = sps.butter(3, (5.0, 20.0), btype="bandpass", fs=360.0, output="sos")
    x = _signal(n, n, 2).T                                   # (2, n): filtered along axis 1
    zi = sps.sosfilt_zi(sos)[:, None, :] * x[None, :, :1] + 0.3
    y, zf = iir.sosfilt(sos, x, axis=1, zi=zi)
    ry, rzf = sps.sosfilt(sos, x, axis=1, zi=zi)
    np.testing.assert_allclose(y, ry, rtol=0, atol=1e-12 * np.abs(x).max())
    np.testing.assert_allclose(zf, rzf, rtol=0, atol=1e-12 * np.abs(x).max())


def test_sosfilt_slow_pole_long_input_stays_near_float64_rounding():
    """The hardest case of the pipeline's rates: a 0.5-Hz high-pass at 500 Hz (poles nearest 1) over 400,000 samples."""
    sos = sps.butter(2, 0.5, btype="highpass", fs=500.0, output="sos")
    x = _signal(5, 400_000, 1)[:, 0]
    zi = sps.sosfilt_zi(sos) * x[0]
    y, zf = iir.sosfilt(sos, x, zi=zi)
    ry, rzf = sps.sosfilt(sos, x, zi=zi)
    assert _rel(y, ry) < 1e-10
    assert _rel(zf, rzf) < 1e-10


def test_float32_output_is_the_float64_result_to_float32_rounding():
    """float32 in and out: the float64 states of the very float64 computation (coefficients rounded to
    float32 first; the final state is that one rounded once) and an output product in float32 (the
    detector's band-pass: a few float32 roundings of the largest term, nothing that accumulates)."""
    sos = sps.butter(2, (5.0, 20.0), btype="bandpass", fs=360.0, output="sos").astype(np.float32)
    zi = sps.sosfilt_zi(sos).astype(np.float32)
    x = _signal(7, 20_011, 2).astype(np.float32)                      # (n, 2): filtered along axis 0
    z = zi[:, :, None] * x[0]
    y, zf = iir.sosfilt(sos, x, axis=0, zi=z)
    y64, zf64 = iir.sosfilt(sos.astype(np.float64), x.astype(np.float64), axis=0, zi=z.astype(np.float64))
    assert y.dtype == np.float32
    assert np.abs(y - y64).max() < 1e-6 * np.abs(x).max()
    assert np.array_equal(zf, zf64.astype(np.float32))


def test_sosfilt_of_nothing_keeps_the_state():
    """No samples: an empty output and the initial state back as the final one (also for no leads at all)."""
    sos = sps.butter(2, (5.0, 20.0), btype="bandpass", fs=360.0, output="sos")
    y, zf = iir.sosfilt(sos, np.zeros(0), zi=np.full((2, 2), 0.5))
    assert y.shape == (0,) and np.array_equal(zf, np.full((2, 2), 0.5))
    assert iir.sosfilt(sos, np.zeros((0, 7)), axis=1).shape == (0, 7)
