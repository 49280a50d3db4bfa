"""The sinus-reference rule: atrial premature beats read against the record's SINUS cycle, not its majority rhythm;
and the AF gate (:func:`atrial_evidence`, :func:`af_gate`): in atrial fibrillation a premature beat is not an APC.

An atrial premature beat is premature against the sinus cycle and its P wave differs from the sinus P wave
(the clinical definition). The record-relative features of :mod:`ecgdl.adapt` measure prematurity against
the local median RR and the P wave against the dominant beats' template: both assume the majority rhythm is
sinus. Where atrial ectopics outnumber sinus beats (APC runs, ectopic atrial rhythm interrupted by sinus
beats), the majority rhythm IS the ectopic one and those features see nothing premature. The sinus beats
are then the ones ending the longest RR intervals (an ectopic beat is premature by definition; after an APC
run the sinus beat follows the pause). :func:`sinus_reference_rule` reads the record that way, after the
stacker, as an explicit rule:

1. **Reference**: the supraventricular-called beats (argmax N or S) not following a ventricular-called beat
   (a post-PVC compensatory pause is not the sinus cycle), their top quarter by preceding RR: the sinus
   reference beats; their median P segment is the sinus P template, their median RR the sinus cycle.
2. **Guards** (record level): at least ``MIN_REFERENCE`` reference beats; their own P segments repeat
   (median lead-0 correlation with their template >= ``REFERENCE_CONSISTENCY``, the AF gate's P-repeat
   threshold); and the record's median supraventricular beat is itself premature against the sinus cycle
   (RR < ``prematurity`` x the sinus cycle): the case the majority-relative features cannot read. In a
   sinus record the median beat is a sinus beat: the rule does nothing.
3. **Beat**: a beat called N, not after a ventricular-called beat, premature against the sinus cycle (RR <
   ``prematurity`` x), whose P segment does not match the sinus template (lead-0 correlation <
   ``p_corr``) and lying between sinus beats (:func:`between_sinus`: a sinus beat - supraventricular, not
   premature, P correlation >= ``p_corr`` - among the ``neighbours`` beats before it and among those after it;
   in atrial fibrillation no beat carries the sinus P wave and nothing is an atrial premature beat) becomes S:
   its N probability moves to S. The AF gate runs after the rule, except on the beats between sinus beats in a
   record the guards passed: an APC-dominated stretch has irregular RR and P segments that do not repeat (what
   the gate reads as AF), but the sinus beats around it carry the sinus P wave.

The motivation came from looking at a DS2 record (232, issue 16); every threshold is a clinical convention
(20 % prematurity) or one of the AF gate's, chosen/checked on the DS1 cross-validation (docs/results.md).
No label is read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Fewest sinus-reference beats the rule needs (as :func:`ecgdl.adapt.self_train`'s ``min_beats``).
MIN_REFERENCE = 20
#: Median correlation of the reference beats' P segments with their template: a P wave that repeats.
REFERENCE_CONSISTENCY = 0.6


@dataclass(frozen=True)
class SinusReference:
    """The record's sinus reference: which beats (bool ``(n,)``), their P template's correlation with every
    beat (``corr``, lead 0, ``(n,)``), the sinus cycle ``rr`` (s) and the reference's own consistency."""

    beats: np.ndarray
    corr: np.ndarray
    rr: float
    consistency: float


