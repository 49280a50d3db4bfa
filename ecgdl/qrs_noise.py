"""Beats in noisy stretches: a two-lead matched filter and a rhythm prior (issue 15, NSTDB).

Under heavy electrode-motion noise the energy envelope of one lead cannot tell a QRS from an
artefact: the local noise floor raises the bar and beats are lost (NSTDB 118e00: Se 82 %). Where
the detector's own noise index says a stretch is noisy, its beats there are chosen again:

1. **Noisy stretches**: 1-s blocks whose noise floor (median height of the envelope's local
   maxima) exceeds ``noisy_ratio`` x the local QRS level (the ratio :func:`ecgdl.qrs_select.select_beats`
   returns), grown by ``dilate_s``. On the 48 MIT-BIH records 0.6 % of 10-s segments reach 0.04
   (most of them in 207's flutter, 104, 105, 232); NSTDB's noisy minutes reach 0.05-0.15.
2. **Matched filter**: the record's own QRS template per lead (median of the beats found in clean
   blocks, ratio < ``clean_ratio``, +-``template_s``, on the lead band-passed by a difference of
   centred boxcars, ``fast_s`` - ``slow_s``: linear phase, numpy only), correlated with that lead;
   each lead's positive output is scaled to 1 at its clean beats and the leads are averaged. The
   two leads' noise is largely independent, their QRS is not, so the average gains SNR where
   either lead alone is lost.
3. **Rhythm prior** (dynamic programming over the filter's peaks between the clean beats that
   bound the stretch): a beat of filter height ``a`` is worth ``a - beat_cost``; each RR interval
   costs ``rhythm_weight`` x -ln p(RR), where p is the smoothed distribution of the RR intervals
   of the clean beats around the stretch (``context_s``; log-RR kernel ``rr_sigma``, floor
   ``rr_floor``); no interval longer than ``max_rr`` x their 90th-percentile RR. A bigeminy or atrial fibrillation brings its own distribution; the best path is
   the set of beats the rhythm and the filter agree on.

``beat_cost`` and ``rhythm_weight`` were chosen on MIT-BIH records other than 118 and 119
(101 106 109 112 115 116 122 201 208 215 220 223) with NSTDB ``em`` noise added at 0 and -6 dB in
NSTDB's two-minute pattern (docs/qrs.md); NSTDB 118e*/119e* were not used to choose them.
"""
from __future__ import annotations

import numpy as np

from ecgdl.qrs_config import NoiseConfig

__all__ = ["NoiseConfig", "matched_filter", "redetect_noisy"]


def redetect_noisy(leads: list[np.ndarray], fs: float, pk: np.ndarray, noisy: np.ndarray,
                   clean: np.ndarray, refractory_s: float, cfg: NoiseConfig) -> np.ndarray:
    """Beats of one chunk with those inside its noisy stretches chosen again (see the module docstring).

    Args:
        leads: (n,) float finite leads, the primary first (the first ``cfg.leads`` are used).
        fs: sampling rate, Hz.
        pk: (n_beats,) sorted beat samples found by the energy detector.
        noisy, clean: (n,) bool per sample: noisy stretches (already grown) and clean blocks.
        refractory_s: shortest RR interval allowed, seconds.

    Returns:
        (n_beats',) sorted beat samples (not refined: positions of the matched-filter peaks).
    """
    r = max(1, int(round(cfg.template_s * fs)))
    n = leads[0].size
    good = pk[(pk > r) & (pk < n - r - 1)]
    good = good[clean[good]]
    if good.size < cfg.min_template_beats or not noisy.any():
        return pk
    a = matched_filter(leads[: cfg.leads], fs, good, r, cfg)
    c = _candidates(a, fs, cfg)
    d = np.diff(np.r_[0, noisy.view(np.int8), 0])
    keep = [pk[~noisy[pk]]]
    for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
        prior = _rr_prior(good, s, e, fs, cfg)
        if prior is None:
            keep.append(pk[(pk >= s) & (pk < e)])
            continue
        before, after = pk[pk < s], pk[pk >= e]
        first = int(before[-1]) if before.size else None
        last = int(after[0]) if after.size else None
        cc = c[(c > (s if first is None else first)) & (c < (e if last is None else last))]
        keep.append(_best_path(cc, a[cc], first, last, prior, fs, refractory_s, cfg))
    return np.unique(np.concatenate(keep).astype(np.int64))


def matched_filter(leads: list[np.ndarray], fs: float, good: np.ndarray, r: int,
                   cfg: NoiseConfig) -> np.ndarray:
    """(n,) mean over leads of the positive template-correlation output, 1 at a typical clean beat."""
    out = np.zeros(leads[0].size)
    used = 0
    for v in leads:
        b = _band(np.asarray(v, np.float64), fs, cfg)
        t = np.median(b[good[:, None] + np.arange(-r, r + 1)], axis=0)
        t -= t.mean()
        norm = np.linalg.norm(t)
        if not np.isfinite(norm) or norm <= 0:
            continue
        g = np.maximum(np.correlate(b, t / norm, mode="same"), 0.0)
        level = float(np.median(g[good]))
        if level > 0:
            out += g / level
            used += 1
    return out / max(used, 1)


