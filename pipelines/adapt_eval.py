"""Choose and fit the adaptive step on the cached DS1 cross-validation outputs (``pipelines/cv.py``).

    python pipelines/adapt_eval.py [--seeds 0 1 2] [--hidden 32] [--power 0.5] [--gate 0.08,0.6 none]
                                   [--blend 0.5 0.25] [--pool] [--n-ensemble 5] [--save runs/cv/adapt.json]
                                   [--save-oof DIR]

For each CV seed: the record-relative features of every DS1 record (:func:`ecgdl.adapt.record_features`
on the fold model's held-out probabilities and the record's own beats), then a stacker fitted
leave-one-fold-out (the fold's records never reach the stacker that scores them), then a temperature
fitted on those out-of-fold logits, then for each ``--blend`` weight and ``--gate`` setting the blend, cluster
averaging, the AF gate and a second temperature (:func:`ecgdl.adapt.adapt_record`'s order). Prints the inductive (fold models alone), cluster-averaged and
adaptive DS1 CV figures, the ECE, and per-record S. ``--save``: the stacker fitted on all 22 DS1
records' CV outputs (seed ``--seeds[0]``; ``--pool``: every seed's) with its temperatures and the first
blend / gate: what ``pipelines/export.py`` puts in the
sidecar. ``--save-oof DIR``: the adaptive out-of-fold probabilities (first blend / gate) per record as
``DIR/s<seed>/<record>.npz`` (``logits`` = log-probabilities, ``sample``, ``y``, ``fold``: the format
``pipelines/episodes_rules_cv.py --oof`` reads). ``--n-ensemble N``: the first settings' step also under k-means seeds
``1 .. N - 1`` (the fold stackers and temperatures of seed 0), probabilities averaged (:func:`ensemble`). The record features of each seed are cached beside its CV outputs (``<record>.features.npz``).
DS2 is never read (asserted).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from ecgdl.adapt import (ENSEMBLE, AdaptConfig, Stacker, af_gate, atrial_evidence, averaging_ids, blend_logits,
                         cluster_average, feature_names, medoid_run, record_draws, record_features, self_train,
                         softmax64)
from ecgdl.artifacts import atomic_write_with
from ecgdl.calibration import ece
from ecgdl.metrics import evaluate_predictions, percent
from ecgdl.splits import DS1, assert_no_test_records

CLASSES = ("N", "S", "V", "F", "Q")


def cluster_vectors(kind: str, z, x: np.ndarray, cfg: AdaptConfig) -> np.ndarray | None:
    """What k-means clusters: ``qrs`` (None: the QRS windows), ``emb`` (the fold model's pooled embedding, CV
    only), ``both`` (:func:`ecgdl.adapt_embedding.joint_vectors` of the QRS vectors and the embedding: what
    scoring clusters with ``AdaptConfig.cluster_on="both"``, the ONNX ``embedding`` output there)."""
    if kind == "qrs":
        return None
    from ecgdl.adapt import qrs_vectors
    from ecgdl.adapt_embedding import joint_vectors, unit_block

    if kind == "emb":
        return unit_block(z["emb"]).astype(np.float32)
    return joint_vectors(qrs_vectors(x, 360.0, 90, cfg), z["emb"])


def load_seed(cv_dir: Path, cfg: AdaptConfig, cluster_on: str = "qrs") -> dict[str, dict]:
    """record -> {feats, y, cid, fold, proba, x, pre} for every DS1 record of one CV seed."""
    from ecgdl.dataset import load_beats

    assert_no_test_records(DS1)
    out = {}
    for rec in DS1:
        z = np.load(cv_dir / f"{rec}.npz")
        b = load_beats([rec])
        b = b.subset(b.y >= 0)
        if not np.array_equal(b.sample, z["sample"]):
            raise AssertionError(f"{rec}: CV cache and dataset beats differ")
        proba = softmax64(z["logits"])
        tag = (('.plong' if cfg.p_long else '') + ('' if cluster_on == "qrs" else f".{cluster_on}")
               + (f".k{cfg.seed}" if cfg.seed else "") + (f".c{cfg.consensus}" if cfg.consensus != 1 else "") + (".soft" if cfg.soft else ""))
        cache = cv_dir / f"{rec}.features{tag}.npz"  # this seed's record features
        key = json.dumps([{k: v for k, v in cfg.to_dict().items() if k not in ("af_gate", "blend", "self_train")},
                          list(feature_names(cfg))] + ([] if cluster_on == "qrs" else [cluster_on]))
        if cache.is_file() and str(np.load(cache)["key"]) == key:
            zc = np.load(cache)
            feats, cid = zc["feats"], zc["cid"]
            avg = zc["avg"] if "avg" in zc.files else cid  # a cache written before AdaptConfig.soft
        else:
            vec, draws = record_draws(b.x, 360.0, 90, cfg, cluster_vectors(cluster_on, z, b.x, cfg))
            feats, cid = record_features(b.x, b.rr[:, 0], b.rr[:, 1], proba, 360.0, 90, cfg, vec, draws=draws)
            avg = averaging_ids(cid, draws, cfg)  # what cluster_average averages over
            atomic_write_with(cache, lambda fh: np.savez(fh, feats=feats, cid=cid, avg=avg, key=key))
        out[rec] = {"feats": feats, "y": z["y"].astype(np.int64), "cid": cid, "avg": avg, "fold": int(z["fold"]),
                    "proba": proba,
                    "x": b.x, "pre": b.rr[:, 0], "post": b.rr[:, 1]}
    return out


def fit_stacker(feats: np.ndarray, y: np.ndarray, hidden: int, power: float, seed: int = 0,
                epochs: int = 300, wd: float = 1e-3) -> Stacker:
    """Stacker fitted by class-weighted cross-entropy (weights ∝ count^-power), full batch Adam (torch)."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    mean, std = feats.mean(0), feats.std(0) + 1e-6
    xt = torch.from_numpy(((feats - mean) / std).astype(np.float32))
    yt = torch.from_numpy(y)
    counts = np.bincount(y, minlength=5).astype(np.float64)
    w = np.where(counts > 0, np.maximum(counts, 1) ** -power, 0.0)
    w = torch.from_numpy((w / (w * counts).sum() * counts.sum()).astype(np.float32))
    d = feats.shape[1]
    net = (torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 5))
           if hidden else torch.nn.Sequential(torch.nn.Linear(d, 5)))
    opt = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=wd)
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xt), yt, weight=w)
        loss.backward()
        opt.step()
    layers = [(m.weight.detach().numpy().T.astype(np.float64), m.bias.detach().numpy().astype(np.float64))
              for m in net if isinstance(m, torch.nn.Linear)]
    return Stacker(mean.astype(np.float64), std.astype(np.float64), layers)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the NLL of ``softmax(logits / T)`` (scipy, bounded)."""
    from scipy.optimize import minimize_scalar

    def nll(t):
        p = softmax64(logits / t)
        return -np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1)).mean()
    return float(minimize_scalar(nll, bounds=(0.2, 10.0), method="bounded").x)


def fit_vector_scaling(logp: np.ndarray, y: np.ndarray, reg: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Per-class scale ``a`` and bias ``b`` minimising the NLL of ``softmax(a * logp + b)`` (+ ``reg`` times
    the squared distance from the identity), scipy L-BFGS with the analytic gradient."""
    from scipy.optimize import minimize

    k, rows = logp.shape[1], np.arange(len(y))

    def nll(theta):
        a, b = theta[:k], theta[k:]
        z = logp * a + b
        z = z - z.max(1, keepdims=True)
        lse = np.log(np.exp(z).sum(1))
        g = np.exp(z - lse[:, None])
        g[rows, y] -= 1.0
        g /= len(y)
        pen = reg * (((a - 1) ** 2).sum() + (b ** 2).sum())
        return ((lse - z[rows, y]).mean() + pen,
                np.r_[(g * logp).sum(0) + 2 * reg * (a - 1), g.sum(0) + 2 * reg * b])
    r = minimize(nll, np.r_[np.ones(k), np.zeros(k)], jac=True, method="L-BFGS-B")
    return r.x[:k], r.x[k:]


