"""The patient-adaptive step (ecgdl.adapt) on real MIT-BIH records through the real ONNX model."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from infer_fixtures import shipped_adaptive_classifier, write_excerpt

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def clf():
    return shipped_adaptive_classifier()


@pytest.fixture(scope="module")
def record_119(mitdb_dir, tmp_path_factory):
    """5 minutes of DS1 record 119 (sinus rhythm with ventricular bigeminy), annotations kept."""
    from ecgdl.io import read_record

    path = write_excerpt(mitdb_dir / "119", tmp_path_factory.mktemp("adapt"), "x119", start_s=60.0)
    return read_record(path, target_fs=360.0, on_gaps="fill")


def test_adapt_reads_no_label_and_acts_only_through_its_declared_mechanism(clf, record_119):
    from ecgdl.adapt import adapt_record
    from ecgdl.beats import segment_beat_sets
    from ecgdl.infer import score_record

    assert record_119.annotations is not None
    with_ann = score_record(record_119, clf, compare=False)
    without = score_record(dataclasses.replace(record_119, annotations=None), clf, compare=False)
    np.testing.assert_array_equal(with_ann.proba, without.proba)  # no label can have been read
    np.testing.assert_array_equal(with_ann.cluster, without.cluster)
    off = score_record(record_119, clf, compare=False, adapt=False)
    assert off.cluster is None and not off.summary["adapt"]["applied"] and with_ann.summary["adapt"]["applied"]
    # the declared mechanism, recomputed by hand: stacker on the record-relative features of the inductive
    # probabilities, then cluster averaging; nothing else changes the labels
    (sl, beats), = list(segment_beat_sets(off.conditioned, off.sample, 360.0, clf.window, "x119"))
    p, cid = adapt_record(beats.x, beats.rr[:, 0], beats.rr[:, 1], off.proba[sl], 360.0, clf.window.pre,
                          clf.adapter.stacker, clf.adapter.config)
    np.testing.assert_allclose(with_ann.proba, p, atol=1e-6)
    np.testing.assert_array_equal(with_ann.cluster, cid)
    assert np.allclose(with_ann.proba.sum(1), 1.0, atol=1e-4)
    # record 119's bigeminy: the V beats stay V (at least 90 % of the inductive V calls)
    v = off.label == "V"
    assert v.sum() > 50 and (with_ann.label[v] == "V").mean() >= 0.9


def test_adapt_is_deterministic_for_a_seed(clf, record_119):
    from ecgdl.infer import score_record

    a, b = score_record(record_119, clf, compare=False), score_record(record_119, clf, compare=False)
    np.testing.assert_array_equal(a.proba, b.proba)
    np.testing.assert_array_equal(a.cluster, b.cluster)


def _real_beats(clf, rec, cls: str | None = None):
    """Windows, RR and inductive probabilities of the record's reference beats (optionally one class only)."""
    from ecgdl.beats import segment_beat_sets
    from ecgdl.infer import condition_record, model_leads, reference_beats
    from ecgdl.labels import CLASS_INDEX

    peaks, y = reference_beats(rec)
    cond = condition_record(model_leads(rec), rec.fs, clf.conditioning)
    (_, beats), = list(segment_beat_sets(cond, peaks, rec.fs, clf.window, rec.name))
    keep = np.ones(len(y), bool) if cls is None else y == CLASS_INDEX[cls]
    return beats.x[keep], beats.rr[keep], clf.predict_proba(beats)[keep]


