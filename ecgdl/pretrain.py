"""Pretraining the denoising autoencoder: noisy/clean window pairs and one call to ``ecgdl.train.fit``.

Data (documented choice): windows of ``T`` samples cut at *random offsets* from whole conditioned
records (not only R-centred beat windows), because the viewer denoises a whole record with sliding
windows at arbitrary offsets. Target = the conditioned (0.5-40 Hz) clean signal; input = what
band-passing the noisy recording gives, ``clean + condition(noise)``, noise scaled to a raw SNR
drawn uniformly from ``snr_range`` and a kind drawn uniformly from bw/em/ma/mix
(:meth:`ecgdl.noise.NoiseBank.corrupt_mixed`). Training windows take the ``train`` part of every
noise record, validation (early stopping) the ``val`` part; the ``eval`` part is never read here.

>>> data = DenoisingData.from_records(TRAIN, VAL, mitdb_dir)          # doctest: +SKIP
>>> hist = pretrain_dae(build_model("dae"), data, PretrainConfig(), run_dir=Path("runs/dae"))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ecgdl.noise import ALL_KINDS, NoiseBank
from ecgdl.signal import ConditioningConfig, condition
from ecgdl.train import History, TrainConfig, fit, model_device


@dataclass(frozen=True)
class PretrainConfig:
    """window_s: training window (2.8 s = 4 x the classifiers' 252 samples at 360 Hz: several beats,
    so the model can tell repeating ECG from non-repeating noise).
    loss: ``"nmse"`` (per-window normalised MSE), ``"mse"`` or ``"snr"``; see :func:`ecgdl.models.dae.dae_loss`.
    augment_noise: random sign / time reversal / channel swap of the training noise (never of validation noise);
    off: measured to slow convergence (val_nmse 0.066 vs 0.051 after 6 epochs) with no sign of a later gain.
    windows_per_epoch / val_windows: fresh noisy windows per epoch; fixed validation set size.
    snr_range: raw-noise SNR range (dB), uniform. train: the optimiser / early-stopping settings.
    """

    fs: float = 360.0
    window_s: float = 2.8
    windows_per_epoch: int = 2048
    val_windows: int = 768
    batch_size: int = 16
    snr_range: tuple[float, float] = (-6.0, 24.0)
    kinds: tuple[str, ...] = ALL_KINDS
    loss: str = "nmse"
    augment_noise: bool = False
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=30, lr=2e-3, weight_decay=1e-4, monitor="val_nmse", mode="min", patience=6, min_delta=1e-4,
        threads=1))  # 1 thread: 5-10x faster than 2 on this shared 2-core machine (measured)

    @property
    def window(self) -> int:
        return int(round(self.window_s * self.fs))


def conditioned_signal(path: Path, fs: float = 360.0, conditioning: ConditioningConfig = ConditioningConfig()) -> np.ndarray:
    """Whole record, both leads (primary first), conditioned like the beat cache: ``(n, 2)`` float32 mV."""
    from ecgdl.io import read_record

    rec = read_record(path, target_fs=fs, annotator=None)
    return condition(rec.signal[:, list(rec.lead_pair())], rec.fs, conditioning)


def random_windows(signals: list[np.ndarray], n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` windows ``(n, C, length)`` at random offsets; records drawn in proportion to their length."""
    sizes = np.array([s.shape[0] - length + 1 for s in signals], dtype=np.float64)
    which = rng.choice(len(signals), size=n, p=sizes / sizes.sum())
    out = np.empty((n, signals[0].shape[1], length), np.float32)
    for i, r in enumerate(which):
        start = rng.integers(0, sizes[r])
        out[i] = signals[r][start:start + length].T
    return out


