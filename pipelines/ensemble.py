"""Combine trained CNN runs (same inputs, e.g. different seeds) into one ``cnn_ensemble`` checkpoint.

    python pipelines/ensemble.py runs/cnn_s0 runs/cnn_s1 runs/cnn_s2 --name cnn_ens

The ensemble averages the members' class probabilities. Its VAL metrics are computed here (DS2 is
not read); the checkpoint has the same ``extra`` (features, stats, val_metrics) as any run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ecgdl.classifier_training import config_from_dict, predict_logits, prepare_data
from ecgdl.metrics import evaluate_predictions, metrics_markdown
from ecgdl.models import build_model
from ecgdl.paths import runs_dir
from ecgdl.train import load_checkpoint, save_checkpoint


def build_ensemble(runs: list[Path]):
    """``(model, blob of the first member)``; raises if the members' inputs differ."""
    models, blobs = zip(*(load_checkpoint(r / "checkpoint.pt") for r in runs))
    for b in blobs[1:]:
        if b["extra"]["features"] != blobs[0]["extra"]["features"] or b["extra"]["stats"] != blobs[0]["extra"]["stats"]:
            raise ValueError("ensemble members must share the feature config and statistics")
    if any(b["model_name"] != "cnn" for b in blobs):
        raise ValueError("only cnn runs can be combined")
    members = tuple(tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in b["model_config"].items()) for b in blobs)
    ens = build_model("cnn_ensemble", {"members": members, "n_rr": blobs[0]["model_config"]["n_rr"]})
    for sub, m in zip(ens.members, models):
        sub.load_state_dict(m.state_dict())
    return ens.eval(), blobs[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--name", required=True)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    ens, first = build_ensemble(a.runs)
    cfg = config_from_dict(first["extra"]["run_config"])
    _, val, stats = prepare_data(cfg)
    if stats != first["extra"]["stats"]:
        raise ValueError("statistics refitted on TRAIN differ from the members' ones")
    report = evaluate_predictions(val["y"], predict_logits(ens, val).argmax(1))
    extra = {**first["extra"], "val_metrics": report, "members": [str(r) for r in a.runs]}
    out = runs_dir() / a.name
    save_checkpoint(ens, out / "checkpoint.pt", extra=extra)
    member_f1 = [load_checkpoint(r / "checkpoint.pt")[1]["extra"]["val_metrics"]["macro_f1"] for r in a.runs]
    summary = {"name": a.name, "model": "cnn_ensemble", "params": sum(q.numel() for q in ens.parameters()),
               "members": [str(r) for r in a.runs], "member_val_macro_f1": member_f1,
               "val_macro_f1": report["macro_f1"], "val_accuracy": report["accuracy"]}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "val_metrics.md").write_text(metrics_markdown(report, f"{a.name}: VAL"))
    print(metrics_markdown(report, f"{a.name} on VAL"))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
