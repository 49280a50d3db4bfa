"""Beat windows and RR features."""

from __future__ import annotations

import numpy as np
import pytest

from ecgdl.beats import RR_FEATURES, BeatSet, WindowConfig, cut_windows, make_beats, rr_features
from ecgdl.io import read_record


def test_window_is_252_samples_at_360hz():
    cfg = WindowConfig()
    assert (cfg.pre, cfg.post, cfg.length) == (90, 162, 252)
    assert WindowConfig(fs=180.0).length == 126


def test_rr_features_regular_rhythm_ratios_are_one():
    peaks = np.arange(0, 360 * 100, 288)  # 75 bpm
    rr, edge = rr_features(peaks, 360.0)
    assert rr.shape == (len(peaks), len(RR_FEATURES))
    assert np.allclose(rr[:, :4], 0.8) and np.allclose(rr[:, 4:], 1.0)
    assert edge.tolist() == [True] + [False] * (len(peaks) - 2) + [True]


def test_premature_beat_has_short_pre_and_long_post_ratio():
    peaks = np.cumsum(np.r_[0, [288] * 20, 180, 396, [288] * 20])
    rr, _ = rr_features(peaks, 360.0)
    i = 21  # the premature beat
    pre_local, post_local = rr[i, RR_FEATURES.index("pre_local")], rr[i, RR_FEATURES.index("post_local")]
    assert pre_local == pytest.approx(180 / 288, rel=1e-3) and post_local == pytest.approx(396 / 288, rel=1e-3)


def test_windows_at_the_edges_are_padded_and_flagged():
    sig = np.arange(1000, dtype=np.float32)[:, None].repeat(2, axis=1)
    x, edge = cut_windows(sig, np.array([10, 500, 990]))
    assert x.shape == (3, 2, 252)
    assert edge.tolist() == [True, False, True]
    assert x[0, 0, 0] == 0 and x[2, 0, -1] == 999  # edge value repeated
    assert np.array_equal(x[1, 0], np.arange(410, 662))


def test_make_beats_on_a_real_record(mitdb_dir):
    rec = read_record(mitdb_dir / "100")
    beats_mask = np.isin(rec.annotations.symbol, ["N", "A", "V"])
    peaks = rec.annotations.sample[beats_mask]
    bs = make_beats(rec.signal, peaks, rec.fs, record="100")
    assert len(bs) == 2273 and bs.x.shape == (2273, 2, 252)
    assert bs.edge.sum() == 2  # the first and last beats
    mean_rr = bs.rr[:, RR_FEATURES.index("avg_rr")].mean()
    assert 0.75 < mean_rr < 0.85  # record 100: ~76 bpm
    assert np.all(bs.x[:, 0, 90] == rec.signal[peaks, 0])  # the window is centred on the R peak


def test_make_beats_rejects_a_wrong_rate():
    with pytest.raises(ValueError, match="resample first"):
        make_beats(np.zeros((1000, 2)), np.array([500]), 250.0)


def test_beatset_subset_and_concat():
    a = make_beats(np.zeros((3600, 2), np.float32), np.array([400, 800, 1200]), 360.0, record="a")
    b = make_beats(np.zeros((3600, 2), np.float32), np.array([500, 900]), 360.0, record="b")
    both = BeatSet.concat([a, b])
    assert len(both) == 5 and len(both.records(["b"])) == 2
