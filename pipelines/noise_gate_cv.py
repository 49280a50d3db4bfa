"""Choose the noise gate (``ecgdl/noise_gate.py``) on DS1: its cost on the CV, its gain on the noise-stress records.

    python pipelines/noise_gate_cv.py --oof runs/cv_adaptive_oof_r4 --seeds 0 1 2 [--name noise_gate_cv] [--per-beat | --ref-quantile]

Two measurements per setting of the grid (:data:`GRID`, ``(q, prematurity, pause)``, or with ``--per-beat``
:data:`GRID_8B`, ``(q, prematurity, pause, k)``, or with ``--ref-quantile`` :data:`GRID_8C`; ``off`` beside it):

* **DS1 cross-validation (cost)**: the adaptive out-of-fold beats of ``pipelines/adapt_eval.py --save-oof``
  (reference beat positions, their saved calibrated probabilities as ``episodes_rules_cv.py`` reads them), each beat
  given the quality index of its segment from the shipped detector run on the record (the gate reads the
  detector's quality, as when scoring). V Se / +P / F1 over the 22 records, per seed.
* **Noise stress (gain)**: the 12 NSTDB records 118e* / 119e* (DS1 patients 118 and 119 with electrode-motion
  noise at 24 ... -6 dB) scored end to end by the shipped model (``score_record``: own R peaks, adaptive step),
  the gate applied to its output, V Se / +P against the records' annotations (150 ms, one-to-one). Caveat: the
  shipped classifier was trained on DS1, 118 and 119's clean beats among them (not out of fold).

DS2 is never read (``assert_no_test_records``). Writes ``runs/<name>/grid.json``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from ecgdl.metrics import class_metrics, confusion_matrix, evaluation_metrics, percent
from ecgdl.noise_gate import noise_gate_hits
from ecgdl.paths import database_dir, runs_dir
from ecgdl.splits import DS1, assert_no_test_records

GRID: tuple[tuple[float, ...], ...] = tuple(
    (q, p, z) for q in (0.8, 0.9, 0.95) for p in (0.85, 0.9) for z in (1.1, 1.2))
#: Round 8b (``--per-beat``): the segment test off (1.01) or at 0.95, and the per-beat noise ratio k.
GRID_8B: tuple[tuple[float, ...], ...] = tuple(
    (q, p, 1.2, k) for q in (1.01, 0.95) for p in (0.85, 0.9) for k in (2.0, 3.0, 5.0))
#: Round 8c (``--ref-quantile``): round 8b's chosen timing with the record's reference activity at a quantile.
GRID_8C: tuple[tuple[float, ...], ...] = tuple(
    (1.01, 0.9, 1.2, k, rq) for rq in (0.5, 0.25) for k in (1.5, 2.0, 3.0))
NOISE_RECORDS: tuple[str, ...] = tuple(f"{r}e{s}" for r in ("118", "119") for s in ("24", "18", "12", "06", "00", "_6"))
#: The noise levels a Holter meets (SNR >= 6 dB): the gain the criterion reads.
HOLTER_SNR: tuple[str, ...] = ("24", "18", "12", "06")
V = 2


def detector_quality(path: Path, clf) -> tuple[np.ndarray, float, float, np.ndarray]:
    """``(index, segment_s, fs, conditioned)``: the shipped detector's per-segment quality on a record and the
    conditioned leads the classifier reads (the per-beat noise test reads them)."""
    from ecgdl.infer import condition_record, decide_leads, find_beats, model_leads, read_for_model

    rec, _ = decide_leads(read_for_model(path, clf.fs), None)
    raw = model_leads(rec)
    _, spans = find_beats(rec, raw, clf.qrs, False)
    q = spans["quality"]
    return np.asarray(q.index, np.float64), float(q.segment_s), float(rec.fs), condition_record(raw, rec.fs, clf.conditioning)


def v_counts(y_true: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """``[tp, fn, fp]`` of class V (``y_true`` -1: an extra detection, a false positive when labelled V)."""
    return np.array([np.sum((y_true == V) & (lab == V)), np.sum((y_true == V) & (lab != V)),
                     np.sum((y_true != V) & (lab == V))])


def figures(c: np.ndarray) -> dict:
    """The V metric dict (:func:`ecgdl.metrics.class_metrics`: ``se``, ``ppv`` as fractions, ``f1``) of
    ``[tp, fn, fp]``, with the counts."""
    tp, fn, fp = (int(v) for v in c)
    return {**class_metrics(tp, fn, fp, 0), "tp": tp, "fn": fn, "fp": fp}


def cv_part(oof: Path, seeds: list[int], clf, settings) -> dict:
    mitdb = database_dir("mitdb")
    assert_no_test_records(DS1)
    qual = {r: detector_quality(mitdb / r, clf) for r in DS1}
    out = {}
    for s in seeds:
        tot = {k: np.zeros(3, np.int64) for k in settings}
        cms = {k: np.zeros((5, 5), np.int64) for k in settings}
        per = {k: {} for k in settings}
        for r in DS1:
            z = np.load(oof / f"s{s}" / f"{r}.npz")
            p = np.exp(np.asarray(z["logits"], np.float64))
            y = np.asarray(z["y"]).astype(int)
            idx, seg_s, fs, sig = qual[r]
            for k, prm in settings.items():
                lab = p.argmax(1)
                if prm is not None:
                    lab = np.where(noise_gate_hits(p, z["sample"], fs, idx, seg_s, prm, signal=sig), 4, lab)
                c = v_counts(y, lab)
                tot[k] += c
                cms[k] += confusion_matrix(y, lab)
                per[k][r] = c.tolist()
        out[f"s{s}"] = {k: {**figures(tot[k]), "changed": {r: v for r, v in per[k].items() if v != per["off"][r]},
                            "confusion": cms[k].tolist()} for k in settings}
    return out


def noise_part(clf, settings) -> dict:
    import wfdb

    from ecgdl.infer import score_record
    from ecgdl.labels import to_aami
    from ecgdl.reference import match_beats

    nst = database_dir("nstdb")
    out = {k: {} for k in settings}
    for r in NOISE_RECORDS:
        res = score_record(nst / r, clf, compare=False)          # its detector quality and conditioned leads too
        idx, seg_s, fs = np.asarray(res.quality.index, np.float64), float(res.quality.segment_s), float(res.record.fs)
        ann = wfdb.rdann(str(nst / r), "atr")
        cls = to_aami(ann.symbol).astype(int)
        keep = cls >= 0
        ref_s = np.asarray(ann.sample)[keep]
        ref_y = cls[keep]
        if ann.fs and abs(res.record.fs - ann.fs) > 1e-6:
            raise ValueError(f"{r}: annotations at {ann.fs} Hz, record scored at {res.record.fs} Hz")
        ri, di = match_beats(ref_s, res.sample, int(round(0.15 * fs)))
        y = np.full(len(res.sample), -1)
        y[di] = ref_y[ri]
        missed_v = int(np.sum(ref_y == V)) - int(np.sum(y == V))
        for k, prm in settings.items():
            lab = res.proba.argmax(1)
            if prm is not None:
                lab = np.where(noise_gate_hits(res.proba, res.sample, fs, idx, seg_s, prm, signal=res.conditioned), 4, lab)
            c = v_counts(y, lab) + np.array([0, missed_v, 0])
            out[k][r] = c.tolist()
    return out


def pct(v: float) -> str:
    """A fraction as the grid tables print it (percent, 2 decimals, 6 wide)."""
    return percent(v, 2).rjust(6)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--oof", type=Path, required=True)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--name", default="noise_gate_cv")
    p.add_argument("--per-beat", action="store_true", help="round 8b's grid (GRID_8B: the per-beat noise test)")
    p.add_argument("--ref-quantile", action="store_true", help="round 8c's grid (GRID_8C: the reference quantile)")
    a = p.parse_args(argv)
    from ecgdl.infer import BeatClassifier

    clf = BeatClassifier()
    shipped = clf.adapter.config.noise_gate if clf.adapter is not None else None
    if shipped is not None:   # the grid's "off" is the step without it
        clf.adapter = dataclasses.replace(clf.adapter, config=dataclasses.replace(clf.adapter.config, noise_gate=None))
    grid = GRID_8C if a.ref_quantile else GRID_8B if a.per_beat else GRID
    settings = {"off": None, **{"_".join(f"{c}{v:g}" for c, v in zip(("q", "p", "z", "k", "rq"), g)): g for g in grid}}
    res = {"grid": {k: v for k, v in settings.items()}, "cv": cv_part(a.oof, a.seeds, clf, settings),
           "noise": noise_part(clf, settings)}
    for k in settings:
        nz = res["noise"][k]
        res.setdefault("noise_total", {})[k] = {
            "holter": figures(np.sum([nz[r] for r in NOISE_RECORDS if r[4:] in HOLTER_SNR], 0)),
            "all": figures(np.sum([nz[r] for r in NOISE_RECORDS], 0))}
    run = runs_dir() / a.name
    run.mkdir(parents=True, exist_ok=True)
    (run / "grid.json").write_text(json.dumps(res, indent=1))
    print(f"{'setting':18s} " + " ".join(f"s{s} Se/+P/F1".rjust(20) for s in a.seeds)
          + "   mean Se/+P/F1        nstdb>=6dB Se/+P    nstdb all Se/+P")
    for k in settings:
        cv = [res["cv"][f"s{s}"][k] for s in a.seeds]
        h, al = res["noise_total"][k]["holter"], res["noise_total"][k]["all"]
        print(f"{k:18s} " + " ".join(f"{pct(c['se'])}/{pct(c['ppv'])}/{c['f1']:.3f}" for c in cv)
              + f"   {pct(np.mean([c['se'] for c in cv]))}/{pct(np.mean([c['ppv'] for c in cv]))}/"
              f"{np.mean([c['f1'] for c in cv]):.4f}   {pct(h['se'])}/{pct(h['ppv'])}   {pct(al['se'])}/{pct(al['ppv'])}")
    print("\nDS1 CV, every class (acc, S Se/+P, S F1, V Se/+P, V F1, F Se/+P) of off and the shipped setting:")
    for k, prm in settings.items():
        if prm is not None and (shipped is None or tuple(prm) != tuple(shipped)):
            continue
        for s in a.seeds:
            m = evaluation_metrics(np.array(res["cv"][f"s{s}"][k]["confusion"]))
            pc = m["per_class"]
            print(f"  {k:28s} s{s}: {percent(m['accuracy'], 2)} | {percent(pc['S']['se'])} / {percent(pc['S']['ppv'])} | "
                  f"{pc['S']['f1']:.3f} | {percent(pc['V']['se'])} / {percent(pc['V']['ppv'])} | {pc['V']['f1']:.3f} | "
                  f"{percent(pc['F']['se'])} / {percent(pc['F']['ppv'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
