"""ONNX export: named inputs, dynamic batch, checker, torch parity on real DS2 beats, complete sidecar."""

from __future__ import annotations

import json

import numpy as np
import pytest

from infer_fixtures import fresh_for_tests, shipped_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

SIDECAR_KEYS = ("classes", "fs", "window", "conditioning", "features", "training", "metrics", "parity", "git",
                "onnx", "intended_use", "rr_features")


@pytest.mark.parametrize("family", ["cnn"])
def test_parity_with_torch_on_ds2_beats(family, tmp_path_factory, mitdb_dir):
    path, model = fresh_for_tests(tmp_path_factory, mitdb_dir, family)
    meta = json.loads(path.with_suffix(".json").read_text())
    par = meta["parity"]
    assert par["n"] == 1000
    assert par["max_abs_logit_diff"] <= 1e-4
    assert par["argmax_disagree"] == 0


@pytest.mark.parametrize("batch", [1, 7, 300])
def test_named_inputs_and_dynamic_batch(batch, tmp_path_factory, mitdb_dir):
    path, _ = fresh_for_tests(tmp_path_factory, mitdb_dir, "cnn")
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["beats", "rr"]
    assert [o.name for o in graph.output] == ["logits", "embedding"]  # the CNN's pooled embedding second
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    onnx.checker.check_model(str(path), full_check=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    _, c, t = sess.get_inputs()[0].shape
    f = sess.get_inputs()[1].shape[1]
    rng = np.random.default_rng(0)
    out = sess.run(["logits"], {"beats": rng.normal(size=(batch, c, t)).astype(np.float32),
                                "rr": rng.normal(size=(batch, f)).astype(np.float32)})[0]
    assert out.shape == (batch, 5) and np.isfinite(out).all()


def test_fresh_sidecar_carries_the_checkpoint_recipe(tmp_path_factory, mitdb_dir):
    from ecgdl.artifacts import sha256_file
    from ecgdl.labels import AAMI_CLASSES

    path, model = fresh_for_tests(tmp_path_factory, mitdb_dir, "cnn")
    meta = json.loads(path.with_suffix(".json").read_text())
    for key in SIDECAR_KEYS:
        assert key in meta, key
    assert meta["onnx"]["sha256"] == sha256_file(path)
    assert tuple(meta["classes"]) == AAMI_CLASSES
    assert meta["fs"] == 360.0 and meta["window"]["pre_s"] == 0.25
    assert meta["features"]["config"]["decimate"] == 2
    assert len(meta["features"]["stats"]["rr_mean"]) == meta["onnx"]["inputs"]["rr"][1]
    assert meta["model"]["config"]["in_channels"] == model.config.in_channels


def test_shipped_models_are_verified_and_small():
    from ecgdl.artifacts import sha256_file
    from ecgdl.paths import MODELS_DIR

    from ecgdl.export import is_classifier_sidecar

    shipped = [p for p in sorted(MODELS_DIR.glob("*.onnx"))
               if is_classifier_sidecar(json.loads(p.with_suffix(".json").read_text()))]
    if shipped_model() is None or not shipped:
        pytest.skip("no classifier shipped under ecgdl/shipped/ yet")
    for path in shipped:
        meta = json.loads(path.with_suffix(".json").read_text())
        for key in SIDECAR_KEYS:
            assert key in meta, f"{path.name}: {key}"
        assert meta["onnx"]["sha256"] == sha256_file(path)
        assert path.stat().st_size < 10 * 2**20
        assert meta["parity"]["n"] >= 1000 and meta["parity"]["max_abs_logit_diff"] <= 1e-4
        assert meta["parity"]["argmax_disagree"] == 0
        assert meta["features"]["stats"] is not None
        onnx.checker.check_model(str(path), full_check=True)


def test_cnn_runs_as_2d_convolutions_with_the_same_logits(tmp_path_factory, mitdb_dir):
    """The exported CNN's 1-D convolutions are rewritten as 2-D ones (faster in onnxruntime CPU)."""
    from ecgdl.export import conv1d_as_conv2d

    path, _ = fresh_for_tests(tmp_path_factory, mitdb_dir, "cnn")
    graph = onnx.load(str(path)).graph
    assert graph.node[0].op_type == "Unsqueeze"
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert convs and all(len(next(a for a in n.attribute if a.name == "kernel_shape").ints) == 2 for n in convs)
    assert conv1d_as_conv2d(onnx.load(str(path))) is None  # nothing left to rewrite: no 1-D conv on beats


def test_graphs_with_other_consumers_are_left_alone():
    """An LSTM after the convolutions (a Transpose consumes the conv output) keeps the 1-D graph."""
    from ecgdl.export import conv1d_as_conv2d
    from ecgdl.paths import MODELS_DIR

    lstm = MODELS_DIR / "ecgdl_lstm.onnx"
    if not lstm.is_file():
        pytest.skip("no LSTM shipped")
    model = onnx.load(str(lstm))
    assert any(n.op_type == "LSTM" for n in model.graph.node)
    assert conv1d_as_conv2d(model) is None
