"""AF scorer choice: patient-grouped cross-validation over the 22 DS1 records, classical vs sequence model.

    python pipelines/episodes_cv.py [--folds 5] [--name episodes_cv] [--no-ship] [--oof runs/cv/s0]

1. Every DS1 record goes through the one scoring path (``ecgdl.infer.score_record``, detected beats,
   predicted labels); per-beat AF features and sequence inputs (``ecgdl.af``) are cached. With
   ``--oof``, labels and probabilities come from ``pipelines/cv.py``'s out-of-fold fold models instead
   (:func:`out_of_fold_beats`; the shipped classifier's are in-sample on DS1).
2. Each beat's target: 1 when the reference rhythm (``+`` aux notes of the ``.atr``) is ``(AFIB``.
3. Folds group records (a patient never sits on both sides); the two AF records 201 and 203 go to
   different folds. Per fold: the classical baseline (logistic regression on RR irregularity and
   atrial coherence) and the sequence model (a dilated temporal CNN over the beat sequence, torch)
   are fitted on the training records and predict the held-out ones.
4. Out-of-fold probabilities go through the shipped episode rules (``ecgdl.episodes``) at each
   threshold of :data:`THRESHOLDS`; every record's ``<record>.episodes.csv`` lands in
   ``runs/<name>/<model>_t<threshold>/``, scored here (AFIB duration Se/+P/F1, the choice) and by
   ``../shared/scorers/eval_episodes.py`` (the DS1 CV figures of every rhythm).
5. The model with the higher out-of-fold AFIB duration F1 is refitted on all of DS1 and shipped:
   ``ecgdl/shipped/episodes_af.json`` (+ ``ecgdl/shipped/episodes_af.onnx`` for the sequence model). DS2 is never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ecgdl.af import AFFeatureConfig, LogisticAF, af_features, capped, sequence_inputs
from ecgdl.episodes import EpisodeConfig, detect_episodes, episodes_csv
from ecgdl.paths import MODELS_DIR, cache_dir, database_dir, runs_dir
from ecgdl.splits import DS1, assert_no_test_records

AF_RECORDS = ("201", "203")
#: AF probability thresholds tried on the out-of-fold predictions (the best AFIB duration F1 is kept).
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98)


def reference_rhythm(path: Path, t_s: np.ndarray) -> np.ndarray:
    """Reference rhythm code (no parenthesis) at each time ``t_s`` from the ``.atr`` ``+`` aux notes."""
    import wfdb

    a = wfdb.rdann(str(path), "atr")
    ch = [(s / a.fs, x.strip("\x00").lstrip("(")) for s, sym, x in zip(a.sample, a.symbol, a.aux_note) if sym == "+"]
    if not ch:
        return np.full(len(t_s), "N")
    start = np.array([c[0] for c in ch])
    name = np.array([c[1] for c in ch])
    k = np.searchsorted(start, t_s, side="right") - 1
    return np.where(k >= 0, name[np.clip(k, 0, None)], "N")


def record_table(rec: str, clf, fcfg: AFFeatureConfig) -> dict:
    """Scored beats of one DS1 record, its AF features, sequence inputs and targets (cached npz)."""
    from ecgdl.infer import score_record

    cache = cache_dir() / "episodes" / f"{rec}.npz"
    if cache.is_file():   # beats, labels and lead are cached; features are recomputed (they change with ecgdl.af)
        t = dict(np.load(cache, allow_pickle=False))
        t["feats"] = af_features(t["sample"], t["label"], float(t["fs"]), t["sig"], fcfg)
        t["seq"] = sequence_inputs(t["sample"], t["label"], t["proba"], clf.classes, float(t["fs"]), t["feats"], fcfg)
        return t
    path = database_dir("mitdb") / rec
    res = score_record(path, clf, compare=False)
    fs, s, lab = res.record.fs, res.sample, res.label
    sig = res.conditioned[:, 0]
    feats = af_features(s, lab, fs, sig, fcfg)
    seq = sequence_inputs(s, lab, res.proba, clf.classes, fs, feats, fcfg)
    rhythm = reference_rhythm(path, s / fs)
    pauses = np.array([[p["start_s"], p["end_s"]] for p in res.summary["pauses"]]).reshape(-1, 2)
    vf = np.array([[v["start_s"], v["end_s"]] for v in res.summary.get("vf", [])]).reshape(-1, 2)
    out = dict(sample=s, label=lab.astype("<U1"), feats=feats, seq=seq, proba=res.proba, rhythm=rhythm.astype("<U8"),
               y=(rhythm == "AFIB").astype(np.float32), fs=np.float64(fs),
               duration_s=np.float64(res.record.duration_s), pauses=pauses, vf=vf, sig=sig.astype(np.float32))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **out)
    return out


def out_of_fold_beats(tab: dict, fold_out: dict, classes=("N", "S", "V", "F", "Q"),
                      tol_s: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """``(label, proba)`` of the detected beats from ``pipelines/cv.py``'s out-of-fold outputs.

    fold_out: one ``<out>/s<seed>/<record>.npz`` (``logits`` ``(m, K)`` and ``sample`` of the reference
    beats); each detected beat takes the softmax of the nearest reference beat within ``tol_s``, a beat
    with none keeps the shipped classifier's output. (The shipped classifier was trained on DS1, so its
    labels there are in-sample; rules read on them look better than on new patients.)

    >>> t = {"sample": np.array([100, 460, 900]), "label": np.array(list("NNN")), "proba": np.eye(5)[[0, 0, 0]],
    ...      "fs": 360.0}
    >>> lab, _ = out_of_fold_beats(t, {"sample": np.array([102, 470]), "logits": np.eye(5)[[2, 1]] * 9})
    >>> "".join(lab)
    'VSN'
    """
    ref, lg = np.asarray(fold_out["sample"]), np.asarray(fold_out["logits"], np.float64)
    p = np.exp(lg - lg.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    s = np.asarray(tab["sample"])
    j = np.clip(np.searchsorted(ref, s), 1, max(len(ref) - 1, 1))
    j = np.where(np.abs(ref[j - 1] - s) < np.abs(ref[j] - s), j - 1, j)
    near = np.abs(ref[j] - s) <= tol_s * float(tab["fs"])
    proba = np.where(near[:, None], p[j], tab["proba"])
    return np.asarray(classes)[proba.argmax(1)].astype("<U1"), proba


def make_folds(records, k: int) -> list[list[str]]:
    """``k`` record groups: AF records first, one per fold, then the rest round-robin (deterministic)."""
    order = [r for r in AF_RECORDS if r in records] + sorted(r for r in records if r not in AF_RECORDS)
    return [order[i::k] for i in range(k)]


def fit_logistic(tabs: list[dict], fcfg: AFFeatureConfig, epochs: int = 300) -> LogisticAF:
    """Class-balanced logistic regression on the AF features (torch, L-BFGS)."""
    import torch

    x = capped(np.concatenate([t["feats"] for t in tabs]).astype(np.float64))
    y = np.concatenate([t["y"] for t in tabs])
    mu, sd = np.nanmean(x, 0), np.nanstd(x, 0) + 1e-6
    z = torch.tensor((np.where(np.isnan(x), mu, x) - mu) / sd, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    pos = max(float(y.mean()), 1e-3)
    wt = torch.where(yt > 0, 0.5 / pos, 0.5 / (1 - pos))
    w = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=epochs)

    def closure():
        opt.zero_grad()
        loss = (wt * torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, yt, reduction="none")).mean()
        loss = loss + 1e-3 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return LogisticAF(mu.tolist(), sd.tolist(), w.detach().tolist(), float(b.item()), fcfg)


def tcn(channels: int, width: int = 16, dilations: tuple[int, ...] = (1, 2, 4, 8)):
    """Dilated temporal CNN: one residual-free layer per dilation (as shipped 4, receptive field 61 beats), one logit
    per beat."""
    import torch.nn as nn

    layers, c = [], channels
    for d in dilations:
        layers += [nn.Conv1d(c, width, 5, padding=2 * d, dilation=d), nn.ReLU()]
        c = width
    layers.append(nn.Conv1d(width, 1, 1))
    return nn.Sequential(*layers)


def fit_sequence(tabs: list[dict], steps: int = 600, chunk: int = 512, seed: int = 0,
                 dilations: tuple[int, ...] = (1, 2, 4, 8)):
    """Train :func:`tcn` (``dilations``) on random ``chunk``-beat windows of the training records (class-balanced BCE)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    seqs = [(t["seq"].T.astype(np.float32), t["y"]) for t in tabs if len(t["y"]) > chunk]
    pos = max(float(np.concatenate([t["y"] for t in tabs]).mean()), 1e-3)
    model = tcn(seqs[0][0].shape[0], dilations=dilations)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        xb, yb = [], []
        for _ in range(16):
            x, y = seqs[rng.integers(len(seqs))]
            i = rng.integers(0, len(y) - chunk)
            xb.append(x[:, i:i + chunk]); yb.append(y[i:i + chunk])
        xt, yt = torch.tensor(np.stack(xb)), torch.tensor(np.stack(yb))  # (B, C, T), (B, T)
        logit = model(xt)[:, 0]                                           # (B, T)
        wt = torch.where(yt > 0, 0.5 / pos, 0.5 / (1 - pos))
        loss = (wt * torch.nn.functional.binary_cross_entropy_with_logits(logit, yt, reduction="none")).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    return model.eval()


