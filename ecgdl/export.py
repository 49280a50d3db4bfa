"""Export a trained classifier to ONNX, verified: ``onnx.checker``, parity with torch, sidecar JSON.

The ONNX graph has two named inputs, ``beats`` ``(batch, C, T)`` and ``rr`` ``(batch, F)`` float32
(the outputs of :func:`ecgdl.features.make_inputs`), and the output ``logits`` ``(batch, K)``, then, for
a model with an ``embedding`` method (the CNN), ``embedding`` ``(batch, 2D)``: the pooled encoder vector the
head reads (:mod:`ecgdl.export_embedding`; the adaptive step clusters it); the batch axis is dynamic. The sidecar ``<name>.json`` beside ``<name>.onnx`` holds everything the
scoring path needs to rebuild those inputs from a raw record (classes, sampling rate, window,
conditioning, feature config and normalisation statistics) and what a reader needs to trust the
file (training data and split, DS2 metrics, parity figures, git commit, the ONNX file's sha256).

>>> model, blob = load_checkpoint(Path("runs/best_cnn/checkpoint.pt"))      # doctest: +SKIP
>>> meta = export_checkpoint(Path("runs/best_cnn/checkpoint.pt"), "ecgdl_cnn")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import subprocess
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ecgdl.artifacts import atomic_write, onnx_session, sha256_file, strict_json
from ecgdl.metrics import percent

#: Sidecar format version (bump when a key changes meaning).
SIDECAR_VERSION = 1
INPUT_NAMES: tuple[str, str] = ("beats", "rr")
OUTPUT_NAME = "logits"
INTENDED_USE = (
    "Decision support for reviewing ambulatory / Holter ECG: labels each detected beat with an AAMI EC57 "
    "class (N, S, V, F, Q) and summarises ectopy, heart rate, runs and pauses for a clinician to review. "
    "Not a diagnosis and not a medical device: every finding must be confirmed on the ECG by a qualified "
    "reader. Trained and tested on the MIT-BIH Arrhythmia Database only (adults, 360 Hz, two leads, "
    "MLII first); paced records were excluded."
)


def input_shapes(model) -> tuple[int, int, int]:
    """``(C, T, F)`` the classifier expects, from its config (``in_channels``, ``n_samples``, ``n_rr``)."""
    cfg = model.config
    return int(cfg.in_channels), int(cfg.n_samples), int(cfg.n_rr)


def to_onnx(model, path: Path, *, opset: int = 17, shapes: tuple[int, int, int] | None = None,
            conv2d: bool = True) -> Path:
    """Write ``model`` (a classifier ``forward(beats, rr) -> logits``) to ``path`` and check it; a model
    with an ``embedding`` method gets the second output ``embedding`` (:func:`ecgdl.export_embedding.with_embedding`).

    Uses the TorchScript exporter: it keeps an LSTM as one ONNX ``LSTM`` node (the dynamo exporter
    unrolls it over time, minutes to export and a larger graph). With ``conv2d``, a pure 1-D conv
    front end is rewritten as 2-D convolutions over a height-1 image (:func:`conv1d_as_conv2d`;
    same numbers, ~3x faster in onnxruntime CPU). Raises if ``onnx.checker`` fails.
    """
    import onnx
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    c, t, f = shapes or input_shapes(model)
    from ecgdl.export_embedding import EMBEDDING_NAME, with_embedding

    model = model.eval().to("cpu")
    wrapped = with_embedding(model)
    outputs = [OUTPUT_NAME] + ([EMBEDDING_NAME] if wrapped is not None else [])
    example = (torch.zeros(2, c, t), torch.zeros(2, f))
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapped or model, example, buf, input_names=list(INPUT_NAMES), output_names=outputs,
                          dynamic_axes={n: {0: "batch"} for n in (*INPUT_NAMES, *outputs)},
                          opset_version=opset, dynamo=False, do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    if conv2d:
        proto = conv1d_as_conv2d(proto) or proto
    onnx.checker.check_model(proto, full_check=True)
    atomic_write(path, proto.SerializeToString())
    return path


#: Ops that map a (B, C, 1, T) tensor to one of the same layout, element by element or along T.
_CONV_OPS = ("Conv", "MaxPool", "AveragePool")
_POINTWISE_OPS = ("Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid", "Tanh", "Gelu", "BatchNormalization", "Identity",
                  "Dropout")


def conv1d_as_conv2d(model):
    """The same graph with the 1-D conv front end on ``beats`` run as 2-D ops over (B, C, 1, T), or None.

    ``beats`` is unsqueezed to 4-D inside the graph (the input keeps its (batch, C, T) shape); Conv /
    pooling weights and attributes gain a height of 1; pointwise ops pass through; ``Reduce*`` over
    the time axis (keepdims=0) reduce over (1, T). Any other consumer of a rewritten tensor (e.g. an
    LSTM, a Transpose, a Flatten) makes the function return None and the graph is left as it is.
    Why: onnxruntime's CPU kernels for 2-D convolutions are much faster than its 1-D ones.
    """
    import copy

    from onnx import helper, numpy_helper

    m = copy.deepcopy(model)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    four = {"beats@4d"}
    nodes = [helper.make_node("Unsqueeze", ["beats", "beats@axes"], ["beats@4d"])]
    for n in g.node:
        n.input[:] = ["beats@4d" if i == "beats" else i for i in n.input]
        hit = [i for i in n.input if i in four]
        if hit:
            if not _rewrite_node(n, hit, inits):
                return None
            if n.op_type not in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum"):
                four.update(n.output)
        nodes.append(n)
    if any(o.name in four for o in g.output):
        return None
    g.initializer.append(numpy_helper.from_array(np.array([2], np.int64), "beats@axes"))
    del g.node[:]
    g.node.extend(nodes)
    return m


def _rewrite_node(n, hit: list[str], inits: dict) -> bool:
    """Rewrite one node consuming (B, C, 1, T) tensors in place; False when it cannot be."""
    from onnx import helper, numpy_helper

    attrs = {a.name: a for a in n.attribute}
    if n.op_type in _CONV_OPS:
        if hit != [n.input[0]]:
            return False
        if n.op_type == "Conv":
            w = inits.get(n.input[1])
            if w is None or len(w.dims) != 3:
                return False
            w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w)[:, :, None, :], w.name))
        for name in ("kernel_shape", "strides", "dilations"):
            if name in attrs:
                attrs[name].ints[:] = [1, *attrs[name].ints]
        if "pads" in attrs:
            a, b = attrs["pads"].ints
            attrs["pads"].ints[:] = [0, a, 0, b]
        return "auto_pad" not in attrs or helper.get_attribute_value(attrs["auto_pad"]) in (b"NOTSET", "NOTSET")
    if n.op_type in _POINTWISE_OPS:
        return hit == [n.input[0]]
    if n.op_type in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum"):
        ok = ("axes" in attrs and list(attrs["axes"].ints) in ([2], [-1]) and "keepdims" in attrs
              and attrs["keepdims"].i == 0 and len(n.input) == 1)
        if ok:
            attrs["axes"].ints[:] = [2, 3]
        return ok
    return False


def parity(model, onnx_path: Path, inputs: dict[str, np.ndarray], *, batch: int = 1024) -> dict:
    """Compare torch (eager, CPU) and ONNX Runtime (CPU) logits on the same inputs.

    Returns ``{"n", "max_abs_logit_diff", "argmax_agree", "argmax_disagree"}``.
    """
    import torch

    sess, _ = onnx_session(onnx_path, "cpu")
    model = model.eval().to("cpu")
    t_out, o_out = [], []
    with torch.no_grad():
        for i in range(0, len(inputs["beats"]), batch):
            b, r = inputs["beats"][i:i + batch], inputs["rr"][i:i + batch]
            t_out.append(model(torch.from_numpy(b), torch.from_numpy(r)).numpy())
            o_out.append(sess.run([OUTPUT_NAME], {"beats": b, "rr": r})[0])
    t, o = np.concatenate(t_out), np.concatenate(o_out)
    agree = t.argmax(1) == o.argmax(1)
    return {"n": int(len(t)), "max_abs_logit_diff": float(np.abs(t - o).max()) if len(t) else 0.0,
            "argmax_agree": int(agree.sum()), "argmax_disagree": int((~agree).sum())}


def parity_inputs(features: dict, stats: dict, records, n: int = 1000, seed: int = 0,
                  cache: Path | None = None) -> dict[str, np.ndarray]:
    """``n`` beats (seeded draw) of ``records`` from the prepared cache, as model inputs.

    Inputs are built over whole records (the feature recipe uses record-level medians), then drawn.
    """
    from ecgdl.dataset import load_beats
    from ecgdl.features import FeatureConfig, make_inputs

    beats = load_beats(records, cache=cache)
    beats = beats.subset(beats.y >= 0)
    inputs = make_inputs(beats, FeatureConfig.from_dict(features), stats)
    idx = np.sort(np.random.default_rng(seed).choice(len(beats), size=min(n, len(beats)), replace=False))
    return {k: np.ascontiguousarray(v[idx]) for k, v in inputs.items()}


def graph_outputs(proto) -> dict[str, list]:
    """``{output name: shape}`` of an ONNX graph, a dynamic axis by its name (the sidecar's ``onnx.outputs``)."""
    return {o.name: [d.dim_param or (d.dim_value if d.HasField("dim_value") else None)
                     for d in o.type.tensor_type.shape.dim] for o in proto.graph.output}


def git_commit(repo: Path) -> dict:
    """``{"commit", "dirty"}`` of the checkout (dirty: uncommitted changes under ``ecgdl/``)."""
    def run(*args):
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=30)
    head = run("rev-parse", "HEAD")
    if head.returncode:
        return {"commit": None, "dirty": None}
    dirty = run("status", "--porcelain", "--", "ecgdl").stdout.strip() != ""
    return {"commit": head.stdout.strip(), "dirty": dirty}


