"""GPU figures for issue 4: final-CNN training time and a larger Optuna TPE search, on VAL only.

    python gpu/classifier_search.py --build   # here (CPU): writes gpu/data/classifier_inputs.npz (< 20 MiB)
    python gpu/classifier_search.py           # on the GPU machine: < 90 s, prints the figures

The data file holds the model inputs (``ecgdl.features.make_inputs``, the configs/cnn.toml feature
config, statistics fitted on TRAIN) of the DS1 TRAIN records (every non-N beat, 40 % of the N beats,
fp16) and of all VAL beats. DS2 is not in it. The GPU run repeats the CPU recipe of configs/cnn.toml
(class-weighted CE, 16,000 beats per epoch, batch 128, early stopping on VAL macro-F1) but with
amplitude/baseline/shift augmentation only (no NSTDB noise on the device), so its VAL scores are
indicative; the timing is the figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "classifier_inputs.npz"
sys.path.insert(0, str(HERE.parent))  # the repository root, for ecgdl.models / ecgdl.metrics


def build(path: Path = DATA, keep_n: float = 0.4) -> None:
    from ecgdl.classifier import load_config, prepare_data

    cfg = load_config(HERE.parent / "configs" / "cnn.toml")
    train, val, stats = prepare_data(cfg)
    rng = np.random.default_rng(0)
    keep = (train["y"] != 0) | (rng.random(len(train["y"])) < keep_n)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, tr_x=train["beats"][keep].astype(np.float16), tr_rr=train["rr"][keep].astype(np.float16),
                        tr_y=train["y"][keep].astype(np.int8), va_x=val["beats"].astype(np.float16),
                        va_rr=val["rr"].astype(np.float16), va_y=val["y"].astype(np.int8),
                        beat_scale=np.float32(stats["beat_scale"]))
    print(path, f"{path.stat().st_size / 2**20:.1f} MiB", int(keep.sum()), "train beats", len(val["y"]), "val beats")


def train_once(d: dict, params: dict, epochs: int, epoch_beats: int, dev, seed: int = 0) -> tuple[float, float, int]:
    """Returns (best VAL macro-F1, seconds, epochs run)."""
    import torch
    import torch.nn.functional as F

    from ecgdl.imbalance import class_weights
    from ecgdl.metrics import evaluate_predictions
    from ecgdl.models import build_model

    torch.manual_seed(seed)
    g = torch.Generator(device=dev).manual_seed(seed)
    model = build_model("cnn", in_channels=d["tr_x"].shape[1], n_samples=d["tr_x"].shape[2], n_rr=d["tr_rr"].shape[1],
                        **{k: v for k, v in params.items() if k not in ("lr", "weight_decay")}).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=params.get("lr", 1e-3), weight_decay=params.get("weight_decay", 1e-4))
    w = torch.tensor(class_weights(d["y_np"]), device=dev)
    best, bad, t0, ep = -1.0, 0, time.perf_counter(), 0
    for ep in range(epochs):
        model.train()
        idx = torch.randint(0, len(d["tr_y"]), (epoch_beats,), device=dev, generator=g)
        for i in range(0, epoch_beats, 128):
            j = idx[i:i + 128]
            x = d["tr_x"][j] * torch.exp(torch.empty(len(j), 1, 1, device=dev).uniform_(-0.22, 0.22, generator=g))
            x = x + torch.empty(len(j), x.shape[1], 1, device=dev).uniform_(-0.1, 0.1, generator=g) / d["scale"]
            loss = F.cross_entropy(model(x, d["tr_rr"][j]), d["tr_y"][j], weight=w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            pred = model(d["va_x"], d["va_rr"]).argmax(1).cpu().numpy()
        f1 = evaluate_predictions(d["va_y_np"], pred)["macro_f1"]
        best, bad = (f1, 0) if f1 > best + 1e-4 else (best, bad + 1)
        if bad >= 6:
            break
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return best, time.perf_counter() - t0, ep + 1


def run(budget_s: float = 80.0) -> None:
    import torch

    t_start = time.perf_counter()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print("device", dev, torch.cuda.get_device_name(0) if dev.type == "cuda" else "")
    z = np.load(DATA)
    d = {k: torch.tensor(z[k].astype(np.float32 if z[k].dtype == np.float16 else np.int64), device=dev)
         for k in ("tr_x", "tr_rr", "tr_y", "va_x", "va_rr", "va_y")}
    d.update(y_np=z["tr_y"].astype(np.int64), va_y_np=z["va_y"].astype(np.int64), scale=float(z["beat_scale"]))
    base = dict(width=16, depth=4, kernel=7, dropout=0.3, activation="relu", lr=1e-3, weight_decay=1e-4)
    f1, secs, eps = train_once(d, base, epochs=30, epoch_beats=16000, dev=dev)
    print(f"final CNN recipe (configs/cnn.toml, 30 epochs max, patience 6): {secs:.1f} s for {eps} epochs "
          f"({secs / eps:.2f} s/epoch), best VAL macro-F1 {f1:.3f}")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        p = dict(lr=trial.suggest_float("lr", 3e-4, 3e-3, log=True), depth=trial.suggest_categorical("depth", [3, 4]),
                 width=trial.suggest_categorical("width", [12, 16, 24]),
                 dropout=trial.suggest_categorical("dropout", [0.1, 0.3, 0.5]),
                 activation=trial.suggest_categorical("activation", ["relu", "leaky_relu", "tanh", "sigmoid", "softplus"]),
                 weight_decay=trial.suggest_float("weight_decay", 1e-5, 1e-3, log=True), kernel=7)
        return train_once(d, p, epochs=4, epoch_beats=6000, dev=dev)[0]

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
