"""QRS benchmark: ecgdl.qrs beside wfdb XQRS/GQRS and NeuroKit2 on MIT-BIH (and NSTDB, 24 h).

    python benchmarks/qrs_benchmark.py --out benchmarks/results/qrs              # all detectors, 48 records
    python benchmarks/qrs_benchmark.py --out benchmarks/results/qrs --only-ours  # fast iteration
    python benchmarks/qrs_benchmark.py --out benchmarks/results/qrs --long       # 24-h two-lead recording
    python benchmarks/qrs_benchmark.py --out benchmarks/results/qrs --nstdb      # noise stress test

Scoring: wfdb ``compare_annotations`` with window_width 55 at 360 Hz (matches strictly inside
+-150 ms) against the reference beat annotations (ecgdl.labels.BEAT_SYMBOLS, 109,494 on MIT-BIH).
"strict" counts every record in full; "EC57" also removes the VF/VFL episodes of record 207
('[' to ']', flutter waves are not beats) from reference and detections, as ANSI/AAMI EC57 does.
Time: the detector call only (file reading excluded), wall clock, ``time.perf_counter``.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ecgdl.paths import data_dir  # noqa: E402
from qrs_long import run_long  # noqa: E402
from qrs_peers import DETECTORS, load, score, summarize, timed  # noqa: E402

NSTDB_RECORDS = [f"{r}e{s}" for r in ("118", "119") for s in ("24", "18", "12", "06", "00", "_6")]


def run_records(paths: list[Path], detectors: list[str], repeat: int) -> list[dict]:
    """Per-record, per-detector rows: tp/fn/fp (strict and EC57), offsets, seconds."""
    rows = []
    for path in paths:
        rec = load(path)
        for name in detectors:
            peaks, sec, cpu = timed(DETECTORS[name], rec, repeat if name.startswith("ecgdl") else 1)
            s = score(rec.ref, peaks, rec.fs)
            e = score(rec.ref, peaks, rec.fs, exclude=rec.vf)
            off = s.pop("offsets_ms")
            e.pop("offsets_ms")
            rows.append({"record": rec.name, "detector": name, **s,
                         "ec57_tp": e["tp"], "ec57_fn": e["fn"], "ec57_fp": e["fp"],
                         "median_offset_ms": float(np.median(off)) if off.size else float("nan"),
                         "median_abs_offset_ms": float(np.median(np.abs(off))) if off.size else float("nan"),
                         "offsets": off, "seconds": sec, "cpu_seconds": cpu})
            print(f"{rec.name} {name:20s} tp={s['tp']} fn={s['fn']} fp={s['fp']} {sec:.3f}s "
                  f"(cpu {cpu:.3f}s)", flush=True)
    return rows


def detector_summary(rows: list[dict], name: str) -> dict:
    """Pooled strict and EC57 scores, offsets, times and the worst records of one detector."""
    mine = [r for r in rows if r["detector"] == name]
    strict = summarize(mine)
    ec57 = summarize([{"tp": r["ec57_tp"], "fn": r["ec57_fn"], "fp": r["ec57_fp"]} for r in mine])
    off = np.concatenate([r["offsets"] for r in mine]) if mine else np.zeros(0)
    worst = sorted(mine, key=lambda r: -(r["fn"] + r["fp"]))[:5]
    return {"detector": name, "records": len(mine), **strict,
            "ec57": {k: ec57[k] for k in ("tp", "fn", "fp", "se", "ppv", "f1")},
            "median_offset_ms": float(np.median(off)) if off.size else None,
            "median_abs_offset_ms": float(np.median(np.abs(off))) if off.size else None,
            "p95_abs_offset_ms": float(np.percentile(np.abs(off), 95)) if off.size else None,
            "median_s_per_record": float(np.median([r["seconds"] for r in mine])),
            "median_cpu_s_per_record": float(np.median([r["cpu_seconds"] for r in mine])),
            "total_s": float(sum(r["seconds"] for r in mine)),
            "worst": [f"{r['record']} ({r['fn']} FN, {r['fp']} FP)" for r in worst]}


def markdown(summaries: list[dict]) -> str:
    """The results table; ratios are each detector's median time over ecgdl's."""
    base = next((s for s in summaries if s["detector"] == "ecgdl"), None)
    lines = ["| detector | Se % | +P % | F1 % | Se % EC57 | +P % EC57 | median offset ms "
             "| median abs offset ms | median s/record (wall) | wall vs ecgdl | median CPU s/record "
             "| CPU vs ecgdl | worst 5 records (FN, FP) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        ratio = s["median_s_per_record"] / base["median_s_per_record"] if base else float("nan")
        cratio = (s["median_cpu_s_per_record"] / base["median_cpu_s_per_record"]
                  if base and base["median_cpu_s_per_record"] > 0 else float("nan"))
        lines.append(f"| {s['detector']} | {s['se']:.2f} | {s['ppv']:.2f} | {s['f1']:.2f} | "
                     f"{s['ec57']['se']:.2f} | {s['ec57']['ppv']:.2f} | {s['median_offset_ms']:.1f} | "
                     f"{s['median_abs_offset_ms']:.1f} | {s['median_s_per_record']:.4f} | {ratio:.1f}x | "
                     f"{s['median_cpu_s_per_record']:.4f} | {cratio:.1f}x | "
                     f"{'; '.join(s['worst'])} |")
    return "\n".join(lines) + "\n"


def nstdb_markdown(rows: list[dict], detectors: list[str]) -> str:
    """Se/+P per NSTDB record (noise level), one column pair per detector."""
    head = "| record | SNR dB | " + " | ".join(f"{d} Se % | {d} +P %" for d in detectors) + " |"
    lines = [head, "|" + "---|" * (2 + 2 * len(detectors))]
    for name in NSTDB_RECORDS:
        cells = []
        for d in detectors:
            r = next((r for r in rows if r["record"] == name and r["detector"] == d), None)
            if r is None:
                cells += ["", ""]
                continue
            s = summarize([r])
            cells += [f"{s['se']:.2f}", f"{s['ppv']:.2f}"]
        snr = name[4:].replace("_", "-")
        lines.append(f"| {name} | {int(snr)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write(out: Path, stem: str, rows: list[dict], summaries: list[dict]) -> None:
    """Write <stem>_records.csv, <stem>_summary.json and <stem>_table.md under out."""
    out.mkdir(parents=True, exist_ok=True)
    fields = [k for k in rows[0] if k != "offsets"]
    with open(out / f"{stem}_records.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: (round(v, 5) if isinstance(v, float) else v) for k, v in r.items() if k != "offsets"})
    (out / f"{stem}_summary.json").write_text(json.dumps(summaries, indent=1) + "\n")
    (out / f"{stem}_table.md").write_text(markdown(summaries))
    print(markdown(summaries))


def main(argv: list[str] | None = None) -> int:
    """Command line entry point (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/qrs"))
    ap.add_argument("--data", type=Path, default=None, help="folder holding mitdb/ and nstdb/")
    ap.add_argument("--only-ours", action="store_true", help="run ecgdl only (both leads and lead 0)")
    ap.add_argument("--detectors", nargs="*", default=None, choices=sorted(DETECTORS))
    ap.add_argument("--records", nargs="*", default=None, help="MIT-BIH record names (default: all 48)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of ecgdl per record (median)")
    ap.add_argument("--long", action="store_true", help="24-h recording: the 48 records concatenated")
    ap.add_argument("--nstdb", action="store_true", help="NSTDB 118e*/119e*: ecgdl beside XQRS")
    args = ap.parse_args(argv)
    data = args.data or data_dir()
    mitdb = data / "mitdb"
    detectors = args.detectors or (["ecgdl", "ecgdl_lead0"] if args.only_ours else list(DETECTORS))
    if args.long:
        run_long(mitdb, args.out)
        return 0
    if args.nstdb:
        names, stem = NSTDB_RECORDS, "nstdb"
        folder = data / "nstdb"
        if not args.detectors:
            detectors = ["ecgdl"] if args.only_ours else ["ecgdl", "wfdb_xqrs"]
    else:
        names = args.records or (mitdb / "RECORDS").read_text().split()
        folder, stem = mitdb, ("mitdb" if not args.only_ours else "mitdb_ours")
    rows = run_records([folder / n for n in names], detectors, args.repeat)
    write(args.out, stem, rows, [detector_summary(rows, d) for d in detectors])
    if args.nstdb:
        table = nstdb_markdown(rows, detectors)
        (args.out / "nstdb_levels.md").write_text(table)
        print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
