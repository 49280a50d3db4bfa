"""The ventricular-timing rule: a V-called cluster at normal timing with a conducted-width QRS is not ventricular.

Cluster averaging (:func:`ecgdl.adapt.cluster_average`) makes a k-means cluster's V probability its mean: a
cluster of conducted beats whose shape drifted from the bulk (a noisy stretch, a rate-related bundle-branch
variant, a left bundle branch block's own wide complex) can then be called V as a whole. The clinical reading
of a ventricular beat asks for two things the classifier does not see together: a QRS wider than (and unlike)
the conducted one, and a timing of its own (premature with a compensatory pause, or dissociated). So, after
self-training and before the sinus-reference rule (:func:`v_timing_rule`):

1. **Record guard**: the supraventricular-called beats (argmax N or S) that follow supraventricular-called
   beats are regular (median absolute successive RR difference over their median RR < :data:`MAX_IRREGULARITY`,
   the AF gate's irregularity threshold); their median RR is the sinus RR. In atrial fibrillation timing says
   nothing and the rule does nothing.
2. **Cluster**: for each cluster holding V-called beats, over those beats, the median RR before / sinus RR >=
   ``prematurity`` (not premature), the median RR after / sinus RR <= ``pause`` (no compensatory pause) and the
   median QRS width ratio against the N-called template (:func:`ecgdl.wide_qrs.qrs_morphology`) <= ``width``
   (as wide as the conducted QRS) -> their V probability moves to N and S in the beat's own N:S ratio.
3. **Morphology** (round 6, a 4-tuple ``(prematurity, pause, width, corr)``): the cluster's median QRS must also
   correlate with the record's N-called median QRS at >= ``corr`` (:func:`qrs_correlation`: a drifted conducted
   cluster still looks like the conducted beat, a PVC does not); ``width = 0`` drops the width test (no
   :func:`ecgdl.wide_qrs.qrs_morphology` call; ``corr = -1``: no correlation test).
4. **Per-beat timing** (round 6b, a 5-tuple ``(prematurity, pause, width, corr, share)``): at least ``share`` of
   the cluster's V-called beats must themselves be at normal timing (RR before >= ``prematurity`` x sinus RR and
   RR after <= ``pause`` x sinus RR), and only those beats move (a drifted conducted cluster is at normal timing
   beat by beat; a cluster holding PVCs has premature or paused members).

Measured on the DS1 cross-validation (docs/results.md, rounds 5 and 6); off by default. No label is read.
"""

from __future__ import annotations

import numpy as np

from ecgdl.wide_qrs import qrs_morphology

#: The AF gate's RR irregularity threshold (``AdaptConfig.af_gate[0]`` as shipped): above it, no timing rule.
MAX_IRREGULARITY = 0.08
#: Fewest regular supraventricular beats that define the sinus RR.
MIN_SINUS = 20


def sinus_rr(pre: np.ndarray, supra: np.ndarray) -> float | None:
    """Median RR (s) of the supraventricular beats following supraventricular beats, or ``None`` when there are
    fewer than :data:`MIN_SINUS` or their rhythm is irregular (irregularity >= :data:`MAX_IRREGULARITY`).

    >>> sinus_rr(np.full(30, 0.8), np.ones(30, bool))
    0.8
    >>> sinus_rr(np.tile([0.5, 1.1], 15), np.ones(30, bool)) is None
    True
    """
    ss = supra & np.r_[False, supra[:-1]]
    rr = np.asarray(pre, np.float64)[ss]
    if len(rr) < MIN_SINUS:
        return None
    med = float(np.median(rr))
    irr = float(np.median(np.abs(np.diff(rr)))) / max(med, 1e-9)
    return med if irr < MAX_IRREGULARITY else None


