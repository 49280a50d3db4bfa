"""Classifier inputs: shapes, record-level normalisation, RR context, fitted statistics."""

from __future__ import annotations

import numpy as np
import pytest

from ecgdl.beats import BeatSet, make_beats
from ecgdl.features import FeatureConfig, fit_stats, make_inputs, raw_inputs

FS = 360.0


def _record(name: str, rr_s: list[float], amp: float = 1.0, seed: int = 0) -> BeatSet:
    """Synthetic 2-lead record: a Gaussian 'QRS' at each peak (amp mV), small noise."""
    peaks = (np.cumsum([1.0] + rr_s) * FS).astype(int)
    n = peaks[-1] + int(FS)
    t = np.arange(n)
    sig = np.zeros((n, 2))
    for p in peaks:
        sig[:, 0] += amp * np.exp(-0.5 * ((t - p) / 6.0) ** 2)
        sig[:, 1] -= 0.5 * amp * np.exp(-0.5 * ((t - p) / 8.0) ** 2)
    sig += np.random.default_rng(seed).normal(0, 0.01, sig.shape)
    return make_beats(sig.astype(np.float32), peaks, FS, record=name, labels=np.zeros(len(peaks), np.int8))


@pytest.mark.parametrize("cfg", [FeatureConfig(), FeatureConfig(leads=(0,), decimate=1, median_mode="none", rr_context=0,
                                                                 record_rr=False, irregularity=False),
                                 FeatureConfig(median_mode="beside"), FeatureConfig(amp_norm=True, decimate=3)])
def test_shapes_and_dtypes(cfg):
    beats = _record("a", [0.8] * 30)
    out = make_inputs(beats, cfg, fit_stats(beats, cfg))
    assert set(out) == {"beats", "rr"}
    assert out["beats"].shape == (len(beats), cfg.n_channels(), cfg.n_samples(252)) and out["beats"].dtype == np.float32
    assert out["rr"].shape == (len(beats), cfg.n_rr()) == (len(beats), len(cfg.rr_names())) and out["rr"].dtype == np.float32
    assert np.isfinite(out["beats"]).all() and np.isfinite(out["rr"]).all()


def test_median_beat_is_per_record_and_row_order_does_not_matter():
    a, b = _record("a", [0.8] * 20, amp=1.0), _record("b", [1.0] * 20, amp=2.0, seed=1)
    both = BeatSet.concat([a, b])
    cfg = FeatureConfig(median_mode="beside")
    raw = raw_inputs(both, cfg)["beats"]
    med_a, med_b = raw[: len(a), 2:], raw[len(a):, 2:]
    assert np.allclose(med_a, med_a[0]) and np.allclose(med_b, med_b[0])
    assert med_b[0, 0].max() == pytest.approx(2 * med_a[0, 0].max(), rel=0.05)
    perm = np.random.default_rng(0).permutation(len(both))
    assert np.allclose(raw_inputs(both.subset(perm), cfg)["beats"], raw[perm])
    assert np.allclose(raw_inputs(both.subset(perm), cfg)["rr"], raw_inputs(both, cfg)["rr"][perm])
    diff = raw_inputs(both, FeatureConfig())["beats"]
    assert np.allclose(diff, raw[:, :2] - raw[:, 2:])


def test_premature_beat_shows_in_rr_context():
    rr = [0.8] * 10 + [0.5, 1.1] + [0.8] * 10  # beat 11 is premature, then a compensatory pause
    cfg = FeatureConfig(rr_context=2)
    raw = raw_inputs(_record("a", rr), cfg)["rr"]
    names = cfg.rr_names()
    pre = raw[:, names.index("log_rr+0_local")]
    assert pre[11] == pytest.approx(np.log(0.5 / 0.8), abs=0.02)
    assert raw[5, names.index("log_rr+0_local")] == pytest.approx(0.0, abs=0.02)
    # the beat after sees the premature interval one step back
    assert raw[12, names.index("log_rr-1_local")] == pytest.approx(np.log(0.5 / 0.8), abs=0.02)


def test_stats_standardise_training_inputs_and_are_json_safe():
    import json

    beats = BeatSet.concat([_record("a", list(np.linspace(0.6, 1.2, 40))), _record("b", [0.9] * 30, seed=2)])
    cfg = FeatureConfig()
    stats = fit_stats(beats, cfg)
    json.dumps(stats)
    rr = make_inputs(beats, cfg, stats)["rr"]
    assert np.allclose(rr.mean(0), 0, atol=1e-4)
    with pytest.raises(ValueError):
        make_inputs(beats, FeatureConfig(rr_context=1), stats)


def test_config_round_trip():
    cfg = FeatureConfig(leads=(0,), rr_context=3)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg


def test_real_record_inputs_finite(mitdb_dir):
    from ecgdl.dataset import record_beats

    beats, _ = record_beats(mitdb_dir / "100")
    out = make_inputs(beats, FeatureConfig(), None)
    assert len(out["beats"]) == len(beats) > 2000 and np.isfinite(out["rr"]).all()


def test_upper_reference_sees_prematurity_when_ectopic_beats_are_the_majority():
    """Bigeminy-like: short (0.6 s) and long (1.4 s) intervals, the short ones the majority."""
    rr = [0.6, 0.6, 1.4] * 30
    beats = _record("a", rr)
    med_cfg, up_cfg = FeatureConfig(), FeatureConfig(rr_reference="upper")
    med = raw_inputs(beats, med_cfg)["rr"][:, med_cfg.rr_names().index("log_pre_local")]
    up = raw_inputs(beats, up_cfg)["rr"][:, up_cfg.rr_names().index("log_pre_ref")]
    short = np.r_[np.nan, np.array(rr)][: len(beats)] == 0.6
    short[:17] = short[-17:] = False  # away from the ends, where the ±16-beat window is clipped
    assert np.all(np.abs(med[short]) < 0.05)  # the median *is* the short interval: not premature
    assert np.all(up[short] < np.log(0.6 / 1.4) + 0.05)  # against the upper quantile: clearly premature


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7])
@pytest.mark.parametrize("t", [252, 253, 9])
def test_pool_is_the_bin_mean_bit_for_bit(k, t):
    from ecgdl.features import _pool

    x = np.random.default_rng(k * t).standard_normal((50, 2, t)) * 3.0
    tt = t // k * k
    ref = x[..., :tt].reshape(50, 2, tt // k, k).mean(-1) if k > 1 else x
    np.testing.assert_array_equal(_pool(x, k), ref)