def build_sidecar(*, name: str, onnx_path: Path, blob: dict, parity_report: dict, ds2_metrics: dict | None,
                  checkpoint: Path | None = None) -> dict:
    """The sidecar dict (see the module docstring) for a model exported from a checkpoint ``blob``."""
    import onnx
    import onnxruntime
    import torch

    from ecgdl.beats import RR_FEATURES, WindowConfig
    from ecgdl.labels import AAMI_CLASSES, AAMI_NAMES
    from ecgdl.paths import REPO_ROOT
    from ecgdl.qrs_config import DEFAULT_CONFIG as QRS_DEFAULT
    from ecgdl.signal import ConditioningConfig
    from ecgdl.splits import DS2, PACED

    extra = blob.get("extra") or {}
    classes = list(extra.get("classes", AAMI_CLASSES))
    cfg = blob["model_config"]
    history = blob.get("history") or {}
    window = WindowConfig()
    return {
        "sidecar_version": SIDECAR_VERSION,
        "name": name,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "onnx": {"file": onnx_path.name, "sha256": sha256_file(onnx_path), "bytes": onnx_path.stat().st_size,
                 "opset": onnx.load(str(onnx_path)).opset_import[0].version,
                 "conv1d_as_conv2d": any("beats@4d" in n.output for n in onnx.load(str(onnx_path)).graph.node),
                 "inputs": {"beats": ["batch", cfg.get("in_channels"), cfg.get("n_samples")],
                            "rr": ["batch", cfg.get("n_rr")]},
                 "outputs": graph_outputs(onnx.load(str(onnx_path)))},
        "model": {"registry_name": blob["model_name"], "config": cfg, "source_checkpoint": str(checkpoint or ""),
                  "best_epoch": history.get("best_epoch"), "best_val": history.get("best_value")},
        "classes": classes,
        "class_names": {c: AAMI_NAMES.get(c, c) for c in classes},
        "fs": window.fs,
        "window": window.to_dict(),
        "rr_features": list(RR_FEATURES),
        "conditioning": asdict(ConditioningConfig()),
        "qrs": QRS_DEFAULT.to_dict(),
        "features": {"config": extra.get("features"), "stats": extra.get("stats")},
        "logit_offsets": extra.get("logit_offsets"),
        "training": {"data": "MIT-BIH Arrhythmia Database (PhysioNet mitdb), reference beat annotations",
                     "split": "inter-patient (de Chazal 2004): DS1 trains, DS2 tests; paced records excluded",
                     "train_records": extra.get("train_records"), "val_records": extra.get("val_records"),
                     "test_records": list(DS2), "excluded_records": list(PACED),
                     "run_config": extra.get("run_config"), "train_config": blob.get("train_config"),
                     "val_metrics": extra.get("val_metrics")},
        "metrics": {"ds2": ds2_metrics},
        "parity": parity_report,
        "git": git_commit(REPO_ROOT),
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__},
        "intended_use": INTENDED_USE,
    }


