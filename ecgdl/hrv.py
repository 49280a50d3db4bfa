"""Heart-rate variability over normal-to-normal (N-N) intervals: time domain and 5-minute LF/HF.

numpy only (the scoring path imports no scipy); the definitions follow the Task Force of the ESC
and NASPE (1996) and NeuroKit2's ``hrv_time``/``hrv_frequency``, against which ``tests/test_hrv.py``
checks them (within 1 %) on MIT-BIH records.

N-N intervals: RR intervals between two consecutive N beats, with every ectopic (non-N) beat and its
two neighbours left out (the intervals touching them are dropped), intervals outside
``[min_rr_s, max_rr_s]`` dropped, and beats flagged in ``exclude`` (e.g. inside AF) left out.
Successive differences use adjacent N-N intervals only.

* ``sdnn_ms``, ``rmssd_ms``, ``pnn50_pct`` (share of successive differences > 50 ms),
  ``sdann_ms`` (std of the mean N-N of 5-min segments; needs 3 segments), ``hti`` (N-N count /
  height of the histogram with 1/128-s bins).
* ``lf_ms2``, ``hf_ms2``, ``lf_hf``: per 5-min segment, the N-N series (ms) interpolated at 4 Hz
  (quadratic), mean removed, Welch PSD (Hann, segments of half the series, 2x zero padding),
  power integrated (trapezoid) over 0.04-0.15 Hz and 0.15-0.4 Hz; the summary gives the mean over
  segments with at least ``min_segment_nn`` intervals.

>>> rr = 0.8 + 0.05 * np.sin(np.arange(400) * 2 * np.pi * 0.25 * 0.8)   # 0.25-Hz respiratory modulation
>>> s = np.r_[0, np.cumsum(rr)] * 360
>>> h = hrv(s.astype(int), np.full(401, "N"), 360.0)
>>> h["hf_ms2"] > h["lf_ms2"]
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class HRVConfig:
    """N-N selection and spectral parameters (seconds, Hz)."""

    min_rr_s: float = 0.3
    max_rr_s: float = 2.0
    segment_s: float = 300.0
    interp_hz: float = 4.0          # Kubios convention (NeuroKit2: interpolation_rate=4)
    lf_band: tuple[float, float] = (0.04, 0.15)
    hf_band: tuple[float, float] = (0.15, 0.4)
    min_segment_nn: int = 100
    normal_class: str = "N"


def nn_intervals(sample, label, fs: float, exclude: np.ndarray | None = None,
                 cfg: HRVConfig = HRVConfig()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(nn_ms, t_s, successive)``: N-N intervals (ms), the time of each interval's end beat (s),
    and whether each interval directly follows the previous kept one (for successive differences)."""
    sample = np.asarray(sample, np.int64)
    label = np.asarray(label).astype(str)
    bad = label != cfg.normal_class
    if exclude is not None:
        bad = bad | np.asarray(exclude, bool)
    near = bad | np.r_[bad[1:], False] | np.r_[False, bad[:-1]]  # ectopic beats and their neighbours
    rr = np.diff(sample) / fs
    keep = ~near[:-1] & ~near[1:] & (rr >= cfg.min_rr_s) & (rr <= cfg.max_rr_s)
    idx = np.flatnonzero(keep)
    successive = np.r_[False, np.diff(idx) == 1]
    return rr[idx] * 1000.0, sample[idx + 1] / fs, successive


