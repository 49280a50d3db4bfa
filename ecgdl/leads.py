"""Which lead the classifier reads first, and which way up: by name when the names say, else from the signal.

The CNN was trained with MLII as its primary lead (and a precordial lead, mostly V1, second). A
recorder that names its leads ``ECG1``/``ECG2`` (placement unknown) may deliver V1 first, or a lead
wired upside down. :func:`choose_leads` decides, per record:

1. ``override`` (the CLI's ``--lead NAME`` / ``--lead=-NAME`` for inverted): trusted as given.
2. A lead named as MLII (:data:`ecgdl.io.PRIMARY_LEADS`: MLII, II, ML2, LEAD II): always trusted.
3. Other standard names only (V5, V2 in MIT-BIH 102/104, ...): ranked by name, the most limb-like
   first (:data:`NAME_RANK`); never inverted; a warning says the model was trained on MLII.
4. Unknown names (ECG1/ECG2, lead1, CSV columns): from the record's own dominant beat. R peaks are
   found on a few minutes of the record, each lead's median beat is measured (:func:`beat_features`:
   QRS polarity and net area, T and P wave level, first deflection, template correlations), and two
   small logistic models fitted on DS1's named leads (``pipelines/lead_model.py`` ->
   ``ecgdl/shipped/lead_orientation.json``) say which lead is the limb lead and whether it is
   inverted. The call and its confidence go into ``Record.notes``; a low-confidence call is a warning.

The result is stored in the record (``Record.lead_order``, ``Record.lead_invert``), so every reader of
``Record.lead_pair()`` (scoring, reports, viewer) sees the same choice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from ecgdl.io import PRIMARY_LEADS, Record
from ecgdl.paths import MODELS_DIR

__all__ = ["LeadChoice", "choose_leads", "decide_leads", "apply_choice", "beat_features", "median_beats", "parse_override",
           "LeadModel", "load_lead_model", "NAME_RANK", "LOW_CONFIDENCE"]

#: Standard non-MLII names, most limb-lead-like (upright dominant R, like MLII) first.
NAME_RANK: tuple[str, ...] = ("I", "AVF", "III", "V5", "V4", "V6", "V3", "AVL", "V2", "V1", "AVR")
#: Below this probability of being right, the signal's call is a warning, not just a note.
LOW_CONFIDENCE = 0.8
#: Median beat window around the R peak, seconds.
PRE_S, POST_S = 0.30, 0.50
#: Minutes of the record measured (three excerpts spread over it).
EXCERPT_S, N_EXCERPTS = 120.0, 3
_STANDARD = re.compile(r"^(ML|LEAD ?)?(I{1,3}|AV[RLF]|V[1-6]|ML2)$")


@dataclass(frozen=True)
class LeadChoice:
    """The leads the model reads: ``order`` (primary, secondary) channel indices, ``invert`` per lead of the
    pair, ``confidence`` (probability the call is right; 1 when named or given), ``source``
    ("override", "named", "standard", "signal", "default") and the sentence for the notes."""

    order: tuple[int, int]
    invert: tuple[bool, bool]
    confidence: float
    source: str
    text: str

    def to_dict(self, leads: tuple[str, ...]) -> dict:
        """The summary's ``lead_choice``: primary / secondary lead names, inverted flags, confidence, source."""
        return {"primary": leads[self.order[0]], "secondary": leads[self.order[1]], "inverted": list(self.invert),
                "confidence": round(self.confidence, 3), "source": self.source}


@dataclass(frozen=True)
class LeadModel:
    """Fitted weights. Which lead is the limb lead: each lead's :func:`library_match` (how closely its
    normalised median beat matches, either way up, the DS1 MLII beats and the DS1 precordial beats),
    P(channel 0 is the limb lead) = sigmoid(``limb_w`` . (m0 - m1)); one lead alone: P(limb-like) =
    sigmoid(``single_w`` . m + ``single_b``). Polarity: P(inverted) = sigmoid(-``invert_w`` . odd features).
    ``mlii_template`` / ``v_template``: mean normalised beats (correlation features); ``library_*``: one
    normalised median beat per DS1 record and lead."""

    limb_w: np.ndarray
    single_w: np.ndarray
    single_b: float
    invert_w: np.ndarray
    mlii_template: np.ndarray
    v_template: np.ndarray
    library_mlii: np.ndarray
    library_v: np.ndarray
    info: dict


