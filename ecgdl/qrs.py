"""R-peak (QRS) detection for one- or multi-lead ECG at any sampling rate (100-2000 Hz).

Design (offline, non-causal, vectorised numpy/scipy; no torch):

1. The record is cut into chunks of ``chunk_s`` seconds with ``overlap_s`` seconds of context on
   each side, so time is linear in length and memory is bounded by the chunk, not the record.
2. Each lead is screened for unusable stretches (NaN/inf, or flat for ``flat_s`` or longer);
   those samples are held at the last good value and no beat is placed inside them.
3. Detection feature: band-pass (Butterworth ``band_hz``) -> derivative -> square -> centred
   moving average (``integrate_s``), i.e. a Pan-Tompkins energy envelope.  Leads are combined
   after scaling each by its own robust QRS level, so a dead or noisy second lead cannot swamp
   the primary lead.
4. Candidates are local maxima of the envelope.  A robust local QRS level (median of 1-s block
   maxima over a sliding window) sets an adaptive threshold; candidates closer than the
   refractory period compete (largest wins); a candidate soon after a beat must be much larger
   than a T wave would be; RR gaps longer than ``searchback_rr`` x the local RR are searched
   again with a lower threshold.
5. Each detection is moved to the R peak on the primary lead by :func:`refine_peaks` (extremum
   of the lightly smoothed signal, positive unless the negative deflection dominates), the
   same rule used to align reference annotations.

Example:
    >>> res = detect_r_peaks(record.signal, record.fs)
    >>> rr_s = np.diff(res.peaks) / res.fs
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy import signal as sps

__all__ = ["QRSConfig", "QRSResult", "detect_r_peaks", "refine_peaks"]


@dataclass(frozen=True)
class QRSConfig:
    """Detector parameters; all durations in seconds, frequencies in Hz."""

    band_hz: tuple[float, float] = (5.0, 20.0)
    integrate_s: float = 0.08
    internal_fs: float = 400.0       # raw input above ~1.5x this is block-averaged for detection
    refractory_s: float = 0.2
    twave_s: float = 0.36            # a candidate this soon after a beat is checked for being a T wave
    twave_ratio: float = 0.3         # ... and must reach this fraction of the previous beat's energy
    level_block_s: float = 1.0
    level_window_s: float = 8.0
    threshold: float = 0.25          # fraction of the local QRS level
    searchback_threshold: float = 0.1
    searchback_rr: float = 1.66
    flat_s: float = 1.0
    flat_tol_mv: float = 1e-6
    overlap_s: float = 10.0
    refine_radius_s: float = 0.05
    refine_smooth_s: float = 0.025
    refine_negative_ratio: float = 2.0   # take the minimum when |neg| > ratio * pos


DEFAULT_CONFIG = QRSConfig()


@dataclass(frozen=True)
class QRSResult:
    """Detected R peaks.

    Attributes:
        peaks: (n_beats,) int64 R-peak sample indices at ``fs``, sorted, unique.
        fs: sampling rate in Hz.
        unusable: [start, stop) sample ranges where every lead was flat, NaN or unreadable.
    """

    peaks: np.ndarray
    fs: float
    unusable: tuple[tuple[int, int], ...]