def time_domain(nn_ms: np.ndarray, t_s: np.ndarray, successive: np.ndarray, cfg: HRVConfig = HRVConfig()) -> dict:
    """SDNN, RMSSD, pNN50, SDANN and HRV triangular index of N-N intervals (``nn_intervals``)."""
    out = {"nn_count": int(len(nn_ms)), "mean_nn_ms": None, "sdnn_ms": None, "rmssd_ms": None,
           "pnn50_pct": None, "sdann_ms": None, "hti": None}
    if len(nn_ms) < 3:
        return out
    d = np.diff(nn_ms)[successive[1:]]
    out["mean_nn_ms"] = float(np.mean(nn_ms))
    out["sdnn_ms"] = float(np.std(nn_ms, ddof=1))
    if len(d):
        out["rmssd_ms"] = float(np.sqrt(np.mean(d ** 2)))
        out["pnn50_pct"] = float(100.0 * np.mean(np.abs(d) > 50.0))
    out["sdann_ms"] = _sdann(nn_ms, t_s, cfg.segment_s)
    bins = np.arange(0.0, nn_ms.max() + 1000.0 / 128, 1000.0 / 128)
    out["hti"] = float(len(nn_ms) / np.histogram(nn_ms, bins=bins)[0].max())
    return out


def _sdann(nn_ms: np.ndarray, t_s: np.ndarray, segment_s: float) -> float | None:
    """Std (ddof 1) of the mean N-N per ``segment_s`` segment, segments counted from the first interval's start."""
    rel = (t_s - t_s[0]) + nn_ms[0] / 1000.0
    n_seg = int(np.round(rel[-1] / segment_s))
    if n_seg < 3:
        return None
    k = np.floor(rel / segment_s).astype(int)
    means = [nn_ms[k == i].mean() for i in range(n_seg) if np.any(k == i)]
    return float(np.std(means, ddof=1)) if len(means) >= 3 else None


def band_powers(nn_ms: np.ndarray, t_s: np.ndarray, cfg: HRVConfig = HRVConfig()) -> dict:
    """LF and HF power (ms^2) and LF/HF of one stretch of N-N intervals (module docstring)."""
    out = {"lf_ms2": None, "hf_ms2": None, "lf_hf": None}
    if len(nn_ms) < 4:
        return out
    grid = np.arange(t_s[0], t_s[-1] + 1 / cfg.interp_hz, 1 / cfg.interp_hz)
    x = quadratic_interp(np.asarray(t_s, float), np.asarray(nn_ms, float), grid)
    x = x - x.mean()
    f, p = welch_density(x, cfg.interp_hz, int(len(x) / 2))
    for key, (lo, hi) in (("lf_ms2", cfg.lf_band), ("hf_ms2", cfg.hf_band)):
        m = (f >= lo) & (f < hi)
        out[key] = float(np.trapezoid(p[m], f[m])) if m.sum() > 1 else None
    if out["lf_ms2"] is not None and out["hf_ms2"]:
        out["lf_hf"] = out["lf_ms2"] / out["hf_ms2"]
    return out


