"""The beat-classifier training recipe (what trains a model; the served model is ``ecgdl.infer.BeatClassifier``):
data on the inter-patient split, model, loss, augmentation, one call to ``ecgdl.train.fit``, calibration.

Protocol: fit on :data:`ecgdl.splits.TRAIN` (DS1 minus VAL), early stopping / model selection /
calibration on :data:`ecgdl.splits.VAL`; DS2 is never loaded here (:func:`prepare_data` asserts it)
and is read only by ``pipelines/evaluate.py``. Feature statistics are fitted on TRAIN only.

>>> cfg = load_config("configs/cnn.toml", ["train.epochs=3"])        # doctest: +SKIP
>>> model, history, report = train_classifier(cfg, run_dir=Path("runs/try"))  # doctest: +SKIP
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ecgdl.augment import AugmentConfig, Augmenter
from ecgdl.features import FeatureConfig, fit_stats, make_inputs
from ecgdl.imbalance import balanced_indices, class_weights, focal_loss
from ecgdl.metrics import evaluate_predictions
from ecgdl.splits import TRAIN, VAL, assert_disjoint, assert_no_test_records
from ecgdl.train import TrainConfig, fit, model_device, seed_everything

IMBALANCE = ("none", "weights", "sampling", "focal")


@dataclass(frozen=True)
class DataConfig:
    """Which beats train, how classes are balanced, batch size.

    imbalance: ``none`` | ``weights`` (class-weighted CE) | ``sampling`` (class-balanced draws) |
    ``focal`` (focal loss with class weights). epoch_beats: beats drawn per epoch (0: every beat once).
    """

    imbalance: str = "sampling"
    power: float = 0.5            # weights/sampling ∝ count ** -power (1: fully balanced)
    focal_gamma: float = 2.0
    batch_size: int = 128
    epoch_beats: int = 20000
    label_smoothing: float = 0.0
    train_records: tuple[str, ...] = TRAIN
    val_records: tuple[str, ...] = VAL


@dataclass(frozen=True)
class RunConfig:
    model: str = "cnn"
    model_params: dict = field(default_factory=dict)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    calibrate: bool = False       # per-class logit offsets chosen on VAL, folded into the output bias

    def to_dict(self) -> dict:
        return {"model": self.model, "model_params": dict(self.model_params), "features": self.features.to_dict(),
                "train": asdict(self.train), "data": asdict(self.data), "augment": asdict(self.augment),
                "calibrate": self.calibrate}


def _coerce(cls, d: dict):
    """Dataclass ``cls`` from a TOML table; lists become tuples; unknown keys are an error."""
    known = {f.name for f in fields(cls)}
    bad = set(d) - known
    if bad:
        raise KeyError(f"unknown {cls.__name__} keys {sorted(bad)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def config_from_dict(d: dict) -> RunConfig:
    """:class:`RunConfig` from a nested dict (a TOML file or :meth:`RunConfig.to_dict`)."""
    feats = {k: v for k, v in d.get("features", {}).items() if k != "version"}
    return RunConfig(model=d.get("model", "cnn"), model_params=dict(d.get("model_params", {})),
                     features=_coerce(FeatureConfig, feats), train=_coerce(TrainConfig, d.get("train", {})),
                     data=_coerce(DataConfig, d.get("data", {})), augment=_coerce(AugmentConfig, d.get("augment", {})),
                     calibrate=bool(d.get("calibrate", False)))


def _parse_value(text: str):
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def load_config(path: str | Path | None, overrides: list[str] = ()) -> RunConfig:
    """Read a TOML run config; ``overrides`` like ``"train.lr=3e-4"``, ``"model_params.width=16"``, ``"model=mlp"``."""
    d = tomllib.loads(Path(path).read_text()) if path else {}
    for item in overrides:
        key, _, text = item.partition("=")
        *sections, leaf = key.strip().split(".")
        node = d
        for s in sections:
            node = node.setdefault(s, {})
        node[leaf] = _parse_value(text.strip())
    return config_from_dict(d)


def prepare_data(cfg: RunConfig, cache: Path | None = None) -> tuple[dict, dict, dict]:
    """Training and validation inputs + feature stats (fitted on training records only).

    Returns ``(train, val, stats)``; train/val are dicts ``beats, rr, y, record``.
    Raises :class:`ecgdl.splits.SplitError` if a DS2 or paced record is asked for.
    """
    from ecgdl.dataset import load_beats

    tr, va = cfg.data.train_records, cfg.data.val_records
    assert_no_test_records(tuple(tr) + tuple(va))
    assert_disjoint(train=tr, val=va)
    train_beats, val_beats = load_beats(tr, cache=cache), load_beats(va, cache=cache)
    train_beats, val_beats = train_beats.subset(train_beats.y >= 0), val_beats.subset(val_beats.y >= 0)
    stats = fit_stats(train_beats, cfg.features)
    out = []
    for b in (train_beats, val_beats):
        out.append({**make_inputs(b, cfg.features, stats), "y": b.y.astype(np.int64), "record": b.record})
    return out[0], out[1], stats


def build_classifier(cfg: RunConfig, stats: dict, n_channels: int, n_samples: int):
    from ecgdl.models import build_model

    return build_model(cfg.model, {**cfg.model_params, "in_channels": n_channels, "n_samples": n_samples,
                                   "n_rr": len(stats["rr_mean"])})


def predict_logits(model, inputs: dict, batch: int = 4096) -> np.ndarray:
    """Logits ``(n, K)`` of a classifier over ``inputs`` (``beats``, ``rr``), in eval mode, on the model's device."""
    model.eval()
    dev = model_device(model)
    out = []
    with torch.no_grad():
        for i in range(0, len(inputs["beats"]), batch):
            out.append(model(torch.from_numpy(inputs["beats"][i:i + batch]).to(dev),
                             torch.from_numpy(inputs["rr"][i:i + batch]).to(dev)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 5), np.float32)