def calibration_table(pre: dict[int, np.ndarray], ys: dict[int, np.ndarray], folds: dict[int, np.ndarray]) -> None:
    """ECE of the top probability per seed of the blended, cluster-averaged, gated outputs ``pre`` (before any
    post calibration): none, temperature, vector scaling, each fitted (a) on the other seeds' out-of-fold
    outputs (the declared comparison) and (b) leave-one-fold-out within the seed (patient-disjoint)."""
    fits = {"temperature": lambda lp, y: fit_temperature(lp, y),
            "vector": lambda lp, y: fit_vector_scaling(lp, y)}

    def apply(name, par, lp):
        return softmax64(lp / par) if name == "temperature" else softmax64(lp * par[0] + par[1])
    print("| post calibration | fitted on | " + " | ".join(f"ECE s{s}" for s in pre) + " | mean |\n|---|---|"
          + "---:|" * (len(pre) + 1))
    lps = {s: np.log(np.clip(p, 1e-12, 1)) for s, p in pre.items()}
    vals = [ece(pre[s], ys[s]) for s in pre]
    print(f"| none | | {' | '.join(f'{v:.4f}' for v in vals)} | {np.mean(vals):.4f} |")
    for name, fit in fits.items():
        if len(pre) > 1:
            vals = []
            for s in pre:
                par = fit(np.concatenate([lps[o] for o in pre if o != s]), np.concatenate([ys[o] for o in pre if o != s]))
                vals.append(ece(apply(name, par, lps[s]), ys[s]))
            print(f"| {name} | other seeds | {' | '.join(f'{v:.4f}' for v in vals)} | {np.mean(vals):.4f} |")
        vals = []
        for s in pre:
            out = np.zeros_like(pre[s])
            for k in np.unique(folds[s]):
                m = folds[s] == k
                out[m] = apply(name, fit(lps[s][~m], ys[s][~m]), lps[s][m])
            vals.append(ece(out, ys[s]))
        print(f"| {name} | other folds (LOFO) | {' | '.join(f'{v:.4f}' for v in vals)} | {np.mean(vals):.4f} |",
              flush=True)


