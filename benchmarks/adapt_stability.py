"""How far the patient-adaptive step's labels move when two beats of a record are left out (DS1 only).

    python benchmarks/adapt_stability.py [--trials 3] [--records 101 106 ...] [--n-init N] [--n-ensemble M] [--ensemble medoid] [--consensus K] [--model M.onnx]

Per record: the shipped path's R peaks (``find_beats``), classified and adapted once as they are and then
``--trials`` times with two beats (chosen at random, seed = trial) removed; the share of the remaining beats
whose adaptive label changed, and the change in the count of S and V labels. A stable step moves a handful of beats
(the removed beats' neighbours); a clustering that re-forms moves hundreds. DS2 is never read.
"""
from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from ecgdl.adapt import ENSEMBLE
from ecgdl.infer import (BeatClassifier, adapt_beats, classify_record, condition_record, decide, decide_leads,
                         find_beats, model_leads, read_for_model)
from ecgdl.paths import database_dir
from ecgdl.splits import DS1, assert_no_test_records


def labels(clf, x, peaks, fs, name):
    ind, _, emb = classify_record(clf, x, peaks, fs, clf.window, name, clf.wants_embedding())
    proba, _, _ = adapt_beats(clf, x, peaks, fs, ind, name, True, emb)
    return decide(proba, clf.classes)[1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--records", nargs="+", default=list(DS1))
    p.add_argument("--n-init", type=int, default=None, help="AdaptConfig.n_init instead of the sidecar's")
    p.add_argument("--n-ensemble", type=int, default=None, help="AdaptConfig.n_ensemble instead of the sidecar's")
    p.add_argument("--ensemble", choices=ENSEMBLE, default=None, help="AdaptConfig.ensemble instead of the sidecar's")
    p.add_argument("--consensus", type=int, default=None, help="AdaptConfig.consensus instead of the sidecar's")
    p.add_argument("--model", default=None, help="the ONNX model (and its sidecar) instead of the shipped one")
    a = p.parse_args(argv)
    assert_no_test_records(a.records)
    clf = BeatClassifier(a.model, device="cpu")
    over = {k: v for k, v in (("n_init", a.n_init), ("n_ensemble", a.n_ensemble),
                                         ("ensemble", a.ensemble), ("consensus", a.consensus)) if v is not None}
    if over:
        clf.adapter = dataclasses.replace(clf.adapter, config=dataclasses.replace(clf.adapter.config, **over))
    worst = []
    for r in a.records:
        rec, _ = decide_leads(read_for_model(database_dir("mitdb") / r, clf.fs), None)
        raw = model_leads(rec)
        x = condition_record(raw, rec.fs, clf.conditioning)
        peaks, _ = find_beats(rec, raw, clf.qrs, False)
        base = labels(clf, x, peaks, rec.fs, r)
        moved = []
        for t in range(a.trials):
            drop = np.random.default_rng(t).choice(np.arange(10, len(peaks) - 10), 2, replace=False)
            keep = np.setdiff1d(np.arange(len(peaks)), drop)
            lab = labels(clf, x, peaks[keep], rec.fs, r)
            moved.append((int((lab != base[keep]).sum()), int((lab == "S").sum() - (base[keep] == "S").sum()),
                          int((lab == "V").sum() - (base[keep] == "V").sum())))
        m = max(moved, key=lambda v: v[0])
        worst.append((r, m[0], len(peaks)))
        print(f"{r}: {len(peaks)} beats; labels moved per trial {[v[0] for v in moved]}; S / V count change "
              f"{[(v[1], v[2]) for v in moved]}", flush=True)
    tot = sum(w[1] for w in worst)
    print(f"worst trial per record, summed: {tot} beats moved of {sum(w[2] for w in worst)}; records with > 20 moved: "
          f"{[w[0] for w in worst if w[1] > 20]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
