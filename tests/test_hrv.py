"""HRV equals NeuroKit2's ``hrv_time``/``hrv_frequency`` within 1 % on the N-N intervals of 5 MIT-BIH records."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgdl.hrv import HRVConfig, hrv, nn_intervals, quadratic_interp, segments, welch_density

RECORDS = ("101", "106", "112", "115", "122")   # DS1; reference beats, so the check is about HRV alone
TIME_KEYS = {"sdnn_ms": "HRV_SDNN", "rmssd_ms": "HRV_RMSSD", "pnn50_pct": "HRV_pNN50", "sdann_ms": "HRV_SDANN5",
             "hti": "HRV_HTI"}


def _beats(mitdb_dir, rec):
    from ecgdl.io import read_record
    from ecgdl.labels import AAMI_CLASSES
    from ecgdl.reference import reference_beats

    r = read_record(mitdb_dir / rec)
    s, y = reference_beats(r)
    return s, np.asarray(AAMI_CLASSES)[y], r.fs


@pytest.mark.parametrize("rec", RECORDS)
def test_hrv_equals_neurokit2(mitdb_dir, rec):
    nk = pytest.importorskip("neurokit2")
    sample, label, fs = _beats(mitdb_dir, rec)
    cfg = HRVConfig()
    ours = hrv(sample, label, fs, cfg=cfg)
    nn, t, _ = nn_intervals(sample, label, fs, cfg=cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_t = nk.hrv_time({"RRI": nn, "RRI_Time": t}, sampling_rate=fs)
        per = [nk.hrv_frequency({"RRI": nn[i], "RRI_Time": t[i]}, sampling_rate=fs, normalize=False,
                                interpolation_rate=cfg.interp_hz)
               for i in segments(t, cfg.segment_s) if len(i) >= cfg.min_segment_nn]
    for key, col in TIME_KEYS.items():
        assert ours[key] == pytest.approx(float(ref_t[col].iloc[0]), rel=0.01), key
    for key, col in (("lf_ms2", "HRV_LF"), ("hf_ms2", "HRV_HF"), ("lf_hf", "HRV_LFHF")):
        assert ours[key] == pytest.approx(np.mean([float(p[col].iloc[0]) for p in per]), rel=0.01), key
    assert len(ours["segments"]) == len(per) >= 5


def test_ectopic_beats_and_neighbours_are_left_out():
    sample = (np.arange(12) * 0.8 * 360).astype(np.int64)
    label = np.array(list("NNNNNVNNNNNN"))
    nn, t, succ = nn_intervals(sample, label, 360.0)
    # 11 intervals; the V beat (5) and its neighbours (4, 6) touch intervals 3..6: 7 remain
    assert len(nn) == 7 and np.allclose(nn, 800.0)
    assert succ.tolist() == [False, True, True, False, True, True, True]


def test_short_input_gives_none_not_nonsense():
    h = hrv(np.array([0, 300], np.int64), np.array(["N", "N"]), 360.0)
    assert h["sdnn_ms"] is None and h["lf_hf"] is None and h["nn_count"] == 1


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(4, 900))
def test_interpolation_and_welch_equal_scipy(seed, n):
    """The numpy quadratic interpolation and Welch PSD give scipy's interp1d / welch values (to 1e-10)."""
    from scipy.interpolate import interp1d
    from scipy.signal import welch

    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.3, 2.0, n))
    y = rng.uniform(300.0, 2000.0, n)
    grid = np.arange(t[0], t[-1] + 0.25, 0.25)
    ref = interp1d(t, y, kind="quadratic", bounds_error=False, fill_value=(y[0], y[-1]))(grid)
    ours = quadratic_interp(t, y, grid)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
    x = ref - ref.mean()
    nper = int(len(x) / 2)
    f, p = welch(x, fs=4.0, window="hann", nperseg=nper, nfft=2 * nper, detrend=False, scaling="density")
    f2, p2 = welch_density(x, 4.0, nper)
    np.testing.assert_array_equal(f2, f)
    np.testing.assert_allclose(p2, p, rtol=0, atol=1e-10 * np.abs(p).max())