def predict_sequence(model, seq: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return torch.sigmoid(model(torch.tensor(seq.T[None].astype(np.float32)))[0, 0]).numpy().astype(np.float64)


class _Fixed:
    """An AF 'model' that returns out-of-fold probabilities computed elsewhere (for the episode rules)."""

    def __init__(self, p: np.ndarray, features: AFFeatureConfig, threshold: float):
        self.p, self.features, self.threshold = p, features, threshold

    def predict(self, feats, seq=None):
        return self.p


def write_episodes(tab: dict, p: np.ndarray, folder: Path, rec: str, fcfg: AFFeatureConfig, thr: float) -> None:
    eps = detect_episodes(tab["sample"], tab["label"], float(tab["fs"]), proba=tab["proba"], signal=tab["sig"],
                          pauses=[tuple(x) for x in tab["pauses"]], vf=[tuple(x) for x in tab["vf"]],
                          af_model=_Fixed(p, fcfg, thr), cfg=EpisodeConfig())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rec}.episodes.csv").write_text(episodes_csv(eps))


def af_duration(folder: Path, tabs: dict[str, dict]) -> dict:
    """AFIB duration Se/+P/F1 of a folder of episode CSVs against the per-beat reference (seconds)."""
    import csv

    ov = ref = det = 0.0
    for rec, t in tabs.items():
        s = t["sample"] / float(t["fs"])
        y = t["y"] > 0
        ref_iv = [(s[a], s[b]) for a, b in _runs(y)]
        with open(folder / f"{rec}.episodes.csv") as f:
            det_iv = [(float(r["start_s"]), float(r["end_s"])) for r in csv.DictReader(f) if r["rhythm"] == "AFIB"]
        ref += sum(b - a for a, b in ref_iv); det += sum(b - a for a, b in det_iv)
        ov += sum(max(0.0, min(b, d) - max(a, c)) for a, b in ref_iv for c, d in det_iv)
    se, ppv = ov / ref if ref else 0.0, ov / det if det else 0.0
    return {"dur_se": se, "dur_ppv": ppv, "f1": 2 * se * ppv / (se + ppv) if se + ppv else 0.0,
            "ref_min": ref / 60, "det_min": det / 60}