def _as_signal(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Beat windows ``(n, L, w)`` laid end to end as one ``(n * w, L)`` signal, and each window's start."""
    n, leads, w = x.shape
    return np.ascontiguousarray(x.transpose(0, 2, 1)).reshape(n * w, leads), np.arange(n) * w


def qrs_correlation(x: np.ndarray, fs: float, r_index: int, sel: np.ndarray, ref: np.ndarray) -> float:
    """Pearson correlation of the median QRS (80 ms before to 120 ms after R, every lead, each lead's mean
    removed, leads end to end) of the beats ``sel`` with that of the beats ``ref``; nan when either is empty.

    >>> t = np.sin(np.linspace(0, 6, 90))[None, None, :].repeat(4, 0)
    >>> round(qrs_correlation(t, 360.0, 45, np.array([1, 1, 0, 0], bool), np.array([0, 0, 1, 1], bool)), 3)
    1.0
    """
    if not sel.any() or not ref.any():
        return float("nan")
    a, b = max(r_index - int(round(0.08 * fs)), 0), r_index + int(round(0.12 * fs))
    t1, t2 = (np.median(x[m, :, a:b], axis=0) for m in (sel, ref))
    t1, t2 = ((t - t.mean(1, keepdims=True)).ravel() for t in (t1, t2))
    den = float(np.linalg.norm(t1) * np.linalg.norm(t2))
    return float(t1 @ t2) / den if den > 1e-12 else float("nan")


def v_timing_hits(x: np.ndarray, fs: float, r_index: int, pre: np.ndarray, post: np.ndarray, proba: np.ndarray,
                  cid: np.ndarray, params: tuple[float, ...]) -> np.ndarray:
    """Bool ``(n,)``: the V-called beats :func:`v_timing_rule` turns to N/S. ``x``: beat windows ``(n, L, w)`` with
    the R peak at ``r_index``; ``pre`` / ``post``: RR before / after each beat (s); ``cid``: k-means cluster ids;
    ``params`` = ``(prematurity, pause, width[, corr[, share]])`` (module docstring)."""
    prematurity, pause, width = params[:3]
    corr = params[3] if len(params) > 3 and params[3] > -1 else None
    share = params[4] if len(params) > 4 else None
    top = proba.argmax(1)
    vcall = top == 2
    hits = np.zeros(len(top), bool)
    rr = sinus_rr(pre, top <= 1) if vcall.any() else None
    if rr is None:
        return hits
    timed_ok = []  # (cluster's V-called beats, those at normal timing) of the clusters passing the timing test
    for c in np.unique(cid[vcall]):
        sel = vcall & (cid == c)
        timed = sel & (pre >= prematurity * rr) & (post <= pause * rr)
        if not (timed.sum() < share * sel.sum() if share is not None else
                np.median(pre[sel]) < prematurity * rr or np.median(post[sel]) > pause * rr):
            timed_ok.append((sel, timed))
    m = None
    if width > 0 and timed_ok:  # the QRS widths of those clusters' beats only (the same numbers, less work)
        sig, start = _as_signal(np.asarray(x, np.float32))
        m = qrs_morphology(sig, start + r_index, fs, np.array(list("NSVFQ"))[np.minimum(top, 4)],
                           only=np.any([sel for sel, _ in timed_ok], axis=0))
        if m is None:
            return hits
    for sel, timed in timed_ok:
        if m is not None and not (np.isfinite(m.width_ratio[sel]).any() and np.nanmedian(m.width_ratio[sel]) <= width):
            continue
        if corr is None or qrs_correlation(x, fs, r_index, sel, top == 0) >= corr:
            hits |= timed if share is not None else sel
    return hits


def v_timing_rule(proba: np.ndarray, x: np.ndarray, fs: float, r_index: int, pre: np.ndarray, post: np.ndarray,
                  cid: np.ndarray, params: tuple[float, ...]) -> np.ndarray:
    """``proba`` (float64 copy) with the V probability of :func:`v_timing_hits`'s beats moved to N and S in each
    beat's N:S ratio (F, Q untouched; a row still sums to 1)."""
    hit = v_timing_hits(x, fs, r_index, np.asarray(pre, np.float64), np.asarray(post, np.float64), proba, cid, params)
    out = proba.astype(np.float64).copy()
    if hit.any():
        ns = out[hit, :2].sum(1, keepdims=True)
        share = np.where(ns > 1e-12, out[hit, :2] / np.maximum(ns, 1e-12), np.array([[1.0, 0.0]]))
        out[hit, :2] += share * out[hit, 2:3]
        out[hit, 2] = 0.0
    return out