def lofo(data: dict[str, dict], hidden: int, power: float, seed: int,
         pool: list[dict[str, dict]] = ()) -> tuple[dict[str, np.ndarray], dict[int, Stacker]]:
    """Out-of-fold adapted logits per record, and the stacker of each fold: the stacker for fold k never sees
    fold k's records.

    pool: other CV seeds' data (same folds) whose out-of-fold-k records join the stacker's training set."""
    out, stackers = {}, {}
    for k in sorted({d["fold"] for d in data.values()}):
        tr = [dd[r] for dd in (data, *pool) for r, d in dd.items() if d["fold"] != k]
        stackers[k] = fit_stacker(np.concatenate([d["feats"] for d in tr]), np.concatenate([d["y"] for d in tr]),
                                  hidden, power, seed)
        for r, d in data.items():
            if d["fold"] == k:
                out[r] = stackers[k].logits(d["feats"])
    return out, stackers


def per_record(data: dict[str, dict], ps: np.ndarray, step, name: str = "", what: str = "") -> np.ndarray:
    """``step(d, p) -> (q, before)`` on each record's slice ``p`` of ``ps`` (records in ``data`` order), the ``q``
    concatenated; with ``name``, prints the records where ``q``'s labels differ from ``before``'s (``what`` they
    became) and the changed beats' reference classes."""
    out, i = [], 0
    for r, d in data.items():
        q, before = step(d, ps[i:i + len(d["y"])])
        ch = q.argmax(1) != before.argmax(1)
        if name and ch.any():
            print(f"  {name} on {r}: {int(ch.sum())} beats {what}, reference classes "
                  f"N/S/V/F/Q {np.bincount(d['y'][ch], minlength=5).tolist()}")
        out.append(q)
        i += len(d["y"])
    return np.concatenate(out)


