"""Signal conditioning: every function takes ``fs`` (Hz) and works along axis 0 (time).

``x`` is ``(n_samples,)`` or ``(n_samples, n_leads)``; outputs keep the shape and are float32
unless noted. Filters are zero-phase (forward-backward), so R peaks do not move.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ecgdl import iir


@dataclass(frozen=True)
class ConditioningConfig:
    """How a raw lead is conditioned before beats are cut (saved in every sidecar).

    low_hz/high_hz: band-pass edges; the 0.5 Hz high-pass removes baseline wander.
    notch_hz: mains frequency to notch out (MIT-BIH: 60 Hz), or None.
    """

    low_hz: float = 0.5
    high_hz: float = 40.0
    order: int = 2
    notch_hz: float | None = None


def bandpass(x: np.ndarray, fs: float, low_hz: float = 0.5, high_hz: float = 40.0, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth band-pass (``order`` per pass, applied forward and backward).

    >>> t = np.arange(0, 10, 1 / 360); y = bandpass(np.sin(2 * np.pi * 10 * t), 360)
    >>> bool(abs(np.abs(y[720:-720]).max() - 1) < 0.05)
    True
    """
    high_hz = min(high_hz, 0.45 * fs)
    sos = iir.butter(order, [low_hz, high_hz], btype="bandpass", fs=fs, output="sos")
    return iir.sosfiltfilt(sos, x, axis=0).astype(np.float32)


def remove_baseline(x: np.ndarray, fs: float, windows_s: tuple[float, float] = (0.2, 0.6)) -> np.ndarray:
    """Baseline-wander removal by two cascaded median filters (200 ms then 600 ms; de Chazal 2004).

    Slower than :func:`bandpass` (O(n * window)); the scoring path uses the band-pass, this is the
    classic alternative for analyses that must keep the ST segment's very low frequencies.
    """
    from scipy.ndimage import median_filter

    x = np.asarray(x, dtype=np.float32)
    base = x
    for w in windows_s:
        size = int(round(w * fs)) | 1  # odd
        shape = (size,) + (1,) * (x.ndim - 1)
        base = median_filter(base, size=shape, mode="nearest")
    return x - base


def median_filter(x: np.ndarray, size: int, mode: str = "nearest") -> np.ndarray:
    """Running median of a 1-D array over ``size`` samples, edges repeated (``scipy.ndimage.median_filter``'s
    values for ``mode="nearest"``; an even ``size`` takes the upper median, as scipy does).

    >>> median_filter(np.array([1.0, 9.0, 2.0, 3.0, 8.0]), 3).tolist()
    [1.0, 2.0, 3.0, 3.0, 8.0]
    """
    x = np.asarray(x)
    if x.ndim != 1 or mode != "nearest" or int(size) < 1:
        raise ValueError(f"median_filter: 1-D input, size >= 1 and mode='nearest' only (got {x.shape}, {size}, {mode!r})")
    if x.size == 0:
        return x.copy()
    size = int(size)
    h = size // 2
    ext = np.empty(x.size + size - 1, x.dtype)            # edges repeated (np.pad's "edge", without its cost)
    ext[:h], ext[h: h + x.size], ext[h + x.size:] = x[0], x, x[-1]
    win = as_strided(ext, (x.size, size), (ext.strides[0],) * 2, writeable=False)
    return np.partition(win, h, axis=1)[:, h]


def column_median(a: np.ndarray) -> np.ndarray:
    """``np.median(a, axis=0)`` of a finite 2-D array: its very values, without its NaN check and
    axis juggling (a partition of the two middle rows).

    >>> column_median(np.array([[1.0, 5.0], [3.0, 2.0], [2.0, 9.0], [8.0, 0.0]])).tolist()
    [2.5, 3.5]
    """
    m = a.shape[0]
    part = np.partition(a, [(m - 1) // 2, m // 2], axis=0)
    return part[m // 2] if m % 2 else (part[m // 2 - 1] + part[m // 2]) / 2.0


def notch(x: np.ndarray, fs: float, mains_hz: float = 60.0, quality: float = 30.0) -> np.ndarray:
    """Zero-phase IIR notch at the mains frequency (50 or 60 Hz)."""
    if mains_hz >= fs / 2:
        return np.asarray(x, dtype=np.float32)
    b, a = iir.iirnotch(mains_hz, quality, fs=fs)
    return iir.filtfilt(b, a, x, axis=0).astype(np.float32)


def condition(x: np.ndarray, fs: float, cfg: ConditioningConfig = ConditioningConfig()) -> np.ndarray:
    """Apply the configured band-pass and optional notch."""
    y = bandpass(x, fs, cfg.low_hz, cfg.high_hz, cfg.order)
    if cfg.notch_hz:
        y = notch(y, fs, cfg.notch_hz)
    return y


#: Records longer than this are filtered piece by piece into one float32 array (bounded memory:
#: float64 work arrays of ``chunk_s`` at a time); the result is the whole-record zero-phase filter's.
CHUNK_CONDITION_S = 3600.0


def condition_record(x: np.ndarray, fs: float, cfg: ConditioningConfig, *, chunk_s: float = 1800.0) -> np.ndarray:
    """Condition ``x`` ``(n, C)``: :func:`condition`; records over :data:`CHUNK_CONDITION_S` in pieces of ``chunk_s``."""
    n = x.shape[0]
    if n <= CHUNK_CONDITION_S * fs:
        return condition(x, fs, cfg)
    piece = int(chunk_s * fs)
    sos = iir.butter(cfg.order, [cfg.low_hz, min(cfg.high_hz, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    out = iir.sosfiltfilt_into(sos, x, np.empty(x.shape, np.float32), piece=piece)
    if cfg.notch_hz and cfg.notch_hz < fs / 2:
        b, a = iir.iirnotch(cfg.notch_hz, 30.0, fs=fs)
        out = iir.sosfiltfilt_into(np.r_[b, a][None], out, np.empty_like(out), padlen=9, piece=piece)
    return out


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling from ``fs_in`` to ``fs_out`` (rational approximation of the ratio)."""
    if abs(fs_in - fs_out) < 1e-9:
        return np.asarray(x)
    from scipy import signal as sps  # lazy: only non-360 Hz input pays for importing scipy.signal (~1 s)

    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    return sps.resample_poly(x, ratio.numerator, ratio.denominator, axis=0)


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """SNR of ``noisy`` against ``clean`` in dB: 10 log10(sum clean^2 / sum (noisy - clean)^2)."""
    clean = np.asarray(clean, dtype=np.float64)
    err = np.asarray(noisy, dtype=np.float64) - clean
    return float(10 * np.log10(np.sum(clean**2) / max(np.sum(err**2), 1e-20)))
