"""The no-ECG check's cues (ecgdl.ecg_presence) over scored folders: per folder the lowest QRS
contrast and R-wave width, and the records where the check fired.

    ecgdl score ../shared/data/mitdb --out /tmp/s48 --reference
    ecgdl score ../shared/data/nstdb --out /tmp/snst --reference
    python benchmarks/ecg_presence_table.py /tmp/s48 /tmp/snst [--all]

Reads each ``<record>.summary.json``'s ``quality.ecg`` and ``warnings``; prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def folder_rows(folder: Path) -> list[dict]:
    """One dict per scored record: name, contrast, width, segments, verdict, fired (warning present)."""
    rows = []
    for f in sorted(folder.glob("*.summary.json")):
        s = json.loads(f.read_text())
        e = (s.get("quality") or {}).get("ecg") or {}
        rows.append({"record": f.name.split(".")[0], "contrast": e.get("qrs_contrast"), "width": e.get("r_width_ms"),
                     "segments": e.get("segments"), "ecg_found": e.get("ecg_found"), "beats": s.get("beats"),
                     "fired": any(w.startswith("no ECG found") for w in s.get("warnings", []))})
    return rows


def _lowest(rows: list[dict], key: str) -> str:
    judged = [r for r in rows if r[key] is not None]
    if not judged:
        return "-"
    r = min(judged, key=lambda r: r[key])
    return f"{r[key]:g} ({r['record']})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path, help="ecgdl score --out folders")
    ap.add_argument("--all", action="store_true", help="also one line per record")
    args = ap.parse_args(argv)
    print("| folder | records | fired | not judged | lowest contrast | lowest width ms |")
    print("|---|---:|---:|---:|---|---|")
    for d in args.folders:
        rows = folder_rows(d)
        fired = [r["record"] for r in rows if r["fired"]]
        print(f"| {d} | {len(rows)} | {len(fired)} {' '.join(fired)} | {sum(r['ecg_found'] is None for r in rows)} | "
              f"{_lowest(rows, 'contrast')} | {_lowest(rows, 'width')} |")
    if args.all:
        for d in args.folders:
            for r in folder_rows(d):
                print(f"{d.name} {r['record']}: contrast {r['contrast']} width {r['width']} segments {r['segments']} "
                      f"beats {r['beats']} ecg_found {r['ecg_found']} fired {r['fired']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
