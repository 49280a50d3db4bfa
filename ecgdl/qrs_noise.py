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

A stretch whose energy-detector beats already fit the prior (every RR interval, from the beat before
the stretch to the one after, within [refractory, span] and costing at most ``skip_cost``), or form an
organised rhythm of their own (``organised_irr``: regular and alike, a fast ventricular run; :func:`_organised`), keeps them:
the matched filter is built only for the first stretch that needs it (speed, issue 15; docs/qrs.md).

``beat_cost`` and ``rhythm_weight`` were chosen on MIT-BIH records other than 118 and 119
(101 106 109 112 115 116 122 201 208 215 220 223) with NSTDB ``em`` noise added at 0 and -6 dB in
NSTDB's two-minute pattern (docs/qrs.md); NSTDB 118e*/119e* were not used to choose them.
"""
from __future__ import annotations

import math

import numpy as np

from ecgdl.qrs_config import NoiseConfig
from ecgdl.qrs_select import sorted_unique
from ecgdl.signal import column_median

__all__ = ["MatchedFilter", "NoiseConfig", "redetect_noisy"]


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
    edges = _edges(noisy)                                                  # start, stop, start, stop ...
    mf = None                                                              # built at the first stretch that needs it
    keep = [pk[~noisy[pk]]]
    for s, e in zip(edges[0::2], edges[1::2]):
        prior = _rr_prior(good, s, e, fs, cfg)
        inside = pk[(pk >= s) & (pk < e)]
        if prior is None:
            keep.append(inside)
            continue
        i0, i1 = np.searchsorted(pk, (s, e))
        first = int(pk[i0 - 1]) if i0 > 0 else None
        last = int(pk[i1]) if i1 < pk.size else None
        if _confident(inside, first, last, prior, fs, refractory_s, cfg) or _organised(
                inside, leads[0], fs, cfg, _context_rr(good, s, e, fs, cfg)):
            keep.append(inside)                           # the energy detector's beats fit the rhythm, or make one
            continue
        if mf is None:
            mf = MatchedFilter(leads[: cfg.leads], fs, _nearest(good, edges, cfg.template_beats), r, cfg)
        if not mf.templates:
            keep.append(inside)
            continue
        lo, hi = (s if first is None else first + 1), (e if last is None else last)
        a = mf.output(lo, hi)
        cc = _candidates(a, fs, cfg)
        keep.append(_best_path(cc + lo, a[cc], first, last, prior, fs, refractory_s, cfg))
    return sorted_unique(np.concatenate(keep).astype(np.int64))


class MatchedFilter:
    """Per-lead QRS templates from clean beats and the leads' mean template correlation on demand.

    Each lead is band-passed by a difference of centred boxcars (``fast_s`` minus ``slow_s``: linear
    phase, no delay), computed only where asked (from a local cumulative sum); the template is
    the median of the clean beats' +-r windows; each lead's positive correlation is scaled to 1 at
    a typical clean beat (median) before the leads are averaged.
    """

    def __init__(self, leads: list[np.ndarray], fs: float, good: np.ndarray, r: int, cfg: NoiseConfig):
        self.r = r
        self.h = (max(1, int(cfg.fast_s * fs)) // 2, max(1, int(cfg.slow_s * fs)) // 2)
        self.leads, self.templates = [], []
        for v in leads:
            w = self._windows(v, good)
            t = column_median(w)
            t -= t.mean()
            norm = np.linalg.norm(t)
            if not np.isfinite(norm) or norm <= 0:
                continue
            t /= norm
            level = float(column_median(np.maximum(w @ t, 0.0)[:, None])[0])
            if level > 0:
                self.leads.append(v)
                self.templates.append(t / level)

    def _windows(self, v: np.ndarray, good: np.ndarray) -> np.ndarray:
        """(len(good), 2r + 1) the band-passed lead around each beat (samples clipped at v's ends)."""
        r, pad = self.r, self.h[1] + 1
        x = v[np.clip(good[:, None] + np.arange(-r - pad, r + pad + 1), 0, v.size - 1)]
        cs = np.zeros((good.size, x.shape[1] + 1))
        np.cumsum(x, axis=1, dtype=np.float64, out=cs[:, 1:])
        out = np.zeros((good.size, 2 * r + 1))          # x[:, pad + i] is the window's sample i
        for sign, h in zip((1.0, -1.0), self.h):
            out += sign * (cs[:, pad + h + 1: pad + h + 2 + 2 * r] - cs[:, pad - h: pad - h + 2 * r + 1]) / (2 * h + 1)
        return out

    def band(self, v: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """(hi - lo,) the band-passed lead v at samples [lo, hi) (moving means shorten at v's ends)."""
        n, pad = v.size, self.h[1] + 1
        a, b = max(0, lo - pad), min(n, hi + pad)
        cs = np.concatenate(([0.0], np.cumsum(v[a:b], dtype=np.float64)))
        out = np.zeros(max(hi - lo, 0))
        if out.size == 0:
            return out
        for sign, h in zip((1.0, -1.0), self.h):
            if lo - h >= 0 and hi + h <= n:              # away from v's ends: whole boxcars, plain slices
                out += sign * (cs[lo + h + 1 - a: hi + h + 1 - a] - cs[lo - h - a: hi - h - a]) / (2 * h + 1)
                continue
            idx = np.arange(lo, hi)
            s, e = np.clip(idx - h, 0, n), np.clip(idx + h + 1, 0, n)
            out += sign * (cs[e - a] - cs[s - a]) / np.maximum(e - s, 1)
        return out

    def output(self, lo: int, hi: int) -> np.ndarray:
        """(hi - lo,) mean over leads of the scaled positive template correlation at samples [lo, hi)."""
        out = np.zeros(max(hi - lo, 0))
        if out.size == 0:
            return out
        for v, t in zip(self.leads, self.templates):
            out += np.maximum(np.correlate(self.band(v, lo - self.r, hi + self.r), t, mode="valid"), 0.0)
        return out / max(len(self.templates), 1)


def _confident(inside: np.ndarray, first: int | None, last: int | None, prior, fs: float,
               refractory_s: float, cfg: NoiseConfig) -> bool:
    """Whether the energy detector's beats in a stretch already fit its rhythm prior: every RR interval
    (from the bounding beats through those inside) within [refractory, span] and costing at most
    ``skip_cost`` (-ln p(RR)); such a stretch keeps its beats (the matched filter is not run)."""
    if cfg.skip_cost is None or first is None or last is None or inside.size < 2:
        return False
    grid, cost, span = prior
    d = np.diff(np.concatenate(([first], inside, [last])))
    if d.min() < refractory_s * fs or d.max() > span:
        return False
    return float(np.interp(np.log(d / fs), grid, cost).max()) <= cfg.skip_cost


def _context_intervals(good: np.ndarray, s: int, e: int, fs: float, cfg: NoiseConfig):
    """``(rr, span)``: the RR intervals (samples) of the clean beats within ``context_s`` of [s, e), those longer
    than ``span`` (``max_rr`` x their 90th percentile: an interval across the stretch is not an RR) left out;
    None when there are too few. What :func:`_rr_prior` and :func:`_context_rr` read."""
    lo, hi = s - cfg.context_s * fs, e + cfg.context_s * fs
    near = good[np.searchsorted(good, lo, side="right"): np.searchsorted(good, hi, side="left")]   # sorted: lo < g < hi
    rr = np.diff(near)
    if rr.size < cfg.min_template_beats // 2:
        return None
    span = cfg.max_rr * _percentile90(rr)
    return rr[rr <= span], span


def _context_rr(good: np.ndarray, s: int, e: int, fs: float, cfg: NoiseConfig) -> float | None:
    """Median RR (samples) of the clean beats around [s, e) (:func:`_context_intervals`), None when
    ``organised_faster`` is off or there are too few."""
    if cfg.organised_irr is None or cfg.organised_faster is None:
        return None
    ctx = _context_intervals(good, s, e, fs, cfg)
    return float(np.median(ctx[0])) if ctx is not None and ctx[0].size else None


def _organised(inside: np.ndarray, lead: np.ndarray, fs: float, cfg: NoiseConfig,
               context_rr: float | None = None) -> bool:
    """Whether the energy detector's beats in a stretch form an organised rhythm of their own: at least
    ``organised_beats``, regular (median |dRR| / median RR < ``organised_irr``) and alike (median Pearson
    correlation of neighbouring complexes, +-``template_s`` on ``lead``, >= ``organised_corr``). A fast
    ventricular run raises the noise index (no quiet baseline between beats) and does not fit the sinus
    rhythm prior; noise detections are neither regular nor alike. With ``organised_faster`` the run must also be
    faster than the clean context (median RR < that x ``context_rr``; no context: no run). Off when
    ``organised_irr`` is None."""
    if cfg.organised_irr is None or inside.size < max(cfg.organised_beats, 3):
        return False
    rr = np.diff(inside).astype(np.float64)
    med = float(np.median(rr))
    if med <= 0 or float(np.median(np.abs(np.diff(rr)))) / med >= cfg.organised_irr:
        return False
    if cfg.organised_faster is not None and (context_rr is None or med >= cfg.organised_faster * context_rr):
        return False
    r = max(1, int(round(cfg.template_s * fs)))
    w = lead[np.clip(inside[:, None] + np.arange(-r, r + 1), 0, lead.size - 1)].astype(np.float64)
    w -= w.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(w, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.sum(w[1:] * w[:-1], axis=1) / (norm[1:] * norm[:-1])
    return bool(np.isfinite(corr).any() and np.nanmedian(corr) >= cfg.organised_corr)


def _nearest(good: np.ndarray, z: np.ndarray, k: int) -> np.ndarray:
    """The k clean beats nearest a noisy stretch (z: the stretches' [start, stop) edges, in order; all
    beats when there are fewer), sorted."""
    if good.size <= k:
        return good
    j = np.clip(np.searchsorted(z, good), 1, z.size - 1)
    dist = np.minimum(np.abs(good - z[j - 1]), np.abs(z[np.minimum(j, z.size - 1)] - good))
    return np.sort(good[np.argsort(dist, kind="stable")[:k]])


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
    ctx = _context_intervals(good, s, e, fs, cfg)
    if ctx is None:
        return None
    rr, span = ctx
    grid = _linspace(float(np.log(0.1)), float(np.log(max(span / fs, 0.2))), 300)
    z = np.subtract.outer(grid, np.log(rr / fs))     # Gaussian kernels, in place: exp(-0.5 z^2)
    z /= cfg.rr_sigma
    np.square(z, out=z)
    z *= -0.5
    dens = np.exp(z, out=z).sum(axis=1)
    return grid, -np.log(dens / dens.max() + cfg.rr_floor), span


def _linspace(start: float, stop: float, num: int) -> np.ndarray:
    """``np.linspace(start, stop, num)`` by numpy's own arithmetic (arange x step + start, the last set
    to stop): its very values without its per-call overhead (a third of the rhythm prior's time)."""
    y = np.arange(num, dtype=np.float64) * ((stop - start) / (num - 1))
    y += start
    y[-1] = stop
    return y


def _percentile90(a: np.ndarray) -> float:
    """``float(np.percentile(a, 90))`` of a 1-D integer array, by numpy's own rule (linear method):
    its very value without its per-call overhead (a tenth of a millisecond, 8 calls a noisy chunk)."""
    n = a.size
    v = (n - 1) * 0.9
    lo = math.floor(v)
    if v >= n - 1:
        return float(a.max())
    part = np.partition(a, (lo, lo + 1))
    x0, x1 = int(part[lo]), int(part[lo + 1])
    g, d = v - lo, x1 - x0
    return x1 - d * (1 - g) if g >= 0.5 else x0 + d * g


def _edges(mask: np.ndarray) -> np.ndarray:
    """Start, stop, start, stop ... of the True runs of a 1-D bool array (``np.diff`` of it, padded)."""
    d = np.flatnonzero(mask[1:] != mask[:-1]) + 1
    head = [0] if mask[0] else []
    tail = [mask.size] if mask[-1] else []
    return np.concatenate((head, d, tail)).astype(np.int64) if head or tail else d


def _best_path(c: np.ndarray, a: np.ndarray, first: int | None, last: int | None, prior, fs: float,
               refractory_s: float, cfg: NoiseConfig) -> np.ndarray:
    """The beats among candidates c (heights a) maximising sum(a - beat_cost) - rhythm_weight x sum(-ln p(RR)).

    first / last: the clean beats bounding the stretch (None at a chunk edge: no interval to it).
    """
    grid, cost, span = prior
    pos = np.concatenate(([first if first is not None else -1], c, [last if last is not None else -1])).astype(np.int64)
    gain = np.concatenate(([0.0], a - cfg.beat_cost, [0.0]))
    m = pos.size
    # predecessors of node k: the up-to-w nodes before it (node 0 only when it is a real beat)
    w = max(1, int(np.max(np.searchsorted(pos[1:], pos[1:] + span) - np.arange(m - 1))) + 1) if m > 1 else 1
    j = np.arange(m)[:, None] - np.arange(1, w + 1)[None, :]               # (m, w)
    d = pos[:, None] - pos[np.maximum(j, 0)]
    bad = (j < 0) | (d < refractory_s * fs) | (d > span)
    if first is None:
        bad |= j == 0
    step = np.where(bad, np.inf, cfg.rhythm_weight * np.interp(np.log(np.maximum(d, 1) / fs), grid, cost))
    best = np.full(m, -np.inf)
    back = np.zeros(m, np.int64)
    best[0] = 0.0
    jj, steps, gains = list(np.maximum(j, 0)), list(step), gain.tolist()     # rows as views, once
    for k in range(1, m):
        if k == m - 1 and last is None:              # chunk edge: the path may end anywhere
            i = int(np.argmax(best[:k]))
            best[k], back[k] = best[i], i
            continue
        v = best.take(jj[k])
        v -= steps[k]
        t = int(v.argmax())
        val = v.item(t)
        if math.isfinite(val):
            i = k - 1 - t                            # j[k, t]
        else:                                        # nothing in range: continue from the previous node
            i, val = k - 1, float(best[k - 1])
        if first is None and best[0] >= val:         # chunk edge: the first beat has no interval before it
            i, val = 0, 0.0
        best[k], back[k] = val + gains[k], i
    out, k = [], back[m - 1]
    while k > 0:
        out.append(pos[k])
        k = back[k]
    return np.asarray(out[::-1], np.int64)
