"""1-D convolutional denoising autoencoder (DAE); its encoder is reused by the beat classifiers.

Input contract (same as the classifiers): ``x (B, C=2, T)`` float32, conditioned ECG in mV at
360 Hz (0.5-40 Hz band-passed, primary lead first); ``T = 252`` for beat windows, any ``T >= 1``
works (fully convolutional: the input is zero-padded on the right to a multiple of the total
stride ``2 ** levels`` and the output cropped back to ``T``). No normalisation inside or outside:
the model works in mV.

* ``model.encoder``: :class:`DAEEncoder`, ``(B, C, T) -> code (B, channels[-1], ceil(T / stride))``;
  with the defaults ``(B, 2, 252) -> (B, 64, 32)`` (stride 8). ``encoder.out_channels`` and
  ``encoder.stride`` say so; it pads its input itself, so a classifier can call it on raw windows.
* ``model.decoder``: code -> ``(B, C, T_padded)``; ``model(x)`` returns the denoised ``(B, C, T)``.
* Sparse variant: ``code_l1 > 0`` adds ``code_l1 * mean(|code|)`` to the loss (see :func:`dae_loss`).

>>> from ecgdl.models import build_model                         # doctest: +SKIP
>>> dae = build_model("dae"); code = dae.encoder(torch.zeros(4, 2, 252))   # (4, 64, 32)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ecgdl.models import register


@dataclass(frozen=True)
class DAEConfig:
    """in_channels: leads. stem_stride: the stem's stride (the ECG, band-limited to 40 Hz, is
    oversampled at 360 Hz: working at 180 Hz halves the cost). channels: the stem's channels, then those of each stride-2
    stage (``len(channels) - 1`` stages; the last entry is the code's channels). Compute is kept
    low at full resolution (narrow) and parameters at low resolution (wide).
    kernel / dec_kernel: odd conv kernel sizes of the encoder / decoder. dilated: residual dilated
    blocks at the bottleneck (dilation 2, 4, ...; kernel ``dilated_kernel``) widening the receptive
    field. dropout: on the code while training. code_l1: sparse-code penalty weight (0 = plain DAE).
    residual: the decoder predicts the noise and the output is ``x - noise`` (else the clean signal).
    normalise: the encoder divides each window by its RMS over leads and time (amplitude-free code);
    the DAE multiplies the decoder's output back, so ``forward`` stays mV in, mV out.
    skips: U-Net skip connections (encoder stage outputs added to the decoder's at equal resolution).
    norm: ``"group"`` (GroupNorm) or ``"batch"`` (BatchNorm: measured to make validation jumpy with batch 16).
    """

    in_channels: int = 2
    stem_stride: int = 2
    channels: tuple[int, ...] = (16, 32, 48, 64)
    kernel: int = 9
    dec_kernel: int = 5
    dilated: int = 4
    dilated_kernel: int = 3
    dropout: float = 0.1
    code_l1: float = 0.0
    residual: bool = True
    normalise: bool = True
    skips: bool = True
    norm: str = "group"

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))  # lists from JSON
        if len(self.channels) < 2:
            raise ValueError("channels needs the stem and at least one stride-2 stage")

    @property
    def levels(self) -> int:
        """Stride-2 stages after the stem."""
        return len(self.channels) - 1

    @property
    def stride(self) -> int:
        """Total stride: ``stem_stride * 2 ** levels`` (16 with the defaults)."""
        return self.stem_stride * 2 ** self.levels


def _norm(kind: str, c: int) -> nn.Module:
    """GroupNorm (4 channels per group: no train/eval gap, steady with small batches) or BatchNorm."""
    return nn.GroupNorm(max(1, c // 4), c) if kind == "group" else nn.BatchNorm1d(c)


def _conv(c_in: int, c_out: int, k: int, stride: int = 1, dilation: int = 1, norm: str = "group") -> nn.Sequential:
    pad = dilation * (k - 1) // 2
    return nn.Sequential(nn.Conv1d(c_in, c_out, k, stride=stride, padding=pad, dilation=dilation, bias=False),
                         _norm(norm, c_out), nn.ReLU(inplace=True))


class _DilatedBlock(nn.Module):
    def __init__(self, c: int, k: int, dilation: int, norm: str):
        super().__init__()
        self.conv = _conv(c, c, k, dilation=dilation, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)  # (B, c, L)


class DAEEncoder(nn.Module):
    """``(B, C, T) -> (B, channels[-1], ceil(T / stride))``; reusable by the classifiers."""

    def __init__(self, cfg: DAEConfig):
        super().__init__()
        ch = cfg.channels
        self.stride = cfg.stride
        self.out_channels = ch[-1]
        self.normalise = cfg.normalise
        self.stages = nn.ModuleList([_conv(cfg.in_channels, ch[0], cfg.kernel, stride=cfg.stem_stride, norm=cfg.norm)] +
                                    [_conv(ch[i], ch[i + 1], cfg.kernel, stride=2, norm=cfg.norm)
                                     for i in range(cfg.levels)])
        self.bottleneck = nn.Sequential(*[_DilatedBlock(ch[-1], cfg.dilated_kernel, 2 ** (i + 1), cfg.norm)
                                          for i in range(cfg.dilated)])

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """Zero-pad time on the right to a multiple of the stride."""
        extra = (-x.shape[-1]) % self.stride
        return F.pad(x, (0, extra)) if extra else x

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """Per-window RMS over leads and time, ``(B, 1, 1)`` mV (ones when ``normalise`` is off)."""
        if not self.normalise:
            return torch.ones_like(x[:, :1, :1])
        return x.pow(2).mean(dim=(1, 2), keepdim=True).add(1e-6).sqrt()  # (B, 1, 1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every stage's output (full resolution first), the last one being the code."""
        h = self.pad(x / self.scale(x))  # (B, C, T_padded), unit RMS
        feats = []
        for stage in self.stages:
            h = stage(h)
            feats.append(h)
        feats[-1] = self.bottleneck(feats[-1])
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[-1]  # (B, channels[-1], ceil(T / stride))


class DAEDecoder(nn.Module):
    """``(B, channels[-1], L) -> (B, C, L * stride)``: nearest upsampling + conv per stage."""

    def __init__(self, cfg: DAEConfig):
        super().__init__()
        ch = cfg.channels
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.stages = nn.ModuleList([_conv(ch[i], ch[i - 1], cfg.dec_kernel, norm=cfg.norm)
                                     for i in range(cfg.levels, 0, -1)])
        self.stem_up = nn.Upsample(scale_factor=cfg.stem_stride, mode="nearest") if cfg.stem_stride > 1 else nn.Identity()
        self.head = nn.Conv1d(ch[0], cfg.in_channels, cfg.kernel, padding=cfg.kernel // 2)

    def forward(self, code: torch.Tensor, skips: list[torch.Tensor] | None = None) -> torch.Tensor:
        """skips: encoder outputs at full, 1/2, 1/4 ... resolution (``None``: plain autoencoder)."""
        h = code  # (B, K, L)
        for i, stage in enumerate(self.stages):
            h = stage(self.up(h))  # (B, ch, 2L)
            if skips is not None:
                h = h + skips[-2 - i]
        return self.head(self.stem_up(h))  # (B, C, L * stride)


class DAE(nn.Module):
    """Denoiser: ``forward(x (B, C, T)) -> (B, C, T)`` denoised, mV."""

    def __init__(self, cfg: DAEConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = DAEEncoder(cfg)
        self.dropout = nn.Dropout(cfg.dropout)
        self.decoder = DAEDecoder(cfg)

    def encode_decode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Denoised ``(B, C, T)`` and the code ``(B, channels[-1], ceil(T / stride))``."""
        feats = self.encoder.features(x)
        code = feats[-1]                                         # (B, K, L)
        y = self.decoder(self.dropout(code), feats if self.cfg.skips else None)[..., : x.shape[-1]]  # (B, C, T)
        y = y * self.encoder.scale(x)                            # back to mV
        return (x - y if self.cfg.residual else y), code

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_decode(x)[0]


def dae_loss(model: DAE, noisy: torch.Tensor, clean: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Reconstruction loss plus the sparse-code penalty ``code_l1 * mean(|code|)``.

    kind: ``"mse"`` (mV^2); ``"nmse"``: per-window error power over clean power (PRD^2 / 1e4), so
    every window counts alike whatever its amplitude; ``"snr"``: ``mean(log10(sum err^2 / sum clean^2))``
    (minus the mean output SNR / 10; measured to stall at the identity map from a random start).
    """
    out, code = model.encode_decode(noisy)
    if kind == "nmse":
        loss = ((out - clean).pow(2).sum(dim=(1, 2)) / (clean.pow(2).sum(dim=(1, 2)) + 1e-6)).mean()
    elif kind == "snr":
        err = (out - clean).pow(2).sum(dim=(1, 2))                     # (B,)
        loss = torch.log10((err + 1e-6) / (clean.pow(2).sum(dim=(1, 2)) + 1e-6)).mean()
    else:
        loss = F.mse_loss(out, clean)
    if model.cfg.code_l1:
        loss = loss + model.cfg.code_l1 * code.abs().mean()
    return loss


@register("dae", DAEConfig, kind="denoiser")
def build_dae(config: DAEConfig) -> DAE:
    return DAE(config)
