"""The noise gate: a V call at sinus timing in a low-quality stretch is "unclassifiable" (Q), not a PVC.

Electrode motion and muscle noise distort conducted beats until the classifier reads them as ventricular:
on the MIT-BIH Noise Stress Test records (118 / 119 with electrode-motion noise added) the shipped model
called 403 beats of 118e06 V where 16 are (docs/results.md, round 8). A reader of the strip would not call
those beats PVCs: they come exactly when the sinus rhythm says the next conducted beat is due, and the
strip around them is noisy. A ventricular ectopic has a timing of its own (premature, or after a pause).
So, after the adaptive step, a beat whose label is V becomes Q when all of these hold:

1. its segment's quality index (:func:`ecgdl.quality.segment_quality`: the mean best correlation of each
   beat with one of its neighbours, per ``segment_s`` segment) is below ``q``;
2. the rhythm around it is a regular supraventricular one: within ``+-window_s`` at least
   :data:`MIN_PAIRS` RR intervals join two supraventricular-labelled beats (N or S), and their
   irregularity (median absolute successive difference over the median) is under
   :data:`ecgdl.adapt_ventricular.MAX_IRREGULARITY` (in atrial fibrillation timing says nothing: no gate);
3. it is at sinus timing: RR before >= ``prematurity`` x that local sinus RR and RR after <= ``pause`` x it.

The beat's V probability moves to Q (a row still sums to 1). Nothing else changes; no label is read.
Parameters: ``AdaptConfig.noise_gate = (q, prematurity, pause)`` (``None``: off); chosen on DS1 (results.md).

Example:
    >>> import numpy as np
    >>> t = np.arange(60) * 0.8; t[30] += 0.02                    # regular 75 bpm, beat 30 on time
    >>> p = np.tile([[0.9, 0.02, 0.05, 0.02, 0.01]], (60, 1)); p[30] = [0.1, 0.0, 0.85, 0.0, 0.05]
    >>> hits = noise_gate_hits(p, (t * 360).astype(int), 360.0, np.array([0.5] * 5), 10.0, (0.9, 0.85, 1.2))
    >>> np.flatnonzero(hits).tolist()
    [30]
"""
from __future__ import annotations

import numpy as np

from ecgdl.adapt_ventricular import MAX_IRREGULARITY

#: Fewest RR intervals between two supraventricular-labelled beats that define the local sinus RR.
MIN_PAIRS = 5
#: Half-width (s) of the neighbourhood read for the local sinus RR.
WINDOW_S = 30.0
#: Index of the V and Q columns in the AAMI class order N, S, V, F, Q.
_V, _Q = 2, 4


def noise_gate_hits(proba: np.ndarray, sample: np.ndarray, fs: float, seg_index: np.ndarray, segment_s: float,
                    params: tuple[float, float, float], window_s: float = WINDOW_S) -> np.ndarray:
    """Bool ``(n,)``: the V-labelled beats the gate turns to Q. ``proba`` ``(n, 5)`` (argmax = label),
    ``sample`` the R peaks at ``fs``, ``seg_index`` the per-segment quality index (nan: no beats, never
    gated), ``params = (q, prematurity, pause)`` (module docstring)."""
    q, prematurity, pause = (float(v) for v in params)
    n = len(sample)
    hits = np.zeros(n, bool)
    if n < 3 or len(seg_index) == 0:
        return hits
    top = np.asarray(proba).argmax(1)
    t = np.asarray(sample, np.float64) / fs
    seg = np.minimum((np.asarray(sample) // max(int(round(segment_s * fs)), 1)).astype(np.int64), len(seg_index) - 1)
    qi = np.asarray(seg_index, np.float64)[seg]
    cand = np.flatnonzero((top == _V) & np.isfinite(qi) & (qi < q))
    cand = cand[(cand > 0) & (cand < n - 1)]
    if len(cand) == 0:
        return hits
    pre = np.r_[np.nan, np.diff(t)]
    supra = top <= 1
    ss = np.flatnonzero(supra & np.r_[False, supra[:-1]])       # beats whose RR before joins two supra beats
    t_ss, rr_ss = t[ss], pre[ss]
    for j in cand:
        a, b = np.searchsorted(t_ss, [t[j] - window_s, t[j] + window_s])
        rr = rr_ss[a:b]
        if len(rr) < MIN_PAIRS:
            continue
        med = float(np.median(rr))
        if med <= 0 or float(np.median(np.abs(np.diff(rr)))) / med >= MAX_IRREGULARITY:
            continue
        hits[j] = pre[j] >= prematurity * med and pre[j + 1] <= pause * med
    return hits


def noise_gate(proba: np.ndarray, sample: np.ndarray, fs: float, quality, params: tuple[float, float, float] | None
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(proba, hits)``: ``proba`` (float64 copy when anything moves) with the V probability of
    :func:`noise_gate_hits`'s beats moved to Q. ``quality``: the record's :class:`ecgdl.quality.SegmentQuality`
    (``None``, e.g. reference beats: no gate, like ``params`` ``None``)."""
    n = len(proba)
    if params is None or quality is None or n == 0 or np.asarray(proba).shape[1] <= _Q:
        return proba, np.zeros(n, bool)
    hits = noise_gate_hits(proba, sample, fs, np.asarray(quality.index, np.float64), quality.segment_s, params)
    if not hits.any():
        return proba, hits
    out = np.asarray(proba, np.float64).copy()
    out[hits, _Q] += out[hits, _V]
    out[hits, _V] = 0.0
    return out, hits
