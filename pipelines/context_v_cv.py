"""Round 29 on DS1 CV: a context step after the shipped adapt step (docs/episodes.md).

    python pipelines/context_v_cv.py --oof <adapt_gated_cv --save-oof dir> --pv-oof <pipelines/cv.py dir>
                                     [--seeds 0 1 2] [--thresholds 0.5 0.6 0.7 0.8 0.9] --save-oof DIR

``--oof``: the shipped step's out-of-fold outputs (``<dir>/s<seed>/<record>.npz``, ``logits`` log-probabilities of
the reference beats, ``y``); ``--pv-oof``: the classifier's out-of-fold outputs before the adapt step (the inductive
p(V)). Per CV seed and held-out record the regression is fitted on the other 21 records' candidates (nested,
patient-grouped; labels are read only to fit on other records and to score). Per threshold: S / V / F F1 (mean of
seeds) and the relabelled outputs under ``--save-oof DIR/t<t>`` for ``pipelines/episodes_rules_cv.py --final``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adapt_gated_cv import LETTERS, class_figures  # noqa: E402

from ecgdl.adapt import softmax64  # noqa: E402
from ecgdl.splits import DS1, assert_no_test_records  # noqa: E402

FS = 360.0

#: the inputs of :func:`context_features`, in order
FEATURES = ("z_prev", "z", "z_next", "v_m2", "v_m1", "v_p1", "v_p2", "v_m1_p1", "is_S", "is_F", "log_rr_pre",
            "log_rr_post")
CLIP = 8.0


def _log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-12, 1 - 1e-12)
    return np.clip(np.log(p / (1 - p)), -CLIP, CLIP)


def candidates(label: np.ndarray) -> np.ndarray:
    """Indices of the beats labelled N, S or F with an adapted-V neighbour."""
    lab = np.asarray(label).astype("<U1")
    v = lab == "V"
    nb = np.zeros(len(lab), bool)
    nb[1:] |= v[:-1]
    nb[:-1] |= v[1:]
    return np.flatnonzero(nb & np.isin(lab, ["N", "S", "F"]))


def context_features(sample: np.ndarray, fs: float, label: np.ndarray, p_v_ind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(idx, X)``: the candidates (:func:`candidates`) and their :data:`FEATURES` rows.

    sample: beat positions (samples at ``fs``); label: adapted labels (letters); p_v_ind: the classifier's p(V)
    before the adapt step. RR in log units of the record's median N-N interval (all RR when under 5 N-N pairs).
    """
    lab = np.asarray(label).astype("<U1")
    n = len(lab)
    idx = candidates(lab)
    if n < 2 or not len(idx):
        return idx[:0], np.zeros((0, len(FEATURES)))
    rr = np.diff(np.asarray(sample, np.float64)) / float(fs)
    nn = (lab[1:] == "N") & (lab[:-1] == "N")
    ref = float(np.median(rr[nn] if nn.sum() >= 5 else rr))
    pre = np.r_[rr[0], rr]          # RR ending at each beat (the first beat: its following RR)
    post = np.r_[rr, rr[-1]]
    z = _log_odds(p_v_ind)
    v = (lab == "V").astype(np.float64)

    def at(a, k, fill=0.0):
        j = idx + k
        return np.where((j >= 0) & (j < n), a[np.clip(j, 0, n - 1)], fill)

    x = np.c_[at(z, -1, -CLIP), z[idx], at(z, 1, -CLIP), at(v, -2), at(v, -1), at(v, 1), at(v, 2),
              at(v, -1) * at(v, 1), lab[idx] == "S", lab[idx] == "F",
              np.log(np.maximum(pre[idx], 1e-3) / ref), np.log(np.maximum(post[idx], 1e-3) / ref)]
    return idx, x.astype(np.float64)


def predict(model: tuple, x: np.ndarray) -> np.ndarray:
    """p(V) of the rows ``x`` under ``model`` = :func:`fit`'s ``(mean, sd, weights, bias)``."""
    mu, sd, w, b = model
    z = (np.asarray(x, np.float64) - np.asarray(mu)) / np.asarray(sd)
    return 1.0 / (1.0 + np.exp(-(z @ np.asarray(w) + b)))


def apply(proba: np.ndarray, classes, idx: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``proba`` with the beats ``idx`` given p(V) = ``p`` (the other classes scaled to 1 - p, their order kept)."""
    out = np.array(proba, np.float64, copy=True)
    if not len(idx):
        return out
    k = list(classes).index("V")
    rest = out[idx].copy()
    rest[:, k] = 0.0
    s = rest.sum(1, keepdims=True)
    rest = np.where(s > 0, rest / np.where(s > 0, s, 1.0), 0.0) * (1.0 - p)[:, None]
    rest[:, k] = p
    out[idx] = rest
    return out


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 200) -> tuple[list, list, list, float]:
    """``(mean, sd, weights, bias)`` of an unweighted logistic regression (torch L-BFGS, L2 ``l2``)."""
    import torch

    x = np.asarray(x, np.float64)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = torch.tensor((x - mu) / sd)
    yt = torch.tensor(np.asarray(y, np.float64))
    w = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, yt) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return mu.tolist(), sd.tolist(), w.detach().tolist(), float(b.item())


def record_rows(oof: Path, pv_oof: Path, rec: str) -> dict:
    """One record's out-of-fold outputs, its candidates, their features and targets."""
    o, c = np.load(oof / f"{rec}.npz"), np.load(pv_oof / f"{rec}.npz")
    if not np.array_equal(o["sample"], c["sample"]):
        raise ValueError(f"{rec}: --oof and --pv-oof beats differ")
    proba = softmax64(np.asarray(o["logits"], np.float64))
    label = LETTERS[proba.argmax(1)]
    p_ind = softmax64(np.asarray(c["logits"], np.float64))[:, 2]
    idx, x = context_features(o["sample"], FS, label, p_ind)
    return dict(proba=proba, label=label, y=LETTERS[np.asarray(o["y"], int)], idx=idx, x=x,
                t=(np.asarray(o["y"], int)[idx] == 2).astype(np.float64), sample=o["sample"], fold=o["fold"])


def nested(rows: dict) -> dict:
    """``{record: p(V) of its candidates}`` from regressions fitted on the other records."""
    out = {}
    for r in rows:
        others = [q for q in rows if q != r]
        model = fit(np.concatenate([rows[q]["x"] for q in others]), np.concatenate([rows[q]["t"] for q in others]))
        out[r] = predict(model, rows[r]["x"]) if len(rows[r]["idx"]) else np.zeros(0)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--oof", type=Path, required=True)
    ap.add_argument("--pv-oof", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.6, 0.7, 0.8, 0.9])
    ap.add_argument("--save-oof", type=Path, default=None)
    a = ap.parse_args(argv)
    assert_no_test_records(DS1)
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