def _runs(y: np.ndarray) -> list[tuple[int, int]]:
    from ecgdl.rhythm import consecutive_runs

    return consecutive_runs(y)


def export_sequence(model, channels: int, path: Path) -> None:
    """ONNX export (input ``seq`` (1, C, n) dynamic n, output ``logit`` (1, n)) + onnxruntime parity check."""
    import torch

    from ecgdl.artifacts import onnx_session

    class Head(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, seq):
            return self.m(seq)[:, 0]

    x = torch.randn(1, channels, 700)
    torch.onnx.export(Head(model), (x,), str(path), input_names=["seq"], output_names=["logit"],
                      dynamic_axes={"seq": {2: "n"}, "logit": {1: "n"}}, opset_version=17, dynamo=False)
    sess, _ = onnx_session(path, "cpu")
    ref = Head(model)(x).detach().numpy()
    got = sess.run(["logit"], {"seq": x.numpy()})[0]
    assert np.allclose(ref, got, atol=1e-4), "ONNX and torch disagree"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--name", default="episodes_cv")
    p.add_argument("--steps", type=int, default=600, help="sequence model training steps per fit")
    p.add_argument("--no-ship", action="store_true", help="do not write ecgdl/shipped/episodes_af.*")
    p.add_argument("--oof", type=Path, default=None,
                   help="pipelines/cv.py output folder (runs/cv/s0): beat labels and probabilities out of fold")
    a = p.parse_args(argv)
    import torch

    from ecgdl.infer import BeatClassifier

    torch.set_num_threads(1)
    assert_no_test_records(DS1)
    fcfg = AFFeatureConfig()
    clf = BeatClassifier(device="cpu")
    tabs = {r: record_table(r, clf, fcfg) for r in DS1}
    if a.oof:
        for r, t in tabs.items():
            t["label"], t["proba"] = out_of_fold_beats(t, np.load(a.oof / f"{r}.npz"), clf.classes)
            t["feats"] = af_features(t["sample"], t["label"], float(t["fs"]), t["sig"], fcfg)
            t["seq"] = sequence_inputs(t["sample"], t["label"], t["proba"], clf.classes, float(t["fs"]), t["feats"], fcfg)
    run = runs_dir() / a.name
    oof = {"classical": {}, "sequence": {}}
    for k, test in enumerate(make_folds(DS1, a.folds)):
        train = [tabs[r] for r in DS1 if r not in test]
        lr, seq = fit_logistic(train, fcfg), fit_sequence(train, steps=a.steps, seed=k)
        for r in test:
            oof["classical"][r] = lr.predict(tabs[r]["feats"])
            oof["sequence"][r] = predict_sequence(seq, tabs[r]["seq"])
        print(f"fold {k}: held out {test}", flush=True)
    results = {}
    for name, probs in oof.items():
        sweep = {}
        for thr in THRESHOLDS:
            for r, pr in probs.items():
                write_episodes(tabs[r], pr, run / f"{name}_t{thr:g}", r, fcfg, thr)
            sweep[thr] = af_duration(run / f"{name}_t{thr:g}", tabs)
            print(name, thr, json.dumps({k: round(v, 4) for k, v in sweep[thr].items()}), flush=True)
        thr = max(sweep, key=lambda t: sweep[t]["f1"])
        results[name] = {**sweep[thr], "threshold": thr, "sweep": {str(t): v for t, v in sweep.items()}}
    best = max(results, key=lambda n: results[n]["f1"])
    (run / "cv.json").write_text(json.dumps({"folds": make_folds(DS1, a.folds), "results": results, "best": best},
                                            indent=1))
    print(f"best on DS1 CV: {best}")
    if not a.no_ship:
        ship(best, list(tabs.values()), fcfg, a.steps, results)
    return 0


