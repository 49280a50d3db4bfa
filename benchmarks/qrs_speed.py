"""Detector speed, side by side: a 30-min record and the 24-h two-lead recording, detector calls only.

    python benchmarks/qrs_speed.py --what 30min --repeat 40
    python benchmarks/qrs_speed.py --what 24h --repeat 3 --cache /tmp/mitdb_24h.npy
    python benchmarks/qrs_speed.py --code /path/to/other/checkout ...   # time another version's ecgdl

``--code`` puts another checkout first on ``sys.path`` so the same command times two versions
of ``ecgdl.qrs`` (run them alternately under a whole-process timer such as ``/usr/bin/time -v``,
or compare the in-process figures printed here: median CPU and wall seconds per call).
The 30-min record is MIT-BIH 203 (the busiest: multiform PVCs, VT, noise), both leads.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _read(path: Path) -> tuple[np.ndarray, float]:
    """(n, 2) float32 mV, MLII (else the first lead) in column 0, and fs (wfdb only: any ecgdl version)."""
    import wfdb
    rec = wfdb.rdrecord(str(path))
    names = list(rec.sig_name)
    first = names.index("MLII") if "MLII" in names else 0
    return rec.p_signal[:, [first, 1 - first]].astype(np.float32), float(rec.fs)


def _signal(what: str, mitdb: Path, cache: Path | None) -> tuple[np.ndarray, float]:
    """(n, 2) float32 signal and fs: record 203, or the 48 records concatenated (cached as .npy)."""
    if what == "30min":
        return _read(mitdb / "203")
    if cache is not None and cache.is_file():
        return np.load(cache), 360.0
    parts = [_read(mitdb / n)[0] for n in (mitdb / "RECORDS").read_text().split()]
    x = np.concatenate(parts)
    if cache is not None:
        np.save(cache, x)
    return x, 360.0


def timing_args(doc: str, repeat: int) -> argparse.ArgumentParser:
    """The options the detector timing scripts share: --repeat, --code (the checkout timed), --data, --cache."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=repeat)
    ap.add_argument("--code", type=Path, default=HERE.parent, help="checkout whose ecgdl is timed")
    ap.add_argument("--data", type=Path, default=None, help="folder holding mitdb/")
    ap.add_argument("--cache", type=Path, default=None, help="24h: .npy file caching the concatenated signal")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Command line entry point (see the module docstring)."""
    ap = timing_args(__doc__, repeat=20)
    ap.add_argument("--what", choices=("30min", "24h"), default="30min")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(args.code.resolve()))
    from ecgdl.paths import data_dir
    from ecgdl.qrs import detect_r_peaks
    x, fs = _signal(args.what, (args.data or data_dir()) / "mitdb", args.cache)
    detect_r_peaks(x[: int(60 * fs)], fs)                       # warm-up (filter design caches)
    walls, cpus = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = detect_r_peaks(x, fs)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    import ecgdl.qrs
    print(json.dumps({"what": args.what, "code": str(Path(ecgdl.qrs.__file__).parent.parent),
                      "repeat": args.repeat, "beats": int(res.peaks.size),
                      "median_wall_s": float(np.median(walls)), "median_cpu_s": float(np.median(cpus))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
