"""The ventricular-timing rule (ecgdl.adapt_ventricular) on real MIT-BIH beats through the real ONNX model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from infer_fixtures import shipped_adaptive_classifier, write_excerpt

pytest.importorskip("onnxruntime")

RULE = (0.9, 1.1, 1.3)


@pytest.fixture(scope="module")
def clf():
    return shipped_adaptive_classifier()


def _beats(clf, mitdb_dir, tmp_path, name: str, seconds: float):
    """Windows, RR, cluster-averaged inductive probabilities (what the rule sees in the adaptive step), k-means
    clusters and reference classes of a real excerpt."""
    from ecgdl.adapt import cluster_average, cluster_beats
    from ecgdl.beats import segment_beat_sets
    from ecgdl.infer import condition_record, model_leads, reference_beats
    from ecgdl.io import read_record

    rec = read_record(write_excerpt(mitdb_dir / name, tmp_path, f"x{name}", start_s=0.0, seconds=seconds),
                      target_fs=360.0, on_gaps="fill")
    peaks, y = reference_beats(rec)
    cond = condition_record(model_leads(rec), rec.fs, clf.conditioning)
    (_, beats), = list(segment_beat_sets(cond, peaks, rec.fs, clf.window, rec.name))
    cid = cluster_beats(beats.x, rec.fs, clf.window.pre, clf.adapter.config)
    return beats.x, beats.rr, cluster_average(clf.predict_proba(beats), cid), cid, np.asarray(y)


def _called_v(p: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """``p`` with the given beats called V (0.9), as cluster averaging does to a drifted conducted cluster."""
    q = p.copy()
    q[beats] = [0.08, 0.0, 0.9, 0.02, 0.0]
    return q


def test_lbbb_cluster_called_v_goes_back_to_n(clf, mitdb_dir, tmp_path):
    """109 (left bundle branch block: the conducted QRS is wide): a whole cluster of its N beats called V is a
    conducted beat at normal timing with the dominant width: the rule returns it to N; its other PVCs stay V."""
    from ecgdl.adapt_ventricular import v_timing_rule

    x, rr, p, cid, y = _beats(clf, mitdb_dir, tmp_path, "109", 900.0)
    counts = np.bincount(cid[y == 0], minlength=cid.max() + 1)
    drift = cid == int(np.argsort(counts)[-2])
    wrong = drift & (y == 0)  # the second-largest N cluster, all called V
    assert wrong.sum() >= 20
    q = _called_v(p, wrong)
    out = v_timing_rule(q, x, 360.0, clf.window.pre, rr[:, 0], rr[:, 1], cid, RULE)
    assert (out[wrong].argmax(1) == 0).mean() >= 0.95
    pvc = (q.argmax(1) == 2) & (y == 2) & ~drift  # (the rule acts per cluster: a PVC inside that cluster goes too)
    assert pvc.sum() >= 5 and (out[pvc].argmax(1) == 2).all()
    np.testing.assert_allclose(out.sum(1), 1.0, atol=1e-9)
    assert (out[:, 3:] == q[:, 3:]).all()  # F and Q untouched


def test_true_pvcs_are_kept(clf, mitdb_dir, tmp_path):
    """119 (sinus rhythm with frequent premature ventricular beats, bigeminy): every V call survives the rule."""
    from ecgdl.adapt_ventricular import v_timing_rule

    x, rr, p, cid, y = _beats(clf, mitdb_dir, tmp_path, "119", 600.0)
    v = p.argmax(1) == 2
    assert (v & (y == 2)).sum() >= 50
    out = v_timing_rule(p, x, 360.0, clf.window.pre, rr[:, 0], rr[:, 1], cid, RULE)
    np.testing.assert_array_equal(out.argmax(1), p.argmax(1))


def test_af_record_and_tiny_inputs_unchanged_deterministic(clf, mitdb_dir, tmp_path):
    """203 (atrial fibrillation: the record guard holds the rule back) bit for bit; the whole adaptive step with
    the rule twice on 109 gives the same output; 0, 2 and 19 beats: nothing changes; labels are never an input."""
    from ecgdl.adapt import adapt_record
    from ecgdl.adapt_ventricular import v_timing_rule

    x, rr, p, cid, _ = _beats(clf, mitdb_dir, tmp_path, "203", 300.0)
    q = _called_v(p, cid == 0)
    np.testing.assert_array_equal(v_timing_rule(q, x, 360.0, clf.window.pre, rr[:, 0], rr[:, 1], cid, RULE), q)
    for n in (0, 2, 19):
        np.testing.assert_array_equal(
            v_timing_rule(q[:n], x[:n], 360.0, clf.window.pre, rr[:n, 0], rr[:n, 1], cid[:n], RULE), q[:n])
    x, rr, p, _, _ = _beats(clf, mitdb_dir, tmp_path, "109", 300.0)
    cfg = dataclasses.replace(clf.adapter.config, v_timing=RULE)
    a, b = (adapt_record(x, rr[:, 0], rr[:, 1], p, 360.0, clf.window.pre, clf.adapter.stacker, cfg)[0]
            for _ in range(2))
    np.testing.assert_array_equal(a, b)


def test_correlation_keeps_pvcs_that_timing_alone_would_release(clf, mitdb_dir, tmp_path):
    """Round 6's morphology test: 119's PVCs given normal timing (every RR set to the record's sinus RR, so the
    timing test alone releases them, as a late-coupled PVC at conducted width would be) stay V when the cluster's
    median QRS must also correlate with the N-called one; 109's drifted conducted cluster still goes back to N."""
    from ecgdl.adapt_ventricular import qrs_correlation, sinus_rr, v_timing_rule

    x, rr, p, cid, y = _beats(clf, mitdb_dir, tmp_path, "119", 600.0)
    v = p.argmax(1) == 2
    flat = np.full(len(rr), sinus_rr(rr[:, 0], p.argmax(1) <= 1))
    loose = v_timing_rule(p, x, 360.0, clf.window.pre, flat, flat, cid, (0.85, 1.1, 0.0))
    assert (loose[v].argmax(1) != 2).mean() >= 0.9  # timing only: the PVCs would go
    kept = v_timing_rule(p, x, 360.0, clf.window.pre, flat, flat, cid, (0.85, 1.1, 0.0, 0.95))
    np.testing.assert_array_equal(kept.argmax(1), p.argmax(1))
    assert qrs_correlation(x, 360.0, clf.window.pre, v, p.argmax(1) == 0) < 0.95
    x, rr, p, cid, y = _beats(clf, mitdb_dir, tmp_path, "109", 900.0)
    counts = np.bincount(cid[y == 0], minlength=cid.max() + 1)
    wrong = (cid == int(np.argsort(counts)[-2])) & (y == 0)
    out = v_timing_rule(_called_v(p, wrong), x, 360.0, clf.window.pre, rr[:, 0], rr[:, 1], cid, (0.85, 1.1, 0.0, 0.95))
    assert (out[wrong].argmax(1) == 0).mean() >= 0.95


