"""NSTDB noise injection: requested SNR is hit, train/val/eval noise parts never overlap."""

from __future__ import annotations

import numpy as np
import pytest

from ecgdl.noise import ALL_KINDS, NOISE_KINDS, PARTS, NoiseBank, add_noise, load_noise, part_bounds
from ecgdl.signal import snr_db


def _occurs(probe: np.ndarray, series: np.ndarray) -> bool:
    """Whether ``probe`` occurs as a contiguous stretch of ``series`` (exact values)."""
    starts = np.flatnonzero(series[: series.size - probe.size + 1] == probe[0])
    return any(np.array_equal(series[s:s + probe.size], probe) for s in starts)


@pytest.fixture(scope="module")
def clean_windows(mitdb_dir) -> np.ndarray:
    """Conditioned 252-sample windows of MIT-BIH record 100 (both leads), ``(64, 2, 252)`` mV."""
    from ecgdl.io import read_record
    from ecgdl.signal import condition

    rec = read_record(mitdb_dir / "100")
    x = condition(rec.signal[:, list(rec.lead_pair())], rec.fs)
    starts = np.linspace(0, x.shape[0] - 252, 64).astype(int)
    return np.stack([x[s:s + 252].T for s in starts])


@pytest.fixture(scope="module")
def eval_bank(nstdb_dir) -> NoiseBank:
    return NoiseBank("eval", nstdb=nstdb_dir)


@pytest.mark.parametrize("augment", [False, True])
@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("target", [-6.0, 0.0, 6.0, 12.0, 24.0])
def test_raw_noise_hits_requested_snr(eval_bank, clean_windows, kind, target, augment):
    noisy = eval_bank.corrupt(clean_windows, target, np.random.default_rng(1), kind, conditioned=False,
                              augment=augment)
    measured = [snr_db(clean_windows[i, lead], noisy[i, lead])
                for i in range(len(clean_windows)) for lead in range(2)]
    assert np.max(np.abs(np.array(measured) - target)) < 0.5


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_conditioned_noise_is_bandpassed_noisy_recording(eval_bank, clean_windows, kind):
    """The conditioned output keeps the raw-SNR scaling: band-passing removes noise, never adds it."""
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    raw = eval_bank.corrupt(clean_windows, 0.0, rng_a, kind, conditioned=False)
    cond = eval_bank.corrupt(clean_windows, 0.0, rng_b, kind, conditioned=True)
    snr_raw = snr_db(clean_windows, raw)
    snr_cond = snr_db(clean_windows, cond)
    assert abs(snr_raw) < 0.5 and snr_cond > snr_raw


@pytest.mark.parametrize("snr", [-6.0, 3.0, 20.0])
def test_add_noise_per_window_snr(snr):
    rng = np.random.default_rng(0)
    clean, noise = rng.normal(size=(8, 2, 300)), 5 * rng.normal(size=(8, 2, 300))
    noisy = add_noise(clean, noise, np.full((8, 1), snr))
    got = [snr_db(clean[i, c], noisy[i, c]) for i in range(8) for c in range(2)]
    np.testing.assert_allclose(got, snr, atol=1e-3)


@pytest.mark.parametrize("n", [650000, 1000, 7])
def test_parts_are_disjoint_and_cover(n):
    bounds = sorted(part_bounds(n, p) for p in PARTS)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    for (a0, a1), (b0, b1) in zip(bounds, bounds[1:]):
        assert a1 == b0 and a0 <= a1


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_train_and_eval_noise_do_not_overlap(nstdb_dir, kind):
    """The parts are different stretches of the record: no eval sample sequence occurs in train."""
    from ecgdl.io import read_record

    full = read_record(nstdb_dir / kind, annotator=None).signal
    train, val, ev = (load_noise(kind, p, nstdb=nstdb_dir) for p in ("train", "val", "eval"))
    assert train.shape[0] + val.shape[0] + ev.shape[0] == full.shape[0]
    np.testing.assert_array_equal(ev, full[-ev.shape[0]:])
    np.testing.assert_array_equal(train, full[:train.shape[0]])
    # A 1-s stretch of eval noise is found nowhere in the train part.
    assert not _occurs(ev[1000:1360, 0], train[:, 0])


def test_bank_segments_stay_inside_part(nstdb_dir):
    bank = NoiseBank("val", nstdb=nstdb_dir)
    raw, cond = bank.segments("em", 16, 252, np.random.default_rng(0))
    part = load_noise("em", "val", nstdb=nstdb_dir)
    assert all(_occurs(seg, part[:, 0]) for seg in raw[:4, 0])
    assert raw.shape == cond.shape == (16, 2, 252)


def test_resampled_noise_keeps_duration(nstdb_dir):
    a = load_noise("ma", "eval", fs=360.0, nstdb=nstdb_dir)
    b = load_noise("ma", "eval", fs=250.0, nstdb=nstdb_dir)
    assert abs(b.shape[0] / 250.0 - a.shape[0] / 360.0) < 0.01