def export_checkpoint(checkpoint: Path, name: str, out_dir: Path | None = None, *, n_parity: int = 1000,
                      seed: int = 0, atol: float = 1e-4, cache: Path | None = None,
                      ds2_metrics: Path | None = None) -> dict:
    """Checkpoint -> ``out_dir/<name>.onnx`` + ``<name>.json``, verified; returns the sidecar.

    Parity is measured on ``n_parity`` DS2 beats (a numerical check of the export, not model
    selection). Raises ``AssertionError`` when max |logit diff| > ``atol`` or an argmax differs.
    DS2 metrics are read from ``ds2_metrics`` (default: ``ds2_metrics.json`` beside the checkpoint).
    """
    from ecgdl.paths import MODELS_DIR
    from ecgdl.splits import DS2
    from ecgdl.train import load_checkpoint

    checkpoint = Path(checkpoint)
    out_dir = Path(out_dir or MODELS_DIR)
    model, blob = load_checkpoint(checkpoint)
    onnx_path = to_onnx(model, out_dir / f"{name}.onnx")
    extra = blob.get("extra") or {}
    inputs = parity_inputs(extra["features"], extra["stats"], DS2, n_parity, seed, cache)
    report = {**parity(model, onnx_path, inputs), "records": "DS2", "seed": seed, "atol": atol}
    if report["max_abs_logit_diff"] > atol or report["argmax_disagree"]:
        raise AssertionError(f"ONNX export of {checkpoint} fails parity: {report}")
    metrics_path = Path(ds2_metrics) if ds2_metrics else checkpoint.parent / "ds2_metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    meta = build_sidecar(name=name, onnx_path=onnx_path, blob=blob, parity_report=report, ds2_metrics=metrics,
                         checkpoint=checkpoint)
    meta = strict_json(meta)
    atomic_write(out_dir / f"{name}.json", json.dumps(meta, indent=1, allow_nan=False))
    return meta