def test_one_morphology_two_beats_and_all_ectopic(clf, record_119):
    from ecgdl.adapt import adapt_record

    x, rr, p = _real_beats(clf, record_119)
    st, cfg = clf.adapter.stacker, clf.adapter.config
    # one morphology: a single real beat repeated at a steady rate
    n = 200
    one = np.repeat(x[5:6], n, axis=0)
    pre = np.full(n, 0.8, np.float32)
    q, cid = adapt_record(one, pre, pre, np.repeat(p[5:6], n, 0), 360.0, clf.window.pre, st, cfg)
    assert np.isfinite(q).all() and np.allclose(q.sum(1), 1, atol=1e-4) and len(np.unique(cid)) == 1
    assert len(np.unique(q.argmax(1))) == 1  # identical beats get one label
    # two beats
    q2, cid2 = adapt_record(x[:2], rr[:2, 0], rr[:2, 1], p[:2], 360.0, clf.window.pre, st, cfg)
    assert q2.shape == (2, 5) and np.isfinite(q2).all() and len(cid2) == 2
    # 100 % ectopic: only the record's V beats (real windows, real RR)
    xv, rrv, pv = _real_beats(clf, record_119, "V")
    qv, _ = adapt_record(xv, rrv[:, 0], rrv[:, 1], pv, 360.0, clf.window.pre, st, cfg)
    assert len(xv) > 50 and np.isfinite(qv).all()
    assert (qv.argmax(1) == 2).mean() >= 0.8, "an all-V record must not be turned into N by the record reference"
    # empty input
    q0, c0 = adapt_record(x[:0], rr[:0, 0], rr[:0, 1], p[:0], 360.0, clf.window.pre, st, cfg)
    assert q0.shape == (0, 5) and len(c0) == 0


def test_cli_no_adapt_switch(clf, mitdb_dir, tmp_path):
    from ecgdl.cli import main

    rec = write_excerpt(mitdb_dir / "119", tmp_path, "s119", start_s=60.0, seconds=60.0)
    assert main(["score", str(rec), "--out", str(tmp_path / "on"), "-q"]) == 0
    assert main(["score", str(rec), "--out", str(tmp_path / "off"), "--no-adapt", "-q"]) == 0
    on = (tmp_path / "on" / "s119.beats.csv").read_text().splitlines()[0].split(",")
    off = (tmp_path / "off" / "s119.beats.csv").read_text().splitlines()[0].split(",")
    assert "cluster" in on and "cluster" not in off
    assert json.loads((tmp_path / "on" / "s119.summary.json").read_text())["adapt"]["applied"]


def test_ds2_never_reaches_the_adapters_fit(clf, tmp_path):
    import sys
    from pathlib import Path

    from ecgdl.export import attach_adapter
    from ecgdl.splits import DS1, DS2, SplitError

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pipelines"))
    import cv

    records = clf.meta["adapt"]["records"]
    assert set(records) <= set(DS1) and not set(records) & set(DS2)
    assert sorted(r for f in cv.FOLDS for r in f) == sorted(DS1)  # every DS1 record validated exactly once
    for k in range(len(cv.FOLDS)):
        train, val, held = cv.fold_split(k)
        assert not (set(train) | set(val) | set(held)) & set(DS2)
    side = tmp_path / "m.json"
    side.write_text(json.dumps({"name": "m"}))
    with pytest.raises(SplitError):
        attach_adapter(side, {**clf.meta["adapt"], "records": [*records, "232"]})


def test_attach_adapter_round_trip(clf, tmp_path):
    """pipelines/export.py --adapt: the sidecar's adapt section is written back unchanged; ONNX untouched."""
    from ecgdl.export import attach_adapter

    side = tmp_path / "m.json"
    side.write_text(json.dumps(clf.meta))
    meta = attach_adapter(side, dict(clf.meta["adapt"]))
    assert json.loads(side.read_text())["adapt"] == clf.meta["adapt"] == meta["adapt"]
    assert meta["onnx"] == clf.meta["onnx"]


