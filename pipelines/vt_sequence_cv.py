"""VT episodes from a sequence model against the shipped VT rule, DS1 patient-grouped CV (docs/episodes.md round 26).

    python pipelines/vt_sequence_cv.py --oof <adapt_eval --save-oof dir> --pv-oof <cv dir> --seeds 0 1 2
                                       [--name vt_sequence_cv]

Per CV seed, the shipped adaptive step's out-of-fold beats of the 22 DS1 records (labels and probabilities as
``pipelines/episodes_rules_cv.py --final`` reads them; ``--pv-oof``: the inductive p(V)). Per beat,
:data:`INPUTS` and the target "inside a reference ``(VT`` episode". The temporal CNN of the AF sequence model
(``pipelines/episodes_cv.py:tcn``) is fitted on 4 folds of records (``make_folds``) and predicts the fifth; VT
episodes are runs of >= 3 beats with p >= t at > 100 bpm over the run's own RR, for each t of :data:`THRESHOLDS`.
The rule: ``EpisodeConfig()`` on the same beats (its VT rows). Both scored with ``../shared/scorers/eval_episodes.py``
(VT). Prints the table and writes ``runs/<name>/result.json``. DS2 is never read; nothing is shipped.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from episodes_cv import fit_sequence, make_folds, out_of_fold_beats, predict_sequence, record_table  # noqa: E402
from episodes_rules_io import conditioned_leads, f1, score, write  # noqa: E402

from ecgdl.af import AFFeatureConfig  # noqa: E402
from ecgdl.episodes import EpisodeConfig, _episode, episodes_csv  # noqa: E402
from ecgdl.paths import runs_dir  # noqa: E402
from ecgdl.rhythm import consecutive_runs  # noqa: E402
from ecgdl.splits import DS1, assert_no_test_records  # noqa: E402
from ecgdl.wide_qrs import qrs_morphology  # noqa: E402

INPUTS = ("p_N", "p_V", "p_F", "p_V_inductive", "is_V", "qrs_corr", "width_ratio", "twin", "log_pre_over_median",
          "log_post_over_median", "log_pre")
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
MIN_BEATS, MIN_BPM = 3, 100.0


def inputs(t: dict, classes) -> np.ndarray:
    """``(n, len(INPUTS))`` float32 per-beat inputs of one record table (its ``label``, ``proba``, ``pv_other``,
    ``sig2`` set for the seed)."""
    fs, s = float(t["fs"]), np.asarray(t["sample"], np.float64)
    p = np.asarray(t["proba"], np.float64)
    col = {c: i for i, c in enumerate(classes)}
    m = qrs_morphology(t["sig2"], t["sample"], fs, t["label"])
    rr = np.diff(s) / fs
    pre, post = np.r_[rr[:1], rr], np.r_[rr, rr[-1:]]
    half = 8
    idx = np.clip(np.arange(len(s))[:, None] + np.arange(-half, half)[None, :], 0, len(pre) - 1)
    med = np.median(pre[idx], axis=1)
    x = np.stack([p[:, col["N"]], p[:, col["V"]], p[:, col["F"]], np.asarray(t["pv_other"], np.float64),
                  (t["label"] == "V").astype(np.float64), np.nan_to_num(m.corr, nan=1.0),
                  np.clip(np.nan_to_num(m.width_ratio, nan=1.0), 0, 4), np.nan_to_num(m.twin, nan=0.0),
                  np.log(np.maximum(pre, 0.05) / med), np.log(np.maximum(post, 0.05) / med),
                  np.log(np.maximum(pre, 0.05))], axis=1)
    return x.astype(np.float32)


def vt_episodes(p: np.ndarray, sample: np.ndarray, fs: float, thr: float) -> list:
    """Runs of >= :data:`MIN_BEATS` beats with ``p >= thr`` at > :data:`MIN_BPM` over the run's own RR."""
    out = []
    for a, b in consecutive_runs(p >= thr):
        if b - a + 1 >= MIN_BEATS and 60.0 * (b - a) / ((sample[b] - sample[a]) / fs) > MIN_BPM:
            out.append(_episode("VT", a, b, sample, fs, float(np.mean(p[a:b + 1]))))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--oof", type=Path, required=True)
    ap.add_argument("--pv-oof", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--name", default="vt_sequence_cv")
    ap.add_argument("--narrow", action="store_true", help="round 26b: two dilated layers (1, 2; 13 beats), 1,500 steps")
    a = ap.parse_args(argv)
    import torch

    from ecgdl.infer import BeatClassifier

    torch.set_num_threads(1)
    assert_no_test_records(DS1)
    fcfg, clf = AFFeatureConfig(), BeatClassifier(device="cpu")
    run = runs_dir() / a.name
    classes = clf.classes
    res = {}
    base = {r: record_table(r, clf, fcfg) for r in DS1}
    for r in DS1:
        base[r]["sig2"] = conditioned_leads(r, clf)
    for s in a.seeds:
        tabs = {}
        for r in DS1:
            t = dict(base[r])
            t["label"], t["proba"] = out_of_fold_beats(t, np.load(a.oof / f"s{s}" / f"{r}.npz"), classes)
            t["pv_other"] = out_of_fold_beats(t, np.load(a.pv_oof / f"s{s}" / f"{r}.npz"), classes)[1][:, classes.index("V")]
            t["seq"], t["y"] = inputs(t, classes), (t["rhythm"] == "VT").astype(np.float32)
            tabs[r] = t
        zero = {r: np.zeros(len(t["sample"])) for r, t in tabs.items()}
        for r in DS1:                              # the rule, as shipped (AF off: only VT is scored)
            write(tabs[r], zero[r], run / f"s{s}" / "rule", r, EpisodeConfig(), p_v_ind=tabs[r]["pv_other"])
        out = {"rule": score(run / f"s{s}" / "rule", "VT")["VT"]}
        p = {}
        for test in make_folds(DS1, 5):
            model = fit_sequence([tabs[r] for r in DS1 if r not in test], seed=s,      # --narrow: round 26b
                                 **({"steps": 1500, "dilations": (1, 2)} if a.narrow else {}))
            p.update({r: predict_sequence(model, tabs[r]["seq"]) for r in test})
        for thr in THRESHOLDS:
            folder = run / f"s{s}" / f"tcn_t{thr:g}"
            folder.mkdir(parents=True, exist_ok=True)
            for r, t in tabs.items():
                (folder / f"{r}.episodes.csv").write_text(episodes_csv(vt_episodes(p[r], t["sample"], float(t["fs"]), thr)))
            out[f"tcn_t{thr:g}"] = score(folder, "VT")["VT"]
        res[s] = out
        print(s, {k: (v["ep_se"], v["ep_ppv"]) for k, v in out.items()}, flush=True)
    keys = list(res[a.seeds[0]])
    print("| VT source | ep Se | ep +P | ep F1 (mean of seeds) | dur Se | dur +P |\n|---|---:|---:|---:|---:|---:|")
    table = {}
    for k in keys:
        rows = [res[s][k] for s in a.seeds]
        pc = lambda x: 0.0 if x is None else 100.0 * x  # noqa: E731 (the scorer's ratios; None: nothing detected)
        m = {q: float(np.mean([pc(r[q]) for r in rows])) for q in ("ep_se", "ep_ppv", "dur_se", "dur_ppv")}
        m["ep_f1"] = float(np.mean([f1(pc(r["ep_se"]), pc(r["ep_ppv"])) for r in rows]))
        table[k] = m
        print(f"| {k} | {m['ep_se']:.1f} | {m['ep_ppv']:.1f} | {m['ep_f1']:.1f} | {m['dur_se']:.1f} | {m['dur_ppv']:.1f} |")
    run.mkdir(parents=True, exist_ok=True)
    (run / "result.json").write_text(json.dumps({"per_seed": res, "mean": table}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
