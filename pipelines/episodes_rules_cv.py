"""VT rule and AF threshold chosen on DS1 out-of-fold beat outputs (``pipelines/cv.py``), several seeds.

    python pipelines/episodes_rules_cv.py --oof ../adapt/runs/cv --seeds 0 1 2 [--name episodes_rules_cv]
                                          [--pv-oof ../adapt/runs/cv]

For each seed's out-of-fold beat labels/probabilities (``<oof>/s<seed>/<record>.npz``, mapped to the
detected beats by :func:`pipelines.episodes_cv.out_of_fold_beats`):

* **AF**: the classical scorer is fitted per fold (``make_folds``) and its held-out probabilities go
  through the episode rules at each of ``THRESHOLDS``; AFIB duration F1 (``af_duration``) per threshold.
* **VT**: every ``(vt_min_pv, vt_bridge, vt_bridge_beats)`` of :data:`VT_GRID` through the episode
  rules; VT episode and duration Se/+P from ``../shared/scorers/eval_episodes.py``. ``--pv-oof``: the grid
  once more (keys ``ind_...``) with the labels of ``--oof`` but the V probability the VT rule reads taken
  from these outputs (e.g. ``--oof`` adaptive, ``--pv-oof`` the inductive ones they were adapted from).

Modes, each a grid of its own (docs/episodes.md round 5): ``--union`` (with ``--pv-oof``): :data:`UNION_GRID`,
the VT rule reading the adaptive labels and, beside them, the inductive p(V) (``EpisodeConfig.vt_ind_pv``);
``--af-hold``: :data:`HOLD_GRID`, AF threshold x hysteresis (``af_hold``); ``--sbr``: :data:`SBR_GRID`, SBR from
the mean rate (``sbr_mean_bpm``); ``--final``: every rhythm under the shipped rules (the DS1 CV figures beside a
DS2 run); ``--ship-af``: refit the classical AF scorer on all DS1 beats of the first seed at the threshold
``runs/<name>/grid.json`` chose, and ship it.

Choice (declared before the grid was looked at): VT, the largest mean VT *episode* F1 over the seeds
(ties: higher episode Se); AF, the largest mean AFIB duration F1. Results: ``runs/<name>/grid.json``.
DS2 is never read; nothing is shipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from episodes_cv import (THRESHOLDS, af_duration, fit_logistic, make_folds, out_of_fold_beats,  # noqa: E402
                         record_table, ship)
from episodes_rules_io import conditioned_leads, f1, post_vector, score, write  # noqa: E402

from ecgdl.af import AFFeatureConfig, af_features  # noqa: E402
from ecgdl.metrics import percent  # noqa: E402
from ecgdl.episodes import EpisodeConfig  # noqa: E402
from ecgdl.paths import runs_dir  # noqa: E402
from ecgdl.splits import DS1, assert_no_test_records  # noqa: E402

#: (vt_min_pv, vt_bridge labels, vt_bridge_beats) tried; bridge_beats 0 = every run beat strong.
VT_GRID = [(pv, br, nb) for pv in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8) for br, nb in (("SF", 1), ("", 1), ("", 0))]
#: ``--union`` (round 5): (vt_ind_pv, vt_min_pv, vt_bridge, vt_bridge_beats); the VT rule reads the adaptive
#: label and p(V) and, beside them, the inductive p(V) of ``--pv-oof`` (``EpisodeConfig.vt_ind_pv``).
HOLD_GRID = [(hi, lo) for hi in (0.7, 0.8, 0.9, 0.95) for lo in (None, 0.5, 0.6, 0.7, 0.8) if lo is None or lo < hi]
#: ``--af-spec`` (round 10): (threshold, af_hold) tried against the false AF minutes of the records without AF.
AF_SPEC_GRID = [(hi, lo) for hi in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95) for lo in (None, 0.5, 0.6, 0.7, 0.8)
                if lo is None or lo < hi]
ROUND10_AF_THRESHOLD = 0.9   # the classical scorer's threshold shipped in round 10 (``--af-source``'s (a))
SBR_GRID = (40.0, 45.0, 50.0, 55.0, 60.0)   # ``--sbr``: EpisodeConfig.sbr_mean_bpm tried
#: ``--sbr-sinus`` (round 7): (sbr_sinus, sbr_sinus_bpm, sbr_p_present); (None, ...) first = the shipped rule.
#: ``--sbr-pause`` (round 9): (sbr_pause_bpm, sbr_pause_p); (None, ...) first = the shipped rule.
SBR_PAUSE_GRID = [(None, 0.5)] + [(x, p) for x in (30.0, 35.0, 40.0, 45.0) for p in (0.5, 0.6, 0.7)]
SBR_SINUS_GRID = [(None, 50.0, None)] + [(m, x, p) for m in ("nn", "to_n") for x in SBR_GRID for p in (0.8, 0.5)]
RHYTHMS_SCORED = ("AFIB", "AFL", "SVTA", "VT", "VFL", "B", "T", "SBR", "BII", "NOD", "IVR")
#: ``--wide`` (round 7): (vt_wide_corr, vt_wide_ratio, vt_wide_twin); None first = the shipped rule (off).
WIDE_GRID = [(None, 1.5, None)] + [(c, w, g) for c in (0.5, 0.7, 0.8) for w in (1.3, 1.5, 1.8) for g in (None, 0.5)]
#: ``--ivr`` (round 8): (ivr_min_v, ivr_min_beats, ivr_ind); the first = the shipped rule.
IVR_GRID = [(2, 3, True)] + [(v, b, i) for i in (True, False) for b in (3, 4, 5) for v in (2, 3, 4)
                             if v <= b and (v, b, i) != (2, 3, True)]
#: ``--vt-edge`` (round 17): EpisodeConfig.vt_edge tried; "" first = the shipped rule.
EDGE_GRID = ("", "F", "V", "VF")
UNION_GRID = [(t, pv, br, nb) for t in (None, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95) for pv in (0.5, 0.6, 0.7)
              for br, nb in (("SF", 1), ("", 1), ("", 0))]


def one_seed(tabs: dict, oof: Path, run: Path, fcfg: AFFeatureConfig, classes, pv_oof: Path | None = None,
             union: bool = False, final: bool = False, sbr: bool = False, hold: bool | str = False,
             t2: float | None = None, wide: bool = False, sbr_sinus: bool | str = False, ivr: bool = False,
             coverage: tuple[float, ...] = (), contiguous: bool = False) -> dict:
    """AF threshold sweep and VT grid on one seed's out-of-fold beats (``pv_oof``: the grid again, p(V) from
    there; ``union``: :data:`UNION_GRID` instead, the inductive p(V) of ``pv_oof`` beside the labels)."""
    for r, t in tabs.items():
        if pv_oof is not None:
            t["pv_other"] = out_of_fold_beats(t, np.load(pv_oof / f"{r}.npz"), classes)[1][:, list(classes).index("V")]
        fold_out = np.load(oof / f"{r}.npz")
        t["label"], t["proba"] = out_of_fold_beats(t, fold_out if t2 is None else post_vector(fold_out, t2), classes)
        t["feats"] = af_features(t["sample"], t["label"], float(t["fs"]), t["sig"], fcfg)
    p_af = {}
    for test in make_folds(DS1, 5):
        lr = fit_logistic([tabs[r] for r in DS1 if r not in test], fcfg)
        p_af.update({r: lr.predict(tabs[r]["feats"]) for r in test})
    if final:
        return {"final": final_figures(tabs, p_af, run)}
    if sbr or sbr_sinus:
        return {"sbr": sbr_grid(tabs, p_af, run, sbr_sinus)}     # sbr_sinus: True or "pause"
    if hold == "source":
        return {"af": af_source_grid(tabs, p_af, run, coverage, contiguous)}
    if hold:
        return {"af": hold_grid(tabs, p_af, run) if hold != "spec" else af_spec_grid(tabs, p_af, run)}
    if wide is True:
        return {"af": {}, "vt": wide_grid(tabs, p_af, run)}
    if ivr:
        return {"af": {}, "vt": ivr_grid(tabs, p_af, run)}
    if wide == "edge":
        return {"af": {}, "vt": edge_grid(tabs, p_af, run)}
    out = {"af": {}, "vt": {}}
    for thr in THRESHOLDS:
        cfg = replace(EpisodeConfig(), af_threshold=thr, af_hold=None)   # the threshold alone (rounds 3-5)
        for r in DS1:
            write(tabs[r], p_af[r], run / f"af_t{thr:g}", r, cfg)
        out["af"][str(thr)] = af_duration(run / f"af_t{thr:g}", tabs)
        print(oof.name, "AF", thr, {k: round(v, 3) for k, v in out["af"][str(thr)].items()}, flush=True)
    if union:
        out["vt"] = union_grid(tabs, p_af, run)
        return out
    for (pv, br, nb), other in [(g, o) for o in ((False, True) if pv_oof else (False,)) for g in VT_GRID]:
        cfg = replace(EpisodeConfig(), vt_min_pv=pv, vt_bridge=br, vt_bridge_beats=nb)
        key = ("ind_" if other else "") + f"pv{pv:g}_br{br or '-'}{nb}"
        for r in DS1:
            write(tabs[r], p_af[r], run / f"vt_{key}", r, cfg, tabs[r]["pv_other"] if other else None)
        out["vt"][key] = score(run / f"vt_{key}", "VT")["VT"]
        v = out["vt"][key]
        print(oof.name, "VT", key, v["ep_se"], v["ep_ppv"], v["ref_n"], v["det_n"], flush=True)
    return out


def final_figures(tabs: dict, p_af: dict, run: Path) -> dict:
    """Every rhythm of the shared scorer under the shipped rules (``EpisodeConfig()``) at the shipped AF threshold,
    the classical AF scorer refitted per fold and, with the shipped union scorer, its entropy vote (the DS1 CV
    figures beside a DS2 run; until round 25 the entropy vote was left out here); episodes in ``run/final``."""
    from ecgdl.af import FEATURE_NAMES, load_af_model

    model = load_af_model()
    cfg = replace(EpisodeConfig(), af_threshold=float(model.threshold))
    for r in DS1:
        p = p_af[r]
        if hasattr(model, "entropy"):   # the shipped union: the fold's classical scorer OR the shipped entropy vote
            t = tabs[r]
            e = model.entropy.predict_beats(t["sample"], float(t["fs"]), t["feats"], FEATURE_NAMES.index("p_corr"),
                                            label=t["label"])
            p = np.maximum(p, np.where(e >= model.entropy.threshold, 1.0, 0.0))
        write(tabs[r], p, run / "final", r, cfg, p_v_ind=tabs[r].get("pv_other"))
    return score(run / "final", ",".join(RHYTHMS_SCORED))


def hold_grid(tabs: dict, p_af: dict, run: Path) -> dict:
    """AFIB duration figures (``af_duration``) for every (threshold, ``af_hold``) of :data:`HOLD_GRID`."""
    out = {}
    for hi, lo in HOLD_GRID:
        cfg = replace(EpisodeConfig(), af_threshold=hi, af_hold=lo)
        key = f"t{hi:g}_hold{'-' if lo is None else f'{lo:g}'}"
        for r in DS1:
            write(tabs[r], p_af[r], run / key, r, cfg)
        v = out[key] = af_duration(run / key, tabs)
        print(run.name, key, {k: round(x, 3) for k, x in v.items()}, flush=True)
    return out


def af_spec_grid(tabs: dict, p_af: dict, run: Path) -> dict:
    """Per (threshold, af_hold) of :data:`AF_SPEC_GRID`: AFIB duration figures (``af_duration``) and the AFIB seconds
    detected in the DS1 records that hold no AF beat (``false_nonaf_s``)."""
    import csv

    out = {}
    for hi, lo in AF_SPEC_GRID:
        cfg = replace(EpisodeConfig(), af_threshold=hi, af_hold=lo)
        key = f"t{hi:g}_hold{'-' if lo is None else f'{lo:g}'}"
        false_s = 0.0
        for r in DS1:
            write(tabs[r], p_af[r], run / key, r, cfg, p_v_ind=tabs[r].get("pv_other"))
            if not (tabs[r]["y"] > 0).any():
                with open(run / key / f"{r}.episodes.csv") as f:
                    false_s += sum(float(e["end_s"]) - float(e["start_s"]) for e in csv.DictReader(f)
                                   if e["rhythm"] == "AFIB")
        v = out[key] = {**af_duration(run / key, tabs), "false_nonaf_s": false_s}
        print(run.name, key, {k: round(x, 3) for k, x in v.items()}, flush=True)
    return out


def af_source_grid(tabs: dict, p_af: dict, run: Path, coverage: tuple[float, ...] = (),
                   contiguous: bool = False) -> dict:
    """Rounds 11-12: AFIB duration figures and the false AFIB seconds per DS1 record without AF, for (a) the round-10
    classical scorer at 0.9, (b) Zhou's entropy at 0.639, (c) the entropy where no P wave repeats
    (``ecgdl.af_entropy``), (d) (a) or (c); round 13: (e) (c) on the ectopic-filtered RR, (f) (a) or (e); round 14,
    per ``coverage`` c: (g c) (a) or ((e) where at least c of the window's RR is kept); round 25, with ``contiguous``:
    (h c) as (g c) with words of three consecutive kept intervals only (``EntropyAF.contiguous``)."""
    import csv

    from ecgdl.af import FEATURE_NAMES
    from ecgdl.af_entropy import ECTOPIC, ZHOU_THRESHOLD, zhou_af_score

    pc = FEATURE_NAMES.index("p_corr")
    p_present = EpisodeConfig().p_present
    sources = {"a_shipped": (p_af, ROUND10_AF_THRESHOLD),
               "b_zhou": ({r: zhou_af_score(t["sample"], float(t["fs"])) for r, t in tabs.items()}, ZHOU_THRESHOLD),
               "c_zhou_nop": ({r: zhou_af_score(t["sample"], float(t["fs"]), t["feats"][:, pc], p_present)
                               for r, t in tabs.items()}, ZHOU_THRESHOLD)}
    c = sources["c_zhou_nop"][0]       # round 12: (a) OR (c), at (a)'s threshold
    sources["d_union"] = ({r: np.maximum(p_af[r], np.where(c[r] >= ZHOU_THRESHOLD, 1.0, 0.0)) for r in tabs},
                          ROUND10_AF_THRESHOLD)
    e = {r: zhou_af_score(t["sample"], float(t["fs"]), t["feats"][:, pc], p_present, t["label"], ECTOPIC)
         for r, t in tabs.items()}      # round 13: (c) on the ectopic-filtered RR, and (a) OR that
    sources["e_zhou_nop_ect"] = (e, ZHOU_THRESHOLD)
    sources["f_union_ect"] = ({r: np.maximum(p_af[r], np.where(e[r] >= ZHOU_THRESHOLD, 1.0, 0.0)) for r in tabs},
                              ROUND10_AF_THRESHOLD)
    for c_min in coverage:              # round 14: the entropy votes only where its RR evidence is not thin
        for tag, contig in (("g", False), ("h", True)) if contiguous else (("g", False),):   # round 25: (h)
            g = {r: zhou_af_score(t["sample"], float(t["fs"]), t["feats"][:, pc], p_present, t["label"], ECTOPIC, c_min,
                                  contig) for r, t in tabs.items()}
            sources[f"{tag}_union_cov{c_min:g}"] = ({r: np.maximum(p_af[r], np.where(g[r] >= ZHOU_THRESHOLD, 1.0, 0.0))
                                                     for r in tabs}, ROUND10_AF_THRESHOLD)
    out = {}
    for key, (p, thr) in sources.items():
        cfg = replace(EpisodeConfig(), af_threshold=thr)
        false_s = {}
        for r in DS1:
            write(tabs[r], p[r], run / key, r, cfg, p_v_ind=tabs[r].get("pv_other"))
            if not (tabs[r]["y"] > 0).any():
                with open(run / key / f"{r}.episodes.csv") as f:
                    false_s[r] = sum(float(e["end_s"]) - float(e["start_s"]) for e in csv.DictReader(f)
                                     if e["rhythm"] == "AFIB")
        v = out[key] = {**af_duration(run / key, tabs), "false_nonaf_s": false_s}
        print(run.name, key, {k: x if isinstance(x, dict) else round(x, 3) for k, x in v.items()}, flush=True)
    return out


def sbr_grid(tabs: dict, p_af: dict, run: Path, sinus: bool | str = False) -> dict:
    """SBR counts (shared scorer) of the shipped rules with ``sbr_mean_bpm`` off and at each of :data:`SBR_GRID`
    (``sinus``: the shipped rules and each sinus-rate rule of :data:`SBR_SINUS_GRID` instead; "pause": those of
    :data:`SBR_PAUSE_GRID`)."""
    from ecgdl.af import load_af_model

    out = {}
    thr = float(load_af_model().threshold)
    if sinus == "pause":
        rules = [(f"sbr_pause{'-' if x is None else f'{x:g}'}_p{p:g}",
                  replace(EpisodeConfig(), af_threshold=thr, sbr_pause_bpm=x, sbr_pause_p=p)) for x, p in SBR_PAUSE_GRID]
    elif not sinus:
        rules = [(f"sbr_mean{'-' if x is None else f'{x:g}'}", replace(EpisodeConfig(), af_threshold=thr, sbr_mean_bpm=x))
                 for x in (None, *SBR_GRID)]
    else:
        rules = [(f"sbr_{m or '-'}{x:g}_p{'-' if p is None else f'{p:g}'}",
                  replace(EpisodeConfig(), af_threshold=thr, sbr_sinus=m, sbr_sinus_bpm=x, sbr_p_present=p))
                 for m, x, p in SBR_SINUS_GRID]
    for key, cfg in rules:
        for r in DS1:
            write(tabs[r], p_af[r], run / key, r, cfg, p_v_ind=tabs[r].get("pv_other"))
        v = out[key] = score(run / key, "SBR")["SBR"]
        print(run.name, key, round(v["det_s"] / 60, 2), v["det_n"], flush=True)
    return out


def rule_grid(tabs: dict, p_af: dict, run: Path, rules, prefix: str, rhythms: str, show: str) -> dict:
    """The shared scorer's ``show`` figures (of ``rhythms``) for each ``(key, EpisodeConfig)`` of ``rules``, episodes of
    the DS1 records in ``run/<prefix>_<key>`` (the VT rule reading the inductive p(V) when the tables hold it)."""
    out = {}
    for key, cfg in rules:
        for r in DS1:
            write(tabs[r], p_af[r], run / f"{prefix}_{key}", r, cfg, p_v_ind=tabs[r].get("pv_other"))
        v = out[key] = score(run / f"{prefix}_{key}", rhythms)[show]
        print(run.name, show, key, v["ep_se"], v["ep_ppv"], v["dur_se"], v["dur_ppv"], v["ref_n"], v["det_n"], flush=True)
    return out


def _shipped(**kw) -> EpisodeConfig:
    """The shipped episode rules at the shipped AF threshold, with ``kw`` changed."""
    from ecgdl.af import load_af_model

    return replace(EpisodeConfig(), af_threshold=float(load_af_model().threshold), **kw)


def wide_grid(tabs: dict, p_af: dict, run: Path) -> dict:
    """VT episode counts of every wide-QRS rule of :data:`WIDE_GRID` on top of the shipped VT rule
    (keys ``w<corr>_r<ratio>_t<twin>``); the shipped AF threshold."""
    rules = [("w-" if c is None else f"w{c:g}_r{w:g}_t{'-' if g is None else f'{g:g}'}",
              _shipped(vt_wide_corr=c, vt_wide_ratio=w, vt_wide_twin=g)) for c, w, g in WIDE_GRID]
    return rule_grid(tabs, p_af, run, rules, "vt", "VT,IVR", "VT")


def edge_grid(tabs: dict, p_af: dict, run: Path) -> dict:
    """VT episode counts of every ``vt_edge`` of :data:`EDGE_GRID` on top of the shipped VT rule (keys ``e<labels>``)."""
    return rule_grid(tabs, p_af, run, [(f"e{e or '-'}", _shipped(vt_edge=e)) for e in EDGE_GRID], "vt", "VT", "VT")


def ivr_grid(tabs: dict, p_af: dict, run: Path) -> dict:
    """IVR episode counts of every rule of :data:`IVR_GRID` (keys ``v<strong>_b<beats>_i<0|1>``), the shipped rules
    and AF threshold otherwise."""
    rules = [(f"v{v}_b{b}_i{int(i)}", _shipped(ivr_min_v=v, ivr_min_beats=b, ivr_ind=i)) for v, b, i in IVR_GRID]
    return rule_grid(tabs, p_af, run, rules, "ivr", "VT,IVR", "IVR")


def union_grid(tabs: dict, p_af: dict, run: Path) -> dict:
    """VT episode counts of every rule of :data:`UNION_GRID` (keys ``u<t>_pv<pv>_br<bridge><beats>``)."""
    rules = [(f"u{'-' if t is None else f'{t:g}'}_pv{pv:g}_br{br or '-'}{nb}",
              replace(EpisodeConfig(), vt_ind_pv=t, vt_min_pv=pv, vt_bridge=br, vt_bridge_beats=nb))
             for t, pv, br, nb in UNION_GRID]
    return rule_grid(tabs, p_af, run, rules, "vt", "VT", "VT")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--oof", type=Path, required=True, help="pipelines/cv.py output root (holds s<seed>/)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--pv-oof", type=Path, default=None,
                   help="second output root (s<seed>/) whose p(V) the VT rule reads in a second grid (keys ind_...)")
    p.add_argument("--union", action="store_true",
                   help="round 5: the VT rule reads the --pv-oof p(V) beside the labels (UNION_GRID)")
    p.add_argument("--ship-af", action="store_true",
                   help="no grid: refit the classical AF scorer on all DS1 beats of --oof s<first seed> at the AF "
                        "threshold runs/<name>/grid.json chose, and ship it (ecgdl/shipped/episodes_af.json)")
    p.add_argument("--final", action="store_true",
                   help="no grid: every rhythm under the shipped rules and AF threshold (runs/<name>/s<seed>/final)")
    p.add_argument("--sbr", action="store_true", help="no grid but the SBR mean-rate one (SBR_GRID)")
    p.add_argument("--af-hold", action="store_true", help="no grid but the AF hysteresis one (HOLD_GRID)")
    p.add_argument("--af-spec", action="store_true",
                   help="no grid but AF_SPEC_GRID with the false AF minutes of the records without AF")
    p.add_argument("--af-source", action="store_true",
                   help="round 11: the shipped AF scorer against Zhou's entropy (ecgdl.af_entropy), alone and with P waves")
    p.add_argument("--af-coverage", type=float, nargs="+", default=(), metavar="C",
                   help="with --af-source: also (g C), the entropy voting only where >= C of its window's RR is kept")
    p.add_argument("--af-contiguous", action="store_true",
                   help="with --af-coverage: also (h C), (g C) on words of three consecutive kept intervals (round 25)")
    p.add_argument("--ivr", action="store_true", help="no grid but the IVR one (IVR_GRID, needs --pv-oof)")
    p.add_argument("--vt-edge", action="store_true", help="no grid but the VT edge-beat one (EDGE_GRID, needs --pv-oof)")
    p.add_argument("--sbr-pause", action="store_true", help="no grid but the SBR pause one (SBR_PAUSE_GRID)")
    p.add_argument("--sbr-sinus", action="store_true", help="no grid but the SBR sinus-rate one (SBR_SINUS_GRID)")
    p.add_argument("--wide", action="store_true", help="no grid but the wide-QRS VT one (WIDE_GRID, needs --pv-oof)")
    p.add_argument("--post-vector", type=float, nargs="+", default=None, metavar="T2",
                   help="per seed, the post temperature --oof was saved with: convert it to the shipped "
                        "sidecar's vector-scaling post calibration (adapt round 3)")
    p.add_argument("--name", default="episodes_rules_cv")
    a = p.parse_args(argv)
    if a.union and a.pv_oof is None:
        p.error("--union needs --pv-oof (the inductive outputs)")
    import torch

    from ecgdl.infer import BeatClassifier

    torch.set_num_threads(1)
    assert_no_test_records(DS1)
    fcfg, clf = AFFeatureConfig(), BeatClassifier(device="cpu")
    run = runs_dir() / a.name
    if a.ship_af:
        return ship_af(run, a.oof / f"s{a.seeds[0]}", clf, fcfg)
    res = {}
    for s in a.seeds:
        tabs = {r: record_table(r, clf, fcfg) for r in DS1}
        for r in tabs:                     # the VT rule reads the wide-QRS evidence (round 7)
            tabs[r]["sig2"] = conditioned_leads(r, clf)
        res[s] = one_seed(tabs, a.oof / f"s{s}", run / f"s{s}", fcfg, clf.classes,
                          a.pv_oof / f"s{s}" if a.pv_oof else None, a.union, a.final, a.sbr,
                          "source" if a.af_source else "spec" if a.af_spec else a.af_hold,
                          a.post_vector[a.seeds.index(s)] if a.post_vector else None, "edge" if a.vt_edge else a.wide, "pause" if a.sbr_pause else a.sbr_sinus, a.ivr,
                          tuple(a.af_coverage), a.af_contiguous)
    if a.af_hold or a.af_spec or a.af_source:
        (run / "hold.json").write_text(json.dumps(res, indent=1, default=float))
        print(hold_table(res))
        return 0
    if a.final or a.sbr or a.sbr_sinus or a.sbr_pause:
        (run / ("final.json" if a.final else "sbr.json")).write_text(json.dumps(res, indent=1, default=float))
        print(final_table(res) if a.final else json.dumps({s: {k: round(v["det_s"] / 60, 2) for k, v in r["sbr"].items()}
                                                          for s, r in res.items()}))
        return 0
    (run / "grid.json").write_text(json.dumps(res, indent=1, default=float))
    print(summary(res))
    return 0


def ship_af(run: Path, oof: Path, clf, fcfg: AFFeatureConfig) -> int:
    """Refit the classical AF scorer on all 22 DS1 records' out-of-fold beats of ``oof`` at the threshold
    chosen by ``run/grid.json`` (largest mean AFIB duration F1) and ship it."""
    res = json.loads((run / "grid.json").read_text())
    seeds = list(res)
    mean = {t: {k: float(np.mean([res[s]["af"][t][k] for s in seeds])) for k in res[seeds[0]]["af"][t]}
            for t in res[seeds[0]]["af"]}
    thr = max(mean, key=lambda t: mean[t]["f1"])
    tabs = {r: record_table(r, clf, fcfg) for r in DS1}
    for r, t in tabs.items():
        t["label"], t["proba"] = out_of_fold_beats(t, np.load(oof / f"{r}.npz"), clf.classes)
        t["feats"] = af_features(t["sample"], t["label"], float(t["fs"]), t["sig"], fcfg)
    results = {"classical": {**mean[thr], "threshold": float(thr), "sweep": mean, "seeds": seeds}}
    ship("classical", list(tabs.values()), fcfg, 0, results,
         chosen_by=f"DS1 patient-grouped CV on adaptive out-of-fold beats ({run.name}, seeds {' '.join(seeds)}), "
                   f"AFIB duration F1; weights fitted on {oof}")
    return 0


def hold_table(res: dict) -> str:
    """Markdown: mean over seeds of the AF hysteresis grid, and the choice (largest F1; ties: no hysteresis)."""
    seeds = list(res)
    keys = list(res[seeds[0]]["af"])
    mean = {k: {m: float(np.mean([res[s]["af"][k][m] for s in seeds])) for m in ("dur_se", "dur_ppv", "f1")}
            for k in keys}
    lines = ["| AF rule | dur Se | dur +P | F1 |", "|---|---:|---:|---:|"]
    lines += [f"| {k} | {percent(v['dur_se'])} | {percent(v['dur_ppv'])} | {v['f1']:.3f} |" for k, v in mean.items()]
    best = max(keys, key=lambda k: (round(mean[k]["f1"], 6), k.endswith("hold-")))
    return "\n".join(lines + ["", f"chosen: {best}"])


def final_table(res: dict) -> str:
    """Markdown: per rhythm, the mean over seeds of the shared scorer's figures (``--final``)."""
    seeds = list(res)
    keys = ("ref_s", "det_s", "dur_se", "dur_ppv", "ep_se", "ep_ppv", "ref_n", "det_n")
    lines = ["| DS1 CV (mean of seeds) | ref min | det min | dur Se | dur +P | ep Se | ep +P | ref ep | det ep |",
             "|---" * (len(keys) + 1) + "|"]
    for rh in RHYTHMS_SCORED:
        vals = [[res[s]["final"][rh].get(k) for s in seeds] for k in keys]
        cells = ["-" if any(v is None for v in vs) else
                 percent(float(np.mean(vs))) if k in ("dur_se", "dur_ppv", "ep_se", "ep_ppv") else
                 f"{np.mean(vs) / 60:.1f}" if k.endswith("_s") else f"{np.mean(vs):.1f}"
                 for k, vs in zip(keys, vals)]
        lines.append(f"| {rh} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(res: dict) -> str:
    """Markdown tables: mean over seeds of the AF sweep and the VT grid, and the choices."""
    seeds = list(res)
    lines = ["| AF threshold | dur Se | dur +P | F1 |", "|---|---:|---:|---:|"]
    af = {t: [res[s]["af"][t] for s in seeds] for t in res[seeds[0]]["af"]}
    for t, v in af.items():
        lines.append(f"| {t} | {percent(np.mean([x['dur_se'] for x in v]))} | "
                     f"{percent(np.mean([x['dur_ppv'] for x in v]))} | {np.mean([x['f1'] for x in v]):.3f} |")
    lines += ["", "| VT rule | ep Se | ep +P | ep F1 | dur Se | dur +P | det episodes |", "|---|---:|---:|---:|---:|---:|---:|"]
    vt = {k: [res[s]["vt"][k] for s in seeds] for k in res[seeds[0]]["vt"]}
    mean = lambda v, k: float(np.mean([x[k] or 0.0 for x in v]))
    for k, v in vt.items():
        lines.append(f"| {k} | {percent(mean(v, 'ep_se'))} | {percent(mean(v, 'ep_ppv'))} | "
                     f"{np.mean([f1(x['ep_se'], x['ep_ppv']) for x in v]):.3f} | {percent(mean(v, 'dur_se'))} | "
                     f"{percent(mean(v, 'dur_ppv'))} | {mean(v, 'det_n'):.1f} |")
    best_af = max(af, key=lambda t: np.mean([x["f1"] for x in af[t]])) if af else "-"
    best_vt = max(vt, key=lambda k: (np.mean([f1(x["ep_se"], x["ep_ppv"]) for x in vt[k]]), mean(vt[k], "ep_se")))
    return "\n".join(lines + ["", f"chosen: AF threshold {best_af}; VT {best_vt}"])


if __name__ == "__main__":
    sys.exit(main())
