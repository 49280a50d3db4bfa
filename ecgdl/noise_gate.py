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
3. it is at sinus timing: RR before >= ``prematurity`` x that local sinus RR and RR after <= ``pause`` x it;
4. (round 8b, a 4-tuple ``(q, prematurity, pause, k)``) its own stretch is noisy: :func:`beat_noise`, the
   activity of the isoelectric stretches before and after it (from :data:`ISO_AFTER_S` after a beat to
   :data:`ISO_BEFORE_S` before the next, where a clean ECG is flat whatever the QRS looks like) over the
   record's median, is >= ``k`` (multiform ectopy lowers test 1's segment index as noise does, but not this); a 5-tuple
   ``(q, prematurity, pause, k, ref_quantile)`` (round 8c) reads the record's activity at that quantile, not the median.

The beat's V probability moves to Q (a row still sums to 1). Nothing else changes; no label is read.
Parameters: ``AdaptConfig.noise_gate = (q, prematurity, pause[, k[, ref_quantile]])`` (``None``: off); shipped
(round 8c, chosen on DS1 and the NSTDB records, docs/results.md): ``(1.01, 0.9, 1.2, 3.0, 0.25)``, i.e. the segment
test off (q above any index) and the per-beat test against the record's quieter quarter.

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
#: The isoelectric stretch between two beats (s): from this long after a beat ...
ISO_AFTER_S = 0.40
#: ... to this long before the next (the P wave and PR segment are left out).
ISO_BEFORE_S = 0.20
#: Shortest isoelectric stretch measured (s); shorter ones (fast rates) give nan.
ISO_MIN_S = 0.06
#: Beats the record's median activity is taken over (evenly spaced).
ISO_SAMPLE = 1000
#: Index of the V and Q columns in the AAMI class order N, S, V, F, Q.
_V, _Q = 2, 4


