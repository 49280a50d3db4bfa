"""Signal quality: a per-segment quality index, unreadable stretches, and beatless gaps that are not pauses.

Three questions the detector answers here, after it has placed its beats:

* **Segment quality index** (:func:`segment_quality`): per ``segment_s`` segment of the primary
  lead, the mean over its beats of each beat's best correlation (``+-template_s`` around the R
  peak, linearly detrended) with one of its 4 nearest beats (1 = every beat has a twin; a
  bigeminy still scores high, noise detections do not). A segment is **unreadable** when it
  holds at least ``min_beats`` beats and its index is under ``min_tcorr``; runs of unreadable
  segments are returned as stretches.
* **Undetected stretches** (:func:`undetected_gaps`): an RR gap longer than ``gap_s`` is a pause
  only where the signal is flat of QRS activity. Inside the gap (from ``t_wave_s`` after the
  beat to ``edge_s`` before the next), the QRS-band energy envelope of each lead is compared
  with that lead's energy at the neighbouring beats. A gap is **undetected** (signal, but no
  beat found) when the primary lead reaches ``activity_primary`` of its beat energy or another
  lead reaches ``activity_other`` of its own. On MIT-BIH (162 gaps > 2 s of the detector of issue
  15's start) the 130 true pauses peak at 0.085 (primary) and 0.36 (other lead).
* **VF/VFL** is recognised in :mod:`ecgdl.vf`.

Example:
    >>> q = segment_quality(record.signal[:, 0], record.fs, peaks)   # doctest: +SKIP
    >>> q.index.round(2), q.unreadable                                # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ecgdl import iir

from ecgdl.qrs_config import DEFAULT_QUALITY, QualityConfig

__all__ = ["QualityConfig", "SegmentQuality", "bandpass_sos", "concat_quality", "qrs_energy", "segment_quality",
           "undetected_gaps"]


@dataclass(frozen=True)
class SegmentQuality:
    """Per-segment quality of one record.

    Attributes:
        segment_s: segment length, seconds (segment k covers [k, k + 1) x segment_s).
        index: (n_segments,) template correlation in [-1, 1]; NaN where fewer than 2 beats.
        beats: (n_segments,) detected beats per segment.
        unreadable: [start, stop) sample ranges of runs of unreadable segments.
        contrast: (n_segments,) QRS contrast: geometric mean over the segment's beats of the
            QRS-band energy at the beat over the segment's median energy (NaN under 2 beats);
            see :mod:`ecgdl.ecg_presence`.
        width_ms: (n_segments,) median R-wave width at half amplitude of every 4th beat of the
            segment, ms (NaN where none).
    """

    segment_s: float
    index: np.ndarray
    beats: np.ndarray
    unreadable: tuple[tuple[int, int], ...]
    contrast: np.ndarray | None = None
    width_ms: np.ndarray | None = None


def qrs_energy(x: np.ndarray, fs: float, cfg: QualityConfig = DEFAULT_QUALITY) -> np.ndarray:
    """(n,) QRS-band energy envelope: band-pass (causal, started in steady state), derivative,
    square, centred moving sum: the detector's envelope recipe (Pan-Tompkins); a few ms late.
    """
    v = np.asarray(x, np.float64)
    sos, zi = bandpass_sos(fs, cfg.energy_band_hz, with_zi=True)
    v, _ = iir.sosfilt(sos, v, zi=zi * v[0])
    n = v.size
    d = np.empty_like(v)
    np.subtract(v[2:], v[:-2], out=d[1:-1])
    d[1:-1] *= 0.5                                   # central difference (np.gradient's interior)
    d[0], d[-1] = v[1] - v[0], v[-1] - v[-2]
    d *= d
    w = max(1, int(round(cfg.integrate_s * fs)))
    c = np.empty(n + 1)
    c[0] = 0.0
    np.cumsum(d, out=c[1:])
    h = w // 2                                       # centred moving sum by cumulative sums:
    if n < w + h:                                    # out[t] = c[min(lo + w, n)] - c[lo], lo = max(t - h, 0)
        lo = np.minimum(np.maximum(np.arange(n) - h, 0), n)
        return c[np.minimum(lo + w, n)] - c[lo]
    out = np.empty(n)
    out[:h] = c[w] - c[0]
    np.subtract(c[w:], c[: n + 1 - w], out=out[h: h + n + 1 - w])
    out[h + n + 1 - w:] = c[n] - c[n + 1 - w: n - h]
    return out


def undetected_gaps(x: np.ndarray, fs: float, peaks: np.ndarray,
                    cfg: QualityConfig = DEFAULT_QUALITY) -> tuple[tuple[int, int], ...]:
    """[start, stop) of the RR gaps longer than gap_s that show QRS activity (see the module docstring).

    Args:
        x: (n,) or (n, n_leads) float mV, finite; column 0 is the primary lead.
        fs: sampling rate, Hz.
        peaks: (n_beats,) sorted R-peak samples.

    Returns:
        (start, stop) = (the beat before, the beat after) of each undetected gap, in samples.
    """
    x = np.asarray(x)
    x = x[:, None] if x.ndim == 1 else x
    p = np.asarray(peaks, np.int64)
    gaps = np.flatnonzero(np.diff(p) > cfg.gap_s * fs)
    out: list[tuple[int, int]] = []
    # one envelope per cluster of nearby gaps (a sinus arrest record has hundreds): filter calls
    # follow the clusters, not the gaps
    lo_s = np.maximum(0, p[np.maximum(0, gaps - 4)] - int(fs))
    hi_s = np.minimum(x.shape[0], p[np.minimum(p.size - 1, gaps + 5)] + int(fs))
    k = 0
    while k < gaps.size:
        a0, b0 = int(lo_s[k]), int(hi_s[k])
        m = k + 1
        while m < gaps.size and lo_s[m] <= b0 and hi_s[m] - a0 <= 600 * fs:
            b0 = max(b0, int(hi_s[m]))
            m += 1
        active = _gaps_active(x[a0:b0], a0, fs, p, gaps[k:m], cfg)
        out += [(int(p[i]), int(p[i + 1])) for i in gaps[k:m][active]]
        k = m
    return tuple(out)


def _gaps_active(x: np.ndarray, a0: int, fs: float, p: np.ndarray, gi: np.ndarray,
                 cfg: QualityConfig) -> np.ndarray:
    """(len(gi),) bool: some lead of x (samples a0...) shows QRS activity in gap p[i] -> p[i + 1].

    Activity: the envelope's maximum inside the gap over the median of its peaks at the
    neighbouring beats (p[i - 4] ... p[i + 5], +-60 ms each); lead 1 on is checked only where
    the leads before show none.
    """
    r = int(round(0.06 * fs))
    lo = (p[gi] + cfg.t_wave_s * fs).astype(np.int64) - a0
    hi = (p[gi + 1] - cfg.edge_s * fs).astype(np.int64) - a0
    ok = hi > lo
    span = np.clip(gi[:, None] + np.arange(-4, 6), -1, p.size)            # the neighbouring beats
    inside = (span >= 0) & (span < p.size)
    nb = p[np.clip(span, 0, p.size - 1)] - a0
    inside &= (nb >= 0) & (nb < x.shape[0])
    active = np.zeros(gi.size, bool)
    for j in range(x.shape[1]):
        todo = ok & ~active
        if not todo.any():
            break
        e = qrs_energy(x[:, j], fs, cfg)
        beat = _median_rows(np.where(inside, _window_max(e, np.clip(nb, 0, e.size - 1), r), np.nan))
        t = np.flatnonzero(todo)
        edges = np.stack([lo[t], hi[t]], axis=1).ravel()                    # disjoint, increasing
        gmax = np.maximum.reduceat(np.concatenate((e, [0.0])), edges)[::2]
        thr = cfg.activity_primary if j == 0 else cfg.activity_other
        with np.errstate(invalid="ignore", divide="ignore"):
            active[t] = (beat[t] > 0) & (gmax / beat[t] > thr)
    return active


def _window_max(e: np.ndarray, idx: np.ndarray, r: int) -> np.ndarray:
    """max(e[i - r : i + r + 1]) (clipped to e) for each i of idx (any shape), computed once per distinct i."""
    u, inv = np.unique(idx, return_inverse=True)
    win = e[np.clip(u[:, None] + np.arange(-r, r + 1), 0, e.size - 1)]
    return win.max(axis=1)[inv].reshape(idx.shape)


def _median_rows(a: np.ndarray) -> np.ndarray:
    """Median of each row of a 2-D array over its non-NaN entries (NaN for an all-NaN row)."""
    s = np.sort(a, axis=1)                           # NaN sort last
    cnt = np.sum(~np.isnan(a), axis=1)
    rows = np.arange(a.shape[0])
    hi, lo = s[rows, np.maximum(cnt // 2, 0)], s[rows, np.maximum((cnt - 1) // 2, 0)]
    return np.where(cnt > 0, (lo + hi) / 2, np.nan)


def segment_quality(x: np.ndarray, fs: float, peaks: np.ndarray,
                    cfg: QualityConfig = DEFAULT_QUALITY, *, offset: int = 0,
                    energy: np.ndarray | None = None, contrast: bool = True) -> SegmentQuality:
    """Template-correlation quality index per segment of the primary lead (see the module docstring).

    Each beat's correlation is the best one with its 4 nearest beats (a run of alternating
    morphologies, bigeminy for instance, is still readable); the segment's index is their mean.

    Args:
        x: (n,) float mV, finite (the primary lead).
        fs: sampling rate, Hz.
        peaks: (n_beats,) sorted R-peak samples in x.
        offset: added to the unreadable ranges (x is a chunk starting there).
        energy: the QRS-band energy envelope of x read every ``fs // 120``-th sample (the
            detector's own); None: computed here (:func:`qrs_contrast`).
        contrast: False: no QRS contrast nor width (NaN), the no-ECG check reads other chunks.

    >>> fs = 250.0; x = np.zeros(int(60 * fs)); pk = np.arange(125, x.size - 125, 200)
    >>> x[pk] = 1.0
    >>> q = segment_quality(x, fs, pk)
    >>> q.index.round(2).tolist()[:2], q.unreadable
    ([1.0, 1.0], ())
    """
    x = np.asarray(x).ravel()
    seg = max(1, int(round(cfg.segment_s * fs)))
    ns = max(1, -(-x.size // seg))
    p = np.asarray(peaks, np.int64)
    r = max(1, int(round(cfg.template_s * fs)))
    p = p[(p >= r) & (p < x.size - r)]
    beats = np.bincount(p // seg, minlength=ns)[:ns]
    index = np.full(ns, np.nan)
    if p.size >= 3:
        step = max(1, int(fs // 120))                              # ~120 Hz is plenty for a correlation
        w = x[p[:, None] + np.arange(-r, r + 1, step)].astype(np.float32)
        ramp = np.linspace(-1.0, 1.0, w.shape[1], dtype=np.float32)
        w -= w.mean(axis=1, keepdims=True)
        w -= np.outer(w @ ramp / (ramp @ ramp), ramp)              # linear detrend: no filter pass
        w /= np.maximum(np.sqrt(np.einsum("ij,ij->i", w, w))[:, None], 1e-12)
        best = np.full(p.size, -1.0)
        for k in (1, 2):
            c = np.einsum("ij,ij->i", w[k:], w[:-k])
            best[k:] = np.maximum(best[k:], c)
            best[:-k] = np.maximum(best[:-k], c)
        s = np.bincount(p // seg, weights=best, minlength=ns)[:ns]
        with np.errstate(invalid="ignore", divide="ignore"):
            index = np.where(beats >= 2, s / np.maximum(beats, 1), np.nan)
    if contrast:
        cq, width = qrs_contrast(x, fs, p, seg, ns, beats, cfg, energy=energy)
    else:
        cq, width = np.full(ns, np.nan), np.full(ns, np.nan)
    bad = (beats >= cfg.min_beats) & (np.nan_to_num(index, nan=1.0) < cfg.min_tcorr)
    d = np.diff(np.concatenate(([0], bad.view(np.int8), [0])))
    runs = tuple((int(a * seg) + offset, int(min(b * seg, x.size)) + offset)
                 for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))
    return SegmentQuality(cfg.segment_s, index, beats, runs, cq, width)


def qrs_contrast(x: np.ndarray, fs: float, p: np.ndarray, seg: int, ns: int, beats: np.ndarray,
                 cfg: QualityConfig = DEFAULT_QUALITY, *,
                 energy: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per segment: QRS contrast and median R-wave width (ms) of the beats p (see SegmentQuality).

    The energy envelope is :func:`qrs_energy` of x taken every ``fs // 120``-th sample (about
    120 Hz: the 5-20 Hz band survives; a tenth of the full-rate cost), or ``energy``, the
    detector's envelope read at those samples (no filter pass here); the segment's median
    energy is read from every 4th envelope sample. Width: samples within +-60 ms of the beat
    whose distance from the window's median (of every 3rd sample) is at least half the largest one.
    """
    contrast = np.full(ns, np.nan)
    width = np.full(ns, np.nan)
    if p.size < 2 or x.size < 4:
        return contrast, width
    step = max(1, int(fs // 120))
    fd = fs / step
    e = qrs_energy(x[::step], fd, cfg) if energy is None else np.asarray(energy)
    sd = max(1, seg // step)
    full = e.size // sd
    med = np.median(e[: full * sd].reshape(full, sd)[:, ::4], axis=1)
    if full * sd < e.size:                                        # the partial last segment
        med = np.append(med, np.median(e[full * sd:]))
    m = med.size
    r = max(1, int(round(0.06 * fd)))
    pd = np.minimum(p // step, e.size - 1)
    peak = e[np.clip(pd[:, None] + np.arange(-r, r + 1), 0, e.size - 1)].max(axis=1)
    k = np.minimum(p // seg, ns - 1)
    base = med[np.minimum(k, m - 1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        lr = np.log(np.maximum(peak, 1e-30) / np.maximum(base, 1e-30))
    g = np.bincount(k, weights=lr, minlength=ns)[:ns]
    with np.errstate(invalid="ignore", divide="ignore"):
        contrast = np.where(beats >= 2, np.exp(g / np.maximum(beats, 1)), np.nan)
    rw = max(1, int(round(0.06 * fs)))
    pw, kw = p[::4], k[::4]                                       # every 4th beat: >= 1 per judged segment
    w = x[np.clip(pw[:, None] + np.arange(-rw, rw + 1), 0, x.size - 1)].astype(np.float32)
    a = np.abs(w - np.median(w[:, ::3], axis=1, keepdims=True))
    wb = np.sum(a >= 0.5 * a.max(axis=1, keepdims=True), axis=1) * (1000.0 / fs)
    order = np.lexsort((wb, kw))                                  # per-segment medians by one sort
    ks, ws = kw[order], wb[order]
    first = np.searchsorted(ks, np.arange(ns))
    cnt = np.bincount(ks, minlength=ns)[:ns]
    ok = cnt > 0
    width[ok] = ws[np.minimum(first[ok] + cnt[ok] // 2, ws.size - 1)]
    return contrast, width


def concat_quality(parts: list[SegmentQuality]) -> SegmentQuality | None:
    """One SegmentQuality from the consecutive chunks' ones (each chunk a whole number of segments)."""
    if not parts:
        return None
    runs: list[tuple[int, int]] = []
    for q in parts:
        for a, b in q.unreadable:
            if runs and a <= runs[-1][1]:
                runs[-1] = (runs[-1][0], b)
            else:
                runs.append((a, b))
    cat = (lambda f: None if any(getattr(q, f) is None for q in parts)
           else np.concatenate([getattr(q, f) for q in parts]))
    return SegmentQuality(parts[0].segment_s, np.concatenate([q.index for q in parts]),
                          np.concatenate([q.beats for q in parts]), tuple(runs), cat("contrast"), cat("width_ms"))


_SOS: dict = {}


def bandpass_sos(fs: float, band: tuple[float, float], *, with_zi: bool = False):
    """Cached 2nd-order Butterworth band-pass (sos) at fs; with_zi: (sos, its unit-step zi)."""
    key = (round(fs, 6), band)
    if key not in _SOS:
        sos = iir.butter(2, band, btype="bandpass", fs=fs, output="sos")
        _SOS[key] = (sos, iir.sosfilt_zi(sos))
    return _SOS[key] if with_zi else _SOS[key][0]
