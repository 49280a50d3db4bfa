"""The classifier's second ONNX output ``embedding`` and the adaptive step clustering it (``cluster_on="both"``):
real MIT-BIH records, real onnxruntime, real torch."""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings

import numpy as np
import pytest

from infer_fixtures import fresh_for_tests, shipped_model, write_excerpt

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _strip_embedding(proto):
    """The graph as it was before :func:`ecgdl.export_embedding.add_embedding_output` (logits only)."""
    import copy

    m = copy.deepcopy(proto)
    keep = [n for n in m.graph.node if "embedding" not in n.output]
    del m.graph.node[:]
    m.graph.node.extend(keep)
    outs = [o for o in m.graph.output if o.name != "embedding"]
    del m.graph.output[:]
    m.graph.output.extend(outs)
    return m


def _session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def record_208(mitdb_dir, tmp_path_factory):
    """5 minutes of DS1 record 208 (PVCs, couplets and fusion beats), annotations kept."""
    from ecgdl.io import read_record

    path = write_excerpt(mitdb_dir / "208", tmp_path_factory.mktemp("emb"), "x208", start_s=120.0)
    return read_record(path, target_fs=360.0, on_gaps="fill")


def _inputs(clf, rec):
    from ecgdl.beats import segment_beat_sets
    from ecgdl.infer import condition_record, model_leads, reference_beats

    cond = condition_record(model_leads(rec), rec.fs, clf.conditioning)
    (_, beats), = list(segment_beat_sets(cond, reference_beats(rec)[0], rec.fs, clf.window, rec.name))
    return clf.inputs(beats)


@pytest.fixture(scope="module")
def shipped():
    from ecgdl.infer import BeatClassifier

    path = shipped_model()
    if path is None:
        pytest.skip("no shipped model")
    return BeatClassifier(path, device="cpu")


def test_shipped_model_has_the_embedding_and_unchanged_logits(shipped, record_208):
    """The shipped graph's logits are bit-identical to the graph without the added output, on real beats."""
    assert shipped.has_embedding and shipped.outputs == ("logits", "embedding")
    assert shipped.meta["onnx"]["outputs"]["embedding"] == ["batch", 64]
    inp = _inputs(shipped, record_208)
    logits, emb = shipped.run(inp, embedding=True)
    old = _session(_strip_embedding(onnx.load(str(shipped.path)))).run(["logits"], inp)[0]
    np.testing.assert_array_equal(logits, old)
    np.testing.assert_array_equal(shipped.logits(inp), old)
    assert emb.shape == (len(logits), 64) and np.isfinite(emb).all()
    assert (emb[:, 32:] >= emb[:, :32] - 1e-6).all()  # max over time >= mean over time, channel by channel


def _random_bn(model, seed=0):
    """Non-trivial batch-norm statistics (an untrained model's are the identity): the folded Conv must carry them."""
    import torch

    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return model.eval()


