"""Realistic ECG noise from the MIT-BIH Noise Stress Test Database (NSTDB), added at a target SNR.

Noise kinds: ``bw`` (baseline wander), ``em`` (electrode motion), ``ma`` (muscle artifact), and
``mix`` (the three summed, each first scaled to unit power so each contributes a third).

**Disjoint parts in time.** Each 30-minute noise record is cut into three disjoint parts:
``train`` = first 60 %, ``val`` = next 10 % (early stopping), ``eval`` = last 30 % (robustness tests
and benchmarks only). :func:`part_bounds` gives the sample ranges; nothing here ever reads across a
part boundary (each part is conditioned on its own).

**SNR definition (stated, not the NSTDB's).** The NSTDB's ``nst`` derives signal power from QRS
peak-to-peak amplitudes. We use a plain power ratio over the window, per lead::

    SNR_dB = 10 log10( sum(clean**2) / sum(noise**2) )

where ``clean`` is the *conditioned* (0.5-40 Hz band-passed) clean window and ``noise`` is the
*raw* NSTDB noise added to it, i.e. the SNR of the noisy recording before any filtering, the way the
NSTDB adds raw noise to raw ECG. :func:`add_noise` hits this SNR exactly (up to float rounding).

**What a model sees.** The viewer and the classifiers get a *conditioned* signal: the raw noisy
record band-passed. Filtering is linear, so ``condition(raw_clean + noise) == clean_cond +
condition(noise)``: :class:`NoiseBank` keeps each part both raw (to measure power) and conditioned
(to add), and :meth:`NoiseBank.corrupt` returns ``clean_cond + scale * noise_cond`` where ``scale``
sets the *raw* SNR. That output is exactly what band-passing the noisy recording gives, so a
band-pass "denoiser" baseline is the conditioned input itself.

>>> bank = NoiseBank(part="train")                         # doctest: +SKIP
>>> noisy = bank.corrupt(beats.x, snr_db=0.0, kind="mix", rng=np.random.default_rng(0))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ecgdl.signal import ConditioningConfig, condition, resample

#: NSTDB noise records.
NOISE_KINDS: tuple[str, ...] = ("bw", "em", "ma")
#: Noise kinds accepted by :class:`NoiseBank` (the three records and their mix).
ALL_KINDS: tuple[str, ...] = NOISE_KINDS + ("mix",)
#: Disjoint time parts of every noise record, as fractions of its length: [start, stop).
PARTS: dict[str, tuple[float, float]] = {"train": (0.0, 0.6), "val": (0.6, 0.7), "eval": (0.7, 1.0)}
NSTDB_FS = 360.0


def part_bounds(n_samples: int, part: str) -> tuple[int, int]:
    """``[start, stop)`` sample range of ``part`` in a noise record of ``n_samples`` samples.

    >>> part_bounds(650000, "train"), part_bounds(650000, "eval")
    ((0, 390000), (455000, 650000))
    """
    if part not in PARTS:
        raise ValueError(f"unknown noise part {part!r}; known: {list(PARTS)}")
    lo, hi = PARTS[part]
    return int(round(lo * n_samples)), int(round(hi * n_samples))


@lru_cache(maxsize=8)
def _read_noise(kind: str, nstdb: str) -> np.ndarray:
    from ecgdl.io import read_record

    rec = read_record(Path(nstdb) / kind, target_fs=NSTDB_FS, annotator=None)
    return rec.signal.astype(np.float32)  # (650000, 2) noise1, noise2


def load_noise(kind: str, part: str = "train", fs: float = NSTDB_FS, *, nstdb: Path | None = None) -> np.ndarray:
    """Raw noise of one NSTDB record restricted to one time part: ``(n, 2)`` float32 mV at ``fs``.

    kind: ``"bw" | "em" | "ma"``; part: ``"train" | "val" | "eval"`` (see :data:`PARTS`).
    The part is cut at 360 Hz first, then resampled, so parts never overlap at any ``fs``.
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; known: {list(NOISE_KINDS)}")
    if nstdb is None:
        from ecgdl.paths import database_dir

        nstdb = database_dir("nstdb")
    full = _read_noise(kind, str(nstdb))
    start, stop = part_bounds(full.shape[0], part)
    return np.asarray(resample(full[start:stop], NSTDB_FS, fs), dtype=np.float32)


def add_noise(clean: np.ndarray, noise: np.ndarray, snr_db: float | np.ndarray, *,
              noise_power_ref: np.ndarray | None = None, axis: int = -1) -> np.ndarray:
    """``clean + k * noise`` with ``k`` chosen per window and lead so the SNR is ``snr_db``.

    clean, noise: same shape, e.g. ``(B, C, T)`` windows (time on ``axis``) or ``(T,)``.
    snr_db: scalar or broadcastable to ``clean`` with ``axis`` reduced (e.g. ``(B, 1)`` per window).
    noise_power_ref: the array whose mean power sets ``k`` (default ``noise`` itself). Pass the raw
    noise here and its conditioned version as ``noise`` to get "band-passed noisy recording at raw SNR".

    >>> rng = np.random.default_rng(0); s = rng.normal(size=1000); n = rng.normal(size=1000)
    >>> from ecgdl.signal import snr_db as measure
    >>> round(measure(s, add_noise(s, n, 6.0)), 6)
    6.0
    """
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    ref = noise if noise_power_ref is None else np.asarray(noise_power_ref, dtype=np.float64)
    p_clean = np.mean(clean**2, axis=axis)
    p_noise = np.maximum(np.mean(ref**2, axis=axis), 1e-20)
    k = np.sqrt(p_clean / (p_noise * 10.0 ** (np.asarray(snr_db, dtype=np.float64) / 10.0)))
    return (clean + np.expand_dims(k, axis) * noise).astype(np.float32)


