"""Calibration measures: expected calibration error of the top probability and reliability diagrams.

>>> ece(np.array([[0.9, 0.1], [0.6, 0.4]]), np.array([0, 1]))   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _bins(conf: np.ndarray, bins: int) -> np.ndarray:
    return np.clip(np.digitize(conf, np.linspace(0, 1, bins + 1)) - 1, 0, bins - 1)


def ece(proba: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top probability (``bins`` equal-width bins, weighted by count)."""
    if len(y) == 0:
        return float("nan")
    conf, pred = proba.max(1), proba.argmax(1)
    idx = _bins(conf, bins)
    err = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            err += m.mean() * abs((pred[m] == y[m]).mean() - conf[m].mean())
    return float(err)


def reliability(p: np.ndarray, hit: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean predicted, observed frequency, count)`` per bin of the probabilities ``p`` of events ``hit``."""
    idx = _bins(p, bins)
    cnt = np.bincount(idx, minlength=bins).astype(np.float64)
    mp = np.bincount(idx, weights=p, minlength=bins) / np.maximum(cnt, 1)
    fr = np.bincount(idx, weights=hit.astype(np.float64), minlength=bins) / np.maximum(cnt, 1)
    return np.where(cnt > 0, mp, np.nan), np.where(cnt > 0, fr, np.nan), cnt


def reliability_figure(probas: dict[str, np.ndarray], y: np.ndarray, classes, path: Path, *, title: str = "",
                       bins: int = 10) -> None:
    """One panel per class (one-vs-rest: predicted p_class vs observed frequency) plus the top probability;
    one line per entry of ``probas`` (e.g. inductive, adaptive)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(classes) + 1
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n, 3.2), sharey=True)
    for ax, j in zip(axes, range(n)):
        for name, pr in probas.items():
            if j < len(classes):
                mp, fr, cnt = reliability(pr[:, j], y == j, bins)
            else:
                mp, fr, cnt = reliability(pr.max(1), pr.argmax(1) == y, bins)
            ok = cnt >= 5
            ax.plot(mp[ok], fr[ok], "o-", ms=3, label=f"{name} (ECE {ece(pr, y):.3f})" if j == n - 1 else name)
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax.set_title(classes[j] if j < len(classes) else "top probability", fontsize=9)
        ax.set_xlabel("predicted", fontsize=8)
    axes[0].set_ylabel("observed frequency", fontsize=8)
    axes[-1].legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
