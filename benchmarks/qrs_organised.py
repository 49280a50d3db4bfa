"""Round 15 (issue 13): the detector's organised-run guard in noisy stretches, DS1 and NSTDB 118e*/119e*.

    python benchmarks/qrs_organised.py [--faster | --extra | --twin]

For each setting of ``NoiseConfig.organised_irr`` x ``organised_corr`` (and off), R peaks through the shipped
detection path (``ecgdl.infer.find_beats``) on the 22 DS1 records and the 12 NSTDB noise-stress records, matched one
to one to the reference beats within 150 ms: FN, FP, missed V beats (DS1), and QRS Se / +P (NSTDB). DS2 is never read.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import wfdb

from ecgdl.infer import BeatClassifier, decide_leads, find_beats, model_leads, read_for_model
from ecgdl.labels import to_aami
from ecgdl.paths import database_dir
from ecgdl.reference import match_beats
from ecgdl.splits import DS1, assert_no_test_records

GRID = (None, (0.05, 0.7), (0.05, 0.85), (0.1, 0.7), (0.1, 0.85))
#: Round 15b (``--faster``): (irr, corr, faster).
GRID_B = (None, (0.1, 0.7, 0.7), (0.1, 0.7, 0.8), (0.1, 0.85, 0.7), (0.1, 0.85, 0.8))
NSTDB = tuple(f"{r}e{s}" for r in ("118", "119") for s in ("24", "18", "12", "06", "00", "_6"))


def load(folder, names):
    out = {}
    for r in names:
        rec, _ = decide_leads(read_for_model(folder / r, 360.0), None)
        ann = wfdb.rdann(str(folder / r), "atr")
        y = to_aami(ann.symbol)
        out[r] = (rec, model_leads(rec), np.asarray(ann.sample)[y >= 0], y[y >= 0])
    return out


def counts(recs, cfg):
    fn = fp = tp = fnv = 0
    per = {}
    for r, (rec, raw, ref, y) in recs.items():
        peaks, _ = find_beats(rec, raw, cfg, False)
        ri, di = match_beats(ref, peaks, int(round(0.15 * rec.fs)))
        miss = np.setdiff1d(np.arange(len(ref)), ri)
        per[r] = (len(miss), len(peaks) - len(di))
        tp, fn, fp, fnv = tp + len(ri), fn + len(miss), fp + len(peaks) - len(di), fnv + int((y[miss] == 2).sum())
    return {"tp": tp, "fn": fn, "fp": fp, "fn_v": fnv, "se": 100 * tp / max(tp + fn, 1),
            "ppv": 100 * tp / max(tp + fp, 1), "per": per}


def main() -> int:
    import sys

    faster, extra = "--faster" in sys.argv[1:], "--extra" in sys.argv[1:]
    assert_no_test_records(DS1)
    clf = BeatClassifier(device="cpu")
    ds1, nst = load(database_dir("mitdb"), DS1), load(database_dir("nstdb"), NSTDB)
    def report(name: str, cfg) -> None:
        a, b = counts(ds1, cfg), counts(nst, cfg)
        print(f"{name:18s} DS1 FN {a['fn']} FP {a['fp']} (FN+FP {a['fn'] + a['fp']}, missed V {a['fn_v']}; "
              f"203 {a['per']['203']} 205 {a['per']['205']} 207 {a['per']['207']})   "
              f"NSTDB Se {b['se']:.2f} +P {b['ppv']:.2f} (FN {b['fn']} FP {b['fp']})", flush=True)

    if extra:                                   # round 15c: the extra-beat rule's ratio, round 15b shipped
        for ratio in (0.5, 0.35, 0.25, 0.0):
            report(f"extra_ratio {ratio:<5}", dataclasses.replace(clf.qrs, extra_ratio=ratio))
        return 0
    if "--twin" in sys.argv[1:]:                # round 18: the extra-beat rule keeps a weak beat that has a twin
        for twin in (None, 0.95, 0.9, 0.8):
            for floor in ((0.25,) if twin is None else (0.25, 0.1)):
                report(f"twin {twin} floor {floor}", dataclasses.replace(clf.qrs, extra_twin=twin, extra_twin_floor=floor))
        return 0
    for g in GRID_B if faster else GRID:
        extra_kw = {} if g is None else {"organised_corr": g[1], **({"organised_faster": g[2]} if len(g) > 2 else {})}
        noise = dataclasses.replace(clf.qrs.noise, organised_irr=None if g is None else g[0], **extra_kw)
        report("off" if g is None else " ".join(f"{k} {v}" for k, v in zip(("irr", "corr", "faster"), g)),
               dataclasses.replace(clf.qrs, noise=noise))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
