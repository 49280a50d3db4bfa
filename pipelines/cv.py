"""Patient-grouped cross-validation over all 22 DS1 records: train the fold models once, cache their outputs.

    python pipelines/cv.py [--seed 0] [--epochs 8] [--config configs/best_cnn.toml] [--out runs/cv]

Every DS1 record is held out exactly once (:data:`FOLDS`, folds share no record). Each fold model
follows the shipped CNN recipe (``configs/best_cnn.toml``) with the epochs capped: it trains on the
DS1 records outside the fold minus three inner validation records (early stopping, as for the
shipped model on VAL), never on the fold. For every held-out record it writes
``<out>/s<seed>/<record>.npz``: ``logits`` ``(n, K)``, ``emb`` (the conv encoder's pooled
embedding), ``y``, ``sample`` of the reference beats (the dataset cache's beat positions). The
adaptive step and the calibration are then chosen on these cached outputs (``pipelines/adapt_eval.py``).
DS2 is never read: :func:`ecgdl.splits.assert_no_test_records` guards every record set.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ecgdl.splits import DS1, assert_disjoint, assert_no_test_records

#: Six patient-disjoint folds covering DS1, the S-rich (209, 207, 220, 118, 201, 223) and V/F-rich
#: (208, 119, 203, 106, 215) records spread over different folds.
FOLDS: tuple[tuple[str, ...], ...] = (
    ("209", "106", "101", "122"), ("207", "119", "112", "115"), ("220", "208", "114", "116"),
    ("118", "203", "108", "230"), ("201", "215", "205"), ("223", "124", "109"))
#: Inner validation candidates (early stopping inside a fold): the first three not held out.
INNER_VAL: tuple[str, ...] = ("118", "124", "223", "220", "119", "114", "112", "116")


def fold_split(k: int) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``(train, inner_val, held_out)`` records of fold ``k``; all DS1, pairwise disjoint."""
    held = FOLDS[k]
    val = tuple([r for r in INNER_VAL if r not in held][:3])
    train = tuple(r for r in DS1 if r not in held and r not in val)
    assert_no_test_records(train + val + held)
    assert_disjoint(train=train, val=val, held_out=held)
    return train, val, held


def _check_folds() -> None:
    flat = [r for f in FOLDS for r in f]
    if sorted(flat) != sorted(DS1):
        raise AssertionError("the CV folds must cover every DS1 record exactly once")


def _embed(model, inputs: dict) -> np.ndarray:
    """Pooled conv-encoder embedding (the input of the classifier head) ``(n, 2D)``."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(inputs["beats"]), 4096):
            out.append(model._embed(torch.from_numpy(inputs["beats"][i:i + 4096])).numpy())
    return np.concatenate(out).astype(np.float32)


def run_fold(k: int, cfg_path: Path, seed: int, epochs: int, out: Path) -> dict:
    from ecgdl.classifier_training import load_config, predict_logits, prepare_data, train_classifier
    from ecgdl.dataset import load_beats
    from ecgdl.features import make_inputs

    train, val, held = fold_split(k)
    sets = [f"train.seed={seed}", f"train.epochs={epochs}", "train.patience=4",
            f"data.train_records={json.dumps(list(train))}", f"data.val_records={json.dumps(list(val))}"]
    cfg = load_config(cfg_path, sets)
    t0 = time.perf_counter()
    data = prepare_data(cfg)
    stats = data[2]
    model, hist, report = train_classifier(cfg, progress=False, data=data)
    for rec in held:
        b = load_beats([rec])
        b = b.subset(b.y >= 0)
        inp = make_inputs(b, cfg.features, stats)
        np.savez_compressed(out / f"{rec}.npz", logits=predict_logits(model, inp), emb=_embed(model, inp),
                            y=b.y.astype(np.int8), sample=b.sample, fold=k, seed=seed)
    return {"fold": k, "held_out": held, "inner_val": val, "train": train, "best_epoch": hist.best_epoch,
            "epochs_run": len(hist.epochs), "inner_val_macro_f1": report["macro_f1"],
            "seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=Path("configs/best_cnn.toml"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--folds", type=int, nargs="*", default=None, help="only these folds (default all)")
    p.add_argument("--out", type=Path, default=None, help="default runs/cv")
    a = p.parse_args(argv)
    _check_folds()
    from ecgdl.paths import runs_dir

    out = (a.out or runs_dir() / "cv") / f"s{a.seed}"
    out.mkdir(parents=True, exist_ok=True)
    log = []
    for k in a.folds if a.folds is not None else range(len(FOLDS)):
        info = run_fold(k, a.config, a.seed, a.epochs, out)
        log.append(info)
        print(json.dumps(info), flush=True)
        (out / f"fold{k}.json").write_text(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