def load_lead_model(path: str | Path | None = None) -> LeadModel | None:
    """The shipped lead model (``ecgdl/shipped/lead_orientation.json``), None when absent."""
    path = Path(path) if path else MODELS_DIR / "lead_orientation.json"
    return _load(str(path)) if path.is_file() else None


@lru_cache(maxsize=4)
def _load(path: str) -> LeadModel:
    d = json.loads(Path(path).read_text())
    arr = {k: np.asarray(d[k], np.float64) for k in ("limb_w", "single_w", "invert_w", "mlii_template",
                                                      "v_template", "library_mlii", "library_v")}
    return LeadModel(**arr, single_b=float(d["single_b"]), info=d.get("info", {}))


def is_standard(name: str) -> bool:
    """A lead name that says where the lead is (MLII, V5, aVF...); ECG1, lead1, column names do not."""
    return bool(_STANDARD.match(name.strip().upper()))


def parse_override(text: str, leads: tuple[str, ...]) -> tuple[int, bool]:
    """``"ECG2"`` -> (index of ECG2, False); ``"-ECG2"`` -> (index, True: inverted). ValueError names the leads."""
    inv = text.startswith("-")
    name = text[1:] if inv else text
    upper = [n.upper() for n in leads]
    if name.upper() not in upper:
        raise ValueError(f"--lead {text!r}: no lead {name!r} in this record (leads: {', '.join(leads)})")
    return upper.index(name.upper()), inv


def choose_leads(rec: Record, override: str | None = None, model: LeadModel | None = None) -> LeadChoice:
    """Decide the (primary, secondary) leads and their polarity for ``rec`` (see the module docstring).

    >>> choose_leads(read_record("../shared/data/mitdb/100")).text      # doctest: +SKIP
    "lead 'MLII' named: read as the primary lead"
    """
    n = len(rec.leads)
    if override:
        i, inv = parse_override(override, rec.leads)
        return LeadChoice(_pair(i, n), (inv, False), 1.0, "override",
                          f"lead {rec.leads[i]!r}{' inverted' if inv else ''} read as the primary lead (--lead)")
    upper = [s.strip().upper() for s in rec.leads]
    for name in PRIMARY_LEADS:
        if name in upper:
            i = upper.index(name)
            return LeadChoice(_pair(i, n), (False, False), 1.0, "named", f"lead {rec.leads[i]!r} named: primary")
    ranked = [upper.index(s) for s in NAME_RANK if s in [_bare(u) for u in upper]]
    if ranked and all(is_standard(s) for s in upper):
        i = ranked[0]
        return LeadChoice(_pair(i, n), (False, False), 1.0, "standard",
                          f"no MLII lead: reading {rec.leads[i]!r} as the primary lead (the model was trained on "
                          "MLII first: labels are less reliable)")
    model = model or load_lead_model()
    if model is None:
        return LeadChoice(_pair(0, n), (False, False), 0.0, "default",
                          f"lead placement unknown and no lead model: {rec.leads[0]!r} read as primary")
    beats = median_beats(rec)
    if beats is None:
        return LeadChoice(_pair(0, n), (False, False), 0.0, "default",
                          f"lead placement unknown, too few beats to tell: {rec.leads[0]!r} read as primary")
    return _signal_choice(rec.leads, [beat_features(m, rec.fs, model) for m in beats], model)


def _bare(name: str) -> str:
    return re.sub(r"^(ML|LEAD ?)", "", name)


def _pair(primary: int, n: int) -> tuple[int, int]:
    others = [i for i in range(n) if i != primary]
    return primary, (others[0] if others else primary)


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-z)))


