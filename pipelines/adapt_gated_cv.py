"""Round 27 on DS1 CV: the clusterings averaged only where the stability check flags (docs/episodes.md).

    python pipelines/adapt_gated_cv.py --draw <oof K=0> --check <oof K=1> --ensemble <oof n_ensemble 5>
                                       [--seeds 0 1 2] [--save-oof DIR] [--on V]

The three folders are ``pipelines/adapt_eval.py --save-oof`` outputs (``<dir>/s<cv seed>/<record>.npz``: ``logits``
log-probabilities of the reference beats, ``y``): the shipped one-draw step (k-means seed 0), the same step under
the check's seed (``--kmeans-seed 1``) and the 5-draw mean (``--n-ensemble 5``). Per CV seed and record: the check
(:func:`ecgdl.adapt_check.stability` of the draw's labels against the check draw's); a record flagged for a class of
``--on`` takes the ensemble's outputs, the others the draw's. Prints S / V / F Se, +P, F1 per CV seed and their mean for the draw alone
and the gated outputs, and the records that switched; ``--save-oof`` writes the gated outputs (same layout) for
``pipelines/episodes_rules_cv.py --oof``. Labels (``y``) are read only to score.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from ecgdl.adapt_check import stability
from ecgdl.metrics import confusion_matrix, evaluation_metrics
from ecgdl.splits import DS1, assert_no_test_records

LETTERS = np.array(list("NSVFQ"))


def class_figures(pred: np.ndarray, y: np.ndarray) -> dict:
    """``{class: (Se %, +P %, F1)}`` for S, V, F (letters; :func:`ecgdl.metrics.evaluation_metrics`, undefined as 0)."""
    idx = {c: i for i, c in enumerate(LETTERS)}
    per = evaluation_metrics(confusion_matrix([idx[c] for c in y], [idx[c] for c in pred]))["per_class"]
    return {c: (100.0 * np.nan_to_num(per[c]["se"]), 100.0 * np.nan_to_num(per[c]["ppv"]), float(per[c]["f1"]))
            for c in "SVF"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draw", type=Path, required=True)
    ap.add_argument("--check", type=Path, required=True)
    ap.add_argument("--ensemble", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--save-oof", type=Path, default=None)
    ap.add_argument("--on", default="SVF", help="the unstable classes that send a record to the ensemble "
                                               "(AdaptConfig.unstable_on; round 27: SVF, round 28: V)")
    a = ap.parse_args(argv)
    assert_no_test_records(DS1)
    rows = {"draw": [], "gated": []}
    for s in a.seeds:
        pred = {"draw": [], "gated": []}
        ys, switched = [], []
        for r in DS1:
            f = f"s{s}/{r}.npz"
            d, c, e = (np.load(p / f) for p in (a.draw, a.check, a.ensemble))
            lab, alt = LETTERS[d["logits"].argmax(1)], LETTERS[c["logits"].argmax(1)]
            part = stability(lab, alt[:, None])
            flagged = any(c in a.on for c in part["unstable"])
            use = e if flagged else d
            if flagged:
                switched.append(f"{r} ({','.join(part['unstable'])})")
            pred["draw"].append(lab)
            pred["gated"].append(LETTERS[use["logits"].argmax(1)])
            ys.append(LETTERS[d["y"]])
            if a.save_oof:
                (a.save_oof / f"s{s}").mkdir(parents=True, exist_ok=True)
                shutil.copyfile((a.ensemble if flagged else a.draw) / f, a.save_oof / f)
        y = np.concatenate(ys)
        for k in pred:
            rows[k].append(class_figures(np.concatenate(pred[k]), y))
        print(f"cv seed {s}: ensemble for {', '.join(switched) or 'no record'}")
    print("| DS1 CV | S Se / +P | S F1 | V Se / +P | V F1 | F Se / +P | F F1 |\n|---|---|---:|---|---:|---|---:|")
    for k, per in rows.items():
        for s, fig in zip(a.seeds, per):
            print(f"| {k} s{s} | " + " | ".join(f"{fig[c][0]:.1f} / {fig[c][1]:.1f} | {fig[c][2]:.3f}" for c in "SVF") + " |")
        mean = {c: tuple(float(np.mean([f[c][i] for f in per])) for i in range(3)) for c in "SVF"}
        print(f"| **{k} mean** | " + " | ".join(f"{mean[c][0]:.1f} / {mean[c][1]:.1f} | {mean[c][2]:.3f}"
                                              for c in "SVF") + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