def test_af_gate_acts_in_atrial_fibrillation_only(clf, record_119, mitdb_dir, tmp_path):
    """The AF gate (ecgdl.adapt.af_gate) on real records: DS1 203 (atrial fibrillation with irregular RR and
    no repeating P wave) is gated nearly everywhere, 119 (sinus rhythm with ventricular bigeminy) nowhere;
    where it acts, S probability goes to N and nothing else moves."""
    from ecgdl.adapt import af_gate, atrial_evidence
    from ecgdl.io import read_record

    rec_203 = read_record(write_excerpt(mitdb_dir / "203", tmp_path, "x203", start_s=0.0, seconds=180.0),
                          target_fs=360.0, on_gaps="fill")
    share = {}
    for name, rec in (("119", record_119), ("203", rec_203)):
        x, rr, p = _real_beats(clf, rec)
        irr, pcons = atrial_evidence(x, 360.0, clf.window.pre, rr[:, 0], p[:, 2:4].sum(1) > 0.5)
        q = af_gate(p, irr, pcons, (0.08, 0.6))
        moved = np.abs(q - p).max(1) > 0
        share[name] = ((irr > 0.08) & (pcons < 0.6)).mean()
        np.testing.assert_allclose(q[:, 2:], p[:, 2:], atol=1e-7)  # V, F, Q untouched
        assert (q[moved, 1] == 0).all() and np.allclose(q.sum(1), p.sum(1), atol=1e-6)
    assert share["203"] > 0.8 and share["119"] < 0.02, share


def _plain_kmeans(v, k, seed, iters):
    """The reference k-means: k-means++ then Lloyd over every beat and centroid (the previous code)."""
    from ecgdl.adapt import _sq_dist

    n = len(v)
    rng = np.random.default_rng(seed)
    cent = [v[rng.integers(n)]]
    d2 = _sq_dist(v, cent[0][None])[:, 0]
    for _ in range(1, k):
        if d2.sum() <= 1e-6:
            break
        cent.append(v[rng.choice(n, p=d2 / d2.sum())])
        d2 = np.minimum(d2, _sq_dist(v, cent[-1][None])[:, 0])
    c = np.stack(cent)
    lab = _sq_dist(v, c).argmin(1)
    for _ in range(iters):
        counts = np.bincount(lab, minlength=len(c))
        keep = counts > 0
        sums = np.stack([np.bincount(lab, weights=v[:, j], minlength=len(c)) for j in range(v.shape[1])], 1)
        c = (sums[keep] / counts[keep, None]).astype(v.dtype)
        new = _sq_dist(v, c).argmin(1)
        if keep.all() and np.array_equal(new, lab):
            break
        lab = new
    return lab, c


