"""Comparison of scored beats with a record's reference beat annotations (AAMI EC57 style).

Beats are matched one to one within a tolerance (150 ms), mutual nearest neighbours. Matched beats
fill the confusion matrix; a missed reference beat counts against its class's sensitivity, an
unmatched detection against its predicted class's positive predictivity. Counts are returned so
that a batch can sum them over records (gross statistics). Torch-free.
"""

from __future__ import annotations

import numpy as np

from ecgdl.io import Record
from ecgdl.labels import BEAT_SYMBOLS, CLASS_INDEX, to_aami
from ecgdl.metrics import class_metrics

MATCH_TOLERANCE_S = 0.15


def reference_beats(record: Record) -> tuple[np.ndarray, np.ndarray]:
    """``(sample, class index)`` of the record's reference beat annotations inside the signal.

    The same beats the prepared dataset (``ecgdl.dataset.record_beats``) uses.
    """
    ann = record.annotations
    if ann is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int8)
    is_beat = np.isin(ann.symbol, list(BEAT_SYMBOLS))
    peaks, symbols = ann.sample[is_beat], ann.symbol[is_beat]
    inside = (peaks >= 0) & (peaks < record.signal.shape[0])
    return peaks[inside].astype(np.int64), to_aami(symbols[inside])


def match_beats(ref: np.ndarray, det: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of sorted sample arrays: mutual nearest neighbours within ``tolerance``.

    Returns ``(ref_idx, det_idx)`` of the matched pairs.

    >>> match_beats(np.array([100, 400, 700]), np.array([110, 690, 1000]), 54)
    (array([0, 2]), array([0, 1]))
    """
    ref, det = np.asarray(ref, np.int64), np.asarray(det, np.int64)
    if not len(ref) or not len(det):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    near_det = _nearest(det, ref)
    near_ref = _nearest(ref, det)
    i = np.arange(len(ref))
    ok = (near_ref[near_det] == i) & (np.abs(det[near_det] - ref) <= tolerance)
    return i[ok], near_det[ok]


def _nearest(sorted_a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Index into ``sorted_a`` of the element nearest to each of ``v``."""
    j = np.clip(np.searchsorted(sorted_a, v), 1, len(sorted_a) - 1) if len(sorted_a) > 1 else np.zeros(len(v), int)
    if len(sorted_a) == 1:
        return j
    left_closer = np.abs(v - sorted_a[j - 1]) <= np.abs(sorted_a[j] - v)
    return np.where(left_closer, j - 1, j)


def compare_reference(ref_sample, ref_y, det_sample, pred, fs: float, classes: tuple[str, ...],
                      tolerance_s: float = MATCH_TOLERANCE_S) -> dict:
    """Per-class Se/+P against reference beats with ``tolerance_s`` matching (AAMI EC57 style).

    Matched beats fill the confusion matrix; a missed reference beat counts against its class's Se,
    an unmatched detection against its predicted class's +P. Returns the counts (``confusion``,
    ``missed``, ``extra``: summable over records), ``per_class`` and the disagreeing beats.
    """
    ri, di = match_beats(ref_sample, det_sample, int(round(tolerance_s * fs)))
    k = len(classes)
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (np.asarray(ref_y)[ri].astype(np.int64), np.asarray(pred)[di].astype(np.int64)), 1)
    missed_mask = np.ones(len(ref_sample), bool)
    missed_mask[ri] = False
    extra_mask = np.ones(len(det_sample), bool)
    extra_mask[di] = False
    missed = np.bincount(np.asarray(ref_y)[missed_mask].astype(np.int64), minlength=k)[:k]
    extra = np.bincount(np.asarray(pred)[extra_mask].astype(np.int64), minlength=k)[:k]
    wrong = di[np.asarray(ref_y)[ri] != np.asarray(pred)[di]]
    return {"tolerance_s": tolerance_s, "reference_beats": int(len(ref_sample)), "detected_beats": int(len(det_sample)),
            "matched": int(len(ri)), "confusion": cm.tolist(), "missed": missed.tolist(), "extra": extra.tolist(),
            "per_class": per_class_table(cm, missed, extra, classes),
            "disagree_beats": wrong.tolist(), "missed_samples": np.asarray(ref_sample)[missed_mask].tolist(),
            "extra_beats": np.flatnonzero(extra_mask).tolist()}


def per_class_table(cm, missed, extra, classes: tuple[str, ...]) -> dict:
    """``{class: ecgdl.metrics.class_metrics dict}`` from summed counts: a missed reference beat is a
    false negative of its class, an unmatched detection a false positive of its predicted class."""
    cm, missed, extra = np.asarray(cm), np.asarray(missed), np.asarray(extra)
    total = int(cm.sum() + missed.sum() + extra.sum())
    out = {}
    for i, c in enumerate(classes):
        tp = int(cm[i, i])
        fn, fp = int(cm[i].sum() + missed[i]) - tp, int(cm[:, i].sum() + extra[i]) - tp
        out[c] = class_metrics(tp, fn, fp, total - tp - fn - fp)
    return out


def compare_record(record: Record, sample: np.ndarray, pred: np.ndarray,
                   classes: tuple[str, ...]) -> tuple[dict | None, np.ndarray | None]:
    """``(comparison, reference letter per scored beat)`` of scored beats with the record's annotations.

    ``sample``: scored beat positions at ``record.fs``; ``pred``: their class indices into ``classes``
    (the model's order). ``(None, None)`` when the record has no annotations; a scored beat matched
    to no reference beat gets ``""``.
    """
    if record.annotations is None:
        return None, None
    ref_sample, ref_y = reference_beats(record)
    ref_y = np.array([classes.index(c) for c in CLASS_INDEX])[ref_y]  # AAMI index -> model's class index
    comparison = compare_reference(ref_sample, ref_y, sample, pred, record.fs, classes)
    ri, di = match_beats(ref_sample, sample, int(round(MATCH_TOLERANCE_S * record.fs)))
    ref_label = np.full(len(sample), "", dtype="<U1")
    ref_label[di] = np.asarray(classes)[ref_y[ri]]
    return comparison, ref_label