def _signal_choice(leads: tuple[str, ...], feats: list[dict], model: LeadModel) -> LeadChoice:
    """The call from each channel's features: which is the limb lead (two leads), is it inverted."""
    m = [library_match(f["beat"], model.library_mlii, model.library_v) for f in feats[:2]]
    if len(feats) >= 2:
        p0 = _sigmoid(float(model.limb_w @ (m[0] - m[1])))
        primary, p_order = (0, p0) if p0 >= 0.5 else (1, 1 - p0)
    else:
        primary = 0
        p_order = _sigmoid(float(model.single_w @ m[0] + model.single_b))  # P(this one lead is limb-like)
    o = feats[primary]["odd"]
    p_inv = _sigmoid(-float(model.invert_w @ o))
    inv = p_inv >= 0.5
    conf = (p_order if len(feats) >= 2 else 1.0) * max(p_inv, 1 - p_inv)
    name = leads[primary]
    text = (f"lead placement unknown: {name!r}{' inverted' if inv else ''} read as the limb (MLII-like) lead "
            f"from its median beat (P(order) {p_order:.2f}, P(inverted) {p_inv:.2f}, confidence {conf:.2f})")
    if len(feats) < 2 and p_order < 0.5:
        text += f"; it looks precordial (V1-V6), not limb-like (P(limb) {p_order:.2f}): labels are less reliable"
    return LeadChoice(_pair(primary, len(leads)), (inv, False), conf, "signal", text)


def decide_leads(rec: Record, override: str | None = None) -> tuple[Record, LeadChoice]:
    """The scoring step: :func:`choose_leads`, stored in the record by :func:`apply_choice`."""
    choice = choose_leads(rec, override)
    return apply_choice(rec, choice), choice


def apply_choice(rec: Record, choice: LeadChoice) -> Record:
    """``rec`` with the choice stored (``lead_order``, ``lead_invert``) and said in its notes, a low
    confidence or a non-MLII primary in its warnings."""
    notes, warns = list(rec.notes), list(rec.warnings)
    if choice.source != "named":
        notes.append(choice.text)
    weak = choice.source in ("signal", "default") and (choice.confidence < LOW_CONFIDENCE or "precordial" in choice.text)
    if weak or choice.source == "standard":
        warns.append(f"lead choice uncertain: {choice.text}" if weak else choice.text)
    invert = (choice.invert[0],) * 2 if choice.order[0] == choice.order[1] else choice.invert  # one lead, read twice
    return replace(rec, lead_order=choice.order, lead_invert=invert, notes=tuple(notes),
                   warnings=tuple(dict.fromkeys(warns)))


def median_beats(rec: Record, peaks: np.ndarray | None = None) -> list[np.ndarray] | None:
    """Per channel (the first two), its median beat (PRE_S before to POST_S after R, 0.5-40 Hz, mV) over
    :data:`N_EXCERPTS` excerpts of :data:`EXCERPT_S` spread over ``rec``; R peaks detected on each excerpt
    (or ``peaks``, samples at rec.fs). None when fewer than 8 beats are found.
    """
    from ecgdl.qrs import detect_r_peaks
    from ecgdl.signal import bandpass

    x = rec.signal[:, : min(2, rec.signal.shape[1])]
    n, fs = x.shape[0], rec.fs
    span = int(EXCERPT_S * fs)
    starts = [0] if n <= span * N_EXCERPTS else [int(s) for s in np.linspace(0, n - span, N_EXCERPTS)]
    beats: list[list[np.ndarray]] = [[] for _ in range(x.shape[1])]
    pre, post = int(PRE_S * fs), int(POST_S * fs)
    for s in starts:
        seg = np.nan_to_num(np.asarray(x[s:s + span], np.float64))
        if len(seg) <= pre + post:
            continue
        filt = bandpass(seg, fs, 0.5, 40.0)
        pk = detect_r_peaks(seg, fs, choose_lead=seg.shape[1] > 1).peaks if peaks is None else \
            peaks[(peaks >= s) & (peaks < s + span)] - s
        pk = pk[(pk >= pre) & (pk < len(seg) - post)]
        for c in range(x.shape[1]):
            beats[c].extend(filt[p - pre:p + post, c] for p in pk)
    if len(beats[0]) < 8:
        return None
    return [np.median(np.stack(b), axis=0) for b in beats]


