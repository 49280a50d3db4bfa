"""Are flutter RR intervals multiples of one atrial cycle? A look on DS1's only flutter (203) and AF (201, 203).

    python benchmarks/afl_rr_quantisation.py [--records 203 201]

In atrial flutter with variable AV block the ventricular RR intervals are near-integer multiples (>= 2) of the
flutter cycle (0.16-0.32 s); in AF they are not. Per 24-RR window of reference N-N intervals (>= 90 % N beats), the
quantisation index min over T in 0.16-0.32 s of mean(((RR - k T) / T)^2), k = max(round(RR / T), 2): ~0 for quantised RR,
about 0.06 for RR uniform at random (printed beside). Prints the median and lower quartile per reference rhythm.
Reference annotations are read (it is a look at DS1, not a detector); DS2 is never read.
"""
from __future__ import annotations

import argparse

import numpy as np

from ecgdl.paths import database_dir
from ecgdl.splits import assert_no_test_records

CYCLES = np.arange(0.16, 0.32, 0.0025)
BEATS = "NLRBAaJSVrFejnE/fQ?"


def quantisation(rr: np.ndarray) -> float:
    best = 1.0
    for t in CYCLES:
        k = np.maximum(np.round(rr / t), 2)
        best = min(best, float(np.mean(((rr - k * t) / t) ** 2)))
    return best


def main(argv=None) -> int:
    import wfdb

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", nargs="+", default=["203", "201"])
    a = p.parse_args(argv)
    assert_no_test_records(a.records)
    for rec in a.records:
        ann = wfdb.rdann(str(database_dir("mitdb") / rec), "atr")
        keep = [i for i, s in enumerate(ann.symbol) if s in BEATS]
        t = ann.sample[keep] / ann.fs
        sym = np.array(ann.symbol)[keep]
        changes = [(s, n.strip("\x00").strip()) for s, n in zip(ann.sample, ann.aux_note) if n.strip("\x00").startswith("(")]
        rhythm, k, cur = [], 0, "(N"
        for s in ann.sample[keep]:
            while k < len(changes) and changes[k][0] <= s:
                cur, k = changes[k][1], k + 1
            rhythm.append(cur)
        rr, nn = np.diff(t), (sym[1:] == "N") & (sym[:-1] == "N")
        out: dict[str, list[float]] = {}
        for i in range(0, len(rr) - 24, 12):
            sl = slice(i, i + 24)
            if nn[sl].mean() >= 0.9:
                out.setdefault(rhythm[i + 12], []).append(quantisation(rr[sl][nn[sl]]))
        print(rec, "  ".join(f"{r}: n {len(v)}, median {np.median(v):.4f}, q25 {np.percentile(v, 25):.4f}"
                            for r, v in sorted(out.items())))
    rand = [quantisation(np.random.default_rng(i).uniform(0.4, 1.0, 24)) for i in range(50)]
    print(f"RR uniform at random (0.4-1.0 s): median {np.median(rand):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
