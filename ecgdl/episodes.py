"""Rhythm episodes of a scored record: AF, VT, VFL, bigeminy, trigeminy, brady/tachycardia, blocks, pauses.

Pure functions over what the scoring path already holds: R-peak ``sample`` (at ``fs``), predicted
beat ``label`` (never reference labels), the classifier's ``proba``, the conditioned lead (atrial
activity, ``ecgdl.af``), the detector's pauses and VF stretches. Torch-free.

Stable API (the viewer, the batch and the report use these; documented in ``docs/episodes.md``):

* :func:`detect_episodes` ``(sample, label, fs, ...) -> list[Episode]``, sorted by start.
* :class:`Episode`: ``rhythm, start_s, end_s, beats, mean_hr_bpm, confidence, first_beat, last_beat``.
* :func:`episodes_csv` ``-> str``: the ``<record>.episodes.csv`` contract (:data:`CSV_COLUMNS`).
* :func:`episode_summary` ``-> dict``: AF burden (% of time), counts and longest episode per rhythm.
* :data:`RHYTHMS`: every code an episode can carry (MIT-BIH codes without the parenthesis, plus
  ``PAUSE``, ``BRADY``, ``TACHY``).

Rules (Holter conventions; each threshold is a field of :class:`EpisodeConfig`):

* **AFIB**: per-beat AF probability (``ecgdl.af``: RR irregularity + absent P waves) >= the AF
  model's threshold (0.9, chosen on DS1 cross-validation; ``af_threshold`` overrides it), optionally held down
  to ``af_hold`` (hysteresis, off since round 10: a run >= ``af_hold`` that reaches the threshold is AF end to end);
  runs closer than ``af_merge_s`` merged; episodes shorter than ``af_min_s`` (30 s) dropped.
* **VT**: >= 3 consecutive ventricular beats at > 100 bpm: V beats, of which >= ``vt_min_v`` have a
  V probability >= ``vt_min_pv`` (0.5), at most ``vt_bridge_beats`` (1) weak V beat (or one labelled
  ``vt_bridge``, S or F by default) between two strong ones; with the classifier's pre-adaptation p(V)
  given (``p_v_ind``), a beat with ``p_v_ind >= vt_ind_pv`` (0.6) is a strong V beat whatever its adaptive
  label; with the conditioned leads given (``qrs_signal``), so is a beat whose QRS is wide and unlike the
  record's dominant QRS (``ecgdl.wide_qrs``: correlation < ``vt_wide_corr`` 0.5, width >= ``vt_wide_ratio``
  1.5 x the dominant's, correlation >= ``vt_wide_twin`` 0.5 with a neighbour); chosen on DS1 adaptive
  out-of-fold beat outputs (``pipelines/episodes_rules_cv.py``, docs/episodes.md rounds 4-7); **IVR**: the
  same at <= 100 bpm, without the wide-QRS evidence, with ``ivr_min_v`` strong beats of ``ivr_min_beats``
  (the inductive p(V) counting when ``ivr_ind``).
* **SVTA**: >= 3 consecutive S beats at > 100 bpm, outside AF.
* **B** / **T**: ventricular bigeminy / trigeminy, >= 3 cycles (``ecgdl.rhythm.pattern_episodes``,
  fusion beats counted as ventricular).
* **VFL**: the detector's ventricular flutter/fibrillation stretches, as given.
* **PAUSE**: the detector's pauses lasting >= ``pause_min_s`` (3 s).
* **BII**: second-degree block: RR jumps to ``bii_ratio`` (1.7-2.3) x the preceding rhythm's RR for
  >= ``bii_min_beats`` beats (2:1 conduction); it lasts while RR stays at that ratio or within
  ``bii_tolerance`` of the block's first RR intervals; blocks shorter than ``bii_min_s`` dropped.
* **SBR**: rate < 50 bpm, or mean rate (pauses counted) < ``sbr_mean_bpm`` (40), or sinus rate (RR between
  two N beats, :func:`sinus_rate`) < ``sbr_sinus_bpm`` (45), with P waves (or, :func:`paused_sinus`, the RR
  ending in N beats < ``sbr_pause_bpm`` (30) with the record's P wave located and ``p_corr`` >= 0.5) (the
  clinical 60 bpm flags 79 min of DS1 that MIT-BIH's annotators left as normal rhythm), **BRADY**: rate < 40 bpm (any rhythm), **TACHY**: rate > 100
  bpm outside AF/SVTA/VT/VFL, each for >= ``rate_min_s``; **NOD**: regular, no P waves, N beats,
  40-100 bpm for >= ``nod_min_s``. Rate = 60 / median RR of ``rate_beats`` beats (V beats left out).

>>> s = (np.arange(20) * 0.8 * 360).astype(int)
>>> lab = np.array(list("NNNNNNNNVVVNNNNNNNNN"))
>>> s[9:11] = s[8] + np.array([0.5, 1.0]) * 360       # 120 bpm between the V beats
>>> [e.rhythm for e in detect_episodes(s, lab, 360.0, af_model=None)]
['VT']
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from ecgdl.labels import AAMI_CLASSES
from ecgdl.rhythm import consecutive_runs, pattern_episodes
from ecgdl.vt_evidence import bridged, v_evidence, wide_beats

RHYTHMS: tuple[str, ...] = ("AFIB", "AFL", "SVTA", "VT", "VFL", "B", "T", "SBR", "BII", "NOD", "IVR",
                            "PAUSE", "BRADY", "TACHY")
#: Episodes whose beats HRV leaves out (no sinus node driving the ventricles, or conduction blocked).
NOT_SINUS: tuple[str, ...] = ("AFIB", "AFL", "SVTA", "VT", "VFL", "BII", "IVR", "NOD")
CSV_COLUMNS: tuple[str, ...] = ("rhythm", "start_s", "end_s", "beats", "mean_hr_bpm", "confidence",
                                "first_beat", "last_beat")


@dataclass(frozen=True)
class EpisodeConfig:
    """Thresholds of the episode rules (seconds, beats, bpm); see the module docstring."""

    af_threshold: float | None = None   # None: the AF model's own threshold
    af_min_s: float = 30.0
    af_merge_s: float = 10.0
    af_hold: float | None = None   # hysteresis: runs >= this holding a beat >= the threshold are AF; None: off
    run_min_beats: int = 3
    vt_min_bpm: float = 100.0
    vt_bridge: str = "SF"        # labels besides weak V that may sit inside a V run (between two strong V beats) ...
    vt_bridge_beats: int = 1     # ... at most this many in a row
    vt_edge: str = ""            # labels that may extend a V run by one beat at either end ("V": a weak V beat)
    vt_min_v: int = 2            # strong V beats a run needs (and >= run_min_beats beats in all)
    vt_min_pv: float = 0.5       # strong: V probability at least this (every V beat when no probabilities)
    vt_ind_pv: float | None = 0.6   # also V, and strong: inductive (pre-adaptation) p(V) at least this; None: off
    vt_wide_corr: float | None = 0.5   # also V, and strong (VT only): QRS correlation with the dominant below this ...
    vt_wide_ratio: float = 1.5         # ... and QRS width >= this x the dominant's (ecgdl.wide_qrs); corr None: off
    vt_wide_twin: float | None = 0.5   # ... and correlation with a neighbouring beat >= this (noise guard); None: off
    ivr_min_v: int = 2             # IVR: strong V beats a slow run needs ...
    ivr_min_beats: int = 5         # ... beats in all (DS1 CV, round 8: 3 -> 5) ...
    ivr_ind: bool = False          # ... and whether the inductive p(V) (vt_ind_pv) counts for it
    pattern_min_cycles: int = 3
    pause_min_s: float = 3.0
    bii_ratio: tuple[float, float] = (1.7, 2.3)
    bii_min_beats: int = 4
    bii_ref_beats: int = 20
    bii_tolerance: float = 0.15   # a block goes on while RR stays within 15 % of its first RRs
    bii_min_s: float = 20.0       # shorter blocks dropped (DS1: both false ones, 10 and 17 s)
    rate_beats: int = 16
    rate_min_s: float = 30.0
    sbr_bpm: float = 50.0      # MIT-BIH marks SBR for marked bradycardia only (DS1: none at 51-59 bpm)
    sbr_mean_bpm: float | None = 40.0  # also SBR: mean rate (pauses counted) below this; None: off
    sbr_sinus: str | None = "nn"   # also SBR: the sinus rate ("nn": RR between two N beats, "to_n": RR ending in one) ...
    sbr_sinus_bpm: float = 45.0    # ... below this (sinus_rate); sbr_sinus None: off
    sbr_p_present: float | None = None  # p_corr the SBR rule asks for; None: p_present
    sbr_pause_bpm: float | None = 30.0  # also SBR: RR ending in N beats slower than this, the record's P wave
    sbr_pause_p: float = 0.5            # located (ecgdl.p_wave) and p_corr >= this (paused_sinus); None: off
    brady_bpm: float = 40.0
    tachy_bpm: float = 100.0
    p_present: float = 0.8      # p_corr (ecgdl.af) at or above: P waves present (sinus)
    p_absent: float = 0.3       # p_corr below: no P waves (DS1: 0.5 flagged 8 NOD stretches of 207, none true)
    nod_max_nrmssd: float = 0.06
    nod_min_s: float = 20.0


@dataclass(frozen=True)
class Episode:
    """One episode: beats ``first_beat..last_beat`` (indices into the scored beats), times in seconds."""

    rhythm: str
    start_s: float
    end_s: float
    beats: int
    mean_hr_bpm: float | None
    confidence: float
    first_beat: int = -1
    last_beat: int = -1

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _episode(rhythm: str, a: int, b: int, sample: np.ndarray, fs: float, conf: float = 1.0) -> Episode:
    t0, t1 = sample[a] / fs, sample[b] / fs
    hr = round(60.0 * (b - a) / (t1 - t0), 1) if b > a and t1 > t0 else None
    return Episode(rhythm, round(float(t0), 3), round(float(t1), 3), int(b - a + 1), hr, round(float(conf), 3),
                   int(a), int(b))


def _runs_to_episodes(rhythm, mask, sample, fs, min_s: float, merge_s: float = 0.0, score=None) -> list[Episode]:
    """Runs of ``mask`` (per beat) closer than ``merge_s`` merged, shorter than ``min_s`` dropped."""
    runs = consecutive_runs(mask)
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and (sample[a] - sample[merged[-1][1]]) / fs <= merge_s:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    out = []
    for a, b in merged:
        if (sample[b] - sample[a]) / fs >= min_s and b > a:
            conf = float(np.mean(score[a:b + 1])) if score is not None else 1.0
            out.append(_episode(rhythm, a, b, sample, fs, conf))
    return out


def ectopic_runs(sample, label, fs, cls: str, cfg: EpisodeConfig, p_v: np.ndarray | None = None,
                 p_v_ind: np.ndarray | None = None, wide: np.ndarray | None = None) -> tuple[list[Episode], list[Episode]]:
    """``(fast, slow)`` runs of >= ``run_min_beats`` ``cls`` beats (> / <= ``vt_min_bpm``).

    For ``V`` runs: a V beat is *strong* when its V probability ``p_v`` is >= ``vt_min_pv``; up to
    ``vt_bridge_beats`` consecutive beats between two strong V beats that are labelled V (weak) or
    one of ``vt_bridge`` are taken into the run (a wide-complex run with a beat the classifier
    called S or F); a run needs >= ``vt_min_v`` strong V beats. With ``p_v_ind`` (the classifier's
    p(V) before the adaptive step) and ``vt_ind_pv`` set, a beat with ``p_v_ind >= vt_ind_pv`` is a
    strong V beat whatever its (adaptive) label; so is a beat marked in ``wide`` (``ecgdl.vt_evidence.wide_beats``).
    """
    fast, slow = [], []
    name = {"V": ("VT", "IVR"), "S": ("SVTA", None)}[cls]
    is_x = label == cls
    if cls == "V":
        strong, is_x = v_evidence(label, cfg, p_v, p_v_ind)
        if wide is not None:
            strong, is_x = strong | wide, is_x | wide
        mask = bridged(strong, is_x | np.isin(label, list(cfg.vt_bridge)), cfg.vt_bridge_beats)
        if cfg.vt_edge:                  # one edge beat each side: a run that ends in a fusion beat
            ok = np.isin(label, [c for c in cfg.vt_edge if c != "V"]) | (is_x & ("V" in cfg.vt_edge))
            mask = mask | (np.r_[mask[1:], False] & ok) | (np.r_[False, mask[:-1]] & ok)
        need = cfg.vt_min_v
    else:
        strong, mask, need = is_x, is_x, cfg.run_min_beats
    for a, b in consecutive_runs(mask):
        if b - a + 1 < cfg.run_min_beats or int(strong[a:b + 1].sum()) < need:
            continue
        ep = _episode(name[0], a, b, sample, fs)
        if ep.mean_hr_bpm is not None and ep.mean_hr_bpm > cfg.vt_min_bpm:
            fast.append(ep)
        elif name[1]:
            slow.append(replace(ep, rhythm=name[1]))
    return fast, slow


def held(p: np.ndarray, hi: float, lo: float | None) -> np.ndarray:
    """``p >= hi``, or with ``lo``: every run of ``p >= lo`` that holds a beat with ``p >= hi`` (hysteresis).

    >>> held(np.array([0.5, 0.8, 0.95, 0.8, 0.5, 0.8]), 0.9, 0.7).astype(int).tolist()
    [0, 1, 1, 1, 0, 0]
    """
    on = p >= hi
    if lo is None or lo >= hi:
        return on
    out = np.zeros(len(p), bool)
    for a, b in consecutive_runs(p >= lo):
        if on[a:b + 1].any():
            out[a:b + 1] = True
    return out


def local_rate(sample, label, fs, beats: int, mean: bool = False) -> np.ndarray:
    """``(n,)`` bpm: 60 / median (``mean``: mean, pauses weigh in) of the ``beats`` RR intervals centred on
    each beat (V-adjacent RR left out)."""
    from ecgdl.af import windowed_nanmedian

    n = len(sample)
    rr = np.diff(sample) / fs
    rr = np.r_[rr[:1], rr] if n > 1 else np.ones(n)
    is_v = label == "V"
    rr = np.where(is_v | np.r_[False, is_v[:-1]], np.nan, rr)
    if not mean:
        return 60.0 / windowed_nanmedian(rr, beats)
    pad = beats // 2                                  # the window of windowed_nanmedian: [i - w//2, i + w//2)
    ok = np.pad(~np.isnan(rr), (pad, beats - pad - 1)).astype(np.float64)
    val = np.pad(np.nan_to_num(rr), (pad, beats - pad - 1))
    k = np.ones(beats)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 60.0 * np.convolve(ok, k, "valid") / np.convolve(val, k, "valid")


def sinus_rate(sample, label, fs, beats: int, mode: str) -> np.ndarray:
    """``(n,)`` bpm: 60 / median of the sinus cycles among the ``beats`` RR intervals centred on each beat, a
    sinus cycle being an RR that ends in an N beat and (``mode`` "nn") starts at one; NaN where none lies inside.

    >>> s = np.cumsum([1.0, 0.5, 1.8, 0.5, 1.8, 0.5, 1.8]) * 100
    >>> sinus_rate(s.astype(int), np.array(list("NSNSNSN")), 100.0, 4, "to_n").round(1).tolist()[2:5]
    [33.3, 33.3, 33.3]
    """
    from ecgdl.af import windowed_nanmedian

    label = np.asarray(label)
    rr = np.r_[np.nan, np.diff(sample) / fs]
    ok = label == "N"
    if mode == "nn":
        ok &= np.r_[False, label[:-1] == "N"]
    elif mode != "to_n":
        raise ValueError(f"sbr_sinus: {mode!r}, expected 'nn' or 'to_n'")
    return 60.0 / windowed_nanmedian(np.where(ok, rr, np.nan), beats)


def second_degree_block(sample, label, fs, cfg: EpisodeConfig) -> list[Episode]:
    """2:1 (or longer) conduction: RR at ``bii_ratio`` x the rate before it, sustained (module docstring)."""
    n, k, m = len(sample), cfg.bii_ref_beats, cfg.bii_min_beats
    if n < k + m + 1:
        return []
    rr = np.diff(sample) / fs                      # rr[i]: beat i -> i + 1
    ref = np.full(len(rr), np.nan)
    ref[k:] = np.median(np.lib.stride_tricks.sliding_window_view(rr, k)[:-1], axis=1)  # the k RR before rr[i]
    lo, hi = cfg.bii_ratio
    with np.errstate(invalid="ignore"):
        cand = (rr >= lo * ref) & (rr <= hi * ref) & (label[:-1] != "V") & (label[1:] != "V")
    out, last = [], -1
    for a, b in consecutive_runs(cand):
        if b - a + 1 < m or a <= last:
            continue
        r = rr[a:] / ref[a]                        # the rhythm before the block stays the reference,
        own = rr[a:] / np.median(rr[a:a + m])      # or the block's own RR (the sinus rate drifts under it)
        stop = np.flatnonzero(((r < lo) | (r > hi)) & (np.abs(own - 1.0) > cfg.bii_tolerance))
        j = a + (int(stop[0]) if len(stop) else len(r))
        if (sample[j] - sample[a]) / fs >= cfg.bii_min_s:
            out.append(_episode("BII", a, j, sample, fs))
        last = j
    return out


def paused_sinus(sample, label, fs, p_corr: np.ndarray, signal, cfg: EpisodeConfig,
                 other: np.ndarray | None = None) -> np.ndarray:
    """Sinus bradycardia among atrial ectopics: the cycles ending in N beats (:func:`sinus_rate` "to_n") slower
    than ``sbr_pause_bpm``, where the record's P wave is located (``ecgdl.p_wave``, on the beats ending its
    longest RR) and ``p_corr`` >= ``sbr_pause_p`` (ectopic P waves hidden in the T wave lower it). The P wave is
    looked for only when these beats, with the ``other`` SBR beats, make a run of ``rate_min_s``."""
    from ecgdl.p_wave import locate_p_wave

    with np.errstate(invalid="ignore", divide="ignore"):
        slow = (sinus_rate(sample, label, fs, cfg.rate_beats, "to_n") < cfg.sbr_pause_bpm) & (p_corr >= cfg.sbr_pause_p)
    runs = consecutive_runs(slow if other is None else slow | other)
    long_enough = any((sample[b] - sample[a]) / fs >= cfg.rate_min_s and slow[a:b + 1].any() for a, b in runs)
    if signal is None or not long_enough or not locate_p_wave(np.asarray(signal), fs, sample).found:
        return np.zeros(len(sample), bool)
    return slow


def rate_episodes(sample, label, fs, feats, covered: np.ndarray, cfg: EpisodeConfig, signal=None) -> list[Episode]:
    """SBR, BRADY, TACHY and NOD episodes (module docstring); ``covered``: beats already in AF/VT/VFL/BII;
    ``signal``: the conditioned lead (:func:`paused_sinus`)."""
    from ecgdl.af import FEATURE_NAMES

    hr = local_rate(sample, label, fs, cfg.rate_beats)
    p = feats[:, FEATURE_NAMES.index("p_corr")] if feats is not None else np.full(len(sample), np.nan)
    irr = feats[:, FEATURE_NAMES.index("nrmssd")] if feats is not None else np.full(len(sample), np.nan)
    free = ~covered
    slow = hr < cfg.sbr_bpm
    if cfg.sbr_mean_bpm is not None:
        slow |= local_rate(sample, label, fs, cfg.rate_beats, mean=True) < cfg.sbr_mean_bpm
    if cfg.sbr_sinus is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            slow |= sinus_rate(sample, label, fs, cfg.rate_beats, cfg.sbr_sinus) < cfg.sbr_sinus_bpm
    p_sbr = cfg.p_present if cfg.sbr_p_present is None else cfg.sbr_p_present
    sbr = free & slow & ~(p < p_sbr)
    if cfg.sbr_pause_bpm is not None:
        sbr |= free & paused_sinus(sample, label, fs, p, signal, cfg, other=sbr)
    out = _runs_to_episodes("SBR", sbr, sample, fs, cfg.rate_min_s, score=None)
    out += _runs_to_episodes("BRADY", hr < cfg.brady_bpm, sample, fs, cfg.rate_min_s)
    out += _runs_to_episodes("TACHY", free & (hr > cfg.tachy_bpm), sample, fs, cfg.rate_min_s)
    nod = free & (p < cfg.p_absent) & (irr < cfg.nod_max_nrmssd) & (label == "N") & (hr >= 40) & (hr <= 100)
    out += _runs_to_episodes("NOD", nod, sample, fs, cfg.nod_min_s)
    return out


def af_probability(sample, label, fs, *, proba=None, classes=AAMI_CLASSES, signal=None, af_model="shipped"):
    """``(features (n, F), probability (n,), threshold)`` of AF per beat; ``af_model=None``: probability 0."""
    from ecgdl.af import AFFeatureConfig, af_features, load_af_model, sequence_inputs

    model = load_af_model() if isinstance(af_model, str) and af_model == "shipped" else af_model
    fcfg = model.features if model is not None and model.features is not None else AFFeatureConfig()
    feats = af_features(sample, label, fs, signal, fcfg)
    if model is None or len(sample) < 3:
        return feats, np.zeros(len(sample)), 1.0
    if hasattr(model, "predict_beats"):     # ecgdl.af_entropy.EntropyAF: reads the RR series itself
        from ecgdl.af import FEATURE_NAMES

        p = model.predict_beats(sample, fs, feats, FEATURE_NAMES.index("p_corr"), label=label)
        return feats, p, float(model.threshold)
    seq = sequence_inputs(sample, label, proba, classes, fs, feats, fcfg)
    return feats, model.predict(feats, seq=seq), float(getattr(model, "threshold", 0.5))


def detect_episodes(sample, label, fs: float, *, proba: np.ndarray | None = None, classes=AAMI_CLASSES,
                    signal: np.ndarray | None = None, pauses=(), vf=(), af_model="shipped",
                    cfg: EpisodeConfig = EpisodeConfig(), p_v: np.ndarray | None = None,
                    p_v_ind: np.ndarray | None = None, qrs_signal: np.ndarray | None = None) -> list[Episode]:
    """Every episode of a scored record, sorted by start time (module docstring for the rules).

    sample: ``(n,)`` sorted R-peak samples at ``fs``; label: ``(n,)`` predicted class letters;
    proba: ``(n, K)`` classifier probabilities (``classes`` order); signal: ``(n_samples,)`` conditioned
    lead for atrial activity; pauses: dicts or ``(start_s, end_s)`` from the detector's pause list;
    vf: ``(start_s, end_s)`` ventricular flutter/fibrillation stretches; af_model: ``"shipped"``
    (``ecgdl/shipped/episodes_af.json``), a model from ``ecgdl.af``, or None (no AF detection);
    p_v: ``(n,)`` V probabilities the VT rule reads (default: ``proba``'s V column); p_v_ind: ``(n,)``
    the classifier's V probabilities before the adaptive step (read when ``cfg.vt_ind_pv`` is set);
    qrs_signal: ``(n_samples, L)`` conditioned leads for the wide-QRS evidence (read when ``cfg.vt_wide_corr``
    is set; VT only, never IVR).
    """
    sample = np.asarray(sample, np.int64)
    label = np.asarray(label).astype(str)
    n = len(sample)
    eps: list[Episode] = [_interval("PAUSE", p, sample, fs) for p in pauses
                          if _span(p)[1] - _span(p)[0] >= cfg.pause_min_s - 1e-9]
    eps += [_interval("VFL", v, sample, fs) for v in vf]
    if n < 2:
        return sorted(eps, key=lambda e: (e.start_s, e.rhythm))
    feats, p_af, thr = af_probability(sample, label, fs, proba=proba, classes=classes, signal=signal,
                                      af_model=af_model)
    thr = thr if cfg.af_threshold is None else cfg.af_threshold
    af = _runs_to_episodes("AFIB", held(p_af, thr, cfg.af_hold), sample, fs, cfg.af_min_s, cfg.af_merge_s, p_af)
    if p_v is None and proba is not None and "V" in classes:
        p_v = proba[:, list(classes).index("V")]
    wide = wide_beats(qrs_signal, sample, label, fs, cfg, skip=v_evidence(label, cfg, p_v, p_v_ind)[0])
    vt = ectopic_runs(sample, label, fs, "V", cfg, p_v, p_v_ind, wide)[0]
    ivr_cfg = replace(cfg, vt_min_v=cfg.ivr_min_v, run_min_beats=cfg.ivr_min_beats,
                      vt_ind_pv=cfg.vt_ind_pv if cfg.ivr_ind else None)
    ivr = ectopic_runs(sample, label, fs, "V", ivr_cfg, p_v, p_v_ind)[1]
    in_af = _cover(af, n)
    svta = [e for e in ectopic_runs(sample, label, fs, "S", cfg)[0] if not in_af[e.first_beat:e.last_beat + 1].any()]
    ventricular = np.where(label == "F", "V", label)  # fusion beats count as ventricular in patterns
    patterns = [_episode(name, a, b, sample, fs) for name, k in (("B", 1), ("T", 2))
                for a, b in pattern_episodes(ventricular, "V", k, cfg.pattern_min_cycles)]
    bii = second_degree_block(sample, label, fs, cfg)
    covered = _cover(af + vt + ivr + svta + bii, n) | _cover_times(vf, sample, fs)
    eps += af + vt + ivr + svta + patterns + bii + rate_episodes(sample, label, fs, feats, covered, cfg, signal)
    return sorted(eps, key=lambda e: (e.start_s, e.rhythm))


def _span(p) -> tuple[float, float]:
    return (float(p["start_s"]), float(p["end_s"])) if isinstance(p, dict) else (float(p[0]), float(p[1]))


def _interval(rhythm: str, p, sample, fs) -> Episode:
    """An episode given in seconds (pause, VF stretch): beats = detected beats inside it."""
    a, b = _span(p)
    lo, hi = np.searchsorted(sample, [a * fs, b * fs + 1])
    first, last = (int(lo), int(hi) - 1) if hi > lo else (-1, -1)   # -1: no detected beat inside
    return Episode(rhythm, round(a, 3), round(b, 3), int(hi - lo), None, 1.0, first, last)


def _cover(eps: list[Episode], n: int) -> np.ndarray:
    m = np.zeros(n, bool)
    for e in eps:
        m[max(e.first_beat, 0):e.last_beat + 1] = True
    return m


def _cover_times(spans, sample, fs) -> np.ndarray:
    m = np.zeros(len(sample), bool)
    t = sample / fs
    for p in spans:
        a, b = _span(p)
        m |= (t >= a) & (t <= b)
    return m


def episodes_csv(episodes: list[Episode]) -> str:
    """The ``<record>.episodes.csv`` text: header :data:`CSV_COLUMNS`, one row per episode (seconds)."""
    lines = [",".join(CSV_COLUMNS)]
    for e in episodes:
        hr = "" if e.mean_hr_bpm is None else f"{e.mean_hr_bpm:.1f}"
        lines.append(f"{e.rhythm},{e.start_s:.3f},{e.end_s:.3f},{e.beats},{hr},{e.confidence:.3f},"
                     f"{e.first_beat},{e.last_beat}")
    return "\n".join(lines) + "\n"


def episode_summary(episodes: list[Episode], duration_s: float | None, cfg: EpisodeConfig = EpisodeConfig()) -> dict:
    """AF burden (% of the record's time in AFIB), counts and the longest episode per rhythm."""
    counts = {r: 0 for r in RHYTHMS}
    longest: dict[str, dict] = {}
    for e in episodes:
        counts[e.rhythm] = counts.get(e.rhythm, 0) + 1
        if e.rhythm not in longest or e.duration_s > longest[e.rhythm]["duration_s"]:
            longest[e.rhythm] = {"start_s": e.start_s, "end_s": e.end_s, "duration_s": round(e.duration_s, 3),
                                 "beats": e.beats, "mean_hr_bpm": e.mean_hr_bpm}
    af_s = sum(e.duration_s for e in episodes if e.rhythm == "AFIB")
    burden = round(100.0 * af_s / duration_s, 2) if duration_s else None
    return {"af_burden_pct": burden, "af_seconds": round(af_s, 3), "counts": counts, "longest": longest,
            "config": {f.name: getattr(cfg, f.name) for f in fields(cfg)}}


def score_episodes(sample, label, fs: float, *, proba=None, classes=AAMI_CLASSES, signal=None, pauses=(), vf=(),
                   duration_s: float | None = None, cfg: EpisodeConfig = EpisodeConfig(),
                   p_v_ind: np.ndarray | None = None, qrs_signal: np.ndarray | None = None) -> tuple[list[Episode], dict]:
    """The ``episodes`` step of ``ecgdl.infer.score_record``: ``(episodes, summary part)``.

    The summary part holds ``"episodes"`` (:func:`episode_summary`) and ``"hrv"`` (``ecgdl.hrv.hrv``
    over N-N intervals outside the :data:`NOT_SINUS` episodes). p_v_ind: the classifier's p(V) before
    the adaptive step, qrs_signal: the conditioned leads (:func:`detect_episodes`).
    """
    from ecgdl.hrv import hrv

    eps = detect_episodes(sample, label, fs, proba=proba, classes=classes, signal=signal, pauses=pauses, vf=vf,
                          cfg=cfg, p_v_ind=p_v_ind, qrs_signal=qrs_signal)
    from ecgdl.af import af_model_info

    not_sinus = _cover([e for e in eps if e.rhythm in NOT_SINUS], len(sample))
    summary = {**episode_summary(eps, duration_s, cfg), "af_model": af_model_info()}
    return eps, {"episodes": summary, "hrv": hrv(sample, label, fs, exclude=not_sinus)}
