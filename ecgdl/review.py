"""What a reader reviews first: the events of a scored record in order of importance, how far each class
count can be trusted, and the heart-rate trend on an honest axis.

The viewer's event list, its "next event" navigation and the PDF report all take their order from
:func:`review_events`; the tiles take their "check this" marks from :func:`class_reliability`.

>>> [e.title for e in review_events(result)][:2]            # doctest: +SKIP
['Ventricular run', 'Ventricular run']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ecgdl.metrics import percent
from ecgdl.view import Episode, episodes

#: A class whose validated Se or +P, or whose mean confidence on this record, is under this needs a look.
RELIABLE_MIN = 0.80
#: Low-confidence beats offered in the event list.
LOW_CONFIDENCE_BEATS = 20
#: Stretches of uncertain labels offered (:func:`uncertain_stretches`): at most this many, each >= this many beats.
UNCERTAIN_STRETCHES = 3
UNCERTAIN_MIN_BEATS = 3


#: Readable names of the rhythm codes of :mod:`ecgdl.episodes`.
RHYTHM_NAMES = {"AFIB": "Atrial fibrillation", "AFL": "Atrial flutter", "SVTA": "Supraventricular tachyarrhythmia",
                "VT": "Ventricular tachycardia", "VFL": "Ventricular flutter / fibrillation",
                "B": "Ventricular bigeminy", "T": "Ventricular trigeminy", "SBR": "Sinus bradycardia",
                "BII": "Second-degree heart block", "NOD": "Nodal (junctional) rhythm", "IVR": "Idioventricular rhythm",
                "PAUSE": "Pause", "BRADY": "Bradycardia", "TACHY": "Tachycardia"}
#: Rhythms the rhythm summary already lists as runs, patterns and pauses (not listed twice).
_LISTED = {"VT", "B", "T", "PAUSE", "VFL"}
#: Rate rhythms: reviewed after couplets (``Episode.kind == "rate"``), the others right after V runs.
_RATE = {"SBR", "BRADY", "TACHY", "NOD"}


def review_events(result, low_confidence: int = LOW_CONFIDENCE_BEATS) -> list[Episode]:
    """Every event of a scored record, most important first (:attr:`Episode.rank`), then longest, then earliest.

    Runs, couplets, patterns, pauses and unusable stretches from the rhythm summary; rhythm episodes
    (:func:`rhythm_episodes`: AF, VFL, block, brady/tachycardia ...); the stretches whose labels another reading of the adaptive step
    changes (:func:`uncertain_stretches`); and the ``low_confidence`` beats whose winning probability is lowest (at
    most one per 10 s).
    """
    out = (list(episodes(result.summary)) + rhythm_episodes(result) + uncertain_stretches(result)
           + low_confidence_beats(result, low_confidence))
    return sorted(out, key=lambda e: (e.rank, -(e.end_s - e.start_s), e.start_s))


def rhythm_episodes(result) -> list[Episode]:
    """The record's rhythm episodes as :class:`Episode` (those the rhythm summary does not already list):
    ``result.episodes`` (the scoring path's episodes step) or a ``summary["episodes"]`` list, else
    :func:`ecgdl.episodes.detect_episodes`
    on the scored beats (the model's labels, the conditioned primary lead); [] when that fails."""
    out = []
    for e in _episode_dicts(result):
        code = str(e.get("rhythm", "")).strip("()").upper()
        if code in _LISTED:
            continue
        detail = f"{float(e['end_s']) - float(e['start_s']):.0f} s"
        rate = e.get("mean_hr_bpm", e.get("rate_bpm"))
        if isinstance(rate, (int, float)) and math.isfinite(rate):
            detail += f" at {rate:.0f} bpm"
        out.append(Episode("rate" if code in _RATE else "rhythm", "", float(e["start_s"]), float(e["end_s"]), detail,
                           name=RHYTHM_NAMES.get(code, code.replace("_", " ").capitalize() or "Rhythm episode")))
    return out


#: Rhythm codes drawn as bands on the overview and the heart-rate trend (pauses are events, not bands).
BAND_COLOURS = {"AFIB": "#0072b2", "AFL": "#56b4e9", "VT": "#d55e00", "VFL": "#d55e00", "SVTA": "#cc79a7"}
_BAND_DEFAULT = "#999999"


def episode_bands(result, limit: int = 300) -> list[tuple[float, float, str, str]]:
    """``(start_s, end_s, rhythm code, colour)`` of the record's rhythm episodes (PAUSE left out: pauses are
    events), longest first when there are more than ``limit`` (a 24-h record stays light to draw)."""
    bands = []
    for e in _episode_dicts(result):
        code = str(e.get("rhythm", "")).strip("()").upper()
        if code and code != "PAUSE":
            bands.append((float(e["start_s"]), float(e["end_s"]), code, BAND_COLOURS.get(code, _BAND_DEFAULT)))
    if len(bands) > limit:
        bands = sorted(bands, key=lambda b: b[0] - b[1])[:limit]
    return sorted(bands)


def _episode_dicts(result) -> list[dict]:
    from dataclasses import asdict, is_dataclass

    given = getattr(result, "episodes", None)
    if isinstance(given, list):                       # the scoring path's own episodes step
        return [asdict(e) if is_dataclass(e) else e for e in given]
    given = result.summary.get("episodes")
    if isinstance(given, list):
        return [e for e in given if isinstance(e, dict) and "start_s" in e and "end_s" in e]

    try:
        from ecgdl.episodes import detect_episodes

        rec = result.record
        eps = detect_episodes(result.sample, result.label, rec.fs, proba=result.proba, classes=result.classes,
                              signal=np.asarray(result.conditioned)[:, 0],
                              pauses=result.summary.get("pauses", ()))
    except Exception:  # an optional list must never take the review down
        return []
    return [asdict(e) for e in eps]


def record_hrv(result) -> dict | None:
    """Heart-rate variability of the record's N-N intervals: ``summary["hrv"]`` when present, else
    :func:`ecgdl.hrv.hrv` on the scored beats; None when it cannot be computed."""
    if isinstance(result.summary.get("hrv"), dict):
        return result.summary["hrv"]
    try:
        from ecgdl.hrv import hrv

        return hrv(result.sample, result.label, result.record.fs)
    except Exception:
        return None


def uncertain(result) -> np.ndarray:
    """Per beat: whether the adaptive step's checked k-means draws disagree on its label (``agreement`` < 1,
    :mod:`ecgdl.adapt_check`); all False without the check."""
    agree = getattr(result, "agreement", None)
    n = len(np.asarray(result.sample))
    if agree is None or len(agree) != n:
        return np.zeros(n, bool)
    return np.asarray(agree, np.float64) < 1.0 - 1e-9


def uncertain_stretches(result, n: int = UNCERTAIN_STRETCHES, window_s: float = 10.0,
                        min_beats: int = UNCERTAIN_MIN_BEATS) -> list[Episode]:
    """The ``n`` ``window_s`` stretches holding the most beats of :func:`uncertain` (>= ``min_beats`` each, not
    overlapping), most first: where a reader should check the labels the adaptive step could not settle."""
    hit = np.flatnonzero(uncertain(result))
    if n <= 0 or hit.size < min_beats:
        return []
    t = np.asarray(result.sample, np.float64)[hit] / result.record.fs
    ends = np.searchsorted(t, t + window_s, side="right")     # uncertain beats in [t_i, t_i + window)
    out: list[Episode] = []
    used = np.zeros(t.size, bool)
    for i in np.argsort(-(ends - np.arange(t.size)), kind="stable"):
        j = int(ends[i])
        if j - i < min_beats or used[i:j].any():
            continue
        used[i:j] = True
        labels, counts = np.unique(np.asarray(result.label)[hit[i:j]].astype(str), return_counts=True)
        said = ", ".join(f"{c} {lab}" for lab, c in sorted(zip(labels, counts), key=lambda x: -x[1]))
        out.append(Episode("uncertain", str(labels[counts.argmax()]), float(t[i]), float(t[j - 1]),
                           f"{j - i} beats whose label another reading of the adaptive step changes ({said})"))
        if len(out) == n:
            break
    return out


def low_confidence_beats(result, n: int, spacing_s: float = 10.0) -> list[Episode]:
    """The ``n`` beats with the lowest winning probability, at least ``spacing_s`` apart."""
    proba = np.asarray(result.proba)
    if n <= 0 or proba.size == 0:
        return []
    conf = proba.max(axis=1)
    t = np.asarray(result.sample) / result.record.fs
    chosen: list[int] = []
    for i in np.argsort(conf, kind="stable"):
        if all(abs(t[i] - t[j]) >= spacing_s for j in chosen):
            chosen.append(int(i))
            if len(chosen) == n:
                break
    return [Episode("lowconf", str(result.label[i]), float(t[i]), float(t[i]),
                    f"{result.label[i]} at p = {conf[i]:.2f}") for i in chosen]


def event_window(ev: Episode, length_s: float, duration_s: float) -> tuple[float, float]:
    """The detail window for an event: centred on it when it fits, else starting just before it."""
    from ecgdl.view import clamp_window

    span = ev.end_s - ev.start_s
    if span <= 0.8 * length_s:
        return clamp_window((ev.start_s + ev.end_s) / 2 - length_s / 2, length_s, duration_s)
    return clamp_window(ev.start_s - 0.1 * length_s, length_s, duration_s)


@dataclass(frozen=True)
class Reliability:
    """How far one class count can be trusted: the model's validated sensitivity and positive predictivity
    (held-out test, from the sidecar; None when not validated), this record's mean confidence of the
    beats given the class (None without beats), and whether it needs a look (and why)."""

    cls: str
    se: float | None
    ppv: float | None
    mean_confidence: float | None
    needs_look: bool
    reason: str


def class_reliability(result, per_class_metrics: dict) -> dict[str, Reliability]:
    """:class:`Reliability` per class of a scored record; ``per_class_metrics`` as
    :func:`ecgdl.clinical_report.ds2_metrics` returns it (``{"V": {"se": .., "ppv": ..}}``)."""
    label, proba = np.asarray(result.label).astype(str), np.asarray(result.proba)
    out = {}
    for k, cls in enumerate(result.classes):
        m = per_class_metrics.get(cls) or {}
        se, ppv = _rate(m.get("se")), _rate(m.get("ppv"))
        sel = label == cls
        conf = float(proba[sel, k].mean()) if sel.any() and proba.size else None
        why = [f"{name} {percent(v, 0, '%')} in validation" for name, v in (("Se", se), ("+P", ppv))
               if v is not None and v < RELIABLE_MIN]
        if se is None and ppv is None:
            why.append("not validated")
        if conf is not None and conf < RELIABLE_MIN:
            why.append(f"mean confidence {conf:.2f}")
        out[cls] = Reliability(cls, se, ppv, conf, bool(why) and bool(sel.any()), "; ".join(why))
    return out


def _rate(v) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def trend_bin_s(duration_s: float) -> float:
    """Heart-rate trend bin for a record: the largest round bin giving at least 12 points (10 s to 5 min)."""
    for bin_s in (300.0, 120.0, 60.0, 30.0):
        if duration_s / bin_s >= 12:
            return bin_s
    return 10.0


def hr_trend(sample: np.ndarray, fs: float, duration_s: float, rhythm_config: dict | None = None) -> list[dict]:
    """Mean heart rate per :func:`trend_bin_s` bin, each bin clipped to the record (``end_s <= duration_s``).

    Returns ``[{"start_s", "end_s", "mean_bpm", "beats"}]`` from :func:`ecgdl.rhythm.heart_rate`.
    """
    from dataclasses import fields

    from ecgdl.rhythm import RhythmConfig, heart_rate

    known = {f.name for f in fields(RhythmConfig)}
    cfg = RhythmConfig(**{**{k: v for k, v in (rhythm_config or {}).items() if k in known},
                          "trend_s": trend_bin_s(duration_s)})
    trend = heart_rate(sample, fs, cfg)["trend"]
    return [{**b, "end_s": min(b["end_s"], float(duration_s))} for b in trend if b["start_s"] < duration_s]


def trend_range(bpm: list[float], min_span: float = 40.0) -> tuple[float, float]:
    """Heart-rate axis range: the data with a margin, at least ``min_span`` bpm wide (so +-2 bpm looks flat)."""
    if not bpm:
        return 40.0, 40.0 + min_span
    lo, hi = min(bpm) - 5.0, max(bpm) + 5.0
    if hi - lo < min_span:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    if lo < 0:
        lo, hi = 0.0, hi - lo
    return math.floor(lo / 5) * 5, math.ceil(hi / 5) * 5
