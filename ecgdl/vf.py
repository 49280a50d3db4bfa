"""Ventricular flutter / fibrillation (VF/VFL) stretches: oscillation without discrete QRS complexes.

A VF/VFL stretch is where the ECG turns into a sinusoidal or chaotic high-amplitude oscillation in
which no QRS complex stands out. Per window (``window_s`` long, every ``step_s``) of the primary
lead, decimated to about 50 Hz and band-passed ``band_hz`` (zero phase):

* **spectral concentration**: the share of 1-15 Hz power within +-``peak_hz`` of the strongest
  frequency between ``f_lo`` and ``f_hi`` (2-9 Hz, 120-540 /min). A flutter wave is nearly a
  sine (0.6-0.9 in MIT-BIH 207); sinus rhythm spreads its power over the harmonics of the heart
  rate (median 0.23).
* **kurtosis** of the band-passed window: discrete QRS complexes are spikes (median 9.4 in
  MIT-BIH outside VF), an oscillation is not (a sine has 1.5; 207's flutter a median 2.5).
* **amplitude**: window RMS at least ``min_rms_ratio`` x the record chunk's median window RMS
  (a low-level ripple is noise, not VF).

A window is VF-like when all three hold; the flags are median-filtered over ``smooth_windows``
and runs of at least ``min_s`` become stretches. A second pass with ``short_window_s`` (2-s) windows
every ``short_step_s``, looked for only inside the first pass's loud low-kurtosis runs, adds the
stretches of at least ``short_min_s`` that the 4-s windows miss because QRS complexes sit at their
edges (MIT-BIH 207's 4.3-s flutter at 242 s); it shares the decimated, band-passed primary lead. The detector places no beat inside a stretch,
and the rhythm summary reports it (``vf``) instead of a pause.

Example:
    >>> stretches = vf_stretches(record.signal[:, 0], record.fs)   # doctest: +SKIP
    >>> [(a / record.fs, b / record.fs) for a, b in stretches]      # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from ecgdl import iir

from ecgdl.qrs_config import DEFAULT_VF, VFConfig
from ecgdl.quality import bandpass_sos

__all__ = ["VFConfig", "vf_stretches", "vf_window_features"]


def vf_window_features(x: np.ndarray, fs: float, cfg: VFConfig = DEFAULT_VF, *,
                       kurt_max: float | None = None):
    """Per-window VF features of one lead.

    Kurtosis and RMS come from per-step block moments (one pass, no overlap redundancy); the
    spectral concentration is computed only for windows with kurtosis <= kurt_max (all when None),
    0 elsewhere, so a normal ECG costs little.

    Args:
        x: (n,) float mV (finite; interpolate gaps first).
        fs: sampling rate, Hz.
        cfg: parameters.
        kurt_max: only windows at or under this kurtosis get a spectrum.

    Returns:
        (start, conc, kurt, rms): (n_windows,) arrays; start is each window's first sample at fs.
        Empty arrays when the lead is shorter than one window.
    """
    start, kurt, rms, v, st, k, q = _moments(x, fs, cfg)
    conc = np.zeros(start.size)
    sel = np.flatnonzero(kurt <= (np.inf if kurt_max is None else kurt_max))
    if sel.size:
        conc[sel] = _concentration(v, sel * st, st * k, fs / q, cfg)
    return start, conc, kurt, rms


def _moments(x: np.ndarray, fs: float, cfg: VFConfig, v: np.ndarray | None = None):
    """Window starts (at fs), kurtosis, RMS of the decimated band-passed lead, and that lead
    (v: that lead already decimated and band-passed, shared by the two window lengths)."""
    q, st, k, m = _grid(x.size, fs, cfg)
    if m // st < k or m < 16:
        z = np.zeros(0)
        return z.astype(np.int64), z, z, z, st, k, q
    v = _decimated(x, q, 0, m, fs, cfg) if v is None else v
    kurt, rms = _window_moments(v, st, k)
    return np.arange(kurt.size, dtype=np.int64) * st * q, kurt, rms, v, st, k, q


def _grid(n: int, fs: float, cfg: VFConfig) -> tuple[int, int, int, int]:
    """(decimation factor, step in decimated samples, steps per window, decimated length)."""
    q = max(1, int(fs // cfg.analysis_fs))
    return q, max(1, int(round(cfg.step_s * fs / q))), max(1, int(round(cfg.window_s / cfg.step_s))), n // q


def _decimated(x: np.ndarray, q: int, a: int, b: int, fs: float, cfg: VFConfig) -> np.ndarray:
    """Decimated samples [a, b) of x (block means of q), band-passed forward and backward."""
    v = _block_mean(x[a * q: b * q], q, b - a)
    if not np.isfinite(v).all():
        v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
    sos, zi = bandpass_sos(fs / q, cfg.band_hz, with_zi=True)
    y = iir.sosfilt(sos, v.astype(np.float64), zi=zi * float(v[0]))[0]     # forward, then backward: zero
    return iir.sosfilt(sos, y[::-1], zi=zi * y[-1])[0][::-1]             # phase, as the thresholds were set


def _window_moments(v: np.ndarray, st: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Kurtosis and RMS of every window of k steps (st samples each), from per-step block moments."""
    nb = v.size // st
    b = v[: nb * st].reshape(nb, st).astype(np.float64)
    b2 = b * b
    sums = [b.sum(axis=1), b2.sum(axis=1), (b2 * b).sum(axis=1), (b2 * b2).sum(axis=1)]
    mu, r2, r3, r4 = [np.convolve(s, np.ones(k), mode="valid") / (k * st) for s in sums]
    m2 = np.maximum(r2 - mu * mu, 1e-30)
    m4 = r4 - 4 * mu * r3 + 6 * mu * mu * r2 - 3 * mu ** 4
    return m4 / (m2 * m2), np.sqrt(m2)


