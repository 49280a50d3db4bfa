"""ecgdl.corrections: relabel a beat or a morphology group, add and delete beats, the recomputed summary,
and the export read back with wfdb.rdann (record 233, the shipped model)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgdl import corrections as corr


@pytest.fixture(scope="module")
def scored233(mitdb_dir):
    from ecgdl.infer import BeatClassifier, score_record

    try:
        clf = BeatClassifier()
    except (FileNotFoundError, KeyError) as exc:
        pytest.skip(f"no shipped beat classifier: {exc!r}")
    return score_record(mitdb_dir / "233", clf)


@pytest.fixture(scope="module")
def groups(scored233):
    return corr.morphology_groups(scored233)


def test_groups_are_by_shape_and_numbered_by_size(scored233, groups):
    """Most groups of 233 are nearly pure in the reference labels (the model's labels are not used)."""
    sizes = np.bincount(groups)
    assert len(groups) == len(scored233.sample) and np.all(np.diff(sizes) <= 0)
    ref = np.asarray(scored233.ref_label)
    purity = [np.max(np.unique(ref[groups == g], return_counts=True)[1]) / sizes[g] for g in range(len(sizes))]
    assert np.average(purity, weights=sizes) > 0.95


def test_group_relabel_beat_edits_and_the_summary(scored233, groups):
    r = scored233
    g = int(np.flatnonzero(np.bincount(groups) > 50)[-1])
    edits = [corr.group_relabel(r, groups, g, "N", who="Dr A"),
             corr.Correction("add", (int(r.sample[10]) + 100,), "V", who="Dr A", when="t"),
             corr.Correction("delete", (int(r.sample[20]),), who="Dr A", when="t"),
             corr.Correction("relabel", (int(r.sample[30]),), "S", who="Dr A", when="t")]
    fixed = corr.apply(r, edits)
    assert len(fixed.sample) == len(r.sample) and np.all(np.diff(fixed.sample) > 0)
    assert sum(fixed.summary["counts"].values()) == fixed.summary["beats"] == len(r.sample)
    in_group = np.isin(fixed.sample, edits[0].samples)
    assert np.all(fixed.label[in_group] == "N") and in_group.sum() == (groups == g).sum()
    assert fixed.label[np.searchsorted(fixed.sample, r.sample[30])] == "S"
    assert corr.model_labels(fixed)[np.searchsorted(fixed.sample, r.sample[10] + 100)] == ""
    assert fixed.proba.shape == (len(fixed.sample), len(r.classes))
    assert np.array_equal(r.label, scored233.label)                    # the model's result is untouched
    assert corr.corrected_mask(fixed).sum() == int((r.label[groups == g] != "N").sum()) + 2
    # the per-beat table follows the beats: one row each, the scoring clusters moved with them, -1 for the added one
    rows = fixed.beats_csv().splitlines()
    assert len(rows) == 1 + len(fixed.sample)
    added = np.searchsorted(fixed.sample, r.sample[10] + 100)
    assert fixed.cluster[added] == -1 and fixed.cluster[added + 1] == r.cluster[11]
    assert fixed.agreement[added] == 1.0 and len(fixed.agreement) == len(fixed.sample)
    assert len(corr.morphology_groups(fixed)) == len(fixed.sample)


@pytest.mark.parametrize("bad, message", [
    (corr.Correction("relabel", (1,), "V"), "no beat at sample 1"),
    (corr.Correction("relabel", (0,), "X"), "unknown class 'X'"),
    (corr.Correction("merge", (0,), "V"), "unknown correction"),
])
def test_bad_corrections_are_refused(scored233, bad, message):
    if bad.samples == (0,):
        bad = corr.Correction(bad.op, (int(scored233.sample[0]),), bad.new)
    with pytest.raises(ValueError, match=message):
        corr.apply(scored233, [bad])


def test_export_reads_back_with_rdann(scored233, groups, tmp_path):
    import wfdb

    edit = corr.group_relabel(scored233, groups, 1, "S", who="Dr B")
    fixed = corr.apply(scored233, [edit])
    (tmp_path / "233.cor").write_bytes(corr.annotation_bytes(fixed, "Dr B", "2026-12-01"))
    ann = wfdb.rdann(str(tmp_path / "233"), "cor")
    assert list(ann.symbol) == list(fixed.label) and np.array_equal(ann.sample, fixed.source_sample)
    notes = [a for a in ann.aux_note if a]
    assert len(notes) == corr.corrected_mask(fixed).sum() and "by Dr B on 2026-12-01" in notes[0]
    lines = corr.corrections_csv(fixed, "Dr, B", "2026-12-01").splitlines()
    assert lines[0].split(",")[:4] == ["sample", "time_s", "clock", "label"] and len(lines) == len(fixed.label) + 1
    assert lines[1].endswith('"Dr, B",2026-12-01')