@dataclass
class DenoisingData:
    """Clean conditioned record signals (train / validation) and the noise banks of their parts."""

    train_signals: list[np.ndarray]
    val_signals: list[np.ndarray]
    train_noise: NoiseBank
    val_noise: NoiseBank
    train_records: tuple[str, ...] = ()
    val_records: tuple[str, ...] = ()

    @classmethod
    def from_records(cls, train_records, val_records, mitdb: Path, *, fs: float = 360.0,
                     nstdb: Path | None = None) -> "DenoisingData":
        from ecgdl.splits import assert_disjoint, assert_no_test_records

        assert_no_test_records(list(train_records) + list(val_records))
        assert_disjoint(train=train_records, val=val_records)
        load = lambda names: [conditioned_signal(Path(mitdb) / r, fs) for r in names]  # noqa: E731
        return cls(load(train_records), load(val_records), NoiseBank("train", fs, nstdb=nstdb),
                   NoiseBank("val", fs, nstdb=nstdb), tuple(map(str, train_records)), tuple(map(str, val_records)))

    def noisy_pairs(self, n: int, length: int, rng: np.random.Generator, cfg: PretrainConfig, *,
                    val: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(noisy, clean)`` each ``(n, C, length)`` float32 mV."""
        clean = random_windows(self.val_signals if val else self.train_signals, n, length, rng)
        bank = self.val_noise if val else self.train_noise
        noisy, _, _ = bank.corrupt_mixed(clean, rng, cfg.snr_range, cfg.kinds, augment=cfg.augment_noise and not val)
        return noisy, clean


def _snr_gain_db(clean: torch.Tensor, noisy: torch.Tensor, out: torch.Tensor) -> float:
    """Mean over windows of output SNR minus input SNR (dB), both against ``clean``."""
    p = (clean**2).sum(-1)
    snr_in = 10 * torch.log10(p / ((noisy - clean) ** 2).sum(-1).clamp_min(1e-12))
    snr_out = 10 * torch.log10(p / ((out - clean) ** 2).sum(-1).clamp_min(1e-12))
    return float((snr_out - snr_in).mean())


def pretrain_dae(model: torch.nn.Module, data: DenoisingData, cfg: PretrainConfig = PretrainConfig(), *,
                 run_dir: Path | None = None, progress: bool = True) -> History:
    """Train ``model`` (a registered denoiser) on noisy->clean windows; early stopping on validation MSE.

    Validation metrics per epoch: ``val_nmse`` (the training loss, monitored), ``val_mse`` (mV^2) and ``val_snr_gain_db`` (output minus input SNR,
    the input being the band-passed noisy window) over SNRs in ``snr_range``; ``val_gain_mix_0db``:
    the same gain at 0 dB raw SNR of mixed noise.
    With ``run_dir``: ``checkpoint.pt`` + ``history.json`` (via :func:`ecgdl.train.fit`) and ``config.json``.
    """
    from ecgdl.models.dae import dae_loss

    rng = np.random.default_rng(cfg.train.seed)
    v_noisy, v_clean = (torch.from_numpy(a) for a in
                        data.noisy_pairs(cfg.val_windows, cfg.window, np.random.default_rng(10_000 + cfg.train.seed),
                                         cfg, val=True))
    rng0 = np.random.default_rng(20_000 + cfg.train.seed)
    m_clean = torch.from_numpy(random_windows(data.val_signals, cfg.val_windows // 3, cfg.window, rng0))
    m_noisy = torch.from_numpy(data.val_noise.corrupt(m_clean.numpy(), 0.0, rng0, "mix"))

    def batches(epoch: int):
        noisy, clean = data.noisy_pairs(cfg.windows_per_epoch, cfg.window, rng, cfg)
        order = rng.permutation(len(noisy))
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            yield torch.from_numpy(noisy[idx]), torch.from_numpy(clean[idx])

    def loss_fn(m, batch):
        return dae_loss(m, batch[0], batch[1], cfg.loss)

    def evaluate(m) -> dict:
        dev = model_device(m)
        out = torch.cat([m(v_noisy[i:i + 512].to(dev)).cpu() for i in range(0, len(v_noisy), 512)])
        nmse = ((out - v_clean) ** 2).sum(dim=(1, 2)) / (v_clean**2).sum(dim=(1, 2)).clamp_min(1e-6)
        return {"val_nmse": float(nmse.mean()), "val_mse": float(torch.mean((out - v_clean) ** 2)),
                "val_snr_gain_db": _snr_gain_db(v_clean, v_noisy, out),
                "val_gain_mix_0db": _snr_gain_db(m_clean, m_noisy, m(m_noisy.to(dev)).cpu())}

    extra = {"pretrain_config": _jsonable(asdict(cfg)), "train_records": list(data.train_records),
             "val_records": list(data.val_records)}
    if run_dir is not None:
        import json

        Path(run_dir).mkdir(parents=True, exist_ok=True)
        (Path(run_dir) / "config.json").write_text(json.dumps(
            {"model": model.name, "model_config": _jsonable(asdict(model.config)), **extra}, indent=1))
    return fit(model, batches, loss_fn, evaluate, cfg.train, run_dir=run_dir, extra=extra, progress=progress)


def _jsonable(d):
    if isinstance(d, dict):
        return {k: _jsonable(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return [_jsonable(v) for v in d]
    return d
