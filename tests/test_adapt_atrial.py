"""The sinus-reference rule (ecgdl.adapt_atrial) on real MIT-BIH beats through the real ONNX model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from infer_fixtures import shipped_adaptive_classifier, write_excerpt

pytest.importorskip("onnxruntime")

RULE = (0.8, 0.6, 16)


@pytest.fixture(scope="module")
def clf():
    return shipped_adaptive_classifier()


def _beats(clf, mitdb_dir, tmp_path, name: str, start_s: float, seconds: float):
    """Windows, RR, inductive probabilities and reference classes of a real excerpt's reference beats."""
    from ecgdl.beats import segment_beat_sets
    from ecgdl.infer import condition_record, model_leads, reference_beats
    from ecgdl.io import read_record

    rec = read_record(write_excerpt(mitdb_dir / name, tmp_path, f"x{name}", start_s=start_s, seconds=seconds),
                      target_fs=360.0, on_gaps="fill")
    peaks, y = reference_beats(rec)
    cond = condition_record(model_leads(rec), rec.fs, clf.conditioning)
    (_, beats), = list(segment_beat_sets(cond, peaks, rec.fs, clf.window, rec.name))
    return beats.x, beats.rr, clf.predict_proba(beats), np.asarray(y)


def _adapt(clf, x, rr, p, rule):
    from ecgdl.adapt import adapt_record

    cfg = dataclasses.replace(clf.adapter.config, sinus_rule=rule)
    return adapt_record(x, rr[:, 0], rr[:, 1], p, 360.0, clf.window.pre, clf.adapter.stacker, cfg)[0]


def test_ectopic_majority_record_gets_its_atrial_beats(clf, mitdb_dir, tmp_path):
    """DS1 220 (sinus rhythm with APCs), its beat list thinned so that the APCs (different P wave, premature
    against the sinus cycle, true RR kept) outnumber the sinus beats ~3:1: the majority-relative features see
    nothing premature; the rule reads the sinus cycle off the long-RR beats and labels the APCs S."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pipelines"))
    from adapt_pseudo import pseudo_mask

    x, rr, p, y = _beats(clf, mitdb_dir, tmp_path, "220", 0.0, 1805.0)
    m = pseudo_mask(y)  # labels choose the test's beat list only; the adaptive step never sees them
    x, rr, p, y = x[m], rr[m], p[m], y[m]
    assert (y == 1).sum() > 2.5 * (y == 0).sum() > 50
    off, on = _adapt(clf, x, rr, p, None).argmax(1), _adapt(clf, x, rr, p, RULE).argmax(1)
    se_off, se_on = (off[y == 1] == 1).mean(), (on[y == 1] == 1).mean()
    assert se_on >= 0.8 and se_on >= se_off + 0.3, (se_off, se_on)
    assert (on[y == 0] == 1).mean() <= 0.1  # the sinus beats stay N
    assert (on[y >= 2] == off[y >= 2]).all()  # the rule and the spared gate touch N/S only


@pytest.mark.parametrize("name,start_s", [("100", 0.0), ("203", 0.0)])
def test_sinus_and_af_records_gain_no_s(clf, mitdb_dir, tmp_path, name, start_s):
    """100's first 5 minutes (sinus rhythm) and 203's (atrial fibrillation): the record guards hold the rule
    back; labels and probabilities are those of the adaptive step without it, bit for bit."""
    x, rr, p, _ = _beats(clf, mitdb_dir, tmp_path, name, start_s, 300.0)
    np.testing.assert_array_equal(_adapt(clf, x, rr, p, RULE), _adapt(clf, x, rr, p, None))


def test_rule_is_deterministic_and_reads_no_label(clf, mitdb_dir, tmp_path):
    """Same beats, same output; labels never enter (the functions take no label); rows sum to 1; tiny inputs."""
    from ecgdl.adapt import _p_segments
    from ecgdl.adapt_atrial import sinus_reference_rule

    x, rr, p, _ = _beats(clf, mitdb_dir, tmp_path, "220", 0.0, 600.0)
    a, b = _adapt(clf, x, rr, p, RULE), _adapt(clf, x, rr, p, RULE)
    np.testing.assert_array_equal(a, b)
    assert np.allclose(a.sum(1), 1.0, atol=1e-4)
    seg = _p_segments(x, 360.0, clf.window.pre, clf.adapter.config)
    for n in (0, 2, 19):
        q, around = sinus_reference_rule(p[:n], seg[:n], rr[:n, 0], RULE)
        np.testing.assert_array_equal(q, p[:n].astype(np.float64))
        assert not around.any()
