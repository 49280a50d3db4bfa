"""Do two versions of the detector give the very same outputs? (a speed change that claims "bit-identical")

    python benchmarks/qrs_identity.py --code /path/to/other/checkout
    python benchmarks/qrs_identity.py --code OLD --folders ../shared/data/mitdb /tmp/mitdb_128hz ../shared/data/nstdb

Each version (this checkout and ``--code``) runs ``detect_r_peaks`` in its own process, on every
record of the folders (numbered records of each ``RECORDS`` file; ``choose_lead`` where the primary
lead is not a standard one, as ``benchmarks/qrs_benchmark.py`` does), and the outputs are compared
field by field: peaks, VF/VFL ranges, undetected gaps, unusable ranges, the quality index (bytes),
beats per segment and unreadable ranges. Prints each difference and exits 1 if there is any.
"""
from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIELDS = ("peaks", "vf", "undetected", "unusable", "quality_index", "quality_beats", "unreadable")


def dump(code: Path, folders: list[Path], out: Path) -> None:
    """Run one version's detector on every record and pickle its outputs to out."""
    sys.path.insert(0, str(code.resolve()))
    sys.path.insert(1, str(HERE))
    import numpy as np
    import ecgdl.qrs as qrs
    from qrs_peers import load
    res = {}
    for folder in folders:
        for name in [r for r in (folder / "RECORDS").read_text().split() if r[:1].isdigit()]:
            rec = load(folder / name)
            r = qrs.detect_r_peaks(rec.signal, rec.fs, choose_lead=not rec.named_primary)
            q = r.quality
            res[f"{folder}/{name}"] = (r.peaks.tolist(), r.vf, r.undetected, r.unusable,
                                       np.asarray(q.index).tobytes(), np.asarray(q.beats).tobytes(), q.unreadable)
    out.write_bytes(pickle.dumps({"code": str(Path(qrs.__file__).parent.parent), "records": res}))


def compare(a: dict, b: dict) -> list[str]:
    """One line per differing (record, field), and per record present in one only."""
    lines = [f"{k}: only in {a['code'] if k in a['records'] else b['code']}"
             for k in sorted(set(a["records"]) ^ set(b["records"]))]
    for k in sorted(set(a["records"]) & set(b["records"])):
        for name, x, y in zip(FIELDS, a["records"][k], b["records"][k]):
            if x != y:
                extra = f" ({len(set(x) - set(y))} / {len(set(y) - set(x))} peaks in one only)" if name == "peaks" else ""
                lines.append(f"{k}: {name} differs{extra}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command line entry point (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--code", type=Path, required=True, help="the other checkout")
    ap.add_argument("--folders", type=Path, nargs="+", default=None,
                    help="record folders (default: the MIT-BIH and NSTDB folders of the data directory)")
    ap.add_argument("--dump", type=Path, default=None, help=argparse.SUPPRESS)   # internal: one version's run
    args = ap.parse_args(argv)
    if args.dump is not None:
        dump(args.code, args.folders, args.dump)
        return 0
    if args.folders is None:
        sys.path.insert(0, str(HERE.parent))
        from ecgdl.paths import data_dir
        args.folders = [data_dir() / "mitdb", data_dir() / "nstdb"]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, code in enumerate((HERE.parent, args.code)):
            out = Path(tmp) / f"{i}.pkl"
            subprocess.run([sys.executable, __file__, "--code", str(code), "--dump", str(out), "--folders",
                            *map(str, args.folders)], check=True)
            runs.append(pickle.loads(out.read_bytes()))
    diff = compare(*runs)
    print("\n".join(diff) if diff else
          f"identical: {len(runs[0]['records'])} records, {runs[0]['code']} vs {runs[1]['code']}")
    return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main())
