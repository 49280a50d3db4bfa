"""Per-record markdown table from a QRS benchmark run (for docs/qrs.md).

    python benchmarks/qrs_report.py benchmarks/results/qrs/mitdb_records.csv > benchmarks/results/qrs/per_record.md
"""
from __future__ import annotations

import csv
import sys
from collections import defaultdict


def per_record(path: str, main: str = "ecgdl") -> str:
    """Markdown table: one row per record, main detector in full, the others as Se/+P."""
    rows = list(csv.DictReader(open(path)))
    by = defaultdict(dict)
    for r in rows:
        by[r["record"]][r["detector"]] = r
    peers = [d for d in dict.fromkeys(r["detector"] for r in rows) if d != main]
    head = (f"| record | beats | {main} FN | {main} FP | {main} Se % | {main} +P % | median offset ms | "
            f"{main} s | " + " | ".join(f"{p} Se/+P" for p in peers) + " |")
    lines = [head, "|" + "---|" * (8 + len(peers))]
    for rec in sorted(by):
        r = by[rec][main]
        tp, fn, fp = int(r["tp"]), int(r["fn"]), int(r["fp"])
        cells = [rec, str(tp + fn), str(fn), str(fp), f"{100 * tp / max(tp + fn, 1):.2f}",
                 f"{100 * tp / max(tp + fp, 1):.2f}", f"{float(r['median_offset_ms']):.1f}",
                 f"{float(r['seconds']):.3f}"]
        for p in peers:
            q = by[rec].get(p)
            if q is None:
                cells.append("")
                continue
            tp, fn, fp = int(q["tp"]), int(q["fn"]), int(q["fp"])
            cells.append(f"{100 * tp / max(tp + fn, 1):.2f} / {100 * tp / max(tp + fp, 1):.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(per_record(sys.argv[1], *(sys.argv[2:3] or [])))
