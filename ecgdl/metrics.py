"""AAMI EC57 beat-classification metrics: per-class Se, +P, F1, specificity, accuracy, macro-F1.

The house's vocabulary for them: :func:`class_metrics` is THE per-class metric dict (evaluation on
DS2, validation, and a scored record's comparison with its reference annotations all use it);
:func:`evaluation_metrics` is the whole-set dict (accuracy, macro-F1, ``per_class``, confusion);
:func:`percent` is THE percent formatter. ("Report" in this house means the clinical report,
``ecgdl.clinical_report``.)

Torch-free. Class indices follow :data:`ecgdl.labels.AAMI_CLASSES` (N, S, V, F, Q). Rows of a
confusion matrix are the reference class, columns the predicted class.

>>> cm = confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2])
>>> m = evaluation_metrics(cm)
>>> m["per_class"]["S"]["se"], m["per_class"]["S"]["ppv"]
(1.0, 0.5)
"""

from __future__ import annotations

import math

import numpy as np

from ecgdl.labels import AAMI_CLASSES

#: Classes averaged in the macro-F1 (Q is almost absent once paced records are left out).
MACRO_CLASSES: tuple[str, ...] = ("N", "S", "V", "F")


def confusion_matrix(y_true, y_pred, n_classes: int = len(AAMI_CLASSES)) -> np.ndarray:
    """``(K, K)`` int64 counts, rows = reference, columns = predicted; labels < 0 are ignored."""
    t, p = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    keep = (t >= 0) & (p >= 0)
    return np.bincount(t[keep] * n_classes + p[keep], minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else float("nan")


def class_metrics(tp: int, fn: int, fp: int, tn: int) -> dict:
    """THE per-class metric dict of the house: ``se`` (sensitivity, recall), ``ppv`` (+P, precision),
    ``f1``, ``spec`` (specificity), ``support`` (reference beats of the class), ``predicted``.

    Undefined ratios (no reference or no predicted beat of the class) are NaN (``null`` in JSON
    files, :func:`ecgdl.artifacts.strict_json`), except F1, which is 0 when the class has reference
    beats but none is found.

    >>> class_metrics(tp=8, fn=2, fp=0, tn=90)["se"], class_metrics(0, 0, 0, 5)["ppv"]
    (0.8, nan)
    """
    tp, fn, fp, tn = int(tp), int(fn), int(fp), int(tn)
    return {"se": _ratio(tp, tp + fn), "ppv": _ratio(tp, tp + fp),
            "f1": _ratio(2 * tp, 2 * tp + fp + fn) if (tp + fn) else float("nan"), "spec": _ratio(tn, tn + fp),
            "support": tp + fn, "predicted": tp + fp}


def percent(v, digits: int = 1, suffix: str = "") -> str:
    """THE percent formatter: ``100 v`` with ``digits`` decimals (then ``suffix``), "—" when undefined
    (None, NaN, not a number).

    >>> percent(0.9375), percent(float("nan")), percent(None, suffix="%"), percent(0.12345, 2), percent(0.5, 0, "%")
    ('93.8', '—', '—', '12.35', '50%')
    """
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "—"
    return f"{100 * v:.{digits}f}{suffix}" if math.isfinite(v) else "—"


def evaluation_metrics(cm: np.ndarray, classes: tuple[str, ...] = AAMI_CLASSES,
                 macro_classes: tuple[str, ...] = MACRO_CLASSES) -> dict:
    """Per-class Se (recall), +P (precision), F1, specificity, support; overall accuracy and macro-F1.

    ``per_class`` holds one :func:`class_metrics` dict per class; macro-F1 averages ``macro_classes``
    that have reference beats.
    """
    cm = np.asarray(cm, np.int64)
    total = int(cm.sum())
    per = {}
    for i, c in enumerate(classes):
        tp, fn, fp = cm[i, i], cm[i].sum() - cm[i, i], cm[:, i].sum() - cm[i, i]
        per[c] = class_metrics(tp, fn, fp, total - tp - fn - fp)
    f1s = [per[c]["f1"] for c in macro_classes if per[c]["support"] > 0]
    return {"accuracy": _ratio(np.trace(cm), total), "macro_f1": float(np.mean(f1s)) if f1s else float("nan"),
            "n": total, "per_class": per, "classes": list(classes), "confusion": cm.tolist()}


def evaluate_predictions(y_true, y_pred) -> dict:
    """:func:`evaluation_metrics` of :func:`confusion_matrix` in one call."""
    return evaluation_metrics(confusion_matrix(y_true, y_pred))


def metrics_markdown(report: dict, title: str = "") -> str:
    """Markdown: per-class table then the confusion matrix (rows = reference)."""
    lines = [f"### {title}", ""] if title else []
    lines += [f"Accuracy {percent(report['accuracy'])} %, macro-F1 ({'/'.join(MACRO_CLASSES)}) "
              f"{report['macro_f1']:.3f}, {report['n']} beats.", "",
              "| class | support | Se % | +P % | F1 | Spec % |", "|---|---:|---:|---:|---:|---:|"]
    for c, m in report["per_class"].items():
        f1 = "—" if m["f1"] != m["f1"] else f"{m['f1']:.3f}"
        lines.append(f"| {c} | {m['support']} | {percent(m['se'])} | {percent(m['ppv'])} | {f1} | {percent(m['spec'])} |")
    classes = report["classes"]
    lines += ["", "| ref \\ pred | " + " | ".join(classes) + " |", "|---" * (len(classes) + 1) + "|"]
    for c, row in zip(classes, report["confusion"]):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
