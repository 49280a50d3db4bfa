"""Cost of the adaptive step: in-process ``score_record`` with and without it on a 30-minute record.

    python benchmarks/adapt_cost.py [--record 208] [--repeats 5]

Prints the median seconds of each (runs interleaved, so a drift in machine speed hits both) and their
ratio, plus the adapt step alone on the record's beats. Plain Python timing (``time.perf_counter``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from ecgdl.infer import BeatClassifier, score_record
from ecgdl.io import read_record
from ecgdl.metrics import percent
from ecgdl.paths import database_dir


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--record", default="208")
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args(argv)
    clf = BeatClassifier(device="cpu")
    if clf.adapter is None:
        print("the shipped model has no adaptive step")
        return 1
    rec = read_record(database_dir("mitdb") / a.record, target_fs=clf.fs, on_gaps="fill")
    score_record(rec, clf, compare=False)  # warm-up
    on, off, step = [], [], []
    for _ in range(a.repeats):
        t = time.perf_counter()
        res = score_record(rec, clf, compare=False, adapt=False)
        off.append(time.perf_counter() - t)
        t = time.perf_counter()
        score_record(rec, clf, compare=False)
        on.append(time.perf_counter() - t)
        t = time.perf_counter()
        clf.adapter.adapt(res.conditioned, res.sample, clf.fs, clf.window, res.proba, rec.name)
        step.append(time.perf_counter() - t)
    m_on, m_off, m_step = (statistics.median(v) for v in (on, off, step))
    print(f"record {a.record} ({len(res.sample)} beats), median of {a.repeats}: score_record {m_off:.3f} s without "
          f"adapt, {m_on:.3f} s with (+{percent(m_on / m_off - 1, 0)} %); adapt step alone {m_step:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
