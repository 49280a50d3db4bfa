"""Helpers for the QRS benchmark: record loading, the peer detectors, and 150 ms beat matching.

Every detector is a function ``(rec: BenchRecord) -> np.ndarray`` of R-peak sample indices; only
that call is timed (file reading excluded).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb
from wfdb.processing import compare_annotations

from ecgdl.labels import BEAT_SYMBOLS
from ecgdl.qrs import detect_r_peaks, is_standard_lead

PRIMARY = ("MLII",)


@dataclass(frozen=True)
class BenchRecord:
    """One record as the detectors see it.

    signal: (n, n_leads) float32 mV, column 0 the primary lead (MLII, else the first lead).
    d_primary: (n,) int raw ADC samples of the primary lead (for GQRS), with adc_gain/adc_zero.
    ref: (n_beats,) int64 reference beat samples; vf: [start, stop) VF/VFL episodes ('[' to ']').
    """

    name: str
    signal: np.ndarray
    fs: float
    d_primary: np.ndarray
    adc_gain: float
    adc_zero: int
    ref: np.ndarray
    vf: tuple[tuple[int, int], ...]
    named_primary: bool = True       # column 0 has a standard lead name (else: an unknown recorder's leads)


def load(path: Path) -> BenchRecord:
    """Read a WFDB record and its 'atr' beat annotations."""
    rec = wfdb.rdrecord(str(path), physical=False)
    ann = wfdb.rdann(str(path), "atr")
    names = list(rec.sig_name)
    first = next((names.index(n) for n in PRIMARY if n in names), 0)
    order = [first] + [i for i in range(len(names)) if i != first]
    d = rec.d_signal[:, order]
    gain = np.array([rec.adc_gain[i] or 200.0 for i in order], np.float64)
    base = np.array([rec.baseline[i] for i in order], np.float64)
    sig = ((d - base) / gain).astype(np.float32)
    sym = np.asarray(ann.symbol)
    samp = np.asarray(ann.sample, dtype=np.int64)
    ref = samp[np.isin(sym, sorted(BEAT_SYMBOLS))]
    starts, stops = samp[sym == "["], samp[sym == "]"]
    vf = tuple((int(a), int(stops[stops > a][0]) if (stops > a).any() else sig.shape[0]) for a in starts)
    return BenchRecord(str(rec.record_name), sig, float(rec.fs), d[:, 0].copy(), float(gain[0]),
                       int(rec.adc_zero[order[0]]), ref, vf, is_standard_lead(names[first]))


# ----------------------------------------------------------------------------- detectors


def ours(rec: BenchRecord) -> np.ndarray:
    """ecgdl.qrs on all leads (column 0 = primary; chosen per chunk when no lead is named MLII)."""
    return detect_r_peaks(rec.signal, rec.fs, choose_lead=not rec.named_primary).peaks


def ours_one_lead(rec: BenchRecord) -> np.ndarray:
    """ecgdl.qrs on the primary lead only."""
    return detect_r_peaks(rec.signal[:, 0], rec.fs).peaks


def xqrs(rec: BenchRecord) -> np.ndarray:
    """wfdb XQRS on the primary lead (mV)."""
    from wfdb.processing import xqrs_detect
    return np.asarray(xqrs_detect(rec.signal[:, 0].astype(np.float64), fs=rec.fs, verbose=False))


def gqrs(rec: BenchRecord) -> np.ndarray:
    """wfdb GQRS on the primary lead's raw ADC samples with its gain and zero."""
    from wfdb.processing import gqrs_detect
    return np.asarray(gqrs_detect(d_sig=rec.d_primary, fs=rec.fs, adc_gain=rec.adc_gain,
                                  adc_zero=rec.adc_zero))


def _neurokit(method: str):
    """NeuroKit2 ecg_clean + ecg_peaks with the same method, on the primary lead."""
    def detect(rec: BenchRecord) -> np.ndarray:
        import neurokit2 as nk
        x = rec.signal[:, 0].astype(np.float64)
        clean = nk.ecg_clean(x, sampling_rate=rec.fs, method=method)
        _, info = nk.ecg_peaks(clean, sampling_rate=rec.fs, method=method)
        return np.asarray(info["ECG_R_Peaks"])
    detect.__name__ = f"nk_{method}"
    return detect


DETECTORS = {
    "ecgdl": ours,
    "ecgdl_lead0": ours_one_lead,
    "wfdb_xqrs": xqrs,
    "wfdb_gqrs": gqrs,
    "nk_pantompkins1985": _neurokit("pantompkins1985"),
    "nk_neurokit": _neurokit("neurokit"),
}


def timed(detect, rec: BenchRecord, repeat: int = 1) -> tuple[np.ndarray, float, float]:
    """Run a detector ``repeat`` times: peaks of the last run, median wall and median CPU seconds.

    CPU time (``time.process_time``) is what the call costs this process; on a machine shared with
    other jobs the wall time also counts the waits for a core.
    """
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        peaks = detect(rec)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    peaks = np.unique(np.asarray(peaks, dtype=np.int64))
    return peaks, float(np.median(walls)), float(np.median(cpus))


# ----------------------------------------------------------------------------- scoring


def window_samples(fs: float, tol_s: float = 0.15) -> int:
    """compare_annotations matches strictly inside window_width: +-tol_s -> int(tol_s*fs)+1 (55 at 360 Hz)."""
    return int(np.floor(tol_s * fs + 1e-9)) + 1


def score(ref: np.ndarray, test: np.ndarray, fs: float, tol_s: float = 0.15,
          exclude: tuple[tuple[int, int], ...] = ()) -> dict:
    """TP/FN/FP and matched offsets (test - ref, ms) with wfdb's compare_annotations.

    exclude: [start, stop) ranges removed from both reference and test (EC57 excludes VF episodes).
    """
    ref = np.asarray(ref, np.int64)
    test = np.asarray(test, np.int64)
    for a, b in exclude:
        ref = ref[(ref < a) | (ref >= b)]
        test = test[(test < a) | (test >= b)]
    if ref.size == 0 or test.size == 0:
        return {"tp": 0, "fn": int(ref.size), "fp": int(test.size), "offsets_ms": np.zeros(0)}
    cmp = compare_annotations(ref, test, window_samples(fs, tol_s))
    m = np.asarray(cmp.matching_sample_nums)
    ok = m >= 0
    off = (test[m[ok]] - ref[ok]) / fs * 1e3
    return {"tp": int(cmp.tp), "fn": int(cmp.fn), "fp": int(cmp.fp), "offsets_ms": off}


def summarize(rows: list[dict]) -> dict:
    """Pooled Se, +P, F1 (%) from per-record rows with tp/fn/fp."""
    tp = sum(r["tp"] for r in rows)
    fn = sum(r["fn"] for r in rows)
    fp = sum(r["fp"] for r in rows)
    se = 100.0 * tp / max(tp + fn, 1)
    pp = 100.0 * tp / max(tp + fp, 1)
    f1 = 2 * se * pp / max(se + pp, 1e-12)
    return {"tp": tp, "fn": fn, "fp": fp, "se": se, "ppv": pp, "f1": f1}
