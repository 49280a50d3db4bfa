"""AAMI EC57 metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecgdl.metrics import evaluation_metrics, confusion_matrix, evaluate_predictions, metrics_markdown


def test_confusion_matrix_rows_are_reference_and_negative_labels_ignored():
    cm = confusion_matrix([0, 0, 1, 2, -1], [0, 1, 1, 0, 0])
    assert cm.shape == (5, 5)
    assert cm[0, 0] == 1 and cm[0, 1] == 1 and cm[1, 1] == 1 and cm[2, 0] == 1
    assert cm.sum() == 4


def test_evaluation_metrics_hand_computed():
    # 10 beats: N 6 (5 right, 1 called S), S 2 (1 right, 1 called N), V 2 (both right, plus 1 N? no)
    y = [0, 0, 0, 0, 0, 0, 1, 1, 2, 2]
    p = [0, 0, 0, 0, 0, 1, 1, 0, 2, 2]
    r = evaluate_predictions(y, p)
    s = r["per_class"]["S"]
    assert s["se"] == pytest.approx(0.5) and s["ppv"] == pytest.approx(0.5) and s["f1"] == pytest.approx(0.5)
    assert s["spec"] == pytest.approx(7 / 8)  # TN = 10 - TP1 - FN1 - FP1
    n = r["per_class"]["N"]
    assert n["se"] == pytest.approx(5 / 6) and n["ppv"] == pytest.approx(5 / 6)
    assert r["accuracy"] == pytest.approx(0.8)
    # macro over N, S, V (F absent): (5/6 + 0.5 + 1) / 3
    assert r["macro_f1"] == pytest.approx((5 / 6 + 0.5 + 1.0) / 3)
    assert math.isnan(r["per_class"]["F"]["se"]) and r["per_class"]["F"]["support"] == 0


@pytest.mark.parametrize("k", [1, 3, 5])
def test_perfect_prediction(k):
    y = np.repeat(np.arange(k), 4)
    r = evaluation_metrics(confusion_matrix(y, y))
    assert r["accuracy"] == 1.0 and r["macro_f1"] == 1.0
    assert all(r["per_class"][c]["f1"] == 1.0 for c in r["classes"][:min(k, 4)])


def test_class_never_predicted_has_f1_zero_and_undefined_ppv():
    r = evaluate_predictions([0, 1, 1], [0, 0, 0])
    assert r["per_class"]["S"]["f1"] == 0.0 and math.isnan(r["per_class"]["S"]["ppv"])


def test_markdown_has_every_class_and_the_confusion_matrix():
    md = metrics_markdown(evaluate_predictions([0, 1, 2, 3, 4], [0, 1, 2, 3, 0]), "t")
    assert "| S | 1 |" in md and "| ref \\ pred |" in md and "Accuracy 80.0 %" in md
