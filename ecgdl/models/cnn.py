"""1-D CNN beat classifier with batch norm and dropout; its front end can start from the DAE encoder.

The front end ``encoder`` maps a group of ``group_channels`` lead channels ``(B, G, T)`` to feature
maps ``(B, D, T')``. With ``siamese=True`` the input channels are split into groups (the beat's leads,
then the record's median beat's leads, see :class:`ecgdl.features.FeatureConfig`) and the same encoder
reads each group: the head sees [beat, median, beat - median] features, i.e. the beat compared with
what is normal for this patient. ``ecgdl.models.cnn.load_encoder`` copies a trained DAE's encoder in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ecgdl.models import register
from ecgdl.models.blocks import BeatRRHead, activation


@dataclass(frozen=True)
class CNNConfig:
    in_channels: int = 2
    n_samples: int = 126
    n_rr: int = 23
    n_classes: int = 5
    width: int = 32            # channels of the first conv block; doubles every two blocks
    depth: int = 4             # conv blocks (each: conv, BN, act, maxpool 2)
    kernel: int = 7
    dropout: float = 0.3
    activation: str = "relu"
    rr_width: int = 32
    hidden: int = 64
    siamese: bool = False      # shared encoder over channel groups (beat, median beat)
    group_channels: int = 2    # channels per group when siamese
    diff_only: bool = True     # siamese with 2 groups: the head sees only beat - median features
    encoder: str = "conv"      # "conv" (own) or "dae" (the DAE's encoder architecture)
    dae_config: tuple = ()     # DAE config items (key, value) when encoder == "dae"
    input_scale: float = 1.0   # inputs are multiplied by this first (the DAE encoder wants mV: the beat_scale)


class ConvEncoder(nn.Module):
    """Conv blocks: ``(B, G, T) -> (B, D, T / 2**depth)``."""

    def __init__(self, in_ch: int, width: int, depth: int, kernel: int, act: str):
        super().__init__()
        layers, ch = [], in_ch
        for i in range(depth):
            out = width * 2 ** (i // 2)
            layers += [nn.Conv1d(ch, out, kernel, padding=kernel // 2, bias=False), nn.BatchNorm1d(out),
                       activation(act), nn.MaxPool1d(2)]
            ch = out
        self.net = nn.Sequential(*layers)
        self.out_channels = ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _dae_encoder(cfg: CNNConfig) -> nn.Module:
    from ecgdl.models import build_model

    return build_model("dae", dict(cfg.dae_config)).encoder


class CNN(nn.Module):
    def __init__(self, cfg: CNNConfig):
        super().__init__()
        self.config_input_scale = float(cfg.input_scale)
        self.groups = cfg.in_channels // cfg.group_channels if cfg.siamese else 1
        g_ch = cfg.group_channels if cfg.siamese else cfg.in_channels
        if cfg.encoder == "dae":
            self.encoder = _dae_encoder(cfg)
        else:
            self.encoder = ConvEncoder(g_ch, cfg.width, cfg.depth, cfg.kernel, cfg.activation)
        with torch.no_grad():
            d = self.encoder(torch.zeros(2, g_ch, cfg.n_samples)).shape[1]
        self.pool_dim = 2 * d  # average + max pooling over time
        self.diff_only = self.groups == 2 and cfg.diff_only
        beat_dim = self.pool_dim * (1 if self.diff_only else 3 if self.groups == 2 else self.groups)
        self.head = BeatRRHead(beat_dim, cfg.n_rr, cfg.rr_width, cfg.hidden, cfg.n_classes, cfg.dropout,
                               cfg.activation)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)  # (B, D, T')
        return torch.cat([h.mean(2), h.amax(2)], dim=1)  # (B, 2D)

    def embedding(self, beats: torch.Tensor) -> torch.Tensor:
        """The beat vector the head reads beside the RR features ``(B, beat_dim)``: the pooled encoder output
        (:meth:`_embed`, ``(B, 2D)``) of the beats, or of each channel group combined (siamese)."""
        if self.config_input_scale != 1.0:
            beats = beats * self.config_input_scale  # back to mV for a DAE encoder
        if self.groups == 1:
            return self._embed(beats)  # (B, 2D)
        b = beats.shape[0]
        parts = beats.reshape(b * self.groups, -1, beats.shape[2])  # (B*G, C/G, T)
        emb = self._embed(parts).reshape(b, self.groups, -1)  # (B, G, 2D)
        if self.diff_only:
            return emb[:, 0] - emb[:, 1]  # (B, 2D): how the beat departs from the patient's median
        if self.groups == 2:
            return torch.cat([emb[:, 0], emb[:, 1], emb[:, 0] - emb[:, 1]], dim=1)  # (B, 6D)
        return emb.flatten(1)

    def forward(self, beats: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(beats), rr)  # (B, K)


@register("cnn", CNNConfig)
def build_cnn(cfg: CNNConfig) -> nn.Module:
    return CNN(cfg)


def dae_params(dae_checkpoint, beat_scale: float) -> dict:
    """CNN config fields that give it the architecture of a DAE checkpoint's encoder (inputs back in mV)."""
    import torch

    blob = torch.load(dae_checkpoint, map_location="cpu", weights_only=False)
    cfg = dict(blob["model_config"])
    if "norm" not in cfg and any(k.endswith("running_mean") for k in blob["state_dict"]):
        cfg["norm"] = "batch"  # checkpoints written before DAEConfig.norm existed used BatchNorm
    items = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in cfg.items())
    return {"encoder": "dae", "dae_config": items, "input_scale": float(beat_scale), "group_channels": 2}


def load_encoder(model: nn.Module, dae_checkpoint) -> nn.Module:
    """Copy the encoder weights of a trained DAE checkpoint into ``model.encoder`` (in place, strict)."""
    import torch

    state = torch.load(dae_checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    enc = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
    model.encoder.load_state_dict(enc)
    return model


@dataclass(frozen=True)
class CNNEnsembleConfig:
    """Members: CNN configs as tuples of (key, value) items (all with the same inputs)."""

    members: tuple = ((),)
    n_rr: int = 23
    n_classes: int = 5


class CNNEnsemble(nn.Module):
    """Average of several CNNs' class probabilities; returns log-probabilities (valid logits) ``(B, K)``."""

    def __init__(self, cfg: CNNEnsembleConfig):
        super().__init__()
        self.members = nn.ModuleList([CNN(CNNConfig(**dict(m))) for m in cfg.members])
        self.register_buffer("offset", torch.zeros(cfg.n_classes))  # decision offsets (calibrated on VAL)

    def forward(self, beats: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([m(beats, rr).softmax(dim=1) for m in self.members]).mean(0)  # (B, K)
        return probs.clamp_min(1e-8).log() + self.offset


@register("cnn_ensemble", CNNEnsembleConfig)
def build_cnn_ensemble(cfg: CNNEnsembleConfig) -> nn.Module:
    return CNNEnsemble(cfg)
