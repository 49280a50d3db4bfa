"""The 24-hour QRS check: the 48 MIT-BIH records concatenated into one two-lead recording.

Column 0 is MLII (the first lead for 102 and 104, which have none), column 1 the other lead.
Measures the detector's wall time, its peak traced memory (``tracemalloc``, numpy allocations
included) beside the size of the signal itself and beside the peak for one 30-minute record, and
Se/+P against the concatenated reference beats.
"""
from __future__ import annotations

import json
import os
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np

from ecgdl.qrs import detect_r_peaks
from qrs_peers import load, score, summarize


def build(mitdb: Path) -> tuple[np.ndarray, float, np.ndarray, list]:
    """(n, 2) float32 signal, fs, concatenated reference beats, VF episodes (shifted)."""
    names = (mitdb / "RECORDS").read_text().split()
    sigs, refs, vfs, off, fs = [], [], [], 0, None
    for n in names:
        rec = load(mitdb / n)
        fs = rec.fs
        sigs.append(rec.signal[:, :2])
        refs.append(rec.ref + off)
        vfs.extend((a + off, b + off) for a, b in rec.vf)
        off += rec.signal.shape[0]
    return np.concatenate(sigs), float(fs), np.concatenate(refs), vfs


def _peak_traced(x: np.ndarray, fs: float) -> float:
    """Peak memory (MiB) allocated by one detect_r_peaks call, numpy arrays included."""
    tracemalloc.start()
    detect_r_peaks(x, fs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def run_long(mitdb: Path, out: Path, repeat: int = 3) -> dict:
    """Time, memory and Se/+P of ecgdl on the 24-h recording; writes out/long_24h.json."""
    x, fs, ref, vf = build(mitdb)
    detect_r_peaks(x[: int(60 * fs)], fs)                      # warm-up (filter design cache)
    times, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = detect_r_peaks(x, fs)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    s = score(ref, res.peaks, fs)
    s.pop("offsets_ms")
    e = score(ref, res.peaks, fs, exclude=tuple(vf))
    e.pop("offsets_ms")
    half_hour = x[:650000]
    result = {
        "hours": x.shape[0] / fs / 3600, "leads": int(x.shape[1]), "fs": fs,
        "seconds_median": float(np.median(times)), "seconds_all": times,
        "cpu_seconds_median": float(np.median(cpus)), "cpu_seconds_all": cpus,
        "load_average_1min": os.getloadavg()[0],
        "signal_mib": x.nbytes / 2**20,
        "peak_traced_mib_24h": _peak_traced(x, fs),
        "peak_traced_mib_30min": _peak_traced(np.ascontiguousarray(half_hour), fs),
        "max_rss_mib_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "strict": summarize([s]), "ec57": summarize([e]),
        "beats_detected": int(res.peaks.size), "reference_beats": int(ref.size),
        "unusable": len(res.unusable),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "long_24h.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result
