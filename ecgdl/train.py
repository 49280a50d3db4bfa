"""One training loop for every model: ``fit()`` with early stopping and best-checkpoint keeping.

The loop is generic: the caller supplies ``batches(epoch)`` (an iterable of training batches, so
sampling and augmentation can change per epoch), ``loss_fn(model, batch) -> scalar tensor`` and
``evaluate(model) -> dict`` of validation metrics (must contain ``cfg.monitor``).
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


def fit(model: torch.nn.Module, batches: Callable[[int], Iterable], loss_fn: Callable, evaluate: Callable[[torch.nn.Module], dict],
        cfg: TrainConfig = TrainConfig(), *, run_dir: Path | None = None, extra: dict | None = None,
        progress: bool = True) -> History:
    """Train ``model`` in place; at the end it holds the best weights (by ``cfg.monitor``).

    With ``run_dir``, writes ``checkpoint.pt`` (best weights + configs + ``extra``) and ``history.json``.
    """
    from tqdm import tqdm

    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.threads)
    model.to(cfg.device)
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    stopper, hist, best_state = EarlyStopping(cfg.patience, cfg.mode, cfg.min_delta), History(), None
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        total, n = 0.0, 0
        for batch in tqdm(batches(epoch), desc=f"epoch {epoch}", leave=False, disable=not progress):
            loss = loss_fn(model, batch)
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