def _band(x: np.ndarray, fs: float, cfg: NoiseConfig) -> np.ndarray:
    """Band-pass by a difference of centred boxcars (fast_s minus slow_s): linear phase, no delay."""
    return _boxcar(x, cfg.fast_s * fs) - _boxcar(x, cfg.slow_s * fs)


def _boxcar(x: np.ndarray, length: float) -> np.ndarray:
    """Centred moving mean over an odd number of samples (shorter at the ends)."""
    h = max(1, int(length)) // 2
    c = np.concatenate(([0.0], np.cumsum(x)))
    i = np.arange(x.size)
    lo, hi = np.maximum(i - h, 0), np.minimum(i + h + 1, x.size)
    return (c[hi] - c[lo]) / (hi - lo)


def _candidates(a: np.ndarray, fs: float, cfg: NoiseConfig) -> np.ndarray:
    """Local maxima of a above candidate_min that are the largest within +-nms_s."""
    c = np.flatnonzero((a[1:-1] > a[:-2]) & (a[1:-1] >= a[2:])) + 1
    c = c[a[c] > cfg.candidate_min]
    w = max(1, int(round(cfg.nms_s * fs)))
    if c.size < 2:
        return c
    keep = np.ones(c.size, bool)
    for s in range(1, c.size):                       # neighbours within +-w (few: peaks are >= 2 apart)
        close = (c[s:] - c[:-s]) <= w
        if not close.any():
            break
        left = a[c[:-s]] < a[c[s:]]
        keep[:-s] &= ~(close & left)
        keep[s:] &= ~(close & ~left)
    return c[keep]


def _rr_prior(good: np.ndarray, s: int, e: int, fs: float, cfg: NoiseConfig):
    """-ln p(RR) on a log-RR grid from the clean beats within context_s of [s, e), or None (too few)."""
    near = good[(good > s - cfg.context_s * fs) & (good < e + cfg.context_s * fs)]
    rr = np.diff(near)
    if rr.size < cfg.min_template_beats // 2:
        return None
    span = cfg.max_rr * float(np.percentile(rr, 90))
    rr = rr[rr <= span]                              # an interval across the stretch is not an RR
    grid = np.linspace(np.log(0.1), np.log(max(span / fs, 0.2)), 300)
    dens = np.exp(-0.5 * ((grid[:, None] - np.log(rr / fs)[None, :]) / cfg.rr_sigma) ** 2).sum(axis=1)
    return grid, -np.log(dens / dens.max() + cfg.rr_floor), span


def _best_path(c: np.ndarray, a: np.ndarray, first: int | None, last: int | None, prior, fs: float,
               refractory_s: float, cfg: NoiseConfig) -> np.ndarray:
    """The beats among candidates c (heights a) maximising sum(a - beat_cost) - rhythm_weight x sum(-ln p(RR)).

    first / last: the clean beats bounding the stretch (None at a chunk edge: no interval to it).
    """
    grid, cost, span = prior
    pos = np.r_[first if first is not None else -1, c, last if last is not None else -1].astype(np.int64)
    gain = np.r_[0.0, a - cfg.beat_cost, 0.0]
    m = pos.size
    best = np.full(m, -np.inf)
    back = np.zeros(m, np.int64)
    best[0] = 0.0
    refr = refractory_s * fs
    lo = 0 if first is not None else 1
    for k in range(1, m):
        if k == m - 1 and last is None:              # chunk edge: the path may end anywhere
            i = int(np.argmax(best[:k]))
            best[k], back[k] = best[i], i
            continue
        while lo < k - 1 and pos[k] - pos[lo] > span:
            lo += 1
        j = np.arange(lo, k)
        d = pos[k] - pos[j]
        v = best[j] - cfg.rhythm_weight * np.interp(np.log(np.maximum(d, 1) / fs), grid, cost)
        v[(d < refr) | (d > span)] = -np.inf
        if v.size and np.isfinite(v).any():
            t = int(np.argmax(v))
            i, val = int(j[t]), float(v[t])
        else:                                        # nothing in range: continue from the previous node
            i, val = k - 1, float(best[k - 1])
        if first is None and best[0] >= val:         # chunk edge: the first beat has no interval before it
            i, val = 0, 0.0
        best[k], back[k] = val + gain[k], i
    out, k = [], back[m - 1]
    while k > 0:
        out.append(pos[k])
        k = back[k]
    return np.asarray(out[::-1], np.int64)
