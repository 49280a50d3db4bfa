"""Round 29 on DS1 CV: the context step (:mod:`ecgdl.adapt_context`) after the shipped adapt step (docs/episodes.md).

    python pipelines/context_v_cv.py --oof <adapt_gated_cv --save-oof dir> --pv-oof <pipelines/cv.py dir>
                                     [--seeds 0 1 2] [--thresholds 0.5 0.6 0.7 0.8 0.9] --save-oof DIR
    python pipelines/context_v_cv.py ... --ship T      # fit on all 22 DS1 records (first seed), print the sidecar part

``--oof``: the shipped step's out-of-fold outputs (``<dir>/s<seed>/<record>.npz``, ``logits`` log-probabilities of
the reference beats, ``y``); ``--pv-oof``: the classifier's out-of-fold outputs before the adapt step (the inductive
p(V)). Per CV seed and held-out record the regression is fitted on the other 21 records' candidates (nested,
patient-grouped; labels are read only to fit on other records and to score). Per threshold: S / V / F F1 (mean of
seeds) and the relabelled outputs under ``--save-oof DIR/t<t>`` for ``pipelines/episodes_rules_cv.py --final``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adapt_gated_cv import LETTERS, class_figures  # noqa: E402

from ecgdl.adapt_context import ContextV, apply, context_features, fit  # noqa: E402
from ecgdl.splits import DS1, assert_no_test_records  # noqa: E402

FS = 360.0


def _softmax(lg: np.ndarray) -> np.ndarray:
    p = np.exp(lg - lg.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def record_rows(oof: Path, pv_oof: Path, rec: str) -> dict:
    """One record's out-of-fold outputs, its candidates, their features and targets."""
    o, c = np.load(oof / f"{rec}.npz"), np.load(pv_oof / f"{rec}.npz")
    if not np.array_equal(o["sample"], c["sample"]):
        raise ValueError(f"{rec}: --oof and --pv-oof beats differ")
    proba = _softmax(np.asarray(o["logits"], np.float64))
    label = LETTERS[proba.argmax(1)]
    p_ind = _softmax(np.asarray(c["logits"], np.float64))[:, 2]
    idx, x = context_features(o["sample"], FS, label, p_ind)
    return dict(proba=proba, label=label, y=LETTERS[np.asarray(o["y"], int)], idx=idx, x=x,
                t=(np.asarray(o["y"], int)[idx] == 2).astype(np.float64), sample=o["sample"], fold=o["fold"])


def nested(rows: dict) -> dict:
    """``{record: p(V) of its candidates}`` from regressions fitted on the other records."""
    out = {}
    for r in rows:
        others = [q for q in rows if q != r]
        mu, sd, w, b = fit(np.concatenate([rows[q]["x"] for q in others]), np.concatenate([rows[q]["t"] for q in others]))
        out[r] = ContextV(mu, sd, w, b).predict(rows[r]["x"]) if len(rows[r]["idx"]) else np.zeros(0)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--oof", type=Path, required=True)
    ap.add_argument("--pv-oof", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.6, 0.7, 0.8, 0.9])
    ap.add_argument("--save-oof", type=Path, default=None)
    ap.add_argument("--ship", type=float, default=None, metavar="T",
                    help="fit on all DS1 records of the first seed and print the sidecar's adapt.context at T")
    a = ap.parse_args(argv)
    assert_no_test_records(DS1)
    if a.ship is not None:
        s = a.seeds[0]
        rows = {r: record_rows(a.oof / f"s{s}", a.pv_oof / f"s{s}", r) for r in DS1}
        mu, sd, w, b = fit(np.concatenate([v["x"] for v in rows.values()]), np.concatenate([v["t"] for v in rows.values()]))
        ctx = ContextV(mu, sd, w, b, a.ship, chosen_by=f"DS1 patient-grouped CV (docs/episodes.md round 29); fitted on "
                                                     f"the 22 DS1 records' out-of-fold candidates, CV seed {s}")
        print(json.dumps(ctx.to_dict(), indent=1))
        return 0
    figs = {t: [] for t in ["shipped", *a.thresholds]}
    for s in a.seeds:
        rows = {r: record_rows(a.oof / f"s{s}", a.pv_oof / f"s{s}", r) for r in DS1}
        pv = nested(rows)
        y = np.concatenate([v["y"] for v in rows.values()])
        figs["shipped"].append(class_figures(np.concatenate([v["label"] for v in rows.values()]), y))
        for t in a.thresholds:
            preds = []
            for r, v in rows.items():
                keep = pv[r] >= t
                proba = apply(v["proba"], LETTERS, v["idx"][keep], pv[r][keep])
                preds.append(LETTERS[proba.argmax(1)])
                if a.save_oof:
                    d = a.save_oof / f"t{t}" / f"s{s}"
                    d.mkdir(parents=True, exist_ok=True)
                    o = np.load(a.oof / f"s{s}" / f"{r}.npz")
                    np.savez(d / f"{r}.npz", **{k: o[k] for k in o.files if k != "logits"},
                             logits=np.log(np.maximum(proba, 1e-12)).astype(np.float32))
            figs[t].append(class_figures(np.concatenate(preds), y))
            moved = sum(int((pv[r] >= t).sum()) for r in rows)
            right = sum(int(v["t"][pv[r] >= t].sum()) for r, v in rows.items())
            print(f"seed {s} t {t}: {moved} beats relabelled V, {right} of them reference V", flush=True)
    print("| step | S F1 | V Se | V +P | V F1 | F F1 |\n|---|---:|---:|---:|---:|---:|")
    for t, f in figs.items():
        m = lambda c, i: float(np.mean([x[c][i] for x in f]))
        print(f"| {t} | {m('S', 2):.3f} | {m('V', 0):.2f} | {m('V', 1):.2f} | {m('V', 2):.3f} | {m('F', 2):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