def gated(data: dict[str, dict], pa: np.ndarray, gate: tuple[float, float] | None) -> np.ndarray:
    """The AF gate of :mod:`ecgdl.adapt` on the cluster-averaged adaptive probabilities ``pa`` (records in order)."""
    if gate is None:
        return pa

    def step(d, p):
        irr, pcons = atrial_evidence(d["x"], 360.0, 90, d["pre"], p[:, 2:4].sum(1) > 0.5)
        return af_gate(p, irr, pcons, gate), p
    return per_record(data, pa, step)


def ruled(data: dict[str, dict], ps: np.ndarray, rule: tuple[float, float, float] | None,
          gate: tuple[float, float] | None) -> np.ndarray:
    """The sinus-reference rule (:mod:`ecgdl.adapt_atrial`) then the AF gate (sparing the beats with sinus beats
    around them) on the self-trained probabilities ``ps`` (records in order), as :func:`ecgdl.adapt.adapt_record`
    runs them; prints the records whose labels the rule changes (against the gate alone)."""
    if rule is None:
        return gated(data, ps, gate)
    from ecgdl.adapt import _p_segments
    from ecgdl.adapt_atrial import sinus_reference_rule

    def step(d, p):
        q, around = sinus_reference_rule(p, _p_segments(d["x"], 360.0, 90, AdaptConfig()), d["pre"], rule)
        if gate is None:
            return q, p
        irr, pcons = atrial_evidence(d["x"], 360.0, 90, d["pre"], q[:, 2:4].sum(1) > 0.5)
        return af_gate(q, np.where(around, np.nan, irr), pcons, gate), af_gate(p, irr, pcons, gate)
    return per_record(data, ps, step, f"rule {rule}", "N -> S")


def v_timed(data: dict[str, dict], ps: np.ndarray, rule: tuple[float, float, float] | None) -> np.ndarray:
    """The ventricular-timing rule (:mod:`ecgdl.adapt_ventricular`) on the self-trained probabilities ``ps``
    (records in order), as :func:`ecgdl.adapt.adapt_record` runs it; prints the records whose labels it changes."""
    if rule is None:
        return ps
    from ecgdl.adapt_ventricular import v_timing_rule

    def step(d, p):
        return v_timing_rule(p, d["x"], 360.0, 90, d["pre"], d["post"], d["cid"], rule), p
    return per_record(data, ps, step, f"v-timing {rule}", "V -> N/S")


def chain(data: dict[str, dict], z: np.ndarray, t: float, cut: np.ndarray, blend: float,
          st: tuple[float, float] | None, gate: tuple[float, float] | None, sr: tuple[float, float, float] | None,
          vt: tuple[float, ...] | None) -> np.ndarray:
    """The stages after the stacker, as :func:`ecgdl.adapt.adapt_record` runs them, on the stacker logits ``z``
    (records in ``data`` order, bounded by ``cut``): temperature ``t``, blend, cluster averaging, [self-training,]
    [the ventricular-timing rule,] [the sinus-reference rule,] the AF gate. Returns the probabilities before the
    post calibration."""
    pc = np.concatenate([cluster_average(softmax64(blend_logits(z[i:j] / t, d["proba"], blend)), d["avg"])
                         for i, j, d in zip(cut[:-1], cut[1:], data.values())])
    ps = pc if st is None else np.concatenate([self_train(pc[i:j], d["feats"], *st)
                                               for i, j, d in zip(cut[:-1], cut[1:], data.values())])
    return ruled(data, v_timed(data, ps, vt), sr, gate)


