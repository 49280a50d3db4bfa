"""Step 3: train one beat classifier on DS1 minus VAL, early stopping on VAL macro-F1.

    python pipelines/train.py --config configs/cnn.toml --name best_cnn [--set train.lr=3e-4 ...]
                              [--init-from runs/dae/checkpoint.pt]

Writes ``runs/<name>/checkpoint.pt`` (weights, configs, feature stats, VAL metrics), ``history.json``,
``config.json`` and ``val_metrics.md``. DS2 is never read here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ecgdl.classifier_training import load_config, train_classifier
from ecgdl.metrics import metrics_markdown
from ecgdl.paths import runs_dir


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, required=True, help="TOML run config (configs/*.toml)")
    p.add_argument("--name", required=True, help="run folder name under runs/")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.lr=3e-4")
    p.add_argument("--init-from", type=Path, default=None, help="DAE checkpoint whose encoder starts the CNN")
    p.add_argument("--random-init", action="store_true",
                   help="with --init-from: take the DAE encoder's architecture but not its weights (the ablation)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    cfg = load_config(a.config, a.set)
    run = runs_dir() / a.name
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
    t0 = time.perf_counter()
    model, hist, report = train_classifier(cfg, run_dir=run, init_from=a.init_from, progress=not a.quiet,
                                           load_weights=not a.random_init)
    wall = time.perf_counter() - t0
    n_params = sum(p.numel() for p in model.parameters())
    summary = {"name": a.name, "model": cfg.model, "params": n_params, "best_epoch": hist.best_epoch,
               "epochs_run": len(hist.epochs), "fit_seconds": hist.seconds, "wall_seconds": wall,
               "seed": cfg.train.seed, "val_macro_f1": report["macro_f1"], "val_accuracy": report["accuracy"]}
    (run / "summary.json").write_text(json.dumps(summary, indent=1))
    (run / "val_metrics.md").write_text(metrics_markdown(report, f"{a.name}: VAL ({', '.join(cfg.data.val_records)})"))
    print(metrics_markdown(report, f"{a.name} on VAL"))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
