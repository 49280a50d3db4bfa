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
and runs of at least ``min_s`` become stretches. The detector places no beat inside a stretch,
and the rhythm summary reports it (``vf``) instead of a pause.

Example:
    >>> stretches = vf_stretches(record.signal[:, 0], record.fs)   # doctest: +SKIP
    >>> [(a / record.fs, b / record.fs) for a, b in stretches]      # doctest: +SKIP
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy import signal as sps

from ecgdl.qrs_config import DEFAULT_VF, VFConfig
from ecgdl.quality import bandpass_sos

__all__ = ["VFConfig", "vf_stretches", "vf_window_features"]


def vf_window_features(x: np.ndarray, fs: float, cfg: VFConfig = DEFAULT_VF):
    """Per-window VF features of one lead.

    Args:
        x: (n,) float mV (finite; interpolate gaps first).
        fs: sampling rate, Hz.
        cfg: parameters.

    Returns:
        (start, conc, kurt, rms): (n_windows,) arrays; start is each window's first sample at fs.
        Empty arrays when the lead is shorter than one window.
    """
    q = max(1, int(fs // cfg.analysis_fs))
    fd = fs / q
    m = x.size // q
    w, st = int(round(cfg.window_s * fd)), max(1, int(round(cfg.step_s * fd)))
    if m < max(w, 16):
        z = np.zeros(0)
        return z.astype(np.int64), z, z, z
    v = np.asarray(x[: m * q], np.float64).reshape(m, q).mean(axis=1)
    v = sps.sosfiltfilt(bandpass_sos(fd, cfg.band_hz), v)
    seg = np.lib.stride_tricks.sliding_window_view(v, w)[::st]       # (n_windows, w) view
    seg = seg - seg.mean(axis=1, keepdims=True)
    p2 = (seg * seg).mean(axis=1)
    kurt = (seg ** 4).mean(axis=1) / np.maximum(p2 * p2, 1e-30)
    spec = np.abs(np.fft.rfft(seg * np.hanning(w), axis=1)) ** 2
    f = np.fft.rfftfreq(w, 1.0 / fd)
    band = (f >= cfg.band_hz[0]) & (f <= cfg.band_hz[1])
    search = (f >= cfg.f_lo) & (f <= cfg.f_hi)
    f0 = f[np.argmax(np.where(search, spec, -1.0), axis=1)]
    near = np.abs(f[None, :] - f0[:, None]) <= cfg.peak_hz
    conc = (spec * (near & band)).sum(axis=1) / np.maximum((spec * band).sum(axis=1), 1e-30)
    start = np.arange(seg.shape[0], dtype=np.int64) * st * q
    return start, conc, kurt, np.sqrt(p2)


def vf_stretches(x: np.ndarray, fs: float, cfg: VFConfig = DEFAULT_VF) -> tuple[tuple[int, int], ...]:
    """[start, stop) sample ranges (at fs) of VF/VFL; see the module docstring.

    Args:
        x: (n,) or (n, n_leads) float mV, finite.
        fs: sampling rate, Hz.
        cfg: parameters.

    >>> fs = 250.0; t = np.arange(int(30 * fs)) / fs
    >>> vf_stretches(np.sin(2 * np.pi * 4.0 * t), fs)       # 30 s of 240 /min sine: all flutter
    ((0, 7500),)
    """
    x = np.asarray(x)
    x = x[:, None] if x.ndim == 1 else x
    start, core, loose = _window_flags(x, fs, cfg)
    if start.size == 0 or not core.any():
        return ()
    w = int(round(cfg.window_s * fs))
    smooth = _smoothness(x, fs, start, w, loose, cfg)
    core &= smooth
    loose &= smooth
    loose = ndimage.binary_closing(loose, np.ones(3, bool)) | loose
    d = np.diff(np.r_[0, loose.view(np.int8), 0])
    a, b = np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1        # first and last window of a run
    lead_in = int(round(cfg.edge_fraction * w))                      # stretch: inner part of the windows
    n, out = x.shape[0], []
    for i, j in zip(a, b):
        if core[i: j + 1].sum() < cfg.min_core_windows:
            continue
        s = 0 if i == 0 else int(start[i]) + lead_in
        e = n if j == start.size - 1 else int(start[j]) + w - lead_in
        if e - s >= cfg.min_s * fs:
            out.append((s, min(e, n)))
    return tuple(out)


def _window_flags(x: np.ndarray, fs: float, cfg: VFConfig):
    """Window starts and the strict / loose VF flags over all leads.

    Strict on one lead (an oscillation), loose on every lead (none shows discrete QRS complexes).
    """
    core = loose = start = None
    for j in range(x.shape[1]):
        start, conc, kurt, rms = vf_window_features(x[:, j], fs, cfg)
        if start.size == 0:
            return start, np.zeros(0, bool), np.zeros(0, bool)
        loud = rms >= cfg.min_rms_ratio * np.median(rms)
        c = (conc >= cfg.min_concentration) & (kurt <= cfg.max_kurtosis) & loud
        lo = (conc >= cfg.loose_concentration) & (kurt <= cfg.loose_kurtosis) & loud
        core, loose = (c, lo) if core is None else (core | c, loose & lo)
    return start, core & loose, loose


def _smoothness(x: np.ndarray, fs: float, start: np.ndarray, w: int, cand: np.ndarray,
                cfg: VFConfig) -> np.ndarray:
    """(n_windows,) bool: some lead's 10-25 Hz power is under max_hf_ratio x its 1-8 Hz power.

    A flutter wave is smooth; the QRS of a fast ventricular tachycardia keeps steep slopes.
    Computed at the native rate on candidate windows only (cost follows the candidates).
    """
    ok = np.zeros(start.size, bool)
    hi_band = (10.0, min(25.0, 0.45 * fs))
    lo_sos = bandpass_sos(fs, (1.0, 8.0))
    hi_sos = bandpass_sos(fs, hi_band)
    d = np.diff(np.r_[0, cand.view(np.int8), 0])
    pad = w
    for i, j in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1):
        a0 = max(0, int(start[i]) - pad)
        b0 = min(x.shape[0], int(start[j]) + w + pad)
        seg = np.asarray(x[a0:b0], np.float64)
        if seg.shape[0] < 3 * w:
            continue
        lo = sps.sosfiltfilt(lo_sos, seg, axis=0) ** 2
        hi = sps.sosfiltfilt(hi_sos, seg, axis=0) ** 2
        cl, ch = np.cumsum(lo, axis=0), np.cumsum(hi, axis=0)
        s = start[i: j + 1] - a0
        e = np.minimum(s + w, seg.shape[0] - 1)
        ratio = (ch[e] - ch[s]) / np.maximum(cl[e] - cl[s], 1e-30)
        ok[i: j + 1] = ratio.min(axis=1) <= cfg.max_hf_ratio
    return ok
