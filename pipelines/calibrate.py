"""Per-class decision offsets chosen on VAL, folded into a trained classifier's output bias.

    python pipelines/calibrate.py runs/cnn_ens --name cnn_ens_cal

Offsets maximise VAL macro-F1 (coordinate ascent, ``ecgdl.classifier_training.calibrate_offsets``), so the
calibrated run's VAL metrics are in-sample (optimistic) and must not be compared with other runs'
VAL metrics for model selection. DS2 is not read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ecgdl.classifier_training import _fold_offsets, calibrate_offsets, config_from_dict, predict_logits, prepare_data
from ecgdl.metrics import evaluate_predictions, metrics_markdown
from ecgdl.paths import runs_dir
from ecgdl.train import load_checkpoint, save_checkpoint


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--name", required=True)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    model, blob = load_checkpoint(a.run / "checkpoint.pt")
    _, val, stats = prepare_data(config_from_dict(blob["extra"]["run_config"]))
    if stats != blob["extra"]["stats"]:
        raise ValueError("statistics refitted on TRAIN differ from the run's")
    logits = predict_logits(model, val)
    offsets = calibrate_offsets(logits, val["y"])
    _fold_offsets(model, offsets)
    before = evaluate_predictions(val["y"], logits.argmax(1))
    after = evaluate_predictions(val["y"], predict_logits(model, val).argmax(1))
    extra = {**blob["extra"], "logit_offsets": offsets.tolist(), "val_metrics_uncalibrated": before,
             "val_metrics": after, "calibrated_from": str(a.run)}
    out = runs_dir() / a.name
    save_checkpoint(model, out / "checkpoint.pt", extra=extra)
    summary = {"name": a.name, "model": blob["model_name"], "params": sum(q.numel() for q in model.parameters()),
               "offsets": offsets.tolist(), "val_macro_f1_before": before["macro_f1"], "val_macro_f1": after["macro_f1"],
               "val_accuracy": after["accuracy"], "in_sample": True}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "val_metrics.md").write_text(metrics_markdown(after, f"{a.name}: VAL (in-sample: offsets chosen here)"))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
