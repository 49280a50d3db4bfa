"""Rhythm summary of a classified beat sequence: counts, ectopic burden, heart rate, runs and pauses.

Plain numpy over ``(label, sample)`` sequences, so it is tested on hand-made label strings. Every
event carries its beat indices, its start/end sample (at the ``fs`` the samples are given at) and
its start/end time in seconds.

Definitions (Holter conventions, kept simple and explicit):

* **couplet**: exactly 2 consecutive ectopic beats of one class (V or S).
* **run**: 3 or more consecutive ectopic beats of one class (V: ventricular tachycardia run,
  S: supraventricular run).
* **bigeminy**: ``min_cycles`` or more consecutive cycles of one N beat followed by one isolated
  ectopic beat (N X N X N X); **trigeminy**: the same with two N beats (N N X N N X N N X).
* **pause**: an RR interval longer than ``pause_s`` where the signal is readable and flat of QRS
  activity: it touches no unusable or unreadable stretch, no VF/VFL stretch, and is not an
  ``undetected`` gap (the detector saw QRS-band activity there but found no beat, see
  :mod:`ecgdl.quality`). Those are listed apart (``undetected``, ``vf``), never as pauses.
* heart rate: instantaneous ``60 / RR`` over RR intervals within ``[min_rr_s, max_rr_s]``; min and
  max are taken over the rolling median of ``hr_beats`` RR intervals (a single ectopic beat and
  its compensatory pause do not set them); the trend is the mean rate per ``trend_s`` bin.

>>> s = summarise(list("NNVNNVNNVNN"), np.arange(11) * 360, 360.0)
>>> s["counts"]["V"], len(s["events"]["V"]["trigeminy"])
(3, 1)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ecgdl.labels import AAMI_CLASSES

#: Classes whose runs and patterns are reported.
ECTOPIC_CLASSES: tuple[str, ...] = ("V", "S")


@dataclass(frozen=True)
class RhythmConfig:
    """Thresholds of the rhythm summary (seconds, beats, cycles)."""

    pause_s: float = 2.0
    min_rr_s: float = 0.2        # RR below this (300 bpm) is not used for heart rate
    max_rr_s: float = 3.0        # RR above this (20 bpm) is not used for heart rate
    hr_beats: int = 8            # rolling median window (RR intervals) for min/max heart rate
    trend_s: float = 300.0       # heart-rate trend bin
    min_cycles: int = 3          # bigeminy/trigeminy: at least this many ectopic beats in pattern
    normal_class: str = "N"


def consecutive_runs(is_x: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True as ``(first, last)`` indices (inclusive).

    >>> consecutive_runs(np.array([0, 1, 1, 0, 1], bool))
    [(1, 2), (4, 4)]
    """
    is_x = np.asarray(is_x, bool)
    edges = np.flatnonzero(np.diff(np.r_[0, is_x.astype(np.int8), 0]))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def pattern_episodes(labels: np.ndarray, cls: str, n_normal: int, min_cycles: int = 3,
                     normal: str = "N") -> list[tuple[int, int]]:
    """Bigeminy (``n_normal=1``) or trigeminy (``n_normal=2``) episodes of ectopic class ``cls``.

    An episode is a chain of at least ``min_cycles`` isolated ``cls`` beats, each preceded by
    exactly ``n_normal`` ``normal`` beats. Returns ``(first, last)`` beat indices: from the first
    cycle's first normal beat to the last ectopic beat.

    >>> pattern_episodes(np.array(list("NVNVNVNN")), "V", 1)
    [(0, 5)]
    """
    labels = np.asarray(labels)
    x = np.flatnonzero(labels == cls)
    if x.size < min_cycles:
        return []
    # a cycle ends at ectopic beat x[i] when the n_normal beats before it are normal and the beat
    # after it is not of the same class; chains of cycles are ectopic beats n_normal + 1 apart
    n = len(labels)
    cs = np.r_[0, np.cumsum(labels == normal)]
    lo = x - n_normal
    before = np.where(lo >= 0, cs[x] - cs[np.maximum(lo, 0)], -1) == n_normal      # n_normal normal beats before
    after = np.r_[labels[x[x + 1 < n] + 1] != cls, np.ones(int((x + 1 >= n).sum()), bool)]  # not followed by cls
    ok = before & after
    link = ok[:-1] & ok[1:] & (np.diff(x) == n_normal + 1)        # cycle i and i + 1 chained
    out = [(int(x[a] - n_normal), int(x[b + 1])) for a, b in consecutive_runs(link) if b - a + 2 >= min_cycles]
    if min_cycles <= 1:                                              # single cycles count too
        chained = np.r_[link, False] | np.r_[False, link]
        out += [(int(x[i] - n_normal), int(x[i])) for i in np.flatnonzero(ok & ~chained)]
    return sorted(out)


