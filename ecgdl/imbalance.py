"""Class imbalance (MIT-BIH is ~90 % N): class weights, class-balanced sampling, focal loss.

Which one works best is measured on the validation records (see ``docs/results.md``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def class_weights(y: np.ndarray, n_classes: int = 5, power: float = 0.5, cap: float = 50.0) -> np.ndarray:
    """Inverse-frequency weights ``(K,)`` (``(n / count) ** power``, capped, mean 1 over present classes).

    power 0.5 (square-root) is gentler than full inverse frequency; absent classes get weight 0.
    """
    counts = np.bincount(np.asarray(y)[np.asarray(y) >= 0], minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** power, 0.0)
    w = np.minimum(w, cap * w[counts > 0].min())
    return (w / w[counts > 0].mean()).astype(np.float32)


def balanced_indices(y: np.ndarray, n: int, rng: np.random.Generator, power: float = 0.5) -> np.ndarray:
    """``n`` indices drawn with probability per beat ∝ ``count(class) ** -power`` (1: fully balanced classes)."""
    y = np.asarray(y)
    counts = np.bincount(y[y >= 0], minlength=int(y.max()) + 1).astype(np.float64)
    p = np.where(y >= 0, 1.0 / np.maximum(counts[np.maximum(y, 0)], 1) ** power, 0.0)
    return rng.choice(len(y), size=n, replace=True, p=p / p.sum())


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Focal loss (Lin et al. 2017): cross-entropy scaled by ``(1 - p_true) ** gamma``; logits ``(B, K)``."""
    logp = F.log_softmax(logits, dim=1)  # (B, K)
    logp_t = logp.gather(1, target[:, None]).squeeze(1)  # (B,)
    loss = -((1 - logp_t.exp()) ** gamma) * logp_t
    if weight is not None:
        w = weight[target]
        return (loss * w).sum() / w.sum()
    return loss.mean()