def attach_adapter(sidecar: Path, adapt: dict) -> dict:
    """Put the patient-adaptive step (``pipelines/adapt_eval.py --save``: config, stacker weights, temperature,
    the CV it was fitted on) into a shipped sidecar's ``adapt`` section; the ONNX file and its sha256 are
    untouched. Asserts that no DS2 or paced record reached the adapter's fit. Returns the new sidecar."""
    from ecgdl.adapt import AdaptConfig, feature_names
    from ecgdl.splits import assert_no_test_records

    assert_no_test_records(adapt["records"])
    if list(adapt["features"]) != list(feature_names(AdaptConfig.from_dict(adapt["config"]))):
        raise ValueError("adapter features differ from ecgdl.adapt.feature_names: refit it (pipelines/adapt_eval.py)")
    meta = json.loads(Path(sidecar).read_text())
    meta["adapt"] = {"method": adapt.get("method", "record clusters + rhythm + P wave stacker, cluster-averaged"),
                     **adapt}
    meta = strict_json(meta)
    atomic_write(Path(sidecar), json.dumps(meta, indent=1, allow_nan=False))
    return meta


def is_classifier_sidecar(meta: dict) -> bool:
    """True for a beat-classifier sidecar written by :func:`export_checkpoint` (ecgdl/shipped/ also holds others)."""
    return "sidecar_version" in meta and isinstance(meta.get("model"), dict) and "classes" in meta


def model_card_tables(metas: list[dict]) -> str:
    """Markdown: one section per shipped model (file, size, parity, data) with its DS2 per-class table."""
    out = []
    for m in filter(is_classifier_sidecar, metas):
        par, ds2 = m.get("parity", {}), (m.get("metrics") or {}).get("ds2")
        out += [f"### `{m['name']}` ({m['model']['registry_name']})", "",
                f"- File `ecgdl/shipped/{m['onnx']['file']}`, {m['onnx']['bytes'] / 1e6:.2f} MB, sha256 "
                f"`{m['onnx']['sha256'][:16]}…`, opset {m['onnx']['opset']}, exported from commit "
                f"`{(m.get('git') or {}).get('commit') or '?'}`.",
                f"- Exported from `{m['model'].get('source_checkpoint')}` (best epoch {m['model'].get('best_epoch')}) "
                f"on {m.get('created_utc')}.",
                f"- Inputs `beats` {m['onnx']['inputs']['beats']}, `rr` {m['onnx']['inputs']['rr']}; output "
                f"`logits` over {', '.join(m['classes'])}"
                + (f"; output `embedding` {m['onnx']['outputs']['embedding']} (the pooled encoder vector the head "
                   f"reads; the adaptive step's cluster_on: "
                   f"{((m.get('adapt') or {}).get('config') or {}).get('cluster_on', 'qrs')})"
                   if "embedding" in m['onnx'].get("outputs", {}) else "")
                + ".",
                f"- Trained on records {', '.join(m['training'].get('train_records') or [])}; early stopping / "
                f"selection on {', '.join(m['training'].get('val_records') or [])}.",
                f"- ONNX vs torch on {par.get('n')} DS2 beats: max |logit diff| {par.get('max_abs_logit_diff', 0):.2g}, "
                f"argmax agrees on {par.get('argmax_agree')}/{par.get('n')}.", ""]
        if not ds2:
            out += ["DS2 metrics: not available for this export.", ""]
            continue
        out += [f"DS2 (22 records, {ds2.get('n', '?')} reference beats, reference beat positions): accuracy "
                f"{percent(ds2.get('accuracy'))} %, macro-F1 {ds2.get('macro_f1', float('nan')):.3f}.", "",
                "| class | support | Se % | +P % | F1 | Spec % |", "|---|---:|---:|---:|---:|---:|"]
        for c, r in ds2.get("per_class", {}).items():
            f1 = "—" if r.get("f1") is None or r["f1"] != r["f1"] else f"{r['f1']:.3f}"
            out.append(f"| {c} | {r.get('support')} | {percent(r.get('se'))} | {percent(r.get('ppv'))} | {f1} | "
                       f"{percent(r.get('spec'))} |")
        out.append("")
    return "\n".join(out) if out else "No model shipped yet."
