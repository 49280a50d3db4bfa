"""Benchmark of the prepare step: cold build of all 48 records, then the no-op on a current cache.

    python benchmarks/prepare_benchmark.py [--runs 3]

Each measurement is a whole process (`python -m ecgdl.cli prepare --cache TMP --quiet`), timed with
time.perf_counter; peak memory is the largest resident set of any process of the run (the parent and
its worker processes), from getrusage. Goals: cold <= 30 s, current <= 3 s, peak < 2 GB.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def _run(cache: str) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ecgdl.cli", "prepare", "--cache", cache, "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    peak_kb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return wall, peak_kb / 1024


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args(argv)
    cold, warm, peak = [], [], 0.0
    for _ in range(a.runs):
        with tempfile.TemporaryDirectory() as cache:
            w, m = _run(cache)
            cold.append(w)
            peak = max(peak, m)
            w, m = _run(cache)
            warm.append(w)
    print(f"cores: {os.cpu_count()}  runs: {a.runs}")
    print(f"cold (48 records from raw files): median {statistics.median(cold):.2f} s  (min {min(cold):.2f}, max {max(cold):.2f})  goal <= 30 s")
    print(f"current cache (no-op):            median {statistics.median(warm):.2f} s  (min {min(warm):.2f}, max {max(warm):.2f})  goal <= 3 s")
    print(f"peak memory of any process:       {peak:.0f} MB  goal < 2048 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
