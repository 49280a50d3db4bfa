"""The record-level P-wave locator (ecgdl.p_wave) on real MIT-BIH records and a seeded synthetic long-PR beat."""

from __future__ import annotations

import numpy as np
import pytest

from infer_fixtures import write_excerpt


def _lead0(mitdb_dir, tmp_path, name: str, start_s: float, seconds: float):
    """Conditioned lead 0 (as scoring conditions it), reference R peaks and AAMI classes of a real excerpt."""
    from ecgdl.infer import model_leads, reference_beats
    from ecgdl.io import read_record
    from ecgdl.signal import ConditioningConfig, condition_record

    rec = read_record(write_excerpt(mitdb_dir / name, tmp_path, f"p{name}", start_s=start_s, seconds=seconds),
                      target_fs=360.0, on_gaps="fill")
    peaks, y = reference_beats(rec)
    cond = condition_record(model_leads(rec), rec.fs, ConditioningConfig())
    return cond[:, 0], rec.fs, peaks, np.asarray(y)


def test_sinus_record_has_its_p_wave_where_the_pr_interval_puts_it(mitdb_dir, tmp_path):
    """DS1 101 (sinus rhythm): a P wave found 120-300 ms before R (a normal PR interval), upright in MLII."""
    from ecgdl.p_wave import locate_p_wave

    sig, fs, peaks, y = _lead0(mitdb_dir, tmp_path, "101", 0.0, 300.0)
    p = locate_p_wave(sig, fs, peaks, y <= 1)
    assert p.found and 0.12 <= p.centre_s <= 0.30 and p.amplitude_mv > 0, p
    assert p.window_s[0] - p.window_s[1] == pytest.approx(0.19, abs=1e-3) and p.window_s[1] >= 0.06


def test_atrial_fibrillation_has_no_p_wave(mitdb_dir, tmp_path):
    """DS1 203 (atrial fibrillation): the median of the long-RR beats shows no P wave: not found."""
    from ecgdl.p_wave import DEFAULT_WINDOW_S, locate_p_wave

    sig, fs, peaks, y = _lead0(mitdb_dir, tmp_path, "203", 0.0, 300.0)
    p = locate_p_wave(sig, fs, peaks, y <= 1)
    assert not p.found and p.window_s == DEFAULT_WINDOW_S, p


def test_long_pr_and_too_few_beats():
    """A seeded synthetic rhythm with a 320-ms PR interval (first-degree AV block) and noise: located at
    320 ms, outside the fixed 250-60 ms window; fewer than 5 usable beats: not found, default window."""
    from ecgdl.p_wave import DEFAULT_WINDOW_S, locate_p_wave

    fs, rng = 250.0, np.random.default_rng(0)
    peaks = np.cumsum(rng.uniform(0.9, 1.1, 60) * fs).astype(np.int64) + 200
    t = np.arange(peaks[-1] + 100) / fs
    sig = sum(0.12 * np.exp(-((t - (r / fs - 0.32)) / 0.025) ** 2) for r in peaks) + rng.normal(0, 0.01, len(t))
    p = locate_p_wave(sig, fs, peaks)
    assert p.found and abs(p.centre_s - 0.32) <= 0.012 and p.window_s[0] > 0.4, p
    q = locate_p_wave(sig, fs, peaks[:4])
    assert not q.found and q.window_s == DEFAULT_WINDOW_S
