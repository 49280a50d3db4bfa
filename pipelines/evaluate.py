"""Step 4: the final inter-patient evaluation of trained classifiers on DS2 (the only place DS2 is read).

    python pipelines/evaluate.py runs/best_cnn [runs/lstm ...] [--snr 24 12 6 0] [--noise-kind mix]
    python pipelines/evaluate.py --model ecgdl/shipped/ecgdl_cnn.onnx --out runs/shipped_cnn

For each run folder (or, with ``--model``, each exported ONNX model with its sidecar, scored through
``ecgdl.infer.BeatClassifier`` exactly as served, results in ``--out``): ``ds2_metrics.json`` + ``ds2_metrics.md`` (per-class Se, +P, F1, specificity,
accuracy, macro-F1, confusion matrix). With ``--snr``, held-out NSTDB noise (the ``eval`` part of
the noise records, never used in training) is added to the DS2 beat windows before the inputs are
built (so the record median beat is computed from noisy beats too, as at inference):
``ds2_noise.json`` with V and S F1 per SNR. Never use these numbers to choose a model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ecgdl.artifacts import atomic_write
from ecgdl.metrics import evaluate_predictions, metrics_markdown
from ecgdl.paths import runs_dir

#: Published inter-patient results (DS1 -> DS2), percent.
PUBLISHED = [
    {"name": "de Chazal 2004 (LD, features)", "acc": 86.2, "S_se": 75.9, "S_ppv": 38.5, "V_se": 77.7, "V_ppv": 81.9},
    {"name": "Mondéjar-Guerra 2019 (SVM ensemble)", "acc": 94.5},
    {"name": "Niu 2020 (symbolic CNN)", "acc": 96.4, "S_se": 76.5, "S_ppv": 76.6, "V_se": 85.7, "V_ppv": 94.1},
]


def ds2_beats(cache: Path | None = None):
    """All annotated DS2 beats (AAMI label known)."""
    from ecgdl.dataset import load_beats
    from ecgdl.splits import DS2

    b = load_beats(DS2, cache=cache)
    return b.subset(b.y >= 0)


def evaluate_run(run: Path, beats, *, snr_db: float | None = None, kind: str = "mix", seed: int = 0,
                 bank=None) -> dict:
    """DS2 report of one run folder's checkpoint; optionally with held-out NSTDB noise at ``snr_db``."""
    import torch

    from ecgdl.classifier_training import predict_logits
    from ecgdl.features import FeatureConfig, make_inputs
    from ecgdl.train import load_checkpoint

    torch.set_num_threads(1)
    model, blob = load_checkpoint(run / "checkpoint.pt")
    cfg, stats = FeatureConfig.from_dict(blob["extra"]["features"]), blob["extra"]["stats"]
    if snr_db is not None:
        from dataclasses import replace

        x = bank.corrupt(beats.x, snr_db, np.random.default_rng(seed), kind)
        beats = replace(beats, x=x)
    logits = predict_logits(model, make_inputs(beats, cfg, stats))
    return evaluate_predictions(beats.y, logits.argmax(1))


def evaluate_model(onnx_path: Path, beats) -> dict:
    """DS2 report of an exported model (``<name>.onnx`` + sidecar) through the served classifier."""
    from ecgdl.infer import BeatClassifier

    clf = BeatClassifier(onnx_path, device="cpu")
    return evaluate_predictions(beats.y, clf.logits(clf.inputs(beats)).argmax(1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="*", type=Path, help="run folders holding checkpoint.pt")
    p.add_argument("--model", type=Path, action="append", default=[],
                   help="an exported ONNX model (with its .json sidecar) to evaluate instead of a checkpoint")
    p.add_argument("--out", type=Path, default=None, help="with --model: the results folder (default runs/<name>)")
    p.add_argument("--snr", type=float, nargs="*", default=None, help="also evaluate with NSTDB noise at these SNRs (dB)")
    p.add_argument("--noise-kind", default="mix", choices=["bw", "em", "ma", "mix"])
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if not a.runs and not a.model:
        p.error("give run folders or --model")
    beats = ds2_beats()
    for model in a.model:
        out = (a.out / model.stem if len(a.model) > 1 else a.out) if a.out else runs_dir() / model.stem
        out.mkdir(parents=True, exist_ok=True)
        rep = evaluate_model(model, beats)
        _write_report(out, rep, f"{model.stem} (ONNX)")
    for run in a.runs:
        rep = evaluate_run(run, beats)
        _write_report(run, rep, run.name)
        if a.snr:
            from ecgdl.noise import NoiseBank

            bank = NoiseBank(part="eval")
            rows = [{"snr_db": None, **_short(rep)}]
            for snr in a.snr:
                rows.append({"snr_db": snr, **_short(evaluate_run(run, beats, snr_db=snr, kind=a.noise_kind,
                                                                 seed=a.seed, bank=bank))})
                print(json.dumps(rows[-1]))
            atomic_write(run / "ds2_noise.json", json.dumps({"kind": a.noise_kind, "seed": a.seed, "rows": rows},
                                                            indent=1))
    return 0


def _write_report(folder: Path, rep: dict, name: str) -> None:
    """``ds2_metrics.json`` + ``ds2_metrics.md`` in ``folder``; the table printed."""
    atomic_write(folder / "ds2_metrics.json", json.dumps(rep, indent=1))
    atomic_write(folder / "ds2_metrics.md", metrics_markdown(rep, f"{name}: DS2 ({rep['n']} beats)"))
    print(metrics_markdown(rep, f"{name} on DS2"))


def _short(rep: dict) -> dict:
    pc = rep["per_class"]
    return {"accuracy": rep["accuracy"], "macro_f1": rep["macro_f1"], "S_f1": pc["S"]["f1"], "V_f1": pc["V"]["f1"],
            "S_se": pc["S"]["se"], "S_ppv": pc["S"]["ppv"], "V_se": pc["V"]["se"], "V_ppv": pc["V"]["ppv"]}


if __name__ == "__main__":
    sys.exit(main())