def _batches(cfg: RunConfig, train: dict, augmenter: Augmenter | None):
    def batches(epoch: int):
        rng = np.random.default_rng([cfg.train.seed, epoch])
        n = cfg.data.epoch_beats or len(train["y"])
        if cfg.data.imbalance == "sampling":
            idx = balanced_indices(train["y"], n, rng, cfg.data.power)
        else:
            idx = rng.permutation(len(train["y"]))[:n]
        for i in range(0, len(idx), cfg.data.batch_size):
            j = np.sort(idx[i:i + cfg.data.batch_size])
            x = train["beats"][j]
            if augmenter is not None:
                x = augmenter(x, rng)
            yield torch.from_numpy(x), torch.from_numpy(train["rr"][j]), torch.from_numpy(train["y"][j])
    return batches


def _loss_fn(cfg: RunConfig, y: np.ndarray):
    weight = None
    if cfg.data.imbalance in ("weights", "focal"):
        weight = torch.from_numpy(class_weights(y, power=cfg.data.power))

    def loss_fn(model, batch):
        x, rr, target = batch
        logits = model(x, rr)  # (B, K)
        w = None if weight is None else weight.to(logits.device)
        if cfg.data.imbalance == "focal":
            return focal_loss(logits, target, cfg.data.focal_gamma, w)
        return F.cross_entropy(logits, target, weight=w, label_smoothing=cfg.data.label_smoothing)
    return loss_fn


def val_summary(report: dict) -> dict:
    pc = report["per_class"]
    return {"val_macro_f1": report["macro_f1"], "val_acc": report["accuracy"], "val_S_f1": pc["S"]["f1"],
            "val_V_f1": pc["V"]["f1"], "val_S_se": pc["S"]["se"], "val_S_ppv": pc["S"]["ppv"]}


