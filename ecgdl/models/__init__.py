"""Model registry: each family file defines a frozen Config dataclass, an ``nn.Module`` and registers it.

Contract (checked by ``tests/test_model_contract.py`` for every registered model):
* classifiers (``kind = "classifier"``): ``forward(beats (B, C, T) float32, rr (B, F) float32) -> logits (B, K)``
* denoisers (``kind = "denoiser"``): ``forward(x (B, C, T)) -> (B, C, T)``
Every module stores its config as ``model.config`` and its registry name as ``model.name``.

>>> model = build_model("cnn", in_channels=2)      # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, fields, replace
from typing import Callable

REGISTRY: dict[str, tuple[type, Callable, str]] = {}
#: Family modules imported (and so registered) on first use of the registry.
FAMILIES: tuple[str, ...] = ("linear", "cnn", "lstm", "dae")


def register(name: str, config_cls: type, kind: str = "classifier"):
    """Decorator for a builder ``f(config) -> nn.Module``."""

    def deco(builder):
        REGISTRY[name] = (config_cls, builder, kind)
        return builder

    return deco


def _load_families() -> None:
    for fam in FAMILIES:
        try:
            importlib.import_module(f"ecgdl.models.{fam}")
        except ModuleNotFoundError as exc:
            if exc.name != f"ecgdl.models.{fam}":
                raise


def list_models(kind: str | None = None) -> list[str]:
    _load_families()
    return sorted(n for n, (_, _, k) in REGISTRY.items() if kind is None or k == kind)


def build_model(name: str, config=None, **overrides):
    """Build a registered model from a config instance or a dict / keyword overrides of its fields."""
    _load_families()
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered: {sorted(REGISTRY)}")
    config_cls, builder, kind = REGISTRY[name]
    if config is None:
        config = config_cls()
    elif isinstance(config, dict):
        unknown = set(config) - {f.name for f in fields(config_cls)}
        if unknown:
            raise KeyError(f"unknown {config_cls.__name__} keys {sorted(unknown)} for model {name!r}")
        config = config_cls(**config)
    if overrides:
        config = replace(config, **overrides)
    model = builder(config)
    model.config = config
    model.name = name
    model.kind = kind
    return model


def model_config_dict(model) -> dict:
    return asdict(model.config)
