"""Lead-choice accuracy of :func:`ecgdl.leads.choose_leads` on MIT-BIH records delivered as an unknown
recorder would (leads named ECG1/ECG2): original order, swapped, inverted, swapped + inverted, and
each lead alone, at 360 Hz and after a round trip through 128 Hz (what the reader does with a 128 Hz
file). The truth comes from the real names (MLII; V5 for 102/104, which have no MLII).

    python benchmarks/lead_orientation.py [--records 100 101 ...] [--rates 360 128] [--json out.json]

Two-lead variants: "order" = the MLII channel read as primary, "polarity" = its inversion undone,
"both" = the two together. One lead alone: the share of MLII-alone calls read upright (polarity),
and for the precordial lead alone how often it is flagged as not limb-like (the warning) and how
often it is flipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ecgdl.io import Record, read_record
from ecgdl.leads import choose_leads
from ecgdl.paths import data_dir
from ecgdl.signal import resample

VARIANTS = {"original": (False, False), "swapped": (True, False), "inverted": (False, True),
            "swapped+inverted": (True, True)}


def as_unknown(rec: Record, x: np.ndarray) -> Record:
    """``x`` as a record whose leads are named ECG1, ECG2..."""
    return Record(name=rec.name, signal=np.ascontiguousarray(x, np.float32), fs=rec.fs,
                  leads=tuple(f"ECG{i + 1}" for i in range(x.shape[1])), source_fs=rec.fs)


def one_record(rec: Record) -> dict:
    """Every variant of ``rec``: the choice made and whether it is right."""
    mlii = rec.primary_lead()
    out = {}
    for name, (swap, inv) in VARIANTS.items():
        x = rec.signal[:, ::-1] if swap else rec.signal
        c = choose_leads(as_unknown(rec, -x if inv else x))
        truth = 1 - mlii if swap else mlii
        out[name] = {"order": c.order[0] == truth, "polarity": c.invert[0] == inv, "second": c.invert[1] == inv,
                     "confidence": c.confidence}
    for k, label in ((mlii, "mlii_alone"), (1 - mlii, "v_alone")):
        for inv in (False, True):
            x = rec.signal[:, [k]]
            c = choose_leads(as_unknown(rec, -x if inv else x))
            out[f"{label}{'_inverted' if inv else ''}"] = {"flipped": c.invert[0], "polarity": c.invert[0] == inv,
                                                           "warned": "precordial" in c.text or c.confidence < 0.8,
                                                           "confidence": c.confidence}
    return out


def at_rate(rec: Record, rate: float) -> Record:
    if rate == rec.fs:
        return rec
    x = resample(resample(rec.signal, rec.fs, rate), rate, rec.fs)
    return Record(**{**rec.__dict__, "signal": np.ascontiguousarray(x, np.float32)})


def table(results: dict) -> str:
    """Markdown: per rate and variant, the share right (and the records wrong)."""
    lines = ["| rate | variant | order right | polarity right | both right | wrong records | second lead's polarity right |",
             "|---|---|---:|---:|---:|---|---:|"]
    for rate, per in results.items():
        for v in VARIANTS:
            rows = {r: d[v] for r, d in per.items()}
            both = [r for r, x in rows.items() if not (x["order"] and x["polarity"])]
            n = len(rows)
            lines.append(f"| {rate} Hz | {v} | {sum(x['order'] for x in rows.values())}/{n} | "
                         f"{sum(x['polarity'] for x in rows.values())}/{n} | {n - len(both)}/{n} | {' '.join(both)} | "
                         f"{sum(x['second'] for x in rows.values())}/{n} |")
        for v in ("mlii_alone", "mlii_alone_inverted", "v_alone", "v_alone_inverted"):
            rows = {r: d[v] for r, d in per.items()}
            n = len(rows)
            lines.append(f"| {rate} Hz | {v} | warned {sum(x['warned'] for x in rows.values())}/{n} | "
                         f"upright-right {sum(x['polarity'] for x in rows.values())}/{n} | "
                         f"flipped {sum(x['flipped'] for x in rows.values())}/{n} | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="mitdb folder")
    ap.add_argument("--records", nargs="*", default=None, help="default: all of RECORDS")
    ap.add_argument("--rates", nargs="*", type=float, default=[360.0, 128.0])
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    mitdb = a.data or data_dir() / "mitdb"
    records = a.records or (mitdb / "RECORDS").read_text().split()
    results: dict = {}
    t0 = time.perf_counter()
    for r in records:
        rec = read_record(mitdb / r, annotator=None)
        for rate in a.rates:
            results.setdefault(f"{rate:g}", {})[r] = one_record(at_rate(rec, rate))
        print(f"{r} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if a.json:
        a.json.write_text(json.dumps(results, indent=1, default=bool))
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
