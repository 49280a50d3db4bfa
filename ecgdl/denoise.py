"""Denoising a whole record with the exported DAE (ONNX Runtime; no torch on this path).

The model denoises fixed windows (``window`` samples at ``fs``, from the sidecar ``<model>.json``).
A record is cut into windows with 75 % overlap (hop = window / 4); each denoised window is weighted
by a Hann taper and the overlapping windows are cross-faded by a weighted average, so no window
edge (where a convolutional model is least reliable) shows as a seam. The record is reflected at
both ends so its first and last samples sit inside windows too.

Noise gate: a DAE distorts what is already clean (its own output SNR tops out near 19 dB), so
each window's output is blended back toward its input by ``g = 1 / (1 + exp((snr_hat - tau) /
width))``, where ``snr_hat = 10 log10(|y|^2 / |x - y|^2)`` is the DAE's own estimate of the
window's SNR (output power over removed power). Windows the DAE finds clean (snr_hat >> tau) pass
through band-passed only; noisy ones get the full DAE. ``tau``/``width`` come from the sidecar's
``gate`` (tuned on the validation records: ``benchmarks/denoise_gate.py``); ``gate=False`` turns it off.

Input: the *conditioned* signal (band-passed as the sidecar's ``conditioning``, 0.5-40 Hz), which
is what the model was trained on; pass ``condition=True`` to band-pass a raw signal first.

>>> dn = Denoiser("ecgdl/shipped/dae.onnx")                          # doctest: +SKIP
>>> clean = dn.denoise(record_signal_conditioned, fs=360.0)   # (n, 2) mV  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgdl.artifacts import load_onnx
from ecgdl.signal import ConditioningConfig, condition, resample

DEFAULT_MODEL = "dae.onnx"


class Denoiser:
    """The exported DAE over ONNX Runtime.

    onnx_path: ``<name>.onnx`` with its sidecar ``<name>.json`` beside it (fs, window, channels,
    conditioning, sha256: checked). device: ``"cpu"`` (default), ``"auto"`` or ``"cuda"`` (CPU with
    a warning when CUDA does not work; :func:`ecgdl.artifacts.load_onnx`). threads: intra-op threads.
    """

    def __init__(self, onnx_path: str | Path, *, device: str = "cpu", threads: int = 1, gate: bool = True):
        loaded = load_onnx(onnx_path, device, threads=threads)
        self.path, self.meta, self.session, self.fallback = loaded.path, loaded.meta, loaded.session, loaded.fallback
        self.fs = float(self.meta["fs"])
        self.window = int(self.meta["window"])
        self.channels = int(self.meta["channels"])
        self.conditioning = ConditioningConfig(**self.meta.get("conditioning", {}))
        g = self.meta.get("gate") if gate else None
        self.gate = (float(g["tau_db"]), float(g["width_db"])) if g else None
        self.input_name = self.session.get_inputs()[0].name

    @property
    def providers(self) -> list[str]:
        """Providers the session actually uses."""
        return self.session.get_providers()

    def denoise_windows(self, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Denoise windows ``(B, channels, window)`` float32 mV -> same shape."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 3 or x.shape[1] != self.channels:
            raise ValueError(f"expected (B, {self.channels}, T) windows, got {x.shape}")
        out = [self.session.run(None, {self.input_name: x[i:i + batch_size]})[0] for i in range(0, len(x), batch_size)]
        y = np.concatenate(out) if out else np.zeros_like(x)
        return y if self.gate is None else apply_gate(x, y, *self.gate)

    def denoise(self, signal: np.ndarray, fs: float, *, condition_input: bool = False, hop_fraction: float = 0.25,
                batch_size: int = 512) -> np.ndarray:
        """Denoise a whole record ``(n, C)`` (or ``(n,)``) in mV at ``fs`` Hz; returns the same shape.

        Any number of leads: leads are denoised ``channels`` at a time (a single lead is duplicated
        to fill the model's two inputs). Other sampling rates are resampled to the model's and back.
        """
        x = np.asarray(signal, dtype=np.float32)
        one_d = x.ndim == 1
        x = x[:, None] if one_d else x
        if x.ndim != 2:
            raise ValueError(f"signal must be (n,) or (n, C), got {np.shape(signal)}")
        if condition_input:
            x = condition(x, fs, self.conditioning)
        n = x.shape[0]
        xm = np.asarray(resample(x, fs, self.fs), dtype=np.float32)
        out = np.empty_like(xm)
        for group in _lead_groups(xm.shape[1], self.channels):
            y = self._stitch(xm[:, group], hop_fraction, batch_size)
            for j, lead in enumerate(group):
                if lead not in group[:j]:  # a repeated filler lead keeps its first output
                    out[:, lead] = y[:, j]
        out = np.asarray(resample(out, self.fs, fs), dtype=np.float32)
        out = _fit_length(out, n)
        return out[:, 0] if one_d else out

    def _stitch(self, x: np.ndarray, hop_fraction: float, batch_size: int) -> np.ndarray:
        """Overlapping windows, Hann-weighted average of their outputs: ``(n, channels)``."""
        n, w = x.shape[0], self.window
        if n < 2:
            return x.copy()
        hop = max(1, int(round(w * hop_fraction)))
        n_win = int(np.ceil((n + w) / hop)) + 1
        total = (n_win - 1) * hop + w
        left = w // 2
        padded = np.pad(x, ((left, total - n - left), (0, 0)), mode="reflect")  # (total, C)
        starts = np.arange(n_win) * hop
        idx = starts[:, None] + np.arange(w)[None, :]
        windows = padded[idx].transpose(0, 2, 1)                      # (n_win, C, w)
        y = self.denoise_windows(windows, batch_size)                 # (n_win, C, w)
        taper = np.sin(np.pi * (np.arange(w) + 0.5) / w) ** 2         # Hann, > 0 everywhere
        acc = np.zeros((total, x.shape[1]), np.float64)
        weight = np.zeros(total, np.float64)
        for s, yw in zip(starts, y):
            acc[s:s + w] += (yw * taper).T
            weight[s:s + w] += taper
        return (acc[left:left + n] / weight[left:left + n, None]).astype(np.float32)


def apply_gate(x: np.ndarray, y: np.ndarray, tau_db: float, width_db: float) -> np.ndarray:
    """Blend DAE outputs ``y`` back toward inputs ``x`` (both ``(B, C, T)``) where the DAE sees little noise.

    >>> x = np.ones((1, 2, 8), np.float32); bool(np.allclose(apply_gate(x, 0.999 * x, 12.0, 1.0), x, atol=1e-4))
    True
    """
    removed = np.sum((x.astype(np.float64) - y) ** 2, axis=(1, 2))
    snr_hat = 10 * np.log10(np.sum(y.astype(np.float64) ** 2, axis=(1, 2)) / np.maximum(removed, 1e-20) + 1e-20)
    g = 1.0 / (1.0 + np.exp(np.clip((snr_hat - tau_db) / width_db, -50, 50)))  # (B,) 1 = full DAE
    return (x - g[:, None, None] * (x - y)).astype(np.float32)


def _lead_groups(n_leads: int, channels: int) -> list[list[int]]:
    """Leads in groups of ``channels``; the last group is filled by repeating its last lead."""
    groups = [list(range(i, min(i + channels, n_leads))) for i in range(0, n_leads, channels)]
    return [g + [g[-1]] * (channels - len(g)) for g in groups]


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if x.shape[0] >= n:
        return x[:n]
    return np.pad(x, ((0, n - x.shape[0]), (0, 0)), mode="edge")


def denoise(signal: np.ndarray, fs: float, model_path: str | Path | None = None, **kwargs) -> np.ndarray:
    """One call: denoise a conditioned record ``(n, C)`` mV with ``ecgdl/shipped/dae.onnx`` (or ``model_path``)."""
    if model_path is None:
        from ecgdl.paths import MODELS_DIR

        model_path = MODELS_DIR / DEFAULT_MODEL
    return Denoiser(model_path).denoise(signal, fs, **kwargs)