def _on_spans(x: np.ndarray, fs: float, cfg: VFConfig, gate: np.ndarray, m: int):
    """Kurtosis (inf outside the gated windows), decimated lead and loudness of another lead.

    One filter pass over the gated hull (scipy's per-call overhead beats a pass per run).
    """
    q, st, k, _ = _grid(x.size, fs, cfg)
    v = np.zeros(m)
    on = np.flatnonzero(gate)
    a, b = max(0, (int(on[0]) - 2) * st), min(m, (int(on[-1]) + k + 1) * st)   # two steps to settle
    v[a:b] = _decimated(x, q, a, b, fs, cfg)
    kurt, rms = _window_moments(v, st, k)
    inside = np.zeros(kurt.size, bool)
    inside[max(0, a // st): max(0, b // st - k + 1)] = True
    loud = rms >= cfg.min_rms_ratio * np.median(rms[inside]) if inside.any() else np.zeros(kurt.size, bool)
    kurt = np.where(gate[: kurt.size], kurt, np.inf)
    return kurt, v, loud


def _block_mean(x: np.ndarray, q: int, m: int) -> np.ndarray:
    """(m,) float32 means of consecutive q-sample blocks (q strided adds: faster than reshape-mean)."""
    v = np.array(x[0: m * q: q], np.float32)
    for k in range(1, q):
        v += x[k: m * q: q]
    return v * np.float32(1.0 / q) if q > 1 else v


def _concentration(v: np.ndarray, s0: np.ndarray, w: int, fd: float, cfg: VFConfig) -> np.ndarray:
    """Share of band power within +-peak_hz of the strongest frequency in [f_lo, f_hi], per window."""
    seg = v[s0[:, None] + np.arange(w)]
    seg = seg - seg.mean(axis=1, keepdims=True)
    spec = np.abs(np.fft.rfft(seg * np.hanning(w), axis=1)) ** 2
    f = np.fft.rfftfreq(w, 1.0 / fd)
    band = (f >= cfg.band_hz[0]) & (f <= cfg.band_hz[1])
    search = (f >= cfg.f_lo) & (f <= cfg.f_hi)
    f0 = f[np.argmax(np.where(search, spec, -1.0), axis=1)]
    near = np.abs(f[None, :] - f0[:, None]) <= cfg.peak_hz
    return (spec * (near & band)).sum(axis=1) / np.maximum((spec * band).sum(axis=1), 1e-30)


def vf_stretches(x: np.ndarray, fs: float, cfg: VFConfig = DEFAULT_VF) -> tuple[tuple[int, int], ...]:
    """[start, stop) sample ranges (at fs) of VF/VFL; see the module docstring.

    Args:
        x: (n,) or (n, n_leads) float mV, finite, or a list of (n,) leads; the first is the primary.
        fs: sampling rate, Hz.
        cfg: parameters.

    >>> fs = 250.0; t = np.arange(int(30 * fs)) / fs
    >>> vf_stretches(np.sin(2 * np.pi * 4.0 * t), fs)       # 30 s of 240 /min sine: all flutter
    ((0, 7500),)
    """
    x = _columns(x)
    q, _, _, m = _grid(x[0].size, fs, cfg)
    v0 = _decimated(x[0], q, 0, m, fs, cfg) if m >= 16 else None
    out, calm = _stretches(x, fs, cfg, v0)
    if cfg.short_min_s > 0 and calm:                                 # short episodes: 2-s windows inside the 4-s
        add, _ = _stretches(x, fs, _short(cfg), v0, calm)            # pass's calm runs, new stretches only
        add = [r for r in add if not any(r[0] < e and s < r[1] for s, e in out)]
        out = tuple(sorted(out + tuple(add)))
    return out


def _short(cfg: VFConfig) -> VFConfig:
    """The second pass's parameters: short windows, a finer step, a shorter minimum stretch."""
    return replace(cfg, window_s=cfg.short_window_s, step_s=cfg.short_step_s, min_s=cfg.short_min_s, short_min_s=0.0)


def _stretches(x: list[np.ndarray], fs: float, cfg: VFConfig, v0: np.ndarray | None, within: list | None = None):
    """One pass of :func:`vf_stretches` at cfg's window length: its stretches and its calm runs (sample
    ranges of loud low-kurtosis primary windows). v0: the primary lead decimated and band-passed;
    within: only windows inside these ranges are considered."""
    start, core, loose, calm = _window_flags(x, fs, cfg, v0, within)
    if start.size == 0 or not core.any():
        return (), calm
    w = int(round(cfg.window_s * fs))
    loose = _runs_with_core(loose, core, cfg)                        # cheap pre-selection ...
    if not loose.any():
        return (), calm
    smooth = _smoothness(x, fs, start, w, loose, cfg)                # ... then the native-rate test
    core &= smooth
    loose &= smooth
    loose = _runs_with_core(loose, core, cfg)
    d = np.diff(np.concatenate(([0], loose.view(np.int8), [0])))
    a, b = np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1        # first and last window of a run
    lead_in = int(round(cfg.edge_fraction * w))                      # stretch: inner part of the windows
    n, out = x[0].size, []
    for i, j in zip(a, b):
        s = 0 if i == 0 else int(start[i]) + lead_in
        e = n if j == start.size - 1 else int(start[j]) + w - lead_in
        if e - s >= cfg.min_s * fs:
            out.append((s, min(e, n)))
    return tuple(out), calm


def _columns(x) -> list[np.ndarray]:
    """Leads as a list of 1-D arrays (views) (from (n,), (n, n_leads) or a list of leads)."""
    if isinstance(x, (list, tuple)):
        return [np.asarray(v) for v in x]
    x = np.asarray(x)
    return [x] if x.ndim == 1 else [x[:, j] for j in range(x.shape[1])]


def _runs_with_core(loose: np.ndarray, core: np.ndarray, cfg: VFConfig) -> np.ndarray:
    """Loose flags (holes of up to two windows closed) kept only in runs holding min_core_windows strict ones."""
    loose = loose.copy()
    two = loose[:-3] & loose[3:]                      # close holes of one or two windows
    loose[1:-1] |= loose[:-2] & loose[2:]
    loose[1:-2] |= two
    loose[2:-1] |= two
    d = np.diff(np.concatenate(([0], loose.view(np.int8), [0])))
    out = np.zeros_like(loose)
    for i, j in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
        if core[i:j].sum() >= cfg.min_core_windows:
            out[i:j] = True
    return out


def _window_flags(x: list[np.ndarray], fs: float, cfg: VFConfig, v0: np.ndarray | None = None,
                  within: list | None = None):
    """Window starts, the strict / loose VF flags over all leads and the calm runs' sample ranges.

    Strict on one lead (an oscillation), loose on every lead (none shows discrete QRS complexes).
    The primary lead gates the rest: other leads and spectra are computed only in runs of loud,
    low-kurtosis primary windows long enough to hold a stretch.
    """
    start, kurt0, rms0, v0, st, k, q = _moments(x[0], fs, cfg, v0)
    none = np.zeros(start.size, bool)
    if start.size == 0:
        return start, none, none, []
    loud = rms0 >= cfg.min_rms_ratio * np.median(rms0)
    calm = loud & (kurt0 <= cfg.loose_kurtosis)
    if within is not None:
        calm &= _inside(start, int(round(cfg.window_s * fs)), within)
    calm &= _runs_with_core(calm, calm, cfg)        # only runs long enough to hold a stretch
    if not calm.any():
        return start, none, none, []
    w = int(round(cfg.window_s * fs))
    d = np.diff(np.concatenate(([0], calm.view(np.int8), [0])))
    runs = [(int(start[i]), int(start[j - 1]) + w) for i, j in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]
    leads = [(kurt0, v0, loud)] + [_on_spans(xj, fs, cfg, calm, v0.size) for xj in x[1:]]
    for kurt, _, _ in leads[1:]:
        calm &= kurt[: calm.size] <= cfg.loose_kurtosis
    sel = np.flatnonzero(calm)
    core, loose = none.copy(), calm.copy()
    for kurt, v, lo in leads:
        conc = np.zeros(start.size)
        if sel.size:
            conc[sel] = _concentration(v, sel * st, st * k, fs / q, cfg)
        lo = lo[: start.size]
        core |= (conc >= cfg.min_concentration) & (kurt[: start.size] <= cfg.max_kurtosis) & lo
        loose &= (conc >= cfg.loose_concentration) & lo
    return start, core & loose, loose, runs


def _inside(start: np.ndarray, w: int, ranges: list) -> np.ndarray:
    """(n_windows,) bool: window [start, start + w) lies inside one of the sorted disjoint ranges."""
    s = np.array([a for a, _ in ranges])
    e = np.array([b for _, b in ranges])
    k = np.searchsorted(s, start, side="right") - 1
    return (k >= 0) & (start + w <= e[np.maximum(k, 0)])


def _smoothness(x: list[np.ndarray], fs: float, start: np.ndarray, w: int, cand: np.ndarray,
                cfg: VFConfig) -> np.ndarray:
    """(n_windows,) bool: some lead's 10-25 Hz power is under max_hf_ratio x its 1-8 Hz power.

    A flutter wave is smooth; the QRS of a fast ventricular tachycardia keeps steep slopes.
    Computed at the native rate on candidate windows only (cost follows the candidates).
    """
    ok = np.zeros(start.size, bool)
    hi_band = (10.0, min(25.0, 0.45 * fs))
    lo_sos, lo_zi = bandpass_sos(fs, (1.0, 8.0), with_zi=True)
    hi_sos, hi_zi = bandpass_sos(fs, hi_band, with_zi=True)
    d = np.diff(np.concatenate(([0], cand.view(np.int8), [0])))
    pad = w
    for i, j in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1):
        a0 = max(0, int(start[i]) - pad)
        b0 = min(x[0].size, int(start[j]) + w + pad)
        seg = np.stack([v[a0:b0] for v in x], axis=1).astype(np.float64)
        if seg.shape[0] < 3 * w:
            continue
        lo = iir.sosfilt(lo_sos, seg, axis=0, zi=lo_zi[:, :, None] * seg[0])[0] ** 2   # power: phase is moot
        hi = iir.sosfilt(hi_sos, seg, axis=0, zi=hi_zi[:, :, None] * seg[0])[0] ** 2
        cl, ch = np.cumsum(lo, axis=0), np.cumsum(hi, axis=0)
        s = start[i: j + 1] - a0
        e = np.minimum(s + w, seg.shape[0] - 1)
        ratio = (ch[e] - ch[s]) / np.maximum(cl[e] - cl[s], 1e-30)
        ok[i: j + 1] = ratio.min(axis=1) <= cfg.max_hf_ratio
    return ok
