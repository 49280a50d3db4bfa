"""Helpers for the export / inference / CLI tests: the shipped model (or a freshly exported one) and
short WFDB excerpts of real MIT-BIH records written into a temp folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ecgdl.infer import DEFAULT_MODEL_NAME
from ecgdl.paths import MODELS_DIR


def shipped_model() -> Path | None:
    """``ecgdl/shipped/ecgdl_cnn.onnx`` when it and its sidecar are committed, else None."""
    p = MODELS_DIR / f"{DEFAULT_MODEL_NAME}.onnx"
    return p if p.is_file() and p.with_suffix(".json").is_file() else None


def shipped_adaptive_classifier():
    """The shipped model as a CPU ``BeatClassifier`` with its adaptive step (pytest skips when either is absent)."""
    import pytest

    from ecgdl.infer import BeatClassifier

    path = shipped_model()
    if path is None:
        pytest.skip("no shipped model under ecgdl/shipped/")
    c = BeatClassifier(path, device="cpu")
    if c.adapter is None:
        pytest.skip("the shipped sidecar has no adapt section")
    return c


def fresh_model(out_dir: Path, mitdb_dir: Path, family: str = "cnn", name: str = "fresh") -> tuple[Path, object]:
    """Export a freshly built (untrained, seeded) registry classifier with the real feature recipe.

    Feature statistics are fitted on DS1 record 101; parity is measured on 1,000 beats of DS2 records 100 and 213.
    Returns ``(onnx_path, torch_model)``.
    """
    from ecgdl.classifier_training import RunConfig, build_classifier
    from ecgdl.dataset import record_beats
    from ecgdl.export import build_sidecar, parity, strict_json, to_onnx
    from ecgdl.features import fit_stats, make_inputs
    from ecgdl.train import load_checkpoint, save_checkpoint, seed_everything

    cfg = RunConfig(model=family)
    from ecgdl.beats import BeatSet

    stats = fit_stats(record_beats(mitdb_dir / "101")[0], cfg.features)
    seed_everything(0)
    model = build_classifier(cfg, stats, cfg.features.n_channels(), cfg.features.n_samples())
    extra = {"features": cfg.features.to_dict(), "stats": stats, "train_records": ["101"], "val_records": []}
    ckpt = out_dir / f"{name}.pt"
    save_checkpoint(model, ckpt, extra=extra)
    model, blob = load_checkpoint(ckpt)
    onnx_path = to_onnx(model, out_dir / f"{name}.onnx")
    test = BeatSet.concat([record_beats(mitdb_dir / r)[0] for r in ("100", "213")])
    inputs = make_inputs(test, cfg.features, stats)  # over whole records (record-level medians), then a draw
    idx = np.sort(np.random.default_rng(0).choice(len(test), 1000, replace=False))
    inputs = {k: v[idx] for k, v in inputs.items()}
    meta = build_sidecar(name=name, onnx_path=onnx_path, blob=blob, parity_report=parity(model, onnx_path, inputs),
                         ds2_metrics=None, checkpoint=ckpt)
    onnx_path.with_suffix(".json").write_text(json.dumps(strict_json(meta), indent=1, allow_nan=False))
    return onnx_path, model


def write_excerpt(src: Path, dst_dir: Path, name: str, start_s: float = 0.0, seconds: float = 300.0,
                  fs_out: float | None = None) -> Path:
    """Write ``seconds`` of a real WFDB record (+ its .atr beats) as a new record ``dst_dir/name``.

    With ``fs_out`` the excerpt is resampled (annotations moved to the new rate). Returns the record path.
    """
    import wfdb

    from ecgdl.signal import resample

    rec = wfdb.rdrecord(str(src))
    ann = wfdb.rdann(str(src), "atr")
    a, b = int(start_s * rec.fs), int((start_s + seconds) * rec.fs)
    sig = rec.p_signal[a:b]
    keep = (ann.sample >= a) & (ann.sample < b)
    samples, symbols = ann.sample[keep] - a, np.asarray(ann.symbol)[keep]
    fs = float(rec.fs)
    if fs_out:
        sig = resample(sig, fs, fs_out)
        samples = np.round(samples * fs_out / fs).astype(np.int64)
        fs = fs_out
    dst_dir.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(name, fs=fs, units=list(rec.units), sig_name=list(rec.sig_name), p_signal=sig,
                fmt=["212"] * sig.shape[1], adc_gain=[200.0] * sig.shape[1], baseline=[1024] * sig.shape[1],
                write_dir=str(dst_dir))
    wfdb.wrann(name, "atr", samples.astype(np.int64), list(symbols), write_dir=str(dst_dir))
    return dst_dir / name


_CACHE: dict[str, tuple[Path, object]] = {}


def model_for_tests(tmp_path_factory, mitdb_dir: Path) -> Path:
    """The shipped model when present, else one freshly exported (once per test session)."""
    shipped = shipped_model()
    if shipped is not None:
        return shipped
    return fresh_for_tests(tmp_path_factory, mitdb_dir, "cnn")[0]


def fresh_for_tests(tmp_path_factory, mitdb_dir: Path, family: str) -> tuple[Path, object]:
    """:func:`fresh_model` built once per session and family."""
    if family not in _CACHE:
        _CACHE[family] = fresh_model(tmp_path_factory.mktemp(f"fresh_{family}"), mitdb_dir, family, f"fresh_{family}")
    return _CACHE[family]
