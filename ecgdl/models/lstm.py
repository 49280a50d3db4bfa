"""CNN front end + bidirectional LSTM over time within the beat window, with dropout, plus RR features.

The conv front end shortens the window (``(B, C, T) -> (B, D, T / 2**depth)``); the BiLSTM reads the
resulting sequence and its last states (both directions) join the RR features in the head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ecgdl.models import register
from ecgdl.models.blocks import BeatRRHead
from ecgdl.models.cnn import ConvEncoder


@dataclass(frozen=True)
class LSTMConfig:
    in_channels: int = 2
    n_samples: int = 126
    n_rr: int = 23
    n_classes: int = 5
    conv_width: int = 32
    conv_depth: int = 2
    kernel: int = 7
    hidden_size: int = 64
    layers: int = 1
    dropout: float = 0.3
    activation: str = "relu"
    rr_width: int = 32
    hidden: int = 64


class CNNLSTM(nn.Module):
    def __init__(self, cfg: LSTMConfig):
        super().__init__()
        self.encoder = ConvEncoder(cfg.in_channels, cfg.conv_width, cfg.conv_depth, cfg.kernel, cfg.activation)
        self.lstm = nn.LSTM(self.encoder.out_channels, cfg.hidden_size, num_layers=cfg.layers, batch_first=True,
                            bidirectional=True, dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.head = BeatRRHead(4 * cfg.hidden_size, cfg.n_rr, cfg.rr_width, cfg.hidden, cfg.n_classes, cfg.dropout,
                               cfg.activation)

    def forward(self, beats: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        h = self.encoder(beats).transpose(1, 2)  # (B, T', D)
        seq, _ = self.lstm(h)  # (B, T', 2H)
        feats = torch.cat([seq.mean(1), seq.amax(1)], dim=1)  # (B, 4H)
        return self.head(feats, rr)  # (B, K)


@register("lstm", LSTMConfig)
def build_lstm(cfg: LSTMConfig) -> nn.Module:
    return CNNLSTM(cfg)