def test_per_beat_timing_moves_only_normally_timed_beats(clf, mitdb_dir, tmp_path):
    """Round 6b's share form: 109's drifted conducted cluster (called V) goes back to N beat by beat; only beats at
    normal timing of their own move; 119's PVCs (premature, with a pause) all stay V."""
    from ecgdl.adapt_ventricular import sinus_rr, v_timing_rule

    rule = (0.85, 1.1, 0.0, -1.0, 0.8)
    x, rr, p, cid, y = _beats(clf, mitdb_dir, tmp_path, "119", 600.0)
    np.testing.assert_array_equal(v_timing_rule(p, x, 360.0, clf.window.pre, rr[:, 0], rr[:, 1], cid, rule).argmax(1),
                                  p.argmax(1))
    x, rr, p, cid, y = _beats(clf, mitdb_dir, tmp_path, "109", 900.0)
    counts = np.bincount(cid[y == 0], minlength=cid.max() + 1)
    wrong = (cid == int(np.argsort(counts)[-2])) & (y == 0)
    q = _called_v(p, wrong)
    out = v_timing_rule(q, x, 360.0, clf.window.pre, rr[:, 0], rr[:, 1], cid, rule)
    moved = (q.argmax(1) == 2) & (out.argmax(1) != 2)
    srr = sinus_rr(rr[:, 0], q.argmax(1) <= 1)
    assert moved[wrong].mean() >= 0.8
    assert (rr[moved, 0] >= 0.85 * srr).all() and (rr[moved, 1] <= 1.1 * srr).all()