def ensemble(cv_dir: Path, cfg: AdaptConfig, cluster_on: str, data: dict[str, dict], stackers: dict[int, Stacker],
             t: float, t2: float, cut: np.ndarray, first: tuple, pa: np.ndarray, n: int,
             mode: str = "mean") -> np.ndarray:
    """``AdaptConfig.n_ensemble`` out of fold: the step under k-means seeds ``1 .. n - 1`` as well (each record's
    fold stacker and the temperatures ``t``, ``t2`` fitted on seed 0, as the shipped sidecar applies them to every
    clustering), its post-calibrated probabilities averaged with ``pa`` (seed 0's), or with ``mode="medoid"`` each record's
    consensus member kept (:func:`ecgdl.adapt.medoid_run`), or with ``mode="member"`` seed ``n - 1``'s run alone."""
    runs = [pa]
    for i in range(1, n):
        member = load_seed(cv_dir, replace(cfg, seed=cfg.seed + i), cluster_on)
        z = np.concatenate([stackers[d["fold"]].logits(member[r]["feats"]) for r, d in data.items()])
        pg = chain(member, z, t, cut, *first)
        runs.append(softmax64(np.log(np.clip(pg, 1e-12, 1)) / t2))
    if mode == "member":  # the step under k-means seed n - 1 alone (the shipped stackers): one draw of the spread
        return runs[-1]
    if mode == "medoid":  # per record, as scoring picks per record (segment): the consensus member's outputs
        return np.concatenate([runs[medoid_run([r[i:j].argmax(1) for r in runs])][i:j]
                               for i, j in zip(cut[:-1], cut[1:])])
    return np.mean(runs, axis=0)