def ship(best: str, tabs: list[dict], fcfg: AFFeatureConfig, steps: int, results: dict,
         chosen_by: str = "DS1 patient-grouped CV, AFIB duration F1") -> None:
    """Refit ``best`` on all of DS1 and write ``ecgdl/shipped/episodes_af.json`` (+ ``.onnx``)."""
    from dataclasses import asdict

    from ecgdl.artifacts import sha256_file

    meta = {"trained_on": list(DS1), "cv": results, "chosen_by": chosen_by}
    thr = results[best]["threshold"]
    if best == "classical":
        lr = fit_logistic(tabs, fcfg)
        lr.threshold = thr
        meta.update(lr.to_dict())
        (MODELS_DIR / "episodes_af.onnx").unlink(missing_ok=True)   # a sequence model shipped before
    else:
        model = fit_sequence(tabs, steps=steps, seed=0)
        export_sequence(model, tabs[0]["seq"].shape[1], MODELS_DIR / "episodes_af.onnx")
        meta.update({"kind": "sequence", "inputs": "ecgdl.af.SEQUENCE_NAMES", "features": asdict(fcfg),
                     "threshold": thr, "sha256": sha256_file(MODELS_DIR / "episodes_af.onnx")})
    (MODELS_DIR / "episodes_af.json").write_text(json.dumps(meta, indent=1))
    print(f"shipped {best} -> {MODELS_DIR / 'episodes_af.json'}")


if __name__ == "__main__":
    sys.exit(main())
