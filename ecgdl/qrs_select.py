"""Beat selection for :mod:`ecgdl.qrs`: from an energy envelope's local maxima to beat positions.

Adaptive threshold on a robust local QRS level and a local noise floor, refractory competition,
T-wave and extra-beat rejection by energy and RR context, and search-back in long RR gaps.
Positions are samples of the envelope (at the detector's internal rate ``fd``).
"""
from __future__ import annotations

import numpy as np

from ecgdl.qrs_config import QRSConfig
from ecgdl.signal import median_filter

__all__ = ["block_level", "select_beats", "sorted_unique"]


def block_level(f: np.ndarray, fd: float, cfg: QRSConfig) -> tuple[np.ndarray, int]:
    """Robust local QRS level per block (median of block maxima over level_window_s) and block size."""
    bsz = max(1, int(round(cfg.level_block_s * fd)))
    nb, nf = -(-f.size // bsz), f.size // bsz
    bm = np.empty(nb)                            # block maxima (the last block padded with zeros: f >= 0)
    bm[:nf] = f[: nf * bsz].reshape(nf, bsz).max(axis=1)
    if nb > nf:
        bm[nf] = np.maximum(f[nf * bsz:].max(), 0.0)
    k = max(1, int(round(cfg.level_window_s / cfg.level_block_s))) | 1
    return median_filter(bm, size=k, mode="nearest"), bsz


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` of a 1-D integer array (beat samples), by a sort: numpy 2.4's hash-based
    unique is 5x slower on a chunk's beats and 30x on a day's.

    >>> sorted_unique(np.array([5, 1, 5, 3])).tolist()
    [1, 3, 5]
    """
    s = np.sort(a)
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if s.size else s


def select_beats(f: np.ndarray, fd: float, cfg: QRSConfig):
    """Beats chosen among the local maxima of the envelope f.

    Returns:
        (positions (samples at fd), their heights, the noise ratio per ``level_block_s`` block:
        local noise floor over local QRS level, the detector's noise index).
    """
    if f.size < 3:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    lvl, bsz = block_level(f, fd, cfg)
    c = np.flatnonzero((f[1:-1] > f[:-2]) & (f[1:-1] >= f[2:])) + 1
    h = f[c]
    lv = lvl[c // bsz]
    block_floor = _noise_floor(c // bsz, h, lvl.size, cfg)
    floor = block_floor[c // bsz]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(lvl > 0, block_floor / np.where(lvl > 0, lvl, 1.0), 0.0)
    low = (h > cfg.searchback_threshold * lv) & (h > cfg.noise_factor * floor)
    c, h, lv = c[low], h[low], lv[low]
    refr = cfg.refractory_s * fd
    kept = _nms(np.flatnonzero(h > cfg.threshold * lv), c, h, refr)
    kept = _drop_extras(_drop_twaves(kept, c, h, fd, cfg), c, h, cfg, f, fd)
    for _ in range(4):
        add = _searchback(kept, c, h, f.size, fd, cfg)
        if add.size == 0:
            break
        kept = sorted_unique(np.concatenate((kept, add)))       # np.union1d
        kept = _drop_extras(_drop_twaves(_nms(kept, c, h, refr), c, h, fd, cfg), c, h, cfg, f, fd)
    return c[kept], h[kept], ratio


def _noise_floor(blk: np.ndarray, h: np.ndarray, nb: int, cfg: QRSConfig) -> np.ndarray:
    """Per-block noise level: median height of all local maxima in the block, median-smoothed."""
    scale = float(h.max()) * 1.000001 if h.size else 1.0
    key = np.sort(blk + h / scale)               # blk is sorted: sort within blocks in one go
    counts = np.bincount(blk, minlength=nb)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    mid = np.minimum(starts + counts // 2, max(h.size - 1, 0))
    med = np.where(counts > 0, (key[mid] - np.arange(nb)) * scale, 0.0) if h.size else np.zeros(nb)
    k = max(1, int(round(cfg.level_window_s / cfg.level_block_s))) | 1
    return median_filter(med, size=k, mode="nearest")


def _nms(ci: np.ndarray, c: np.ndarray, h: np.ndarray, refr: float) -> np.ndarray:
    """Keep candidates (indices into c/h, sorted) that are the largest within +-refr samples."""
    pos, hh = c[ci], h[ci]
    alive = np.ones(ci.size, bool)
    s = 1
    while s < ci.size:
        close = (pos[s:] - pos[:-s]) < refr
        if not close.any():
            break
        left_small = hh[:-s] < hh[s:]
        alive[:-s] &= ~(close & left_small)
        alive[s:] &= ~(close & ~left_small)
        s += 1
    return ci[alive]


def _drop_twaves(ci: np.ndarray, c: np.ndarray, h: np.ndarray, fd: float, cfg: QRSConfig):
    """Drop T-wave-like detections.

    A detection within twave_s of the previous one and below twave_ratio of its energy is a T wave
    unless the interval it splits (previous -> next beat) is longer than twave_rr x the local RR:
    a premature beat is followed by a pause, a T wave is not.
    """
    if ci.size < 3:
        return ci
    pos, hh = c[ci], h[ci]
    soon = np.diff(pos) < cfg.twave_s * fd
    tw = np.concatenate(([False], soon & (hh[1:] < cfg.twave_ratio * hh[:-1])))
    first = soon[0] and hh[0] < cfg.twave_ratio * hh[1]      # a P or T wave before the first beat
    if not (tw.any() or first):
        return ci
    kp = pos[~tw]
    if kp.size < 3:
        return ci[~tw]
    rr = np.diff(kp)
    ref = median_filter(rr, size=min(9, rr.size) | 1, mode="nearest")
    i = np.flatnonzero(tw[:-1])                  # the last one has no next beat: always a T wave
    tw[0] = first
    k = np.clip(np.searchsorted(kp, pos[i]) - 1, 0, ref.size - 1)
    span = pos[i + 1] - pos[i - 1]
    tw[i[span > cfg.twave_rr * ref[k]]] = False
    return ci[~tw]


def _drop_extras(ci: np.ndarray, c: np.ndarray, h: np.ndarray, cfg: QRSConfig, f: np.ndarray | None = None,
                 fd: float = 0.0) -> np.ndarray:
    """Drop a detection that splits a normal-length RR interval and is much weaker than both neighbours
    (with ``cfg.extra_twin``: unless its envelope has the shape of the beat before it, a run's next beat)."""
    if ci.size < 5 or cfg.extra_ratio <= 0:
        return ci
    pos, hh = c[ci], h[ci]
    rr = np.diff(pos)
    ref = median_filter(rr, size=min(9, rr.size) | 1, mode="nearest")
    span = pos[2:] - pos[:-2]
    ref_i = np.maximum(ref[:-1], ref[1:])
    weak = hh[1:-1] < cfg.extra_ratio * np.minimum(hh[:-2], hh[2:])
    drop = np.concatenate(([False], (span < cfg.extra_rr * ref_i) & weak, [False]))
    if cfg.extra_twin is not None and f is not None and drop.any():
        drop[drop] = ~_twin_of_previous(f, pos, np.flatnonzero(drop), int(round(cfg.extra_twin_s * fd)),
                                        cfg.extra_twin, cfg.extra_twin_floor, hh)
    return ci[~drop]


def _twin_of_previous(f: np.ndarray, pos: np.ndarray, k: np.ndarray, w: int, corr: float, floor: float,
                      hh: np.ndarray) -> np.ndarray:
    """(len(k),) bool: beat ``k`` 's envelope over +-w correlates >= ``corr`` with beat ``k - 1`` 's and its height
    is >= ``floor`` x that beat's (a ventricular run's next complex, not a T wave or a noise spike)."""
    if w < 2:
        return np.zeros(k.size, bool)
    off = np.arange(-w, w + 1)
    a, b = np.clip(pos[k][:, None] + off, 0, f.size - 1), np.clip(pos[k - 1][:, None] + off, 0, f.size - 1)
    x, y = f[a] - f[a].mean(1, keepdims=True), f[b] - f[b].mean(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (x * y).sum(1) / np.sqrt((x * x).sum(1) * (y * y).sum(1))
    return (np.nan_to_num(r) >= corr) & (hh[k] >= floor * hh[k - 1])


def _searchback(ci: np.ndarray, c: np.ndarray, h: np.ndarray, n: int, fd: float, cfg: QRSConfig):
    """Best low-threshold candidate in each RR gap longer than searchback_rr x the local RR."""
    if ci.size < 2:
        return np.zeros(0, np.int64)
    refr = cfg.refractory_s * fd
    pos = np.concatenate(([-refr], c[ci], [n - 1 + refr]))
    rr = np.diff(c[ci])
    ref = median_filter(rr, size=min(9, rr.size) | 1, mode="nearest")
    ref = np.concatenate((ref[:1], ref, ref[-1:]))
    gaps = np.diff(pos) > cfg.searchback_rr * ref
    if not gaps.any():
        return np.zeros(0, np.int64)
    g = np.searchsorted(pos, c, side="right") - 1
    g = np.clip(g, 0, gaps.size - 1)
    hb = median_filter(h[ci], size=min(9, ci.size) | 1, mode="nearest")
    hb = np.concatenate((hb[:1], hb, hb[-1:]))
    href = np.minimum(hb[:-1], hb[1:])          # typical beat energy beside each gap
    ok = gaps[g] & (c - pos[g] >= refr) & (pos[g + 1] - c >= refr)
    ok &= h > cfg.searchback_beat_ratio * href[g]
    hprev = np.concatenate(([0.0], h[ci], [0.0]))[g]
    ok &= ~((c - pos[g] < cfg.twave_s * fd) & (h < cfg.twave_ratio * hprev))
    cand = np.flatnonzero(ok)
    if cand.size == 0:
        return cand
    order = np.lexsort((h[cand], g[cand]))
    cand, gg = cand[order], g[cand][order]
    last = np.concatenate((gg[1:] != gg[:-1], [True]))
    return cand[last]


def second_lead_veto(x1: np.ndarray, fs: float, pk: np.ndarray, hk: np.ndarray, cfg: QRSConfig) -> np.ndarray:
    """(n,) bool keep-mask: drop a weak primary-lead detection that another lead does not show.

    Lead-1 evidence is the largest squared central difference (+-12 ms, a ~20 Hz band-pass) within
    +-50 ms, relative to the median over the 9 surrounding detections. A window that is flat or not
    finite on lead 1 is no evidence either way (kept).
    """
    keep = np.ones(pk.size, bool)
    if pk.size < 5 or cfg.lead2_veto <= 0:
        return keep
    k = max(1, int(round(0.012 * fs)))
    r = int(round(0.05 * fs))
    if x1.size <= 2 * k + 1:
        return keep
    idx = np.clip(pk[:, None] + np.arange(-r, r + 1), k, x1.size - k - 1)
    if idx[0, 0] == pk[0] - r and idx[-1, -1] == pk[-1] + r:       # no clipping: one gather of +-(r + k)
        g = x1[pk[:, None] + np.arange(-r - k, r + k + 1)]
        d = np.asarray(g[:, 2 * k:], np.float64) - g[:, : -2 * k]
    else:
        d = np.asarray(x1[idx + k], np.float64) - x1[idx - k]
    e1 = np.max(d * d, axis=1)
    ok = np.isfinite(e1) & (e1 > 0)
    ref1 = median_filter(np.where(ok, e1, 0.0), size=9, mode="nearest")
    ref0 = median_filter(hk, size=9, mode="nearest")
    with np.errstate(divide="ignore", invalid="ignore"):
        veto = ok & (ref1 > 0) & (e1 < cfg.lead2_veto * ref1) & (hk < cfg.lead2_weak * ref0)
    return ~veto