def test_embedding_is_the_cv_embedding_both_ways(tmp_path_factory, mitdb_dir, record_208):
    """A fresh CNN exported (a) by ``to_onnx`` (two outputs) and (b) logits-only then by graph surgery: both
    ``embedding`` outputs equal ``pipelines/cv.py``'s ``_embed`` (torch ``CNN._embed``), logits equal torch's."""
    torch = pytest.importorskip("torch")
    import copy
    import io

    from ecgdl.export import to_onnx
    from ecgdl.export_embedding import add_embedding_output
    from ecgdl.infer import BeatClassifier

    path, model = fresh_for_tests(tmp_path_factory, mitdb_dir, "cnn")
    clf = BeatClassifier(path, device="cpu")
    model = _random_bn(copy.deepcopy(model))  # the session-shared fresh model stays as exported
    out = tmp_path_factory.mktemp("emb_export")
    two = to_onnx(model, out / "two.onnx")
    assert [o.name for o in onnx.load(str(two)).graph.output] == ["logits", "embedding"]
    buf = io.BytesIO()
    c, t, f = 2, model.config.n_samples, model.config.n_rr
    torch.onnx.export(model, (torch.zeros(2, c, t), torch.zeros(2, f)), buf, input_names=["beats", "rr"],
                      output_names=["logits"], dynamic_axes={n: {0: "batch"} for n in ("beats", "rr", "logits")},
                      opset_version=17, dynamo=False)
    one = onnx.load_from_string(buf.getvalue())
    surgery = add_embedding_output(one)
    onnx.checker.check_model(surgery, full_check=True)
    inp = _inputs(clf, record_208)
    with torch.no_grad():
        t_logits = model(torch.from_numpy(inp["beats"]), torch.from_numpy(inp["rr"])).numpy()
        t_emb = model._embed(torch.from_numpy(inp["beats"])).numpy()  # what pipelines/cv.py caches as emb
    a_logits, a_emb = _session(onnx.load(str(two))).run(["logits", "embedding"], inp)
    b_logits, b_emb = _session(surgery).run(["logits", "embedding"], inp)
    np.testing.assert_array_equal(b_logits, _session(one).run(["logits"], inp)[0])  # surgery: logits untouched
    for lo, em in ((a_logits, a_emb), (b_logits, b_emb)):
        np.testing.assert_allclose(em, t_emb, atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(lo, t_logits, atol=1e-4)
    assert np.abs(t_emb).max() > 0.1  # a real signal, not zeros


def _both_model(shipped, folder, strip: bool = False):
    """The shipped model copied to ``folder`` with ``adapt.config.cluster_on = "both"`` (``strip``: its ONNX
    without the embedding output, as an older export)."""
    from ecgdl.artifacts import sha256_file

    dst = folder / "m.onnx"
    if strip:
        dst.write_bytes(_strip_embedding(onnx.load(str(shipped.path))).SerializeToString())
    else:
        shutil.copy(shipped.path, dst)
    meta = json.loads(shipped.path.with_suffix(".json").read_text())
    meta["adapt"]["config"]["cluster_on"] = "both"
    meta["onnx"]["sha256"] = sha256_file(dst)
    dst.with_suffix(".json").write_text(json.dumps(meta))
    return dst


def test_cluster_on_both_is_deterministic_and_reads_the_embedding(shipped, record_208, tmp_path):
    from ecgdl.adapt import adapt_record, qrs_vectors
    from ecgdl.adapt_embedding import joint_vectors
    from ecgdl.beats import segment_beat_sets
    from ecgdl.infer import BeatClassifier, classify_record, score_record

    if shipped.adapter is None:
        pytest.skip("no adaptive step shipped")
    clf = BeatClassifier(_both_model(shipped, tmp_path), device="cpu")
    assert clf.adapter.config.cluster_on == "both" and clf.wants_embedding()
    a, b = score_record(record_208, clf, compare=False), score_record(record_208, clf, compare=False)
    np.testing.assert_array_equal(a.proba, b.proba)
    np.testing.assert_array_equal(a.cluster, b.cluster)
    # by hand: the inductive pass with its embedding, then adapt_record on the joint vectors
    proba, _, emb = classify_record(clf, a.conditioned, a.sample, 360.0, clf.window, "x208", True)
    (sl, beats), = list(segment_beat_sets(a.conditioned, a.sample, 360.0, clf.window, "x208"))
    p, cid = adapt_record(beats.x, beats.rr[:, 0], beats.rr[:, 1], proba[sl], 360.0, clf.window.pre,
                          clf.adapter.stacker, clf.adapter.config, emb[sl])
    np.testing.assert_array_equal(a.proba, p)
    np.testing.assert_array_equal(a.cluster, cid)
    v = joint_vectors(qrs_vectors(beats.x, 360.0, clf.window.pre, clf.adapter.config), emb[sl])
    assert v.shape == (len(beats.x), 36 + 64) and v.dtype == np.float32
    qrs_only = score_record(record_208, shipped, compare=False) if shipped.adapter.config.cluster_on == "qrs" else None
    if qrs_only is not None:
        assert not np.array_equal(qrs_only.cluster, a.cluster)  # the embedding changes the clusters


def test_old_onnx_without_the_output_still_scores(shipped, record_208, tmp_path):
    """An ONNX file with ``logits`` only and a sidecar asking for ``cluster_on="both"``: a warning, QRS
    clustering (the same result as ``cluster_on="qrs"``), a complete score."""
    from ecgdl.adapt import AdaptConfig, Adapter
    from ecgdl.infer import BeatClassifier, score_record

    if shipped.adapter is None:
        pytest.skip("no adaptive step shipped")
    with pytest.warns(RuntimeWarning, match="no 'embedding' output"):
        old = BeatClassifier(_both_model(shipped, tmp_path, strip=True), device="cpu")
    assert not old.has_embedding and not old.wants_embedding()
    res = score_record(record_208, old)
    assert res.summary["adapt"]["applied"] and res.reference is not None
    old.adapter = Adapter(dataclasses.replace(old.adapter.config, cluster_on="qrs"), old.adapter.stacker,
                          old.adapter.info)  # the same model, clustering QRS windows by its own config
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = score_record(record_208, old)
    np.testing.assert_array_equal(res.proba, ref.proba)
    np.testing.assert_array_equal(res.cluster, ref.cluster)
    assert AdaptConfig.from_dict(AdaptConfig(cluster_on="both").to_dict()).cluster_on == "both"
    assert "cluster_on" not in AdaptConfig().to_dict()  # older sidecars' adapt sections read unchanged
    with pytest.raises(ValueError, match="cluster_on"):
        AdaptConfig(cluster_on="emb")