def quadratic_interp(x: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Quadratic-spline interpolation (``scipy.interpolate.interp1d(kind="quadratic")``'s values): knots
    between the sites (not-a-knot), constant ``y[0]`` / ``y[-1]`` outside ``[x[0], x[-1]]``.

    x: ``(n,)`` strictly increasing, n >= 3. The collocation matrix is tridiagonal (each site lies
    between two knots), solved by elimination without pivoting (it is diagonally dominant).
    """
    n = x.size
    mid = (x[1:] + x[:-1]) / 2
    t = np.r_[(x[0],) * 3, mid[1:-1], (x[-1],) * 3]
    rows = _basis(t, x)                                   # (n, 3): basis j-2, j-1, j at each site
    c = _solve_tridiagonal(rows, y)
    out = np.where(xq < x[0], y[0], y[-1]).astype(float)
    inside = (xq >= x[0]) & (xq <= x[-1])
    j = _interval(t, xq[inside])
    b = _basis(t, xq[inside], j)
    out[inside] = (b * c[j[:, None] - 2 + np.arange(3)]).sum(axis=1)
    return out


def _interval(t: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Knot interval ``j`` (2 <= j <= len(t) - 4) with ``t[j] <= u < t[j + 1]`` (the last one holds the end)."""
    return np.clip(np.searchsorted(t, u, side="right") - 1, 2, t.size - 4)


def _basis(t: np.ndarray, u: np.ndarray, j: np.ndarray | None = None) -> np.ndarray:
    """``(m, 3)`` the three non-zero quadratic B-splines at each ``u`` (Cox-de Boor, vectorised)."""
    j = _interval(t, u) if j is None else j
    left = [None, u - t[j], u - t[j - 1]]
    right = [None, t[j + 1] - u, t[j + 2] - u]
    N = [np.ones_like(u), np.zeros_like(u), np.zeros_like(u)]
    for r in (1, 2):
        saved = np.zeros_like(u)
        for s in range(r):
            temp = N[s] / (right[s + 1] + left[r - s])
            N[s] = saved + right[s + 1] * temp
            saved = left[r - s] * temp
        N[r] = saved
    return np.stack(N, axis=1)


def _solve_tridiagonal(rows: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Solve the collocation system: row i holds columns i-1, i, i+1 (rows 0 and n-1: 0..2, n-3..n-1)."""
    n = y.size
    a, b, c = rows[:, 0].tolist(), rows[:, 1].tolist(), rows[:, 2].tolist()
    a[0], b[0], c[0] = 0.0, rows[0, 0], rows[0, 1]          # row 0: columns 0, 1 (its column 2 weight is 0)
    a[-1], b[-1], c[-1] = rows[-1, 1], rows[-1, 2], 0.0     # row n-1: columns n-2, n-1
    d = y.tolist()
    for i in range(1, n):
        w = a[i] / b[i - 1]
        b[i] -= w * c[i - 1]
        d[i] -= w * d[i - 1]
    x = [0.0] * n
    x[-1] = d[-1] / b[-1]
    for i in range(n - 2, -1, -1):
        x[i] = (d[i] - c[i] * x[i + 1]) / b[i]
    return np.asarray(x)


def welch_density(x: np.ndarray, fs: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD as ``scipy.signal.welch(x, fs, "hann", nperseg, nfft=2 * nperseg, detrend=False)``:
    periodic Hann window, half-overlapping segments, one-sided density, mean over segments."""
    step = nperseg - nperseg // 2
    win = 0.5 + 0.5 * np.cos(np.linspace(-np.pi, np.pi, nperseg + 1)[:-1])
    nseg = (x.size - nperseg) // step + 1
    seg = x[np.arange(nseg)[:, None] * step + np.arange(nperseg)] * win
    spec = np.fft.rfft(seg, 2 * nperseg, axis=1)
    p = (spec.real**2 + spec.imag**2) / (fs * (win * win).sum())
    p[:, 1:-1] *= 2
    return np.fft.rfftfreq(2 * nperseg, 1 / fs), p.mean(axis=0)


def segments(t_s: np.ndarray, segment_s: float) -> list[np.ndarray]:
    """Index arrays of the N-N intervals in each ``segment_s`` segment of record time (from 0 s)."""
    k = np.floor(t_s / segment_s).astype(int)
    return [np.flatnonzero(k == i) for i in np.unique(k)]


def hrv(sample, label, fs: float, exclude: np.ndarray | None = None, cfg: HRVConfig = HRVConfig()) -> dict:
    """The JSON-able HRV of a record: time domain over all N-N intervals, LF/HF as the mean over 5-min segments.

    sample: ``(n,)`` sorted R-peak samples at ``fs``; label: predicted class letters; exclude:
    ``(n,)`` bool, beats to leave out (e.g. inside AF episodes).
    """
    nn, t, succ = nn_intervals(sample, label, fs, exclude, cfg)
    out = time_domain(nn, t, succ, cfg)
    per = []
    for idx in segments(t, cfg.segment_s):
        if len(idx) >= cfg.min_segment_nn:
            per.append({"start_s": float(np.floor(t[idx[0]] / cfg.segment_s) * cfg.segment_s),
                        **band_powers(nn[idx], t[idx], cfg)})
    for key in ("lf_ms2", "hf_ms2", "lf_hf"):
        vals = [s[key] for s in per if s[key] is not None]
        out[key] = float(np.mean(vals)) if vals else None
    out["segments"] = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()} for s in per]
    out["config"] = asdict(cfg)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}
