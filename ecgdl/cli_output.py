"""What ``ecgdl score`` and ``ecgdl demo`` print on stdout: plain text for people, ``--json`` for scripts.

Human-facing times are given as seconds and as clock time (``hh:mm:ss`` from the header's base time,
:mod:`ecgdl.clock`); percentages are printed as ``%``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ecgdl.clock import format_duration
from ecgdl.metrics import percent
from ecgdl.run_folder import printable


def record_line(row: dict) -> str:
    """One line per record of a run: beats per class, heart rate, where the recording starts."""
    if row.get("status") == "error":
        return f"{row['record']}: FAILED ({row.get('error', '')})"
    counts = " ".join(f"{c} {row[c]}" for c in ("N", "S", "V", "F", "Q") if c in row)
    start = f", starts {row['start_time']}" if row.get("start_time") else ""
    dur = row.get("duration_s") or 0.0
    return (f"{row['record']}: {row.get('beats')} beats ({counts}), mean HR {row.get('hr_mean_bpm')} bpm, "
            f"{dur:.0f} s ({format_duration(dur)}){start}" + (" [already done]" if row.get("status") == "skipped" else ""))


def run_json(result, cfg) -> dict:
    """The run as one JSON object: counts, provider, every record's summary.csv row, the reference totals."""
    rows = result.rows
    return {"out": str(cfg.out), "provider": result.provider,
            "scored": _count(result, "ok"), "skipped": _count(result, "skipped"),
            "failed": [{"path": p, "error": e} for p, e in result.failures], "records": rows,
            "reference": result.reference}


def _count(result, status: str) -> int:
    """Records of the run with this outcome (``ok`` scored now, ``skipped`` reused, ``error``)."""
    return sum(o.status == status for o in result.outcomes)


def print_score(result, cfg, *, as_json: bool = False) -> None:
    """The run on stdout: one line per record and the totals, or :func:`run_json`."""
    from ecgdl.run_table import reference_table

    if as_json:
        json.dump(run_json(result, cfg), sys.stdout, indent=1, default=str)
        print()
        return
    for row, outcome in zip(result.rows, result.outcomes):
        print(printable(record_line({**row, "status": outcome.status})))
    warned = sum(bool(o.summary is not None and o.summary.scoring.get("warnings")) for o in result.outcomes)
    print(printable(f"{_count(result, 'ok')} scored, {_count(result, 'skipped')} already done, "
                    f"{len(result.failures)} failed, {warned} with warnings -> {cfg.out} (provider {result.provider})"))
    if result.reference is not None:
        print(reference_table(result.reference))


def print_demo(record: Path, out: Path) -> int:
    """Score ``record`` into ``out`` with the reference comparison and print its rhythm summary."""
    from ecgdl.batch import BatchConfig, score_batch
    from ecgdl.rhythm import describe

    result = score_batch([record], BatchConfig(out=out, reference=True, progress=False, force=True))
    if result.failures:
        print(f"FAILED {result.failures[0][0]}: {result.failures[0][1]}", file=sys.stderr)
        return 1
    summary = result.outcomes[0].summary.to_dict()
    print(describe(summary))
    ref = summary.get("reference")
    if ref:
        print(f"Against the cardiologists' annotations (150 ms): QRS Se {percent(ref['matched'] / ref['reference_beats'], 2)} %; "
              + ", ".join(f"{c} Se {percent(m['se'])} % +P {percent(m['ppv'])} %" for c, m in ref["per_class"].items()
                          if m["se"] is not None and m["ppv"] is not None))
    written = sorted(p.name + ("/" if p.is_dir() else "") for p in out.iterdir() if not p.name.startswith("."))
    print(f"Files written in {out}: {', '.join(written)}")
    return 0
