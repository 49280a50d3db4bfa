"""The noise gate (ecgdl.noise_gate): V calls at sinus timing in low-quality segments become Q.

Synthetic rhythms pin the rule; a real noise-stress record (NSTDB 118e06: MIT-BIH 118 with electrode-motion
noise at 6 dB) through the real ONNX model shows it acts only by its declared mechanism.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ecgdl.noise_gate import noise_gate, noise_gate_hits
from ecgdl.quality import SegmentQuality

FS = 360.0
PARAMS = (0.9, 0.85, 1.2)
SHIPPED_8B = (1.01, 0.9, 1.2, 2.0)  # round 8b's setting (docs/results.md)
N_ROW, V_ROW = [0.9, 0.02, 0.05, 0.02, 0.01], [0.1, 0.0, 0.85, 0.0, 0.05]


def _rhythm(rr: np.ndarray, v_at: list[int]) -> tuple[np.ndarray, np.ndarray]:
    t = np.r_[0.5, 0.5 + np.cumsum(rr)]
    p = np.tile(np.array([N_ROW]), (len(t), 1))
    p[v_at] = V_ROW
    return (t * FS).astype(np.int64), p


def _quality(value: float, n_seg: int = 20) -> np.ndarray:
    return np.full(n_seg, value)


def test_on_time_v_in_a_noisy_segment_becomes_q_and_a_premature_one_stays():
    rr = np.full(80, 0.8)
    rr[39] = 0.45                       # beat 40 premature, beat 41 after a compensatory pause
    rr[40] = 1.15
    sample, p = _rhythm(rr, [20, 40])
    hits = noise_gate_hits(p, sample, FS, _quality(0.6), 10.0, PARAMS)
    assert np.flatnonzero(hits).tolist() == [20]
    q = SegmentQuality(segment_s=10.0, index=_quality(0.6), beats=np.ones(20), unreadable=())
    out, h = noise_gate(p, sample, FS, q, PARAMS)
    assert out[20].argmax() == 4 and out[20, 2] == 0.0 and np.isclose(out[20].sum(), 1.0)
    np.testing.assert_array_equal(out[~h], p[~h])


def test_no_gate_in_clean_segments_irregular_rhythm_or_without_quality():
    sample, p = _rhythm(np.full(80, 0.8), [20])
    assert not noise_gate_hits(p, sample, FS, _quality(0.97), 10.0, PARAMS).any()
    assert not noise_gate_hits(p, sample, FS, _quality(np.nan), 10.0, PARAMS).any()  # segments without beats
    rng = np.random.default_rng(0)
    sample, p = _rhythm(rng.uniform(0.45, 1.2, 80), [20])                          # AF-like: timing says nothing
    assert not noise_gate_hits(p, sample, FS, _quality(0.6), 10.0, PARAMS).any()
    out, hits = noise_gate(p, sample, FS, None, PARAMS)
    assert out is p and not hits.any()
    out, hits = noise_gate(p, sample, FS, SegmentQuality(10.0, _quality(0.6), np.ones(20), ()), None)
    assert out is p and not hits.any()


def test_few_beats_and_all_ventricular():
    for n in (0, 1, 2, 3):
        sample, p = _rhythm(np.full(max(n - 1, 0), 0.8), list(range(n)))
        sample, p = sample[:n], p[:n]
        assert noise_gate_hits(p, sample, FS, _quality(0.5), 10.0, PARAMS).tolist() == [False] * n
    sample, p = _rhythm(np.full(80, 0.8), list(range(81)))    # every beat V: no sinus rhythm to time against
    assert not noise_gate_hits(p, sample, FS, _quality(0.5), 10.0, PARAMS).any()


def test_real_noise_stress_record_only_v_to_q(nstdb_dir, tmp_path):
    """118e06 (6 dB em noise from 5:00, 2 min on / 2 min off), 4 minutes from 4:00 through the shipped model:
    with the shipped gate on (against off), every changed beat went from V to Q; nothing else moves;
    the false V fall; the run is deterministic; the summary counts the gated beats."""
    from infer_fixtures import shipped_adaptive_classifier, write_excerpt

    from ecgdl.infer import gate_noise, score_record
    from ecgdl.reference import match_beats

    pytest.importorskip("onnxruntime")
    clf = shipped_adaptive_classifier()
    path = write_excerpt(nstdb_dir / "118e06", tmp_path, "n118e06", start_s=240.0, seconds=240.0)
    shipped = clf.adapter
    with_gate = lambda g: dataclasses.replace(shipped, config=dataclasses.replace(shipped.config, noise_gate=g))
    try:
        clf.adapter = with_gate(None)
        off = score_record(path, clf)
        clf.adapter = with_gate(shipped.config.noise_gate or SHIPPED_8B)   # the shipped gate (round 8c)
        on, again = score_record(path, clf), score_record(path, clf)
        ind = score_record(path, clf, adapt=False)     # pipelines/score_both.py's one pass: adapt, then gate
        proba, _ = clf.adapter.adapt(ind.conditioned, ind.sample, clf.fs, clf.window, ind.proba, ind.record.name)
        proba, _ = gate_noise(clf, proba, ind.sample, clf.fs, ind.quality, True, ind.conditioned)
    finally:
        clf.adapter = shipped
    np.testing.assert_array_equal(on.sample, off.sample)
    np.testing.assert_array_equal(on.label, again.label)
    np.testing.assert_allclose(proba, on.proba, atol=1e-6)
    changed = on.label != off.label
    assert changed.sum() >= 10
    assert set(off.label[changed]) == {"V"} and set(on.label[changed]) == {"Q"}
    assert on.summary["adapt"]["noise_gated"] == int(changed.sum())
    from ecgdl.rhythm import describe

    assert f"Of the Q beats, {int(changed.sum())} looked ventricular but came at sinus timing amid noise" in \
        describe(on.summary)                                   # the printed summary says why they are Q
    assert "looked ventricular" not in describe(off.summary)
    from ecgdl.clinical_report import render_report

    assert f"Of the Q beats, {int(changed.sum())} looked ventricular" in render_report(on, clf.meta)   # the HTML report
    ref = off.record.annotations
    ri, di = match_beats(np.asarray(ref.sample), on.sample, int(0.15 * FS))
    sym = np.array(ref.symbol)[ri]
    true_v = np.zeros(len(on.sample), bool)
    true_v[di[np.isin(sym, ["V", "E"])]] = True
    assert (changed & true_v).sum() == 0                    # 118's PVCs are premature: none gated
    assert ((on.label == "V") & ~true_v).sum() < ((off.label == "V") & ~true_v).sum()


def test_per_beat_noise_needs_a_noisy_isoelectric_stretch():
    """Round 8b's 4-tuple: an on-time V call in a clean stretch stays V even with the segment test off; the
    same beat with noise around it becomes Q; without the signal the per-beat test refuses to guess."""
    rng = np.random.default_rng(1)
    sample, p = _rhythm(np.full(80, 0.8), [40])
    x = rng.normal(0, 0.005, (int(sample[-1] + FS), 2)).astype(np.float32)
    assert not noise_gate_hits(p, sample, FS, _quality(0.99), 10.0, SHIPPED_8B, signal=x).any()
    x[sample[39]:sample[41]] += rng.normal(0, 0.05, (sample[41] - sample[39], 2)).astype(np.float32)
    assert np.flatnonzero(noise_gate_hits(p, sample, FS, _quality(0.99), 10.0, SHIPPED_8B, signal=x)).tolist() == [40]
    with pytest.raises(ValueError, match="conditioned signal"):
        noise_gate_hits(p, sample, FS, _quality(0.99), 10.0, SHIPPED_8B)


def _beat_noise_loop(sig: np.ndarray, s: np.ndarray, fs: float) -> np.ndarray:
    """The per-beat noise written as the module docstring reads (one stretch, one lead at a time)."""
    from ecgdl.noise_gate import ISO_AFTER_S, ISO_BEFORE_S, ISO_MIN_S, ISO_SAMPLE

    n = len(s)
    a0, b0, m0 = (int(round(v * fs)) for v in (ISO_AFTER_S, ISO_BEFORE_S, ISO_MIN_S))

    def pair(j, lead):
        vals = [np.mean(np.abs(np.diff(sig[s[i] + a0:s[i + 1] - b0, lead].astype(np.float64)))) for i in (j - 1, j)
                if 0 <= i < n - 1 and s[i + 1] - b0 - (s[i] + a0) >= m0]
        return max(vals) if vals else np.nan

    ref = np.unique(np.linspace(1, n - 2, min(ISO_SAMPLE, n - 2)).astype(int))
    med = [np.nanmedian([pair(j, c) for j in ref]) for c in range(sig.shape[1])]
    return np.array([np.mean([pair(j, c) / med[c] for c in range(sig.shape[1])]) for j in range(n)])


def test_beat_noise_equals_the_plain_loop_on_a_real_noisy_record(nstdb_dir, tmp_path):
    """The vectorised per-beat noise (one gather, one sum per stretch) equals the stretch-by-stretch loop on 3
    minutes of 118e06 through the real detector (its noisy and clean halves)."""
    from infer_fixtures import shipped_adaptive_classifier, write_excerpt

    from ecgdl.infer import score_record
    from ecgdl.noise_gate import beat_noise

    pytest.importorskip("onnxruntime")
    clf = shipped_adaptive_classifier()
    res = score_record(write_excerpt(nstdb_dir / "118e06", tmp_path, "m118e06", start_s=240.0, seconds=180.0), clf,
                       adapt=False)
    got = beat_noise(res.conditioned, res.sample, clf.fs)
    np.testing.assert_allclose(got, _beat_noise_loop(res.conditioned, res.sample, clf.fs), rtol=1e-6)
    assert np.nanmax(got) > 3 and np.nanmin(got) < 1.5       # the noisy stretch stands out
