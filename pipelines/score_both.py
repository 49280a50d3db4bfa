"""Score records once and write both the inductive and the adaptive per-beat CSVs (robustness runs).

    python pipelines/score_both.py --out DIR REC_PATH...

Writes ``DIR/inductive/<rec>.beats.csv`` (= ``ecgdl score --reference --no-adapt``) and
``DIR/adaptive/<rec>.beats.csv`` (= ``ecgdl score --reference``) from one pass: the adaptive step is
(and its noise gate) applied to the inductive probabilities exactly as ``score_record`` does (``tests/test_adapt.py`` checks
that equality), so the detector runs once per record (the classifier twice when the adaptive step clusters
its ``embedding`` output: the same numbers). Score the folders with
``../shared/scorers/eval_scores.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from ecgdl.infer import BeatClassifier, classify_record, decide, gate_noise, score_record
from ecgdl.reference import compare_record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("paths", nargs="+", type=Path)
    a = p.parse_args(argv)
    clf = BeatClassifier(device="cpu")
    for sub in ("inductive", "adaptive"):
        (a.out / sub).mkdir(parents=True, exist_ok=True)
    for path in a.paths:
        res = score_record(path, clf, adapt=False)
        (a.out / "inductive" / f"{path.name}.beats.csv").write_text(res.beats_csv())
        emb = None  # the classifier's embedding output, when the adaptive step clusters it (cluster_on "both")
        if clf.wants_embedding():
            _, _, emb = classify_record(clf, res.conditioned, res.sample, clf.fs, clf.window, res.record.name, True)
        proba, cluster = clf.adapter.adapt(res.conditioned, res.sample, clf.fs, clf.window, res.proba,
                                           res.record.name, emb)
        proba, _ = gate_noise(clf, proba, res.sample, clf.fs, res.quality, True, res.conditioned)   # as score_record, after adapt
        pred, label = decide(proba, clf.classes)
        _, ref_label = compare_record(res.record, res.sample, pred, clf.classes)
        ad = dataclasses.replace(res, proba=proba, label=label, cluster=cluster, ref_label=ref_label)
        (a.out / "adaptive" / f"{path.name}.beats.csv").write_text(ad.beats_csv())
        print(path.name, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