def test_fast_kmeans_and_pooling_equal_the_plain_computation(clf, record_119):
    """The faster k-means (float64 products, sorted sums) and pooling give the plain code's numbers."""
    from ecgdl.adapt import _pool, kmeans, qrs_vectors

    x, _, _ = _real_beats(clf, record_119)
    v = qrs_vectors(x, 360.0, clf.window.pre, clf.adapter.config)
    for seed, k in ((0, 12), (1, 8), (2, 20)):
        lab, c = kmeans(v, k, seed, 15)
        ref_lab, ref_c = _plain_kmeans(v, k, seed, 15)
        np.testing.assert_array_equal(lab, ref_lab)
        np.testing.assert_array_equal(c, ref_c)
    for k in range(1, 10):
        for dtype in (np.float32, np.float64):
            seg = x[:, :, 3:77].astype(dtype)
            t = seg.shape[-1] // k * k
            np.testing.assert_array_equal(_pool(seg, k), seg[..., :t].reshape(*seg.shape[:-1], t // k, k).mean(-1))


def test_long_rr_features_and_self_training_on_a_real_record(clf, record_119):
    """The round-3 options (off in the shipped config): finite, the right width, V/F/Q untouched by
    self-training, which leaves a record without enough confident N and S beats as it is."""
    import dataclasses as dc

    from ecgdl.adapt import feature_names, record_features, self_train

    x, rr, p = _real_beats(clf, record_119)
    cfg = dc.replace(clf.adapter.config, p_long=True)
    for sl in (slice(None), slice(0, 2), slice(0, 30)):
        f, _ = record_features(x[sl], rr[sl, 0], rr[sl, 1], p[sl], 360.0, clf.window.pre, cfg)
        assert f.shape == (len(x[sl]), len(feature_names(cfg))) and np.isfinite(f).all()
    f, _ = record_features(x, rr[:, 0], rr[:, 1], p, 360.0, clf.window.pre, clf.adapter.config)
    q = np.asarray(p, np.float64)
    fake = q.copy()
    fake[:60, :2] = [[0.0, 1.0]] * 60  # 60 confident "S" calls among confident N ones
    fake[:60, 2:] = 0.0
    out = self_train(fake, f, 0.9, 0.5)
    np.testing.assert_allclose(out[:, 2:], fake[:, 2:])
    np.testing.assert_allclose(out.sum(1), fake.sum(1), atol=1e-9)
    assert not np.allclose(out, fake)
    np.testing.assert_array_equal(self_train(q, f, 0.9999999, 0.5), q)  # too few confident S: unchanged


def test_shipped_adapter_config_round_trips(clf):
    """The shipped sidecar's adapt section (round 3) names the features its config computes."""
    from ecgdl.adapt import AdaptConfig, feature_names

    cfg = clf.adapter.config
    assert AdaptConfig.from_dict(cfg.to_dict()) == cfg
    assert len(clf.adapter.stacker.mean) == len(feature_names(cfg))


def test_n_ensemble_averages_the_step_over_its_seeds(clf, record_119):
    from ecgdl.adapt import adapt_record
    from ecgdl.beats import segment_beat_sets
    from ecgdl.infer import score_record

    off = score_record(record_119, clf, compare=False, adapt=False)
    (sl, beats), = list(segment_beat_sets(off.conditioned, off.sample, 360.0, clf.window, "x119"))
    args = (beats.x, beats.rr[:, 0], beats.rr[:, 1], off.proba[sl], 360.0, clf.window.pre, clf.adapter.stacker)
    cfg = clf.adapter.config
    one = [adapt_record(*args, dataclasses.replace(cfg, seed=cfg.seed + i))[0] for i in range(2)]
    two, cid = adapt_record(*args, dataclasses.replace(cfg, n_ensemble=2))
    np.testing.assert_allclose(two, (one[0] + one[1]) / 2, atol=1e-6)
    np.testing.assert_array_equal(cid, adapt_record(*args, cfg)[1])


def test_medoid_ensemble_keeps_the_consensus_run_as_it_is(clf, record_119):
    from ecgdl.adapt import AdaptConfig, adapt_record, medoid_run
    from ecgdl.beats import segment_beat_sets
    from ecgdl.infer import score_record

    off = score_record(record_119, clf, compare=False, adapt=False)
    (sl, beats), = list(segment_beat_sets(off.conditioned, off.sample, 360.0, clf.window, "x119"))
    args = (beats.x, beats.rr[:, 0], beats.rr[:, 1], off.proba[sl], 360.0, clf.window.pre, clf.adapter.stacker)
    cfg = clf.adapter.config
    runs = [adapt_record(*args, dataclasses.replace(cfg, seed=cfg.seed + i)) for i in range(3)]
    pick = medoid_run([p.argmax(1) for p, _ in runs])
    got, cid = adapt_record(*args, dataclasses.replace(cfg, n_ensemble=3, ensemble="medoid"))
    np.testing.assert_array_equal(got, runs[pick][0])  # one member's probabilities, not an average
    np.testing.assert_array_equal(cid, runs[pick][1])
    assert AdaptConfig.from_dict(dataclasses.replace(cfg, n_ensemble=3, ensemble="medoid").to_dict()).ensemble == "medoid"
    assert "ensemble" not in cfg.to_dict()  # the default stays out of the sidecar


def test_medoid_run_counts_agreement_and_breaks_ties_to_the_first():
    from ecgdl.adapt import AdaptConfig, medoid_run

    a, b, c = np.array([0, 0, 2, 2]), np.array([0, 0, 2, 1]), np.array([0, 1, 1, 1])
    assert medoid_run([a, b, c]) == 1  # b agrees with a on 3 and with c on 2
    assert medoid_run([a, a.copy()]) == 0
    with pytest.raises(ValueError, match="ensemble must be one of"):
        AdaptConfig(ensemble="vote")