def save_oof(folder: Path, data: dict[str, dict], pa: np.ndarray, cut: np.ndarray, cv_dir: Path) -> None:
    """One ``<record>.npz`` per record: the adaptive out-of-fold probabilities ``pa`` (records in ``data``
    order, bounded by ``cut``) as log-probabilities ``logits``, with the CV cache's ``sample``, ``y``, ``fold``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, (rec, d) in enumerate(data.items()):
        z = np.load(cv_dir / f"{rec}.npz")
        logp = np.log(np.clip(pa[cut[i]:cut[i + 1]], 1e-12, 1.0)).astype(np.float32)
        atomic_write_with(folder / f"{rec}.npz", lambda fh: np.savez(fh, logits=logp, sample=z["sample"], y=d["y"],
                                                                      fold=d["fold"]))
    print(f"wrote {folder} ({len(data)} records)", flush=True)


def _gate_arg(text: str) -> tuple[float, float] | None:
    return None if text == "none" else tuple(float(v) for v in text.split(","))


def line(name: str, y: np.ndarray, pred: np.ndarray) -> str:
    rep = evaluate_predictions(y, pred)
    pc = rep["per_class"]
    f = percent
    return (f"| {name} | {f(rep['accuracy'])} | {f(pc['S']['se'])} / {f(pc['S']['ppv'])} | {pc['S']['f1']:.3f} | "
            f"{f(pc['V']['se'])} / {f(pc['V']['ppv'])} | {pc['V']['f1']:.3f} | {f(pc['F']['se'])} / {f(pc['F']['ppv'])} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cv", type=Path, default=None, help="default runs/cv")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--power", type=float, default=0.3)
    p.add_argument("--per-record", action="store_true")
    p.add_argument("--pool", action="store_true",
                   help="fit each fold's stacker on the out-of-fold records of every given CV seed (not only its own)")
    p.add_argument("--gate", type=_gate_arg, nargs="+", default=[None], metavar="IRR,PCONS|none",
                   help="AF gate thresholds to measure (ecgdl.adapt.af_gate); the first is the one --save keeps")
    p.add_argument("--blend", type=float, nargs="+", default=[0.0],
                   help="inductive weights to measure (ecgdl.adapt.blend_logits); the first is the one --save keeps")
    p.add_argument("--calibration", action="store_true",
                   help="compare post calibrations (none / temperature / vector scaling) out of sample")
    p.add_argument("--cluster-on", choices=("qrs", "emb", "both"), default="qrs",
                   help="what k-means clusters: QRS windows, the CV model's embedding (CV only), or both "
                        "(AdaptConfig.cluster_on; scoring reads the ONNX 'embedding' output)")
    p.add_argument("--p-long", action="store_true", help="add the long-RR P-wave features (AdaptConfig.p_long)")
    p.add_argument("--self-train", type=_gate_arg, nargs="+", default=[None], metavar="CONF,WEIGHT|none",
                   help="per-record self-training settings to measure (ecgdl.adapt.self_train); the first is kept")
    p.add_argument("--sinus-rule", type=_gate_arg, nargs="+", default=[None], metavar="PREM,PCORR,NEIGHBOURS|none",
                   help="sinus-reference rule settings to measure (ecgdl.adapt_atrial); the first is kept")
    p.add_argument("--v-timing", type=_gate_arg, nargs="+", default=[None], metavar="PREM,PAUSE,WIDTH[,CORR[,SHARE]]|none",
                   help="ventricular-timing rule settings to measure (ecgdl.adapt_ventricular); the first is kept")
    p.add_argument("--n-ensemble", type=int, default=1,
                   help="AdaptConfig.n_ensemble: the first settings' step averaged over that many k-means seeds "
                        "(what --save-oof, the ECE and --per-record then show)")
    p.add_argument("--ensemble", choices=ENSEMBLE, default="mean",
                   help="AdaptConfig.ensemble: how the --n-ensemble runs are combined")
    p.add_argument("--kmeans-seed", type=int, default=0,
                   help="the first settings' step under this k-means seed alone, with the seed-0 stackers and "
                        "temperatures (what the shipped sidecar does with AdaptConfig.seed changed): the seed spread")
    p.add_argument("--consensus", type=int, default=1,
                   help="AdaptConfig.consensus: cluster on the consensus partition of that many k-means draws "
                        "(ecgdl.adapt_cluster); the stackers are fitted on its features")
    p.add_argument("--soft", action="store_true",
                   help="AdaptConfig.soft: cluster features and averaging as means over the --consensus draws")
    p.add_argument("--post", choices=("temperature", "vector"), default="temperature",
                   help="post calibration --save keeps: the seed's temperature, or vector scaling on all seeds")
    p.add_argument("--save", type=Path, default=None)
    p.add_argument("--save-oof", type=Path, default=None,
                   help="write the adaptive out-of-fold outputs per record under DIR/s<seed>/ (episodes_rules_cv.py --oof)")
    p.add_argument("--figure", type=Path, default=None, help="reliability diagram per class (PNG)")
    a = p.parse_args(argv)
    if a.kmeans_seed and (a.n_ensemble > 1 or a.save or a.consensus > 1):
        p.error("--kmeans-seed measures the shipped one-draw step: not with --n-ensemble, --consensus or --save")
    if a.save and a.cluster_on == "emb":
        p.error("--save ships what scoring computes: --cluster-on qrs or both (AdaptConfig.cluster_on)")
    from ecgdl.paths import runs_dir

    cv = a.cv or runs_dir() / "cv"
    cfg = AdaptConfig(p_long=a.p_long, consensus=a.consensus, soft=a.soft)
    print("| DS1 CV | acc % | S Se / +P | S F1 | V Se / +P | V F1 | F Se / +P |\n|---|---:|---:|---:|---:|---:|---:|")
    results, pre_post, folds = {}, {}, {}
    every = {s: load_seed(cv / f"s{s}", cfg, a.cluster_on) for s in a.seeds}
    for s in a.seeds:
        data = every[s]
        pool = [every[o] for o in a.seeds if o != s] if a.pool else []
        y = np.concatenate([d["y"] for d in data.values()])
        base = np.concatenate([d["proba"] for d in data.values()])
        cavg = np.concatenate([cluster_average(d["proba"], d["avg"]) for d in data.values()])
        oof, stackers = lofo(data, a.hidden, a.power, s, pool)
        z = np.concatenate([oof[r] for r in data])
        t = fit_temperature(z, y)
        cut = np.cumsum([0] + [len(d["y"]) for d in data.values()])
        print(line(f"s{s} inductive", y, base.argmax(1)))
        print(line(f"s{s} cluster-avg V/F", y, cavg.argmax(1)))
        for blend in a.blend:
            for st, gate, sr, vt in [(st, g, r, v) for st in a.self_train for g in a.gate for r in a.sinus_rule
                                     for v in a.v_timing]:
                pg = chain(data, z, t, cut, blend, st, gate, sr, vt)
                first = (gate == a.gate[0] and blend == a.blend[0] and st == a.self_train[0] and sr == a.sinus_rule[0]
                         and vt == a.v_timing[0])
                if first:
                    pre_post[s], folds[s] = pg, np.concatenate([np.full(len(d["y"]), d["fold"]) for d in data.values()])
                t2 = fit_temperature(np.log(np.clip(pg, 1e-12, 1)), y)
                pg = softmax64(np.log(np.clip(pg, 1e-12, 1)) / t2)
                print(line(f"s{s} adaptive, blend {blend}, gate {gate}" + (f", self-train {st}" if st else "")
                           + (f", sinus rule {sr}" if sr else "") + (f", v-timing {vt}" if vt else ""), y,
                           pg.argmax(1)), flush=True)
                if first:
                    pa, t2_keep = pg, t2
        t2 = t2_keep
        settings = (a.blend[0], a.self_train[0], a.gate[0], a.sinus_rule[0], a.v_timing[0])  # the first ones
        if a.kmeans_seed:
            pa = ensemble(cv / f"s{s}", cfg, a.cluster_on, data, stackers, t, t2, cut, settings, pa, a.kmeans_seed + 1,
                          "member")
            print(line(f"s{s} adaptive, first settings, k-means seed {a.kmeans_seed}", y, pa.argmax(1)), flush=True)
        if a.n_ensemble > 1:
            pa = ensemble(cv / f"s{s}", cfg, a.cluster_on, data, stackers, t, t2, cut, settings, pa, a.n_ensemble,
                          a.ensemble)
            print(line(f"s{s} adaptive, first settings, n_ensemble {a.n_ensemble} ({a.ensemble})", y, pa.argmax(1)),
                  flush=True)
        results[s] = {"y": y, "inductive": base, "adaptive": pa}
        if a.save_oof:
            save_oof(a.save_oof / f"s{s}", data, pa, cut, cv / f"s{s}")
        print(f"ECE s{s}: inductive {ece(base, y):.4f}, stacker T=1 {ece(softmax64(z), y):.4f}, "
              f"adaptive (T={t:.2f}, cluster-averaged, gate {a.gate[0]}, T2={t2:.2f}) {ece(pa, y):.4f}", flush=True)
        if a.per_record:
            for r, d in data.items():
                if (d["y"] == 1).sum() >= 20 or (d["y"] == 3).sum() >= 20:
                    print(line(f"s{s} {r} inductive", d["y"], d["proba"].argmax(1)))
                    print(line(f"s{s} {r} adaptive", d["y"], pa[cut[list(data).index(r)]:cut[list(data).index(r) + 1]].argmax(1)))
        if a.save and s == a.seeds[0]:
            every_rec = [d for dd in (data, *pool) for d in dd.values()]  # --pool: all seeds' CV outputs
            st = fit_stacker(np.concatenate([d["feats"] for d in every_rec]),
                             np.concatenate([d["y"] for d in every_rec]), a.hidden, a.power, s)
            st.temperature, st.post_temperature = t, t2
            a.save.parent.mkdir(parents=True, exist_ok=True)
            keep = AdaptConfig(af_gate=a.gate[0], blend=a.blend[0], p_long=a.p_long, self_train=a.self_train[0],
                               sinus_rule=a.sinus_rule[0], v_timing=a.v_timing[0], cluster_on=a.cluster_on,
                               n_ensemble=a.n_ensemble, ensemble=a.ensemble, consensus=a.consensus,
                               soft=a.soft)
            method = ("record clusters" + (" (QRS + embedding)" if a.cluster_on == "both" else "") + " + rhythm + P wave" + (" (+ long-RR template)" if a.p_long else "")
                      + " stacker, cluster-averaged" + (", self-trained N:S" if a.self_train[0] else "")
                      + (", ventricular-timing rule" if a.v_timing[0] else "")
                      + (", sinus-reference rule" if a.sinus_rule[0] else "") + (", AF gate" if a.gate[0] else ""))
            a.save.write_text(json.dumps({"method": method, "config": keep.to_dict(), "features": list(feature_names(keep)),
                                          "stacker": st.to_dict(), "hidden": a.hidden, "power": a.power,
                                          "cv_seed": s, "cv_seeds": list(a.seeds) if a.pool else [s],
                                          "records": list(DS1),
                                          "post_calibration": {"kind": "temperature", "cv_seeds": [s]}}, indent=0))
            print(f"saved {a.save}")
    if a.save and a.post == "vector":  # per-class vector scaling fitted on every given seed's out-of-fold outputs
        d = json.loads(a.save.read_text())
        scale, bias = fit_vector_scaling(np.concatenate([np.log(np.clip(pre_post[s], 1e-12, 1)) for s in a.seeds]),
                                         np.concatenate([results[s]["y"] for s in a.seeds]))
        d["stacker"]["post_vector"] = {"scale": scale.tolist(), "bias": bias.tolist()}
        d["post_calibration"] = {"kind": "vector scaling", "cv_seeds": list(a.seeds)}
        a.save.write_text(json.dumps(d, indent=0))
        st = Stacker.from_dict(d["stacker"])
        for s in a.seeds:  # the figure and the printed ECE then show the shipped calibration (it can move labels)
            results[s]["adaptive"] = st.calibrate(pre_post[s])
            print(line(f"s{s} adaptive, vector-scaled (pooled fit)", results[s]["y"], results[s]["adaptive"].argmax(1)))
            other = [o for o in a.seeds if o != s]
            if other:
                sc, bi = fit_vector_scaling(np.concatenate([np.log(np.clip(pre_post[o], 1e-12, 1)) for o in other]),
                                            np.concatenate([results[o]["y"] for o in other]))
                pv = softmax64(np.log(np.clip(pre_post[s], 1e-12, 1)) * sc + bi)
                print(line(f"s{s} adaptive, vector-scaled (other seeds' fit)", results[s]["y"], pv.argmax(1)), flush=True)
        print("vector scaling (scale, bias):", np.round(scale, 3).tolist(), np.round(bias, 3).tolist(), "; ECE "
              + ", ".join(f"s{s} {ece(st.calibrate(pre_post[s]), results[s]['y']):.4f}" for s in a.seeds), flush=True)
    if a.calibration:
        calibration_table(pre_post, {s: results[s]["y"] for s in a.seeds}, folds)
    if a.figure:
        from ecgdl.calibration import reliability_figure  # noqa: PLC0415

        r = results[a.seeds[0]]
        reliability_figure({"inductive": r["inductive"], "adaptive": r["adaptive"]}, r["y"], CLASSES, a.figure,
                           title=f"DS1 cross-validation (out-of-fold, seed {a.seeds[0]})")
        print(f"wrote {a.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