def _activity(sig: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(m, L)`` mean absolute first difference of ``sig[a_i:b_i]`` per lead, for stretches with ``b - a >= 3``
    (one gather over the stretches' samples and a sum per stretch; no whole-record difference array)."""
    n_diff = (b - a - 1).astype(np.int64)
    if len(n_diff) == 0:
        return np.zeros((0, sig.shape[1]))
    first = np.r_[0, np.cumsum(n_diff)[:-1]]
    idx = np.arange(int(n_diff.sum())) - np.repeat(first, n_diff) + np.repeat(a, n_diff)
    d = np.abs(sig[idx + 1].astype(np.float64) - sig[idx])
    return np.add.reduceat(d, first, axis=0) / n_diff[:, None]


def beat_noise(signal: np.ndarray, sample: np.ndarray, fs: float, only: np.ndarray | None = None,
               ref_quantile: float = 0.5) -> np.ndarray:
    """``(n,)`` noise of each beat (of ``only``'s beats; nan elsewhere): per lead of ``signal`` ``(T, L)``, the
    larger activity (mean absolute first difference, :func:`_activity`) of the isoelectric stretches before and
    after the beat over the lead's ``ref_quantile`` (the median as shipped in round 8b; a lower quantile reads
    against the record's quiet stretches when noise covers half of it) over the record (:data:`ISO_SAMPLE` beats),
    averaged over the leads. 1 = as quiet as usual; nan where neither stretch is long enough (fast rates).

    >>> rng = np.random.default_rng(0); x = rng.normal(0, 0.01, (36000, 1)); x[18000:20160] += rng.normal(0, 0.1, (2160, 1))
    >>> r = beat_noise(x, np.arange(180, 36000, 360), 360.0); bool(r[52] > 5 and r[10] < 1.5)
    True
    """
    sig = np.asarray(signal, np.float32)
    sig = sig[:, None] if sig.ndim == 1 else sig
    s = np.asarray(sample, np.int64)
    n = len(s)
    out = np.full(n, np.nan)
    if n < 3:
        return out
    a0, b0, m0 = (int(round(v * fs)) for v in (ISO_AFTER_S, ISO_BEFORE_S, ISO_MIN_S))
    ref_idx = np.unique(np.linspace(1, n - 2, min(ISO_SAMPLE, n - 2)).astype(int))
    todo = np.arange(n) if only is None else np.flatnonzero(only)
    beats = np.union1d(ref_idx, todo)
    gaps = np.intersect1d(np.r_[beats - 1, beats], np.arange(n - 1))     # stretch i lies between beats i and i + 1
    a, b = s[gaps] + a0, s[gaps + 1] - b0
    ok = b - a >= m0
    act = np.full((n - 1, sig.shape[1]), np.nan)
    act[gaps[ok]] = _activity(sig, a[ok], b[ok])
    before = np.vstack([np.full((1, sig.shape[1]), np.nan), act])           # stretch j - 1, per beat j
    after = np.vstack([act, np.full((1, sig.shape[1]), np.nan)])            # stretch j
    with np.errstate(invalid="ignore"):
        pair = np.where(np.isnan(before), after, np.where(np.isnan(after), before, np.maximum(before, after)))
    ref = pair[ref_idx]
    med = np.array([np.nanquantile(ref[:, c], ref_quantile) if np.isfinite(ref[:, c]).any() else np.nan
                    for c in range(sig.shape[1])])
    use = np.isfinite(med) & (med > 0)
    if use.any():
        out[todo] = np.mean(pair[todo][:, use] / med[use], axis=1)
    return out


def noise_gate_hits(proba: np.ndarray, sample: np.ndarray, fs: float, seg_index: np.ndarray, segment_s: float,
                    params: tuple[float, ...], window_s: float = WINDOW_S, signal: np.ndarray | None = None
                    ) -> np.ndarray:
    """Bool ``(n,)``: the V-labelled beats the gate turns to Q. ``proba`` ``(n, 5)`` (argmax = label),
    ``sample`` the R peaks at ``fs``, ``seg_index`` the per-segment quality index (nan: no beats, never
    gated), ``params = (q, prematurity, pause[, k[, ref_quantile]])`` (module docstring; ``k`` needs ``signal`` ``(T, L)``, the
    conditioned leads)."""
    q, prematurity, pause = (float(v) for v in params[:3])
    k = float(params[3]) if len(params) > 3 else None
    ref_quantile = float(params[4]) if len(params) > 4 else 0.5
    if k is not None and signal is None:
        raise ValueError("the noise gate's per-beat test (k) needs the conditioned signal")
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
    for lo in range(0, len(cand), 4096):                       # the local sinus RR of each candidate, in chunks
        c = cand[lo:lo + 4096]
        a, b = np.searchsorted(t_ss, t[c] - window_s), np.searchsorted(t_ss, t[c] + window_s)
        c, a, b = c[b - a >= MIN_PAIRS], a[b - a >= MIN_PAIRS], b[b - a >= MIN_PAIRS]
        if len(c) == 0:
            continue
        col = a[:, None] + np.arange(int((b - a).max()))[None, :]
        inside = col < b[:, None]
        rr = np.where(inside, rr_ss[np.minimum(col, len(rr_ss) - 1)], np.nan)
        med = np.nanmedian(rr, axis=1)
        irr = np.nanmedian(np.abs(np.diff(rr, axis=1)), axis=1) / np.where(med > 0, med, np.nan)
        regular = (med > 0) & (irr < MAX_IRREGULARITY)
        hits[c] = regular & (pre[c] >= prematurity * med) & (pre[c + 1] <= pause * med)
    if k is not None and hits.any():
        noise = beat_noise(signal, sample, fs, only=hits, ref_quantile=ref_quantile)
        hits &= np.nan_to_num(noise, nan=0.0) >= k
    return hits


def noise_gate(proba: np.ndarray, sample: np.ndarray, fs: float, quality, params: tuple[float, ...] | None,
               signal: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(proba, hits)``: ``proba`` (float64 copy when anything moves) with the V probability of
    :func:`noise_gate_hits`'s beats moved to Q. ``quality``: the record's :class:`ecgdl.quality.SegmentQuality`
    (``None``, e.g. reference beats: no gate, like ``params`` ``None``); ``signal``: the conditioned leads."""
    n = len(proba)
    if params is None or quality is None or n == 0 or np.asarray(proba).shape[1] <= _Q:
        return proba, np.zeros(n, bool)
    hits = noise_gate_hits(proba, sample, fs, np.asarray(quality.index, np.float64), quality.segment_s, params,
                           signal=signal)
    if not hits.any():
        return proba, hits
    out = np.asarray(proba, np.float64).copy()
    out[hits, _Q] += out[hits, _V]
    out[hits, _V] = 0.0
    return out, hits
