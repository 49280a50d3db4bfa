"""The record-relative measurements the adaptive step's stacker reads (:func:`ecgdl.adapt.record_features`): QRS
shape vectors for clustering, rhythm (prematurity, compensatory pause, irregularity against the record's own RR),
and the P wave against a reference template (the dominant cluster's, the longest-RR beats'). Numpy only, no labels.

``cfg`` is an ``ecgdl.adapt.AdaptConfig`` (its ``qrs_s`` and ``p_s`` windows); these functions only read it.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-6


def _pool(x: np.ndarray, k: int) -> np.ndarray:
    """Means of ``k`` consecutive samples on the last axis (a trailing remainder is dropped). Below 8 the
    sum runs left to right, as numpy's mean sums so few values: the same numbers, 7x faster on tiny axes."""
    t = x.shape[-1] // k * k
    r = x[..., :t].reshape(*x.shape[:-1], t // k, k)
    if k >= 8:
        return r.mean(-1)
    s = r[..., 0].copy()
    for i in range(1, k):
        s += r[..., i]
    return s / k


def qrs_vectors(x: np.ndarray, fs: float, r_index: int, cfg) -> np.ndarray:
    """``(n, d)`` float32 QRS shapes for clustering: both leads around R, pooled to ~90 Hz, each lead's
    beat mean removed, scaled by the record's median QRS amplitude (gain-free)."""
    a, b = r_index - int(round(cfg.qrs_s[0] * fs)), r_index + int(round(cfg.qrs_s[1] * fs))
    seg = _pool(x[:, :, max(a, 0):b].astype(np.float32), max(1, int(round(fs / 90))))
    seg = seg - seg.mean(axis=2, keepdims=True)
    scale = np.median(np.ptp(seg, axis=2), axis=0) if len(seg) else np.ones(seg.shape[1])
    seg = seg / np.maximum(scale, 0.02)[None, :, None]
    return seg.reshape(len(seg), -1).astype(np.float32)


def _local_quantile(intervals: np.ndarray, q: float, half: int) -> np.ndarray:
    n = len(intervals) - 1
    idx = np.clip(np.arange(n)[:, None] + np.arange(-half + 1, half + 1)[None, :], 0, n)
    return np.percentile(intervals[idx], q, axis=1)


def rhythm_features(pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """``(n, 6)``: log pre/local q80 RR, log post/pre, log pre/local median, log (pre+post)/(2 median)
    (compensatory pause), log pre/previous pre, log local irregularity (median |d log RR| over ±8)."""
    n = len(pre)
    if n == 0:
        return np.zeros((0, 6))
    iv = np.maximum(np.r_[pre, post[-1]], 0.05).astype(np.float64)  # interval j ends at beat j
    q80, med = _local_quantile(iv, 80, 16), _local_quantile(iv, 50, 8)
    p, s = iv[:-1], iv[1:]
    prev = np.r_[p[0], p[:-1]]
    change = np.abs(np.diff(np.log(iv)))
    if len(change):
        idx = np.clip(np.arange(n)[:, None] + np.arange(-8, 9)[None, :], 0, len(change) - 1)
        irr = np.log(0.01 + np.median(change[idx], axis=1))
    else:
        irr = np.full(n, np.log(0.01))
    return np.stack([np.log(p / q80), np.log(s / p), np.log(p / med), np.log((p + s) / (2 * med)),
                     np.log(p / prev), irr], axis=1)


def _p_segments(x: np.ndarray, fs: float, r_index: int, cfg) -> np.ndarray:
    a, b = r_index - int(round(cfg.p_s[0] * fs)), r_index - int(round(cfg.p_s[1] * fs))
    seg = _pool(x[:, :, max(a, 0):b].astype(np.float64), max(1, int(round(fs / 90))))
    return seg - seg.mean(axis=2, keepdims=True)


def _p_compare(seg: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(log relative RMS difference (n, L), correlation (n, L), lead-0 robust z (n,))`` of each beat's
    P-wave segment against the median segment of the reference beats ``ref`` (bool)."""
    tmpl = np.median(seg[ref], axis=0)  # (L, t)
    t_rms = np.sqrt((tmpl ** 2).mean(1)) + 0.005  # (L,)
    diff = np.sqrt(((seg - tmpl) ** 2).mean(2)) / t_rms  # (n, L)
    sn = seg / (np.sqrt((seg ** 2).sum(2, keepdims=True)) + _EPS)
    tn = tmpl / (np.sqrt((tmpl ** 2).sum(1, keepdims=True)) + _EPS)
    corr = (sn * tn[None]).sum(2)  # (n, L)
    ld = np.log(diff + 0.05)
    med = np.median(ld[ref, 0])
    mad = np.median(np.abs(ld[ref, 0] - med)) + 0.05
    return ld, corr, (ld[:, 0] - med) / mad


def p_wave_features(seg: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``(n, 5)``: per lead log relative RMS difference and correlation of the P-wave segment (``seg``:
    ``(n, L, t)`` from :func:`_p_segments`) against the template of the reference beats ``ref`` (bool),
    and the lead-0 difference's robust z within the record."""
    ld, corr, z = _p_compare(seg, ref if ref.any() else np.ones(len(seg), bool))
    return np.concatenate([ld, corr, z[:, None]], axis=1)


def long_rr_features(seg: np.ndarray, pre: np.ndarray, dom: np.ndarray) -> np.ndarray:
    """``(n, 4)`` (:data:`LONG_RR_NAMES`): each beat's P wave (``seg``, :func:`_p_segments`) against the
    template of the dominant-cluster beats ``dom`` (bool) that end the longest RR intervals (their top
    quarter, at least 5 beats; else all of ``dom``) - correlation per lead, the lead-0 difference's robust z - and log RR / their median RR.
    Where atrial ectopics outnumber sinus beats, the sinus beats are the ones after the longest pauses."""
    pre = np.asarray(pre, np.float64)
    ref = dom.copy() if dom.any() else np.ones(len(pre), bool)
    if ref.sum() >= 20:
        ref &= pre >= np.percentile(pre[ref], 75)
    if ref.sum() < 5:
        ref = dom if dom.sum() >= 1 else np.ones(len(pre), bool)
    _, corr, z = _p_compare(seg, ref)
    pre_long = np.log(np.maximum(pre, 0.05) / max(float(np.median(pre[ref])), 0.05))
    return np.concatenate([corr, z[:, None], pre_long[:, None]], axis=1)
