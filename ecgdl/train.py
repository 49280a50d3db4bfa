"""One training loop for every model: ``fit()`` with early stopping and best-checkpoint keeping.

The loop is generic: the caller supplies ``batches(epoch)`` (an iterable of training batches, so
sampling and augmentation can change per epoch), ``loss_fn(model, batch) -> scalar tensor`` and
``evaluate(model) -> dict`` of validation metrics (must contain ``cfg.monitor``).

Device: ``fit`` moves the model to ``cfg.device`` and every batch onto it (:func:`to_device`:
tensors, nested in tuples / lists / dicts), as nanoGPT's ``get_batch`` does; ``evaluate`` gets the
model on that device (:func:`model_device` tells it where). Weight decay applies to weights with
``dim() >= 2`` (convolution kernels, linear weights) and never to biases or norm parameters
(:func:`param_groups`, nanoGPT's ``configure_optimizers``). The GPU scripts (``gpu/``) call this
same ``fit``.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from ecgdl.artifacts import atomic_write, atomic_write_with


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 40
    lr: float = 1e-3
    weight_decay: float = 1e-4      # L2 (decoupled for AdamW)
    l1: float = 0.0                 # L1 penalty on weights, added to the loss
    optimizer: str = "adamw"        # "adamw" | "sgd"
    momentum: float = 0.9           # SGD only
    monitor: str = "val_macro_f1"   # metric returned by evaluate()
    mode: str = "max"               # "max" | "min"
    patience: int = 6
    min_delta: float = 1e-4
    grad_clip: float = 5.0
    seed: int = 0
    threads: int = 2
    device: str = "cpu"


class EarlyStopping:
    """Lightning-style early stopping: stop after ``patience`` epochs without a ``min_delta`` improvement."""

    def __init__(self, patience: int = 6, mode: str = "max", min_delta: float = 0.0):
        if mode not in ("max", "min"):
            raise ValueError("mode must be 'max' or 'min'")
        self.patience, self.mode, self.min_delta = patience, mode, min_delta
        self.best = -math.inf if mode == "max" else math.inf
        self.bad_epochs = 0

    def step(self, value: float) -> bool:
        """Record one epoch's value; True when it is a new best."""
        better = value > self.best + self.min_delta if self.mode == "max" else value < self.best - self.min_delta
        if better:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        return better

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience


@dataclass
class History:
    epochs: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_value: float = float("nan")
    stopped_early: bool = False
    seconds: float = 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def to_device(batch, device: torch.device | str):
    """``batch`` with every tensor (nested in tuples, lists, dicts) on ``device``; other values unchanged."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s parameters (CPU for a model without any)."""
    return next(model.parameters(), torch.empty(0)).device


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Optimiser groups: trainable parameters with ``dim() >= 2`` decay, the others (biases, norms) do not."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW (decoupled decay) or SGD with momentum over :func:`param_groups`."""
    groups = param_groups(model, cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    if cfg.optimizer != "adamw":
        raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {cfg.optimizer!r}")
    return torch.optim.AdamW(groups, lr=cfg.lr)


def fit(model: torch.nn.Module, batches: Callable[[int], Iterable], loss_fn: Callable, evaluate: Callable[[torch.nn.Module], dict],
        cfg: TrainConfig = TrainConfig(), *, run_dir: Path | None = None, extra: dict | None = None,
        progress: bool = True) -> History:
    """Train ``model`` in place; at the end it holds the best weights (by ``cfg.monitor``).

    With ``run_dir``, writes ``checkpoint.pt`` (best weights + configs + ``extra``) and ``history.json``.
    """
    from tqdm import tqdm

    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(model, cfg)
    stopper, hist, best_state = EarlyStopping(cfg.patience, cfg.mode, cfg.min_delta), History(), None
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        total, n = 0.0, 0
        for batch in tqdm(batches(epoch), desc=f"epoch {epoch}", leave=False, disable=not progress):
            loss = loss_fn(model, to_device(batch, device))
            if cfg.l1:
                loss = loss + cfg.l1 * sum(p.abs().sum() for p in params if p.ndim > 1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            total, n = total + float(loss.detach()), n + 1
        model.eval()
        with torch.no_grad():
            metrics = {"epoch": epoch, "train_loss": total / max(n, 1), **evaluate(model)}
        hist.epochs.append(metrics)
        if stopper.step(float(metrics[cfg.monitor])):
            hist.best_epoch, hist.best_value = epoch, float(metrics[cfg.monitor])
            best_state = copy.deepcopy(model.state_dict())
        if progress:
            print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()), flush=True)
        if stopper.should_stop:
            hist.stopped_early = True
            break
    hist.seconds = time.perf_counter() - t0
    if best_state is not None:
        model.load_state_dict(best_state)
    if run_dir is not None:
        save_checkpoint(model, Path(run_dir) / "checkpoint.pt", train_config=cfg, history=hist, extra=extra)
    return hist


def save_checkpoint(model, path: Path, *, train_config: TrainConfig | None = None, history: History | None = None,
                    extra: dict | None = None) -> None:
    """Save weights with everything needed to rebuild the model (registry name + config)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"model_name": model.name, "model_config": asdict(model.config), "state_dict": model.state_dict(),
            "train_config": asdict(train_config) if train_config else None,
            "history": asdict(history) if history else None, "extra": extra or {}}
    atomic_write_with(path, lambda fh: torch.save(blob, fh))
    if history is not None:
        atomic_write(path.parent / "history.json", json.dumps(asdict(history), indent=1))


def load_checkpoint(path: Path, device: str = "cpu"):
    """Rebuild a model from :func:`save_checkpoint` output; returns ``(model, blob)``."""
    from ecgdl.models import build_model

    blob = torch.load(path, map_location=device, weights_only=False)
    model = build_model(blob["model_name"], blob["model_config"])
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, blob
