"""Building blocks shared by the classifier families: activations and the beat + RR head."""

from __future__ import annotations

import torch
from torch import nn

#: Activation names accepted by every classifier config (a hyper-parameter).
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softplus": nn.Softplus,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (see :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class BeatRRHead(nn.Module):
    """Joins beat features ``(B, D)`` and RR features ``(B, F)`` into class logits ``(B, K)``."""

    def __init__(self, beat_dim: int, n_rr: int, rr_width: int, hidden: int, n_classes: int, dropout: float,
                 act: str):
        super().__init__()
        self.rr = nn.Sequential(nn.Linear(n_rr, rr_width), activation(act)) if n_rr else None
        width = beat_dim + (rr_width if n_rr else 0)
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, hidden), activation(act),
                                 nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    def forward(self, feats: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        if self.rr is not None:
            feats = torch.cat([feats, self.rr(rr)], dim=1)  # (B, D + rr_width)
        return self.out(feats)  # (B, K)