@dataclass(frozen=True)
class _Part:
    raw: np.ndarray   # (n, 2) raw noise, mV
    cond: np.ndarray  # (n, 2) the same noise conditioned like the ECG


class NoiseBank:
    """Random noise segments from one part of the NSTDB records, raw and conditioned.

    part: ``"train"`` (augmentation/pretraining), ``"val"`` (early stopping), ``"eval"`` (tests).
    fs: sampling rate of the ECG it will corrupt (Hz). conditioning: the ECG's conditioning
    (the cache's default 0.5-40 Hz band-pass), applied to each part on its own.
    """

    def __init__(self, part: str = "train", fs: float = NSTDB_FS, *,
                 conditioning: ConditioningConfig = ConditioningConfig(), nstdb: Path | None = None):
        self.part, self.fs, self.conditioning = part, fs, conditioning
        self._parts: dict[str, _Part] = {}
        for kind in NOISE_KINDS:
            raw = load_noise(kind, part, fs, nstdb=nstdb)
            self._parts[kind] = _Part(raw=raw, cond=condition(raw, fs, conditioning))

    def __len__(self) -> int:
        """Samples per noise record in this part."""
        return min(p.raw.shape[0] for p in self._parts.values())

    def segments(self, kind: str, n: int, length: int, rng: np.random.Generator,
                 channels: int = 2, augment: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``n`` random noise segments: ``(raw, cond)``, each ``(n, channels, length)`` float32 mV.

        ``mix`` sums bw, em and ma segments (independent offsets), each scaled to unit raw power
        per segment and lead first. ``channels=1`` takes the noise record's first channel.
        augment: per segment, a random sign, time reversal and swap of the two noise channels
        (8 variants of every stretch: the 18-min training parts are otherwise learnt by heart).
        """
        if kind == "mix":
            raws, conds = zip(*(self._unit(k, n, length, rng, channels, augment) for k in NOISE_KINDS))
            return np.sum(raws, axis=0, dtype=np.float32), np.sum(conds, axis=0, dtype=np.float32)
        if kind not in self._parts:
            raise ValueError(f"unknown noise kind {kind!r}; known: {list(ALL_KINDS)}")
        p = self._parts[kind]
        if length > p.raw.shape[0] or channels > p.raw.shape[1]:
            raise ValueError(f"{length} samples x {channels} leads asked; the {self.part} part has {p.raw.shape}")
        start = rng.integers(0, p.raw.shape[0] - length + 1, size=n)
        idx = start[:, None] + np.arange(length)[None, :]          # (n, length)
        if augment:
            flip = rng.random(n) < 0.5
            idx[flip] = idx[flip, ::-1]                             # time reversal
        order = np.arange(p.raw.shape[1])
        raw = p.raw[idx][:, :, order].transpose(0, 2, 1)           # (n, 2, length)
        cond = p.cond[idx][:, :, order].transpose(0, 2, 1)
        if augment:
            swap = rng.random(n) < 0.5
            raw[swap], cond[swap] = raw[swap, ::-1], cond[swap, ::-1]  # noise1 <-> noise2
            sign = np.where(rng.random(n) < 0.5, -1.0, 1.0).astype(np.float32)[:, None, None]
            raw, cond = raw * sign, cond * sign
        return np.ascontiguousarray(raw[:, :channels]), np.ascontiguousarray(cond[:, :channels])

    def _unit(self, kind: str, n: int, length: int, rng: np.random.Generator, channels: int, augment: bool):
        raw, cond = self.segments(kind, n, length, rng, channels, augment)
        k = 1.0 / np.sqrt(np.maximum(np.mean(raw.astype(np.float64) ** 2, axis=-1, keepdims=True), 1e-20))
        return (raw * k).astype(np.float32), (cond * k).astype(np.float32)

    def corrupt(self, clean: np.ndarray, snr_db: float | np.ndarray, rng: np.random.Generator, kind: str = "mix",
                *, conditioned: bool = True, augment: bool = False) -> np.ndarray:
        """Noisy copies of conditioned clean windows ``(B, C, T)`` (mV) at ``snr_db`` (raw-noise SNR).

        snr_db: scalar or ``(B,)`` per window. kind: ``bw | em | ma | mix``.
        conditioned=True (default) returns what band-passing the noisy recording gives (the models'
        input); False adds the raw noise (the noisy recording itself). augment: see :meth:`segments`.
        """
        clean = np.asarray(clean, dtype=np.float32)
        b, c, t = clean.shape
        raw, cond = self.segments(kind, b, t, rng, channels=c, augment=augment)
        snr = np.broadcast_to(np.asarray(snr_db, dtype=np.float64), (b,))[:, None]  # (B, 1) per window
        return add_noise(clean, cond if conditioned else raw, snr, noise_power_ref=raw)

    def corrupt_mixed(self, clean: np.ndarray, rng: np.random.Generator, snr_range: tuple[float, float] = (-6.0, 24.0),
                      kinds: tuple[str, ...] = ALL_KINDS, augment: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Augmentation: each window gets a random kind and an SNR uniform in ``snr_range`` (dB).

        Returns ``(noisy (B, C, T), snr_db (B,), kind_index (B,))`` (kind_index into ``kinds``).
        """
        b = len(clean)
        snr = rng.uniform(*snr_range, size=b)
        which = rng.integers(0, len(kinds), size=b)
        noisy = np.empty_like(np.asarray(clean, dtype=np.float32))
        for i, kind in enumerate(kinds):
            sel = np.flatnonzero(which == i)
            if len(sel):
                noisy[sel] = self.corrupt(clean[sel], snr[sel], rng, kind, augment=augment)
        return noisy, snr, which