def normalised_beat(m: np.ndarray, fs: float) -> np.ndarray:
    """The median beat minus its baseline, over its QRS peak-to-peak, resampled to 80 points (0.8 s)."""
    b = m - np.median(m)
    qrs = b[int((PRE_S - 0.08) * fs): int((PRE_S + 0.10) * fs)]
    s = float(qrs.max() - qrs.min()) or 1.0
    return np.interp(np.linspace(0, len(b) - 1, 80), np.arange(len(b)), b / s)


def lag_correlation(a: np.ndarray, library: np.ndarray, max_lag: int = 4) -> np.ndarray:
    """Per row of ``library`` ``(k, 80)``, the correlation with ``a`` ``(80,)`` of largest magnitude over
    shifts of up to ``max_lag`` points (10 ms each), with its sign."""
    core = slice(max_lag, len(a) - max_lag)
    lib = library[:, core]
    lib = (lib - lib.mean(1, keepdims=True)) / (lib.std(1, keepdims=True) + 1e-9)
    best = np.zeros(len(library))
    for lag in range(-max_lag, max_lag + 1):
        x = np.roll(a, lag)[core]
        c = lib @ ((x - x.mean()) / (x.std() + 1e-9)) / len(x)
        best = np.where(np.abs(c) > np.abs(best), c, best)
    return best


def library_match(beat: np.ndarray, library_mlii: np.ndarray, library_v: np.ndarray, k: int = 3) -> np.ndarray:
    """``[MLII match, precordial match]``: mean |correlation| of the normalised ``beat`` with its ``k`` best
    matches among the library's MLII beats, and among its precordial beats (either way up)."""
    return np.array([np.sort(np.abs(lag_correlation(beat, lib)))[-k:].mean() for lib in (library_mlii, library_v)])


def beat_features(m: np.ndarray, fs: float, model: LeadModel | None = None) -> dict:
    """Features of one median beat ``m`` (PRE_S before to POST_S after R, band-passed, mV).

    odd: change sign with the lead's polarity (QRS polarity, net area, T, P, value at R, first big
    deflection, correlation with the MLII / precordial templates); even: unchanged by it (their
    magnitudes, T/P concordance with the QRS, QRS width, log amplitude).
    """
    at = lambda t: int((PRE_S + t) * fs)  # noqa: E731 (sample index of time t from R)
    b = m - np.median(m)
    qrs = b[at(-0.08):at(0.10)]
    hi, lo = float(qrs.max()), float(qrs.min())
    s = (hi - lo) or 1e-6
    pol = (hi + lo) / s
    area = float(qrs.sum() / (np.abs(qrs).sum() or 1e-6))
    t_wave = float(b[at(0.15):at(0.40)].mean() / s)
    p_wave = float(b[at(-0.25):at(-0.10)].mean() / s)
    r_val = float(b[at(0.0)] / s)
    big = np.flatnonzero(np.abs(qrs) > 0.5 * max(hi, -lo))
    first = float(np.sign(qrs[big[0]])) if big.size else 0.0
    nb = normalised_beat(m, fs)
    corr = [0.0, 0.0] if model is None else [float(np.corrcoef(nb, t)[0, 1]) for t in (model.mlii_template,
                                                                                       model.v_template)]
    odd = np.array([pol, area, t_wave, p_wave, r_val, first, *corr])
    width = float((np.abs(qrs) > 0.3 * s).sum() / fs)
    even = np.array([*np.abs(odd), pol * t_wave, pol * p_wave, t_wave * p_wave, corr[0] * pol, width,
                     float(np.log(s))])
    return {"odd": odd, "even": even, "beat": nb}
