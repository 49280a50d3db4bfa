"""Cost of the adaptive step: in-process ``score_record`` with and without it on a 30-minute record.

    python benchmarks/adapt_cost.py [--record 208] [--repeats 5] [--model PATH.onnx] [--check-draws D]

Prints the median seconds of each (runs interleaved, so a drift in machine speed hits both) and their
ratio, the same with the stability check off (``check_draws=0``, :mod:`ecgdl.adapt_check`) and what the check adds, plus the adapt step alone on the record's beats (with ``cluster_on="both"`` the full run's extra
includes fetching the ``embedding`` output; the step alone does not). Plain Python timing (``time.perf_counter``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from ecgdl.infer import BeatClassifier, classify_record, score_record
from ecgdl.io import read_record
from ecgdl.metrics import percent
from ecgdl.paths import database_dir


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--record", default="208")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--check-draws", type=int, default=None, help="the stability check's draws (default: ecgdl's)")
    p.add_argument("--model", default=None, help="an ONNX file with its sidecar (default: the shipped model)")
    a = p.parse_args(argv)
    clf = BeatClassifier(a.model, device="cpu")
    if clf.adapter is None:
        print("the shipped model has no adaptive step")
        return 1
    rec = read_record(database_dir("mitdb") / a.record, target_fs=clf.fs, on_gaps="fill")
    draws = {} if a.check_draws is None else {"check_draws": a.check_draws}
    score_record(rec, clf, compare=False)  # warm-up
    on, off, step, nocheck = [], [], [], []
    for _ in range(a.repeats):
        t = time.perf_counter()
        res = score_record(rec, clf, compare=False, adapt=False)
        off.append(time.perf_counter() - t)
        t = time.perf_counter()
        score_record(rec, clf, compare=False, **draws)
        on.append(time.perf_counter() - t)
        t = time.perf_counter()
        score_record(rec, clf, compare=False, check_draws=0)
        nocheck.append(time.perf_counter() - t)
        emb = (classify_record(clf, res.conditioned, res.sample, clf.fs, clf.window, rec.name, True)[2]
               if clf.wants_embedding() else None)  # the step alone reads the embedding output, not timed here
        t = time.perf_counter()
        clf.adapter.adapt(res.conditioned, res.sample, clf.fs, clf.window, res.proba, rec.name, emb)
        step.append(time.perf_counter() - t)
    m_on, m_off, m_step, m_nc = (statistics.median(v) for v in (on, off, step, nocheck))
    print(f"record {a.record} ({len(res.sample)} beats), median of {a.repeats}: score_record {m_off:.3f} s without "
          f"adapt, {m_on:.3f} s with (+{percent(m_on / m_off - 1, 0)} %), {m_nc:.3f} s with it but without the stability "
          f"check (the check: +{percent(m_on / m_nc - 1, 0)} %); adapt step alone {m_step:.3f} s; "
          f"clustering {clf.adapter.config.cluster_on}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