def _event(first: int, last: int, sample: np.ndarray, fs: float, **extra) -> dict:
    a, b = int(sample[first]), int(sample[last])
    return {"first_beat": first, "last_beat": last, "start_sample": a, "end_sample": b,
            "start_s": round(a / fs, 3), "end_s": round(b / fs, 3), **extra}


def ectopic_events(labels: np.ndarray, sample: np.ndarray, fs: float, cls: str,
                   cfg: RhythmConfig = RhythmConfig()) -> dict[str, list[dict]]:
    """Couplets, runs (>= 3), bigeminy and trigeminy episodes of class ``cls``."""
    labels = np.asarray(labels)
    runs = consecutive_runs(labels == cls)
    out: dict[str, list[dict]] = {
        "couplets": [_event(a, b, sample, fs) for a, b in runs if b - a + 1 == 2],
        "runs": [_event(a, b, sample, fs, beats=b - a + 1, rate_bpm=_rate(sample[a:b + 1], fs))
                 for a, b in runs if b - a + 1 >= 3],
        "bigeminy": [], "trigeminy": [],
    }
    for name, n_normal in (("bigeminy", 1), ("trigeminy", 2)):
        for a, b in pattern_episodes(labels, cls, n_normal, cfg.min_cycles, cfg.normal_class):
            out[name].append(_event(a, b, sample, fs, cycles=(b - a + 1) // (n_normal + 1)))
    return out


def _rate(samples: np.ndarray, fs: float) -> float:
    """Mean rate (bpm) over a sequence of beats."""
    if len(samples) < 2:
        return float("nan")
    return round(float(60.0 * (len(samples) - 1) * fs / (samples[-1] - samples[0])), 1)


def pauses(sample: np.ndarray, fs: float, pause_s: float = 2.0,
           unusable: tuple[tuple[int, int], ...] = ()) -> list[dict]:
    """RR intervals longer than ``pause_s`` that do not overlap an excluded ``[start, stop)`` stretch.

    unusable: every stretch where no pause may be claimed (unusable, unreadable, VF/VFL, undetected).
    """
    sample = np.asarray(sample, dtype=np.int64)
    rr = np.diff(sample) / fs
    out = []
    for i in np.flatnonzero(rr > pause_s):
        a, b = int(sample[i]), int(sample[i + 1])
        if any(a < stop and start < b for start, stop in unusable):
            continue
        out.append(_event(int(i), int(i) + 1, sample, fs, duration_s=round(float(rr[i]), 3)))
    return out


def heart_rate(sample: np.ndarray, fs: float, cfg: RhythmConfig = RhythmConfig()) -> dict:
    """Mean, min, max heart rate (bpm) and a per-``trend_s`` trend.

    Returns ``{"mean_bpm", "min_bpm", "max_bpm", "min_at_s", "max_at_s", "trend": [{"start_s",
    "end_s", "mean_bpm", "beats"}]}``; rates are None when fewer than 2 usable RR intervals exist.
    """
    sample = np.asarray(sample, dtype=np.float64)
    out = {"mean_bpm": None, "min_bpm": None, "max_bpm": None, "min_at_s": None, "max_at_s": None, "trend": []}
    if sample.size < 3:
        return out
    rr = np.diff(sample) / fs
    t_end = sample[1:] / fs
    ok = (rr >= cfg.min_rr_s) & (rr <= cfg.max_rr_s)
    if ok.sum() < 2:
        return out
    out["mean_bpm"] = round(float(60.0 / rr[ok].mean()), 1)
    w = min(cfg.hr_beats, int(ok.sum()))
    rolling = np.median(np.lib.stride_tricks.sliding_window_view(rr[ok], w), axis=1)
    t_roll = t_end[ok][w - 1:]
    out["min_bpm"], out["min_at_s"] = round(float(60.0 / rolling.max()), 1), round(float(t_roll[rolling.argmax()]), 3)
    out["max_bpm"], out["max_at_s"] = round(float(60.0 / rolling.min()), 1), round(float(t_roll[rolling.argmin()]), 3)
    bins = np.floor(t_end / cfg.trend_s).astype(np.int64)
    for b in np.unique(bins[ok]):
        sel = ok & (bins == b)
        out["trend"].append({"start_s": float(b * cfg.trend_s), "end_s": float((b + 1) * cfg.trend_s),
                             "mean_bpm": round(float(60.0 / rr[sel].mean()), 1), "beats": int(sel.sum())})
    return out


def _spans(ranges, fs: float) -> list[dict]:
    """``[start, stop)`` sample ranges as ``{"start_sample", "end_sample", "start_s", "end_s"}`` dicts."""
    return [{"start_sample": int(a), "end_sample": int(b), "start_s": round(a / fs, 3),
             "end_s": round(b / fs, 3)} for a, b in ranges]


def summarise(labels, sample, fs: float, *, classes: tuple[str, ...] = AAMI_CLASSES, duration_s: float | None = None,
              unusable: tuple[tuple[int, int], ...] = (), undetected: tuple[tuple[int, int], ...] = (),
              vf: tuple[tuple[int, int], ...] = (), unreadable: tuple[tuple[int, int], ...] = (),
              cfg: RhythmConfig = RhythmConfig()) -> dict:
    """The JSON-able rhythm summary of one record.

    labels: ``(n,)`` class letters; sample: ``(n,)`` sorted R-peak samples at ``fs`` Hz. Ranges,
    all ``[start, stop)`` samples at ``fs``: unusable (flat, NaN: no beat could be detected),
    undetected (RR gaps with QRS activity but no beat found), vf (VF/VFL stretches), unreadable
    (low signal quality). None of them holds a pause; each is listed under its own key.
    """
    labels = np.asarray(labels).astype(str)
    sample = np.asarray(sample, dtype=np.int64)
    n = len(labels)
    counts = {c: int((labels == c).sum()) for c in classes}
    pct = {c: round(100.0 * k / n, 3) if n else 0.0 for c, k in counts.items()}
    ectopic = sum(counts.get(c, 0) for c in ("S", "V", "F"))
    return {
        "beats": n,
        "duration_s": None if duration_s is None else round(float(duration_s), 3),
        "sample_fs": float(fs),
        "counts": counts,
        "percent": pct,
        "ectopic_burden_pct": {"V": pct.get("V", 0.0), "S": pct.get("S", 0.0),
                               "total": round(100.0 * ectopic / n, 3) if n else 0.0},
        "heart_rate": heart_rate(sample, fs, cfg),
        "events": {c: ectopic_events(labels, sample, fs, c, cfg) for c in ECTOPIC_CLASSES if c in classes},
        "pauses": pauses(sample, fs, cfg.pause_s, (*unusable, *undetected, *vf, *unreadable)),
        "unusable": _spans(unusable, fs),
        "undetected": _spans(undetected, fs),
        "vf": _spans(vf, fs),
        "unreadable": _spans(unreadable, fs),
        "rhythm_config": asdict(cfg),
    }


def event_counts(summary: dict) -> dict[str, int]:
    """Flat counts of the summary's events, e.g. ``{"V_couplets": 2, ..., "pauses": 1}`` (for run tables)."""
    out = {}
    for cls, kinds in summary["events"].items():
        for kind, events in kinds.items():
            out[f"{cls}_{kind}"] = len(events)
    out["pauses"] = len(summary["pauses"])
    for key in ("undetected", "vf"):
        out[key] = len(summary.get(key, []))
    return out


def noise_gated_note(summary: dict) -> str | None:
    """Why some beats are Q: the noise gate's count (:mod:`ecgdl.noise_gate`), said where the class counts are
    shown (printed summary, viewer, HTML and PDF reports); None when it made none.

    >>> noise_gated_note({"adapt": {"noise_gated": 3}})
    'Of the Q beats, 3 looked ventricular but came at sinus timing amid noise: unclassifiable, not PVCs'
    """
    gated = (summary.get("adapt") or {}).get("noise_gated")
    return (f"Of the Q beats, {gated} looked ventricular but came at sinus timing amid noise: unclassifiable, "
            "not PVCs") if gated else None


def describe(summary: dict) -> str:
    """A short plain-text report of a summary (what ``ecgdl demo`` prints); times in seconds from the
    start and as clock time (``hh:mm:ss`` from the header's base time, ``ecgdl.clock``)."""
    from ecgdl.clock import format_time

    def at(t_s: float) -> str:
        return f"{t_s:.1f} s, {format_time(t_s, summary.get('start_clock_s'))}"

    hr = summary["heart_rate"]
    n = summary["beats"]
    lines = []
    if "record" in summary:
        lines.append(f"Record {summary['record']} ({', '.join(summary.get('leads', []))}), "
                     f"{(summary.get('duration_s') or 0) / 60:.1f} min, {n} beats "
                     f"({summary.get('beat_source', 'detected')}); model {summary.get('model', {}).get('name', '?')} "
                     f"on {summary.get('model', {}).get('provider', '?')}")
    lines.append("Beats per class: " + ", ".join(f"{c} {k} ({summary['percent'][c]:.1f}%)"
                                                  for c, k in summary["counts"].items()))
    note = noise_gated_note(summary)
    if note:
        lines.append("  " + note)
    b = summary["ectopic_burden_pct"]
    lines.append(f"Ectopic burden: V {b['V']:.2f}%, S {b['S']:.2f}%, all ectopic {b['total']:.2f}%")
    if hr["mean_bpm"] is not None:
        lines.append(f"Heart rate: mean {hr['mean_bpm']} bpm, min {hr['min_bpm']} bpm (at {at(hr['min_at_s'])}), "
                     f"max {hr['max_bpm']} bpm (at {at(hr['max_at_s'])})")
        lines.append("Trend (bpm per {:.0f} min): ".format(summary["rhythm_config"]["trend_s"] / 60)
                     + " ".join(f"{t['mean_bpm']:.0f}" for t in hr["trend"]))
    for cls, kinds in summary["events"].items():
        parts = [f"{len(v)} {k}" for k, v in kinds.items()]
        lines.append(f"{cls} events: " + ", ".join(parts))
        for run in kinds["runs"][:5]:
            lines.append(f"  {cls} run of {run['beats']} beats at {run['start_s']:.1f}-{run['end_s']:.1f} s "
                         f"({format_time(run['start_s'], summary.get('start_clock_s'))}, {run['rate_bpm']} bpm)")
    lines.append(f"Pauses > {summary['rhythm_config']['pause_s']:g} s: {len(summary['pauses'])}"
                 + "".join(f"\n  {p['duration_s']:.2f} s at {at(p['start_s'])}" for p in summary["pauses"][:5]))
    if summary.get("unusable"):
        lines.append(f"Unusable signal: {len(summary['unusable'])} stretch(es)")
    for key, what in (("vf", "Ventricular flutter/fibrillation (VF/VFL)"),
                      ("undetected", "Signal without detectable beats (not pauses)"),
                      ("unreadable", "Unreadable (low-quality) signal")):
        spans = summary.get(key) or []
        if spans:
            lines.append(f"{what}: {len(spans)} stretch(es), {sum(u['end_s'] - u['start_s'] for u in spans):.1f} s"
                         + "".join(f"\n  {u['start_s']:.1f}-{u['end_s']:.1f} s ({at(u['start_s'])[-8:]})"
                                   for u in spans[:5]))
    lines += _describe_episodes(summary)
    return "\n".join(lines)


def _describe_episodes(summary: dict) -> list[str]:
    """Report lines of the summary's ``episodes`` and ``hrv`` parts (``ecgdl.episodes.score_episodes``)."""
    from ecgdl.clock import format_time

    ep, hrv = summary.get("episodes"), summary.get("hrv")
    lines = []
    if ep:
        found = {r: k for r, k in ep["counts"].items() if k}
        lines.append(f"AF burden: {ep['af_burden_pct'] or 0:.1f}% of the time; episodes: "
                     + (", ".join(f"{r} {k}" for r, k in found.items()) or "none"))
        for r, e in ep["longest"].items():
            hr = f", {e['mean_hr_bpm']} bpm" if e.get("mean_hr_bpm") is not None else ""
            clock = format_time(e["start_s"], summary.get("start_clock_s"))
            lines.append(f"  longest {r}: {e['duration_s']:.1f} s at {e['start_s']:.1f} s ({clock}){hr}")
    if hrv and hrv.get("sdnn_ms") is not None:
        f = lambda v, fmt: "-" if v is None else format(v, fmt)  # noqa: E731
        lines.append(f"HRV (N-N, {hrv['nn_count']} intervals): SDNN {f(hrv['sdnn_ms'], '.1f')} ms, RMSSD "
                     f"{f(hrv['rmssd_ms'], '.1f')} ms, pNN50 {f(hrv['pnn50_pct'], '.1f')}%, SDANN "
                     f"{f(hrv['sdann_ms'], '.1f')} ms, HTI {f(hrv['hti'], '.1f')}, LF/HF {f(hrv['lf_hf'], '.2f')}")
    return lines
