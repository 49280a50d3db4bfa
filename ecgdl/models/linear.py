"""The baselines the field starts from: logistic regression and a small MLP on the same inputs.

Both flatten the beat window ``(B, C, T)`` and concatenate the RR features ``(B, F)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ecgdl.models import register
from ecgdl.models.blocks import activation


@dataclass(frozen=True)
class LinearConfig:
    in_channels: int = 2
    n_samples: int = 126
    n_rr: int = 23
    n_classes: int = 5


@dataclass(frozen=True)
class MLPConfig:
    in_channels: int = 2
    n_samples: int = 126
    n_rr: int = 23
    n_classes: int = 5
    hidden: tuple[int, ...] = (128, 64)
    dropout: float = 0.3
    activation: str = "relu"


class LogisticRegression(nn.Module):
    """Multinomial logistic regression: one linear layer on [flattened beat, rr]."""

    def __init__(self, cfg: LinearConfig):
        super().__init__()
        self.linear = nn.Linear(cfg.in_channels * cfg.n_samples + cfg.n_rr, cfg.n_classes)

    def forward(self, beats: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        z = torch.cat([beats.flatten(1), rr], dim=1)  # (B, C*T + F)
        return self.linear(z)  # (B, K)


class MLP(nn.Module):
    """Fully connected network on [flattened beat, rr] with dropout."""

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        layers, width = [], cfg.in_channels * cfg.n_samples + cfg.n_rr
        for h in cfg.hidden:
            layers += [nn.Linear(width, h), activation(cfg.activation), nn.Dropout(cfg.dropout)]
            width = h
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, cfg.n_classes)

    def forward(self, beats: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        z = torch.cat([beats.flatten(1), rr], dim=1)  # (B, C*T + F)
        return self.out(self.body(z))  # (B, K)


@register("logreg", LinearConfig)
def build_logreg(cfg: LinearConfig) -> nn.Module:
    return LogisticRegression(cfg)


@register("mlp", MLPConfig)
def build_mlp(cfg: MLPConfig) -> nn.Module:
    return MLP(cfg)
