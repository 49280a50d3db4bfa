"""Where a record's P wave lies before R: located on the median beat of the beats ending its longest RR intervals.

A fixed P-wave window (say 250-60 ms before R) misses the P wave when the PR interval is long (first-degree AV
block: PR > 200 ms, often 250-400 ms) and catches the previous T wave when the rate is fast. The beats that end
the record's longest RR intervals show the P wave best: the previous T wave is far away, and where atrial
ectopics outnumber sinus beats they are the sinus beats. :func:`locate_p_wave` takes their median beat (lead 0),
searches from ``search_s[0]`` s before R (or from 0.40 s after the previous R, whichever is later: the previous
T wave ends about 0.40 s after its QRS at these rates) to ``search_s[1]`` s before R (the PR interval is at least
120 ms), and returns the largest deflection of the median beat from its own +-80 ms moving mean (a bump of a P
wave's width; a T-wave tail or a baseline slope gives none), with the window of the default's width (190 ms)
centred on it. No label is read.

    >>> import numpy as np
    >>> fs = 360.0
    >>> peaks = np.arange(30) * int(1.2 * fs) + 500
    >>> t = np.arange(peaks[-1] + 200) / fs
    >>> sig = sum(0.15 * np.exp(-((t - (r / fs - 0.30)) / 0.03) ** 2) for r in peaks)  # P 300 ms before R
    >>> p = locate_p_wave(sig, fs, peaks)
    >>> p.found, round(p.centre_s, 2), tuple(round(v, 3) for v in p.window_s)
    (True, 0.3, (0.395, 0.205))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Default P-wave window (start, end) in seconds before R, as ``ecgdl.adapt.AdaptConfig.p_s``.
DEFAULT_WINDOW_S: tuple[float, float] = (0.25, 0.06)
#: Smallest deflection (mV) from the median beat's moving mean taken as a P wave.
MIN_AMPLITUDE_MV = 0.03
#: Most beats in the median beat (spread evenly over a long recording; a 30-min record's top quarter has fewer).
MAX_BEATS = 1000
#: Half-width (s) of the moving mean a P wave stands out from (a P wave lasts 80-120 ms; a T-wave tail or a
#: baseline slope is nearly linear over it and gives no deflection).
BUMP_S = 0.08


@dataclass(frozen=True)
class PWaveLocation:
    """A record's P wave: ``centre_s`` (s before R of its largest deflection), ``window_s`` ((start, end) s
    before R, 190 ms wide, centred on it; :data:`DEFAULT_WINDOW_S` when not found), ``amplitude_mv`` (signed
    deflection from the moving mean), ``found`` (amplitude >= :data:`MIN_AMPLITUDE_MV`) and ``n_beats`` (beats in the
    median)."""

    centre_s: float
    window_s: tuple[float, float]
    amplitude_mv: float
    found: bool
    n_beats: int


def _not_found(n: int) -> PWaveLocation:
    return PWaveLocation(float("nan"), DEFAULT_WINDOW_S, 0.0, False, n)


def locate_p_wave(sig: np.ndarray, fs: float, peaks: np.ndarray, beats: np.ndarray | None = None,
                  search_s: tuple[float, float] = (0.45, 0.12), min_beats: int = 5) -> PWaveLocation:
    """The record's P-wave location (module docstring). ``sig``: ``(N,)`` one lead in mV at ``fs`` (baseline
    removed, e.g. column 0 of :func:`ecgdl.signal.condition_record`'s ``(N, C)`` output); ``peaks``: R-peak samples,
    ascending; ``beats``: bool per peak, the beats allowed in the median (e.g. the supraventricular ones; default
    all but the first): their top quarter by preceding RR is used (at least ``min_beats``, else not found)."""
    peaks = np.asarray(peaks, np.int64)
    pre = np.diff(peaks, prepend=peaks[:1]) / fs
    use = np.r_[False, np.ones(max(len(peaks) - 1, 0), bool)]
    if beats is not None:
        use &= np.asarray(beats, bool)
    if use.sum() < min_beats:
        return _not_found(int(use.sum()))
    use &= pre >= np.percentile(pre[use], 75)
    start = min(search_s[0], float(np.median(pre[use])) - 0.40)
    a, b = int(round(start * fs)), int(round(search_s[1] * fs))
    use &= (peaks - a >= 0) & (peaks < len(sig))
    n = int(use.sum())
    if n < min_beats or start <= search_s[1] or a <= b + 2:
        return _not_found(n)
    w = int(round(BUMP_S * fs))
    at = peaks[use]
    if len(at) > MAX_BEATS:  # a long recording: beats spread evenly over it (a 30-min record has fewer)
        at = at[np.linspace(0, len(at) - 1, MAX_BEATS).astype(np.int64)]
    lo = np.maximum(at - a - w, 0)
    idx = lo[:, None] + np.arange(a - b + 1 + 2 * w)[None, :]
    sig = np.asarray(sig)  # indexed before the cast: a 24-h lead is not copied
    med = np.median(sig[np.minimum(idx, len(sig) - 1)].astype(np.float64), axis=0)
    c = np.r_[0.0, np.cumsum(med)]
    dev = med[w:-w] - (c[2 * w + 1:] - c[:-2 * w - 1]) / (2 * w + 1)  # the beat minus its +-BUMP_S moving mean
    mag = np.abs(dev)
    peak = np.r_[False, (mag[1:-1] >= mag[:-2]) & (mag[1:-1] >= mag[2:]), False]  # interior extrema only: a
    if not peak.any():  # maximum at the window's edge is the previous T wave or the QRS onset, not a P wave
        return _not_found(n)
    k = int(np.argmax(np.where(peak, mag, -1.0)))
    centre = (a - k) / fs
    half = (DEFAULT_WINDOW_S[0] - DEFAULT_WINDOW_S[1]) / 2
    end = max(centre - half, DEFAULT_WINDOW_S[1])
    found = abs(dev[k]) >= MIN_AMPLITUDE_MV
    window = (round(end + 2 * half, 4), round(end, 4)) if found else DEFAULT_WINDOW_S
    return PWaveLocation(float(centre), window, float(dev[k]), bool(found), n)