def train_classifier(cfg: RunConfig, *, run_dir: Path | None = None, init_from: Path | None = None,
                     cache: Path | None = None, progress: bool = True, data=None, load_weights: bool = True):
    """Train one classifier; returns ``(model, history, val_report)``. ``data``: reuse :func:`prepare_data` output.

    init_from: a DAE checkpoint: the CNN takes its encoder architecture and (``load_weights``) its weights.
    """
    train, val, stats = data or prepare_data(cfg, cache)
    seed_everything(cfg.train.seed)
    if init_from is not None:
        from ecgdl.models.cnn import dae_params, load_encoder

        cfg = replace(cfg, model_params={**cfg.model_params, **dae_params(init_from, stats["beat_scale"])})
        model = build_classifier(cfg, stats, train["beats"].shape[1], train["beats"].shape[2])
        if load_weights:
            load_encoder(model, init_from)
    else:
        model = build_classifier(cfg, stats, train["beats"].shape[1], train["beats"].shape[2])
    augmenter = Augmenter(cfg.augment, cfg.features, stats) if cfg.augment.enabled else None

    def evaluate(m):
        return val_summary(evaluate_predictions(val["y"], predict_logits(m, val).argmax(1)))

    extra = {"features": cfg.features.to_dict(), "stats": stats, "run_config": cfg.to_dict(),
             "train_records": list(cfg.data.train_records), "val_records": list(cfg.data.val_records),
             "init_from": str(init_from) if init_from and load_weights else None,
             "architecture_from": str(init_from) if init_from else None}
    hist = fit(model, _batches(cfg, train, augmenter), _loss_fn(cfg, train["y"]), evaluate, cfg.train,
               progress=progress)
    logits = predict_logits(model, val)
    report = evaluate_predictions(val["y"], logits.argmax(1))
    if cfg.calibrate:
        offsets = calibrate_offsets(logits, val["y"])
        _fold_offsets(model, offsets)
        extra["logit_offsets"] = offsets.tolist()
        extra["val_metrics_uncalibrated"] = report
        report = evaluate_predictions(val["y"], (logits + offsets).argmax(1))
    extra["val_metrics"] = report
    if run_dir is not None:
        from ecgdl.train import save_checkpoint

        save_checkpoint(model, Path(run_dir) / "checkpoint.pt", train_config=cfg.train, history=hist, extra=extra)
    return model, hist, report


def calibrate_offsets(logits: np.ndarray, y: np.ndarray, grid=np.linspace(-3, 3, 25), rounds: int = 2) -> np.ndarray:
    """Per-class logit offsets ``(K,)`` maximising macro-F1 on (validation) beats, by coordinate ascent.

    N's offset stays 0 (only differences matter); classes absent from ``y`` keep 0.
    """
    k = logits.shape[1]
    off = np.zeros(k)
    present = np.bincount(y, minlength=k) > 0

    def score(o):
        return evaluate_predictions(y, (logits + o).argmax(1))["macro_f1"]
    best = score(off)
    for _ in range(rounds):
        for c in range(1, k):
            if not present[c]:
                continue
            for g in grid:
                trial = off.copy()
                trial[c] = g
                s = score(trial)
                if s > best + 1e-9:
                    best, off = s, trial
    return off.astype(np.float32)


def _fold_offsets(model, offsets: np.ndarray) -> None:
    """Add ``offsets`` to the model's output: its ``offset`` buffer if it has one (an ensemble), else the
    bias of its output layer (the last Linear with K outputs)."""
    if isinstance(getattr(model, "offset", None), torch.Tensor):
        with torch.no_grad():
            model.offset += torch.from_numpy(offsets)
        return
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == len(offsets)][-1]
    with torch.no_grad():
        last.bias += torch.from_numpy(offsets)


def with_overrides(cfg: RunConfig, **sections) -> RunConfig:
    """Copy of ``cfg`` with some fields of its sections replaced, e.g. ``train={"lr": 1e-3}``."""
    kw = {}
    for name, upd in sections.items():
        cur = getattr(cfg, name)
        kw[name] = {**cur, **upd} if isinstance(cur, dict) else replace(cur, **upd) if upd else cur
    return replace(cfg, **kw)
