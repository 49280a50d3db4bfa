"""What the DS1 episode-rule CVs share (``pipelines/episodes_rules_cv.py``, ``pipelines/vt_sequence_cv.py``): an
episode CSV per record under a rule set (:func:`write`), the shared scorer over DS1 (:func:`score`), the conditioned
leads the wide-QRS evidence reads (:func:`conditioned_leads`) and the shipped post calibration on saved out-of-fold
outputs (:func:`post_vector`). DS2 is never read.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from ecgdl.af import AFFeatureConfig
from ecgdl.episodes import EpisodeConfig, detect_episodes, episodes_csv
from ecgdl.paths import database_dir
from ecgdl.splits import DS1

SCORER = Path(__file__).resolve().parents[1] / ".." / "shared" / "scorers" / "eval_episodes.py"


class _Fixed:
    """AF 'model' returning precomputed out-of-fold probabilities."""

    def __init__(self, p: np.ndarray, threshold: float):
        self.p, self.threshold, self.features = p, threshold, AFFeatureConfig()

    def predict(self, feats, seq=None):
        return self.p


def write(tab: dict, p_af: np.ndarray, folder: Path, rec: str, cfg: EpisodeConfig,
          p_v: np.ndarray | None = None, p_v_ind: np.ndarray | None = None) -> None:
    """Episode CSV of one record under ``cfg`` with AF probabilities ``p_af`` (``p_v``: the VT rule's p(V),
    ``p_v_ind``: the inductive p(V) read by ``cfg.vt_ind_pv``)."""
    eps = detect_episodes(tab["sample"], tab["label"], float(tab["fs"]), proba=tab["proba"], signal=tab["sig"],
                          pauses=[tuple(x) for x in tab["pauses"]], vf=[tuple(x) for x in tab["vf"]],
                          af_model=_Fixed(p_af, cfg.af_threshold or 0.7), cfg=cfg, p_v=p_v, p_v_ind=p_v_ind,
                          qrs_signal=tab.get("sig2"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rec}.episodes.csv").write_text(episodes_csv(eps))


def score(folder: Path, rhythms: str) -> dict:
    """The shared scorer's per-rhythm counts for ``folder`` (DS1 records)."""
    js = folder / "eval.json"
    subprocess.run([sys.executable, str(SCORER), str(folder), str(database_dir("mitdb")), *DS1, "--json", str(js),
                    "--rhythms", rhythms], check=True, capture_output=True)
    return json.loads(js.read_text())["rhythms"]


def f1(se, ppv) -> float:
    return 2 * se * ppv / (se + ppv) if se and ppv else 0.0


def post_vector(fold_out, t2: float) -> dict:
    """``fold_out`` (``adapt_eval.py --save-oof``: log-probabilities after the seed's post temperature ``t2``)
    with the shipped sidecar's vector scaling instead: ``softmax(a * log softmax(t2 * logp) + b)``, the
    post calibration ``ecgdl.adapt.Stacker.calibrate`` applies when scoring."""
    from ecgdl.adapt import softmax64
    from ecgdl.infer import default_model_path

    vec = json.loads(default_model_path().with_suffix(".json").read_text())["adapt"]["stacker"]["post_vector"]
    pre = softmax64(t2 * np.asarray(fold_out["logits"], np.float64))      # undo the temperature: the pre-post p
    p = softmax64(np.log(np.clip(pre, 1e-12, 1.0)) * np.asarray(vec["scale"]) + np.asarray(vec["bias"]))
    return {**{k: fold_out[k] for k in fold_out.files}, "logits": np.log(np.clip(p, 1e-12, 1.0))}


def conditioned_leads(rec: str, clf) -> np.ndarray:
    """``(n, 2)`` float32 conditioned leads of a DS1 record as ``score_record`` reads them (cached npy)."""
    from ecgdl.infer import model_leads, read_for_model
    from ecgdl.leads import decide_leads
    from ecgdl.paths import cache_dir
    from ecgdl.signal import condition_record

    f = cache_dir() / "episodes_sig2" / f"{rec}.npy"
    if f.is_file():
        return np.load(f)
    r, _ = decide_leads(read_for_model(database_dir("mitdb") / rec, clf.fs), None)
    x = condition_record(model_leads(r), r.fs, clf.conditioning).astype(np.float32)
    f.parent.mkdir(parents=True, exist_ok=True)
    np.save(f, x)
    return x
