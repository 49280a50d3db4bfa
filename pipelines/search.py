"""Hyper-parameter search (grid, random, Optuna TPE) on VAL macro-F1; DS2 is never read.

    python pipelines/search.py --config configs/search_cnn.toml --strategy grid random tpe --trials 4

Short trials (the config's epochs/epoch_beats); the data are prepared once and shared by every trial.
Writes ``runs/search/<strategy>.json`` (every trial: params, VAL macro-F1, seconds) and
``runs/search/summary.md`` (each strategy, trials, best validation macro-F1, best params).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from ecgdl.classifier_training import load_config, prepare_data, train_classifier, with_overrides
from ecgdl.paths import runs_dir

#: Search space: (config section, key) -> choices (grid/random) ; TPE samples the same choices
#: (lr and weight decay log-uniform between the extremes).
SPACE: dict[tuple[str, str], list] = {
    ("train", "lr"): [3e-4, 1e-3, 3e-3],
    ("model_params", "depth"): [3, 4],
    ("model_params", "width"): [12, 16, 24],
    ("model_params", "dropout"): [0.1, 0.3, 0.5],
    ("model_params", "activation"): ["relu", "leaky_relu", "tanh", "sigmoid", "softplus"],
    ("train", "weight_decay"): [1e-5, 1e-4, 1e-3],
}
#: The grid: a small factorial over the two axes that usually matter most, the rest at defaults.
GRID_AXES = (("train", "lr"), ("model_params", "activation"))
LOG_KEYS = {("train", "lr"), ("train", "weight_decay")}


def _apply(cfg, params: dict):
    sections: dict[str, dict] = {}
    for (sec, key), v in params.items():
        sections.setdefault(sec, {})[key] = v
    return with_overrides(cfg, **sections)


def _key(params: dict) -> dict:
    return {f"{s}.{k}": v for (s, k), v in params.items()}


def run_trial(cfg, params: dict, data) -> dict:
    t0 = time.perf_counter()
    _, hist, report = train_classifier(_apply(cfg, params), data=data, progress=False)
    return {"params": _key(params), "val_macro_f1": float(hist.best_value), "best_epoch": hist.best_epoch,
            "val_S_f1": report["per_class"]["S"]["f1"], "val_V_f1": report["per_class"]["V"]["f1"],
            "seconds": time.perf_counter() - t0}


def grid_trials(n: int, rng) -> list[dict]:
    combos = list(itertools.product(*(SPACE[a] for a in GRID_AXES)))
    pick = np.linspace(0, len(combos) - 1, n).round().astype(int) if n < len(combos) else range(len(combos))
    return [dict(zip(GRID_AXES, combos[i])) for i in pick]


def random_trials(n: int, rng) -> list[dict]:
    return [{k: v[rng.integers(len(v))] for k, v in SPACE.items()} for _ in range(n)]


def tpe_search(cfg, data, n: int, seed: int) -> list[dict]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = []

    def objective(trial):
        params = {}
        for (sec, key), choices in SPACE.items():
            name = f"{sec}.{key}"
            if (sec, key) in LOG_KEYS:
                params[(sec, key)] = trial.suggest_float(name, min(choices), max(choices), log=True)
            else:
                params[(sec, key)] = trial.suggest_categorical(name, choices)
        trials.append(run_trial(cfg, params, data))
        print(json.dumps(trials[-1]), flush=True)
        return trials[-1]["val_macro_f1"]

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=2))
    study.optimize(objective, n_trials=n)
    return trials


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--strategy", nargs="+", default=["grid", "random", "tpe"], choices=["grid", "random", "tpe"])
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/search)")
    a = p.parse_args(argv)
    cfg = load_config(a.config, a.set)
    out = a.out or runs_dir() / "search"
    out.mkdir(parents=True, exist_ok=True)
    data = prepare_data(cfg)
    rng = np.random.default_rng(a.seed)
    for strategy in a.strategy:
        t0 = time.perf_counter()
        if strategy == "tpe":
            trials = tpe_search(cfg, data, a.trials, a.seed)
        else:
            trials = []
            for params in (grid_trials if strategy == "grid" else random_trials)(a.trials, rng):
                trials.append(run_trial(cfg, params, data))
                print(json.dumps(trials[-1]), flush=True)
        best = max(trials, key=lambda t: t["val_macro_f1"])
        (out / f"{strategy}.json").write_text(json.dumps({"strategy": strategy, "trials": trials, "best": best,
                                                          "seconds": time.perf_counter() - t0,
                                                          "config": cfg.to_dict()}, indent=1))
    (out / "summary.md").write_text(summary_markdown(out))
    print((out / "summary.md").read_text())
    return 0


def summary_markdown(folder: Path) -> str:
    lines = ["| strategy | trials | best VAL macro-F1 | S F1 | V F1 | minutes | best params |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for s in ("grid", "random", "tpe"):
        f = folder / f"{s}.json"
        if f.is_file():
            d = json.loads(f.read_text())
            b = d["best"]
            params = ", ".join(f"{k.split('.')[-1]}={v:.2g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
                               for k, v in b["params"].items())
            lines.append(f"| {s} | {len(d['trials'])} | {b['val_macro_f1']:.3f} | {b['val_S_f1']:.3f} | "
                         f"{b['val_V_f1']:.3f} | {d['seconds'] / 60:.1f} | {params} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
