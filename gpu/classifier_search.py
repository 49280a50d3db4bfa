"""GPU figures for issue 4: final-CNN training time and a larger Optuna TPE search, on VAL only.

    python gpu/classifier_search.py --build   # here (CPU): writes gpu/data/classifier_inputs.npz (< 20 MiB)
    python gpu/classifier_search.py           # on the GPU machine: < 90 s, prints the figures

The data file holds the model inputs (``ecgdl.features.make_inputs``, the configs/cnn.toml feature
config, statistics fitted on TRAIN) of the DS1 TRAIN records (every non-N beat, 40 % of the N beats,
fp16) and of all VAL beats, and the statistics. DS2 is not in it. The GPU run is the shipped recipe
itself: ``ecgdl.classifier_training.train_classifier`` (so ``ecgdl.train.fit``: class-weighted CE, 16,000
beats per epoch, batch 128, early stopping on VAL macro-F1, the same augmenter) with
``train.device = "cuda"``; only the NSTDB-noise part of the augmentation is off (``augment.p_noise = 0``:
the noise records are not on the device), so its VAL scores are indicative; the timing is the figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "classifier_inputs.npz"
CONFIG = HERE.parent / "configs" / "cnn.toml"
sys.path.insert(0, str(HERE.parent))  # the repository root, for ecgdl


def build(path: Path = DATA, keep_n: float = 0.4) -> None:
    import json

    from ecgdl.classifier_training import load_config, prepare_data

    cfg = load_config(CONFIG)
    train, val, stats = prepare_data(cfg)
    rng = np.random.default_rng(0)
    keep = (train["y"] != 0) | (rng.random(len(train["y"])) < keep_n)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, tr_x=train["beats"][keep].astype(np.float16), tr_rr=train["rr"][keep].astype(np.float16),
                        tr_y=train["y"][keep].astype(np.int8), tr_record=train["record"][keep],
                        va_x=val["beats"].astype(np.float16), va_rr=val["rr"].astype(np.float16),
                        va_y=val["y"].astype(np.int8), va_record=val["record"], stats=np.array(json.dumps(stats)))
    print(path, f"{path.stat().st_size / 2**20:.1f} MiB", int(keep.sum()), "train beats", len(val["y"]), "val beats")


def load(path: Path = DATA) -> tuple[dict, dict, dict]:
    """``(train, val, stats)`` as :func:`ecgdl.classifier_training.prepare_data` returns them, from the data file."""
    import json

    z = np.load(path)
    part = {p: {"beats": z[f"{p}_x"].astype(np.float32), "rr": z[f"{p}_rr"].astype(np.float32),
                "y": z[f"{p}_y"].astype(np.int64), "record": z[f"{p}_record"]} for p in ("tr", "va")}
    return part["tr"], part["va"], json.loads(str(z["stats"]))


def train_once(cfg, inputs, device: str, **overrides) -> tuple[float, float, int]:
    """One run of the shipped recipe on ``device``; returns (best VAL macro-F1, seconds, epochs run)."""
    import torch

    from ecgdl.classifier_training import train_classifier, with_overrides

    cfg = with_overrides(cfg, train={"device": device, **overrides.pop("train", {})}, augment={"p_noise": 0.0},
                         **overrides)
    t0 = time.perf_counter()
    _, hist, _ = train_classifier(cfg, data=inputs, progress=False)
    if device == "cuda":
        torch.cuda.synchronize()
    return hist.best_value, time.perf_counter() - t0, len(hist.epochs)


def run(budget_s: float = 80.0) -> None:
    import torch

    from ecgdl.classifier_training import load_config

    t_start = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print("device", device, torch.cuda.get_device_name(0) if device == "cuda" else "")
    cfg, inputs = load_config(CONFIG), load()
    f1, secs, eps = train_once(cfg, inputs, device)
    print(f"final CNN recipe (configs/cnn.toml through ecgdl.train.fit, {cfg.train.epochs} epochs max, patience "
          f"{cfg.train.patience}): {secs:.1f} s for {eps} epochs ({secs / eps:.2f} s/epoch), best VAL macro-F1 {f1:.3f}")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        model = dict(depth=trial.suggest_categorical("depth", [3, 4]), width=trial.suggest_categorical("width", [12, 16, 24]),
                     dropout=trial.suggest_categorical("dropout", [0.1, 0.3, 0.5]),
                     activation=trial.suggest_categorical("activation", ["relu", "leaky_relu", "tanh", "sigmoid",
                                                                         "softplus"]))
        train = dict(lr=trial.suggest_float("lr", 3e-4, 3e-3, log=True), epochs=4,
                     weight_decay=trial.suggest_float("weight_decay", 1e-5, 1e-3, log=True))
        return train_once(cfg, inputs, device, model_params=model, train=train, data={"epoch_beats": 6000})[0]

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=4))
    t0 = time.perf_counter()
    while time.perf_counter() - t_start < budget_s:
        study.optimize(objective, n_trials=1)
    print(f"TPE search (4 epochs x 6000 beats per trial): {len(study.trials)} trials in {time.perf_counter() - t0:.1f} s, "
          f"best VAL macro-F1 {study.best_value:.3f}, params {study.best_params}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", action="store_true")
    ap.add_argument("--budget", type=float, default=80.0, help="seconds for the whole run")
    a = ap.parse_args()
    build() if a.build else run(a.budget)
