"""Training-time augmentation of classifier inputs (numpy, per batch).

Works on the standardised ``beats`` input of :func:`ecgdl.features.make_inputs` ``(B, C, T)``,
whose first ``len(FeatureConfig.leads)`` channels are the beat and the rest the record's median beat:

* real NSTDB noise (bw, em, ma or their mix) from the **train** part of the noise records only
  (:class:`ecgdl.noise.NoiseBank`), at an SNR drawn uniformly in ``snr_range`` dB, on the beat channels;
* amplitude scaling (a per-beat gain on every channel: electrode/patient gain);
* baseline shifts (an offset plus a linear slope, in mV, on the beat channels);
* small time shifts of the beat channels (the R peak comes from our detector at inference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgdl.features import FeatureConfig, _pool


@dataclass(frozen=True)
class AugmentConfig:
    p_noise: float = 0.3                       # fraction of beats that get NSTDB noise
    snr_range: tuple[float, float] = (0.0, 24.0)  # dB (raw-noise SNR, see ecgdl.noise)
    amp_range: tuple[float, float] = (0.8, 1.25)  # gain, log-uniform
    baseline_mv: float = 0.1                   # max |offset| and |slope over the window|, mV
    max_shift_s: float = 0.011                 # max |time shift|, seconds (±4 samples at 360 Hz)
    fs: float = 360.0                          # sampling rate of the windows before pooling (Hz)

    @property
    def enabled(self) -> bool:
        return self.p_noise > 0 or self.amp_range != (1.0, 1.0) or self.baseline_mv > 0 or self.max_shift_s > 0


class Augmenter:
    """``Augmenter(cfg, features, stats)(x, rng) -> x'`` for a batch ``x`` ``(B, C, T)`` of standardised inputs."""

    def __init__(self, cfg: AugmentConfig, features: FeatureConfig, stats: dict, bank=None):
        self.cfg, self.features, self.scale = cfg, features, float(stats["beat_scale"])
        self.n_beat = len(features.leads)
        if bank is None and cfg.p_noise > 0:
            from ecgdl.noise import NoiseBank

            bank = NoiseBank(part="train", fs=cfg.fs)
        self.bank = bank

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = np.array(x, dtype=np.float32, copy=True)
        b, _, t = x.shape
        nb = self.n_beat
        if self.cfg.p_noise > 0 and self.bank is not None:
            self._noise(x, rng)
        lo, hi = np.log(self.cfg.amp_range)
        x *= np.exp(rng.uniform(lo, hi, size=(b, 1, 1))).astype(np.float32)
        if self.cfg.baseline_mv > 0:
            off = rng.uniform(-1, 1, size=(b, nb, 1)) * self.cfg.baseline_mv
            slope = rng.uniform(-1, 1, size=(b, nb, 1)) * self.cfg.baseline_mv * np.linspace(-0.5, 0.5, t)
            x[:, :nb] += ((off + slope) / self.scale).astype(np.float32)
        shift_max = int(round(self.cfg.max_shift_s * self.cfg.fs / self.features.decimate))
        if shift_max > 0:
            x[:, :nb] = _shift(x[:, :nb], rng.integers(-shift_max, shift_max + 1, size=b))
        return x

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> None:
        """Add pooled, standardised NSTDB noise to the beat channels of a random subset, in place."""
        sel = np.flatnonzero(rng.random(len(x)) < self.cfg.p_noise)
        if not len(sel):
            return
        nb, k = self.n_beat, self.features.decimate
        t_raw = x.shape[2] * k
        kinds = ("bw", "em", "ma", "mix")
        which = rng.integers(0, len(kinds), size=len(sel))
        snr = rng.uniform(*self.cfg.snr_range, size=len(sel))
        for i, kind in enumerate(kinds):
            s = sel[which == i]
            if not len(s):
                continue
            raw, cond = self.bank.segments(kind, len(s), t_raw, rng, channels=2)
            raw, cond = raw[:, list(self.features.leads)], cond[:, list(self.features.leads)]
            clean = x[s, :nb].astype(np.float64) * self.scale  # mV (pooled)
            p_clean = np.mean(clean**2, axis=2, keepdims=True)
            p_noise = np.maximum(np.mean(raw.astype(np.float64) ** 2, axis=2, keepdims=True), 1e-20)
            gain = np.sqrt(p_clean / (p_noise * 10.0 ** (snr[which == i][:, None, None] / 10.0)))
            x[s, :nb] = ((clean + gain * _pool(cond.astype(np.float64), k)) / self.scale).astype(np.float32)


def _shift(x: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Shift each row of ``x`` ``(B, C, T)`` by ``shifts[b]`` samples along time, repeating the edge sample."""
    t = x.shape[2]
    idx = np.clip(np.arange(t)[None, :] - shifts[:, None], 0, t - 1)  # (B, T)
    return np.take_along_axis(x, idx[:, None, :].repeat(x.shape[1], 1), axis=2)