def _lead0_corr(seg: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Correlation of each beat's lead-0 P segment (``seg`` ``(n, L, t)``, beat-mean removed) with the median
    segment of the ``ref`` beats."""
    tmpl = np.median(seg[ref, 0], axis=0)
    s = seg[:, 0]
    return (s @ tmpl) / (np.linalg.norm(s, axis=1) * np.linalg.norm(tmpl) + 1e-9)


def sinus_reference(seg: np.ndarray, pre: np.ndarray, supra: np.ndarray) -> SinusReference | None:
    """The sinus reference of a record (segment) or ``None`` when it has fewer than :data:`MIN_REFERENCE`
    beats. ``seg``: P segments ``(n, L, t)`` (:func:`ecgdl.adapt_features._p_segments`); ``pre``: RR before each beat (s);
    ``supra``: bool, beats called N or S. Reference: supraventricular beats not after a non-supraventricular
    beat, top quarter by preceding RR.

    >>> sinus_reference(np.zeros((3, 2, 10)), np.ones(3), np.ones(3, bool)) is None
    True
    """
    pre = np.asarray(pre, np.float64)
    cand = supra & ~np.r_[False, ~supra[:-1]]
    if cand.sum() < MIN_REFERENCE:
        return None
    ref = cand & (pre >= np.percentile(pre[cand], 75))
    if ref.sum() < MIN_REFERENCE:
        return None
    corr = _lead0_corr(seg, ref)
    return SinusReference(ref, corr, float(np.median(pre[ref])), float(np.median(corr[ref])))


def between_sinus(sinus: np.ndarray, neighbours: int) -> np.ndarray:
    """Bool ``(n,)``: a ``sinus`` beat (bool ``(n,)``) among the ``neighbours`` beats before each beat AND among
    the ``neighbours`` beats after it (the beat itself not counted).

    >>> between_sinus(np.array([1, 0, 0, 1, 0], bool), 2).tolist()
    [False, True, True, False, False]
    """
    n = len(sinus)
    c = np.r_[0, np.cumsum(sinus)]
    i = np.arange(n)
    before = c[i] - c[np.maximum(i - neighbours, 0)]
    after = c[np.minimum(i + 1 + neighbours, n)] - c[i + 1]
    return (before > 0) & (after > 0)


def _guarded_reference(seg: np.ndarray, pre: np.ndarray,
                       proba: np.ndarray) -> tuple[SinusReference, np.ndarray, np.ndarray] | None:
    """``(reference, supra, after_v)`` when the record's sinus reference passes its own guards (enough beats, P waves
    that repeat), ``supra`` the beats called N or S and ``after_v`` those following a beat called otherwise; else ``None``."""
    supra = proba.argmax(1) <= 1
    ref = sinus_reference(seg, pre, supra)
    if ref is None or ref.consistency < REFERENCE_CONSISTENCY:
        return None
    return ref, supra, np.r_[False, ~supra[:-1]]


def median_interval(x: np.ndarray, z: float = 1.96) -> tuple[float, float]:
    """The distribution-free ~95 % interval of the median of ``x``: its order statistics of ranks n/2 -+ z sqrt(n)/2.

    >>> median_interval(np.arange(100.0))
    (40.0, 60.0)
    """
    s = np.sort(np.asarray(x, np.float64))
    n = len(s)
    half = z * np.sqrt(n) / 2
    return float(s[max(int(np.floor(n / 2 - half)), 0)]), float(s[min(int(np.ceil(n / 2 + half)), n - 1)])


def guard_edge(seg: np.ndarray, pre: np.ndarray, proba: np.ndarray, params) -> dict | None:
    """Where the rule's median-beat guard is not supported by the record's beats (docs/episodes.md round 32):
    ``{"ratio", "interval", "limit", "on"}`` (median supraventricular RR over the sinus cycle, that median's interval
    (:func:`median_interval`) over the same cycle, the guard's limit, its answer) when ``params[0]`` lies inside the interval and
    the other guards pass; else ``None``."""
    pre = np.asarray(pre, np.float64)
    guarded = _guarded_reference(seg, pre, proba)
    if guarded is None:
        return None
    ref, supra, after_v = guarded
    use = pre[supra & ~after_v]
    if not len(use):
        return None
    lo, hi = median_interval(use)
    ratio = float(np.median(use)) / ref.rr
    if not lo / ref.rr < params[0] <= hi / ref.rr:
        return None
    return {"ratio": round(ratio, 3), "interval": [round(lo / ref.rr, 3), round(hi / ref.rr, 3)],
            "limit": float(params[0]), "on": bool(ratio < params[0])}


def sinus_reference_hits(seg: np.ndarray, pre: np.ndarray, proba: np.ndarray,
                         params: tuple[float, float, float], flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(hits, sinus_around)``, bool ``(n,)`` each: the beats :func:`sinus_reference_rule` turns to S, and the
    beats between sinus beats (all False when a record guard fails). ``params`` = ``(prematurity, p_corr,
    neighbours)`` (module docstring); ``flip``: the median-beat guard's answer the other way (the second reading of
    :func:`guard_edge`)."""
    prematurity, p_corr, neighbours = params
    pre = np.asarray(pre, np.float64)
    top = proba.argmax(1)
    none = np.zeros(len(top), bool)
    guarded = _guarded_reference(seg, pre, proba)
    if guarded is None:
        return none, none
    ref, supra, after_v = guarded
    if (np.median(pre[supra & ~after_v]) >= prematurity * ref.rr) != flip:
        return none, none  # the median beat is not premature: the majority rhythm is the sinus one
    premature = pre < prematurity * ref.rr
    around = between_sinus(supra & ~after_v & ~premature & (ref.corr >= p_corr), int(neighbours))
    return (top == 0) & ~after_v & premature & (ref.corr < p_corr) & around, around


def sinus_reference_rule(proba: np.ndarray, seg: np.ndarray, pre: np.ndarray,
                         params: tuple[float, float, float], flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(proba, sinus_around)``: ``proba`` (float64 copy) with the N probability of :func:`sinus_reference_hits`'s
    beats moved to S (V, F, Q untouched; a row still sums to 1), and the beats the AF gate must leave alone."""
    hit, around = sinus_reference_hits(seg, pre, proba, params, flip)
    out = proba.astype(np.float64).copy()
    out[hit, 1] += out[hit, 0]
    out[hit, 0] = 0.0
    return out, around


# ---------------------------------------------------------------- the AF gate (ecgdl.adapt re-exports both)


def atrial_evidence(x: np.ndarray, fs: float, r_index: int, pre: np.ndarray, vlike: np.ndarray,
                    window: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """``(irregularity, p_consistency)`` per beat over a centred window of ``window`` beats (the
    measures of :mod:`ecgdl.af`, computed from the beat windows): median |dRR| / median RR over
    intervals that touch no ventricular-like beat (``vlike``) and are 0.15-2.5 s long, and the median
    correlation of each non-ventricular beat's lead-0 segment 250-90 ms before R with the window's mean
    segment (a P wave repeats: ~0.9; fibrillatory waves do not: ~0.3). NaN where unknown."""
    from ecgdl.af import windowed_nanmedian

    n = len(x)
    rr = np.asarray(pre, np.float64)
    ok = ~vlike & ~np.r_[True, vlike[:-1]] & (rr > 0.15) & (rr <= 2.5)
    okd = ok & np.r_[False, ok[:-1]]
    d = np.abs(np.diff(rr, prepend=rr[:1]))
    irr = windowed_nanmedian(np.where(okd, d, np.nan), window) / windowed_nanmedian(np.where(ok, rr, np.nan), window)
    a, b = max(r_index - int(round(0.25 * fs)), 0), r_index - int(round(0.09 * fs))
    seg = x[:, 0, a:b].astype(np.float64)
    seg = (seg - seg.mean(1, keepdims=True)) * (~vlike)[:, None]
    c = np.concatenate([np.zeros((1, seg.shape[1])), np.cumsum(seg, 0)])
    i = np.arange(n)
    m = c[np.clip(i + window // 2, 0, n)] - c[np.clip(i - window // 2, 0, n)]  # window sum = mean direction
    corr = (seg * m).sum(1) / (np.linalg.norm(seg, axis=1) * np.linalg.norm(m, axis=1) + 1e-9)
    return irr, windowed_nanmedian(np.where(~vlike, corr, np.nan), window)


def af_gate(proba: np.ndarray, irr: np.ndarray, pcons: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    """``proba`` with the S probability moved to N where the rhythm is AF-like (irregular RR and no
    repeating P wave, :func:`atrial_evidence`): in atrial fibrillation a beat that comes early is not
    an atrial ectopic beat. Beats with unknown evidence (NaN) keep their probabilities."""
    gate = (irr > thresholds[0]) & (pcons < thresholds[1])
    out = proba.astype(np.float64).copy()
    out[gate, 0] += out[gate, 1]
    out[gate, 1] = 0.0
    return out
