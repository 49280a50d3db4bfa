"""Rhythm summary on hand-made label sequences with known couplets, runs, patterns and pauses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgdl.rhythm import RhythmConfig, consecutive_runs, event_counts, heart_rate, pattern_episodes, pauses, summarise

FS = 360.0


def regular(n: int, rr_s: float = 1.0, fs: float = FS) -> np.ndarray:
    return (np.arange(n) * rr_s * fs).astype(np.int64)


@pytest.mark.parametrize("text, cls, n_normal, expected", [
    ("NVNVNVNN", "V", 1, [(0, 5)]),            # 3 cycles of bigeminy
    ("NVNVNN", "V", 1, []),                    # 2 cycles: too short
    ("NNNVNVNVNVNNN", "V", 1, [(2, 9)]),       # 4 cycles after normal rhythm
    ("NNVNNVNNVNN", "V", 2, [(0, 8)]),         # trigeminy
    ("NNVNNVNNVNN", "V", 1, []),               # trigeminy is not bigeminy
    ("NVNVNVVN", "V", 1, []),                  # ends in a couplet: last V not isolated, 2 cycles left
    ("NSNSNSNSN", "S", 1, [(0, 7)]),           # supraventricular bigeminy
    ("NSNVNSNS", "S", 1, []),                  # a V breaks the S chain
])
def test_pattern_episodes(text, cls, n_normal, expected):
    assert pattern_episodes(np.array(list(text)), cls, n_normal) == expected


@pytest.mark.parametrize("text, couplets, runs, run_lengths", [
    ("NNVVNNN", 1, 0, []),
    ("NVVVNNVVNVVVVVN", 1, 2, [3, 5]),
    ("VVN", 1, 0, []),
    ("NNNNN", 0, 0, []),
])
def test_couplets_and_runs(text, couplets, runs, run_lengths):
    s = summarise(list(text), regular(len(text)), FS)
    ev = s["events"]["V"]
    assert len(ev["couplets"]) == couplets
    assert len(ev["runs"]) == runs
    assert [r["beats"] for r in ev["runs"]] == run_lengths


def test_event_positions_are_samples_and_seconds():
    text = "NNNVVVNNN"
    sample = regular(len(text), rr_s=0.5)
    run = summarise(list(text), sample, FS)["events"]["V"]["runs"][0]
    assert (run["first_beat"], run["last_beat"]) == (3, 5)
    assert run["start_sample"] == sample[3] and run["end_sample"] == sample[5]
    assert run["start_s"] == pytest.approx(1.5) and run["end_s"] == pytest.approx(2.5)
    assert run["rate_bpm"] == pytest.approx(120.0)


def test_pauses_skip_unusable_stretches():
    sample = np.array([0, 360, 720, 720 + 900, 720 + 900 + 360, 720 + 900 + 360 + 1800], np.int64)
    found = pauses(sample, FS, pause_s=2.0)
    assert [(p["first_beat"], p["duration_s"]) for p in found] == [(2, 2.5), (4, 5.0)]
    kept = pauses(sample, FS, pause_s=2.0, unusable=((2000, 3000),))
    assert [p["first_beat"] for p in kept] == [2]


def test_heart_rate_min_max_and_trend():
    # 10 min at 60 bpm, then 10 min at 120 bpm, one premature beat that must not set the max
    first = np.arange(600) * FS
    second = first[-1] + np.arange(1, 1201) * FS / 2
    sample = np.r_[first, second].astype(np.int64)
    sample[300] -= int(0.6 * FS)  # one premature beat (RR 0.4 s then 1.6 s)
    hr = heart_rate(sample, FS, RhythmConfig(trend_s=300.0))
    assert hr["min_bpm"] == pytest.approx(60.0, abs=1.0)
    assert hr["max_bpm"] == pytest.approx(120.0, abs=1.0)
    assert 80 < hr["mean_bpm"] < 100
    assert [round(b["mean_bpm"]) for b in hr["trend"]] == [60, 60, 120, 120]


def test_burden_and_counts():
    text = "NNNNNNNNVS" * 10
    s = summarise(list(text), regular(len(text)), FS, duration_s=100.0)
    assert s["counts"] == {"N": 80, "S": 10, "V": 10, "F": 0, "Q": 0}
    assert s["ectopic_burden_pct"] == {"V": 10.0, "S": 10.0, "total": 20.0}
    assert event_counts(s)["V_runs"] == 0 and event_counts(s)["S_couplets"] == 0
    json.dumps(s)  # JSON-able


@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny_inputs(n):
    s = summarise(["N"] * n, regular(n), FS)
    assert s["beats"] == n
    assert s["heart_rate"]["mean_bpm"] is None
    assert s["pauses"] == []


def test_consecutive_runs_edges():
    assert consecutive_runs(np.array([1, 1, 0, 0, 1], bool)) == [(0, 1), (4, 4)]
    assert consecutive_runs(np.zeros(3, bool)) == []


def _reference(mitdb_dir, record):
    """Reference AAMI labels and samples of a record's beats, and its rhythm episodes {"(B": [(start, end)]}."""
    import wfdb

    from ecgdl.labels import AAMI_CLASSES, BEAT_SYMBOLS, to_aami

    ann = wfdb.rdann(str(mitdb_dir / record), "atr")
    sym, smp = np.asarray(ann.symbol), np.asarray(ann.sample)
    beat = np.isin(sym, list(BEAT_SYMBOLS))
    notes = [(int(s), n.strip("\x00")) for s, n in zip(smp, ann.aux_note) if n.strip("\x00")]
    episodes: dict[str, list] = {}
    for i, (s, n) in enumerate(notes):
        episodes.setdefault(n, []).append((s, notes[i + 1][0] if i + 1 < len(notes) else int(smp[-1])))
    return np.asarray(AAMI_CLASSES)[to_aami(sym[beat])], smp[beat], episodes


@pytest.mark.parametrize("record, rhythm, kind, min_found", [
    ("119", "(B", "bigeminy", 1.0), ("119", "(T", "trigeminy", 1.0), ("200", "(B", "bigeminy", 1.0),
    ("233", "(B", "bigeminy", 1.0), ("233", "(VT", "runs", 1.0), ("200", "(VT", "runs", 0.8),
    ("208", "(T", "trigeminy", 0.7),
])
def test_cardiologists_rhythm_episodes_are_found_from_reference_beats(mitdb_dir, record, rhythm, kind, min_found):
    """The MIT-BIH rhythm annotations (ventricular bigeminy, trigeminy, tachycardia) overlap our events
    when the summary is computed from the reference beat labels."""
    labels, sample, episodes = _reference(mitdb_dir, record)
    events = summarise(labels, sample, FS)["events"]["V"][kind]
    ref = episodes[rhythm]
    found = sum(any(e["start_sample"] < b and a < e["end_sample"] for e in events) for a, b in ref)
    assert found >= min_found * len(ref), f"{found}/{len(ref)}"
