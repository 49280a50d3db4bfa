"""DS1 pseudo-records where atrial ectopic beats outnumber sinus beats: the adaptive step measured where it must work.

    ECGDL_CACHE=cache python pipelines/adapt_pseudo.py --seeds 0 1 2 --sinus-rule none 0.8,0.6,0.7

No DS1 record has more S beats than N beats (DS2's 232 does). A pseudo-record is an S-rich DS1 record (at least
``--min-s`` S beats) whose beat list keeps every non-N beat and only every k-th N beat (evenly over the record,
so that N beats number about a third of the S beats); each beat keeps its true RR intervals from the full
sequence and its fold model's out-of-fold probability. The whole adaptive step (:func:`ecgdl.adapt.adapt_record`:
record features on the pseudo-record's beat list, the stacker fitted without the record's fold, temperature,
blend, cluster averaging, self-training, [the sinus-reference rule,] AF gate) scores it. Prints S Se / +P / F1
per pseudo-record and pooled, per seed and rule setting. DS2 is never read (asserted in ``load_seed``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from adapt_eval import _gate_arg, fit_stacker, fit_temperature, load_seed  # noqa: E402

from ecgdl.adapt import AdaptConfig, adapt_record  # noqa: E402
from ecgdl.metrics import evaluate_predictions, percent  # noqa: E402


def pseudo_mask(y: np.ndarray, ratio: float = 1 / 3) -> np.ndarray:
    """Bool mask of the beats a pseudo-record keeps: every non-N beat and every k-th N beat, k chosen so that
    the N beats kept number about ``ratio`` times the S beats (reference labels choose the beats of the
    *evaluation* record only; the adaptive step never sees them)."""
    n_idx = np.flatnonzero(y == 0)
    keep_n = max(1, int(round((y == 1).sum() * ratio)))
    k = max(1, len(n_idx) // keep_n)
    m = y != 0
    m[n_idx[::k]] = True
    return m


def s_scores(y: np.ndarray, pred: np.ndarray) -> str:
    pc = evaluate_predictions(y, pred)["per_class"]["S"]
    return f"S Se {percent(pc['se'])} / +P {percent(pc['ppv'])} / F1 {pc['f1']:.3f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cv", type=Path, default=None, help="default runs/cv")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--min-s", type=int, default=50)
    p.add_argument("--sinus-rule", type=_gate_arg, nargs="+", default=[None])
    a = p.parse_args(argv)
    from ecgdl.dataset import load_beats
    from ecgdl.paths import runs_dir

    cv = a.cv or runs_dir() / "cv"
    base = AdaptConfig(af_gate=(0.08, 0.6), blend=0.5, p_long=True, self_train=(0.95, 0.5))  # the shipped recipe
    for s in a.seeds:
        data = load_seed(cv / f"s{s}", AdaptConfig(p_long=True))
        folds = sorted({d["fold"] for d in data.values()})
        stackers = {}
        for k in folds:
            tr = [d for d in data.values() if d["fold"] != k]
            stackers[k] = fit_stacker(np.concatenate([d["feats"] for d in tr]), np.concatenate([d["y"] for d in tr]),
                                      64, 0.3, s)
        z = np.concatenate([stackers[d["fold"]].logits(d["feats"]) for d in data.values()])
        t = fit_temperature(z, np.concatenate([d["y"] for d in data.values()]))
        for st in stackers.values():
            st.temperature = t
        for rule in a.sinus_rule:
            cfg = replace(base, sinus_rule=rule)
            ys, preds = [], []
            for r, d in data.items():
                if (d["y"] == 1).sum() < a.min_s:
                    continue
                m = pseudo_mask(d["y"])
                b = load_beats([r])
                b = b.subset(b.y >= 0)
                pa, _ = adapt_record(d["x"][m], b.rr[m, 0], b.rr[m, 1], d["proba"][m], 360.0, 90, stackers[d["fold"]], cfg)
                ys.append(d["y"][m])
                preds.append(pa.argmax(1))
                print(f"s{s} rule {rule} {r} ({int(m.sum())} beats, {int((d['y'][m] == 1).sum())} S): "
                      f"{s_scores(ys[-1], preds[-1])}", flush=True)
            print(f"s{s} rule {rule} pooled: {s_scores(np.concatenate(ys), np.concatenate(preds))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
