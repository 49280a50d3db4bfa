"""What the viewer shows, computed server-side: decimated traces, the detail window, beat markers,
notable episodes and the navigation between them, and the class colours.

Plain numpy, no plotting library: the app (``app/``) turns these arrays into figures, the printable
report (:mod:`ecgdl.clinical_report`) into SVG. The browser never receives the raw record: each
trace is min-max decimated to at most :data:`TRACE_POINTS` points, which keeps every QRS peak
visible (a plain stride would drop them), and the whole page stays under :data:`PAGE_POINTS`.

>>> idx, y = minmax_decimate(np.sin(np.arange(100_000) / 50.0), 0, 100_000, 1000)
>>> len(idx) <= 1000
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ecgdl.clock import format_time
from ecgdl.labels import AAMI_CLASSES, AAMI_NAMES
from ecgdl.metrics import percent

#: Most points one trace may send to the browser.
TRACE_POINTS = 8_000
#: Most points the whole page may hold (overview + detail + overlay + markers + trend).
PAGE_POINTS = 50_000
#: Class colours: Okabe-Ito hues, chosen so every pair (and the reference ring) stays apart under simulated
#: protan, deutan and tritan vision (``tests/test_view.py`` checks it); N is a quiet grey so ectopy stands out.
CLASS_COLOURS: dict[str, str] = {
    "N": "#a0a0a0", "S": "#332288", "V": "#d55e00", "F": "#882255", "Q": "#56b4e9",
}
#: The ring round a beat that differs from the reference: black, open, unlike any class colour.
RING_COLOUR = "#000000"
#: Window lengths offered for the detail strip (seconds); 10 s is the default (a standard rhythm strip).
WINDOW_CHOICES_S: tuple[float, ...] = (5.0, 10.0, 20.0, 30.0, 60.0)
DEFAULT_WINDOW_S = 10.0


def class_colour(cls: str) -> str:
    """Hex colour of an AAMI class (unknown classes grey)."""
    return CLASS_COLOURS.get(cls, "#7f7f7f")


def class_label(cls: str) -> str:
    """``"V – ventricular ectopic"``: the letter and its AAMI name."""
    name = AAMI_NAMES.get(cls)
    return f"{cls} – {name}" if name else cls


def short_label(cls: str) -> str:
    """``"V ventricular"``: the letter and the first word of its AAMI name (for narrow tiles)."""
    name = AAMI_NAMES.get(cls, "")
    return f"{cls} {name.split()[0]}" if name else cls


def minmax_decimate(y: np.ndarray, start: int, stop: int,
                    max_points: int = TRACE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Min-max decimation of ``y[start:stop]`` to at most ``max_points`` points.

    The range is cut into ``max_points // 2`` equal buckets; each keeps its minimum and maximum, in
    time order, so the envelope (every R peak and S trough) survives.

    Args:
        y: ``(n,)`` samples (mV). start, stop: sample range, clipped to ``[0, n]``.
        max_points: output size cap (>= 2).

    Returns:
        ``(idx, values)``: ``(m,)`` int64 sample indices into ``y`` (sorted) and ``y[idx]``, ``m <= max_points``.
    """
    y = np.asarray(y)
    start, stop = max(0, int(start)), min(len(y), int(stop))
    if stop <= start:
        return np.zeros(0, np.int64), y[:0]
    n = stop - start
    if n <= max_points:
        idx = np.arange(start, stop, dtype=np.int64)
        return idx, y[idx]
    n_buckets = max(1, max_points // 2)
    bucket = math.ceil(n / n_buckets)
    n_full = n // bucket
    seg = y[start:start + n_full * bucket].reshape(n_full, bucket)
    lo = seg.argmin(axis=1) + np.arange(n_full) * bucket
    hi = seg.argmax(axis=1) + np.arange(n_full) * bucket
    parts = [np.minimum(lo, hi), np.maximum(lo, hi)]
    idx = np.stack(parts, axis=1).ravel()
    if n_full * bucket < n:                     # the ragged tail bucket
        tail = y[start + n_full * bucket:stop]
        t_lo, t_hi = int(tail.argmin()), int(tail.argmax())
        idx = np.r_[idx, np.array(sorted({t_lo, t_hi})) + n_full * bucket]
    idx = np.unique(idx) + start
    return idx.astype(np.int64), y[idx]


def clamp_window(start_s: float, length_s: float, duration_s: float) -> tuple[float, float]:
    """``(start_s, stop_s)`` of a detail window of ``length_s`` kept inside ``[0, duration_s]``."""
    length_s = min(float(length_s), float(duration_s))
    start_s = min(max(0.0, float(start_s)), max(0.0, duration_s - length_s))
    return start_s, start_s + length_s


def window_around(t_s: float, length_s: float, duration_s: float, lead_in: float = 0.3) -> tuple[float, float]:
    """A detail window that shows time ``t_s`` ``lead_in`` of the way in (context before the event)."""
    return clamp_window(t_s - lead_in * length_s, length_s, duration_s)


def in_window(sample: np.ndarray, fs: float, start_s: float, stop_s: float) -> np.ndarray:
    """Indices of the beats whose R peak (``sample``, at ``fs``) lies in ``[start_s, stop_s)``."""
    sample = np.asarray(sample)
    a, b = np.searchsorted(sample, [start_s * fs, stop_s * fs])
    return np.arange(a, b)


def step_to(times_s: np.ndarray, current_s: float, direction: int, tol_s: float = 0.05) -> float | None:
    """The first of the sorted ``times_s`` strictly after (``direction=+1``) or before (``-1``)
    ``current_s`` (beyond ``tol_s``); None when there is none.

    >>> step_to(np.array([1.0, 5.0, 9.0]), 5.0, +1), step_to(np.array([1.0, 5.0, 9.0]), 5.0, -1)
    (9.0, 1.0)
    """
    t = np.asarray(times_s, dtype=np.float64)
    if direction > 0:
        i = np.searchsorted(t, current_s + tol_s, side="right")
        return float(t[i]) if i < t.size else None
    i = np.searchsorted(t, current_s - tol_s, side="left") - 1
    return float(t[i]) if i >= 0 else None


def class_times(sample: np.ndarray, label: np.ndarray, fs: float, cls: str) -> np.ndarray:
    """Sorted times (s) of the beats of class ``cls``."""
    return np.asarray(sample)[np.asarray(label) == cls] / fs


@dataclass(frozen=True)
class Episode:
    """A notable stretch of the record, for the summary list, navigation and the report.

    kind: "run", "couplet", "bigeminy", "trigeminy", "pause", "unusable", "vf", "undetected", "unreadable",
    "rhythm" / "rate" (a rhythm episode such as atrial fibrillation, or a rate one such as sinus
    bradycardia; ``name`` says which), "uncertain" (beats whose label another k-means draw of the adaptive step
    changes, :func:`ecgdl.review.uncertain_stretches`), "lowconf" (a beat the model was least sure of) or "beat";
    cls: "V"/"S" ("" for pauses); name: the title when set (rhythm episodes).
    """

    kind: str
    cls: str
    start_s: float
    end_s: float
    detail: str
    name: str = ""

    @property
    def title(self) -> str:
        names = {"V": "ventricular", "S": "supraventricular"}
        if self.name:
            return self.name
        fixed = {"pause": "Pause", "unusable": "Unusable signal", "lowconf": "Low-confidence beat",
                 "uncertain": "Uncertain labels",
                 "vf": "Ventricular flutter / fibrillation", "undetected": "Undetected stretch",
                 "unreadable": "Unreadable signal"}
        if self.kind in fixed:
            return fixed[self.kind]
        if self.kind == "beat":
            return f"{AAMI_NAMES.get(self.cls, self.cls)} beat".capitalize()
        return f"{names.get(self.cls, self.cls)} {self.kind}".capitalize()

    @property
    def rank(self) -> int:
        """Clinical priority (lower first): V runs, rhythm episodes (AF, VFL, block ...), S runs, pauses,
        unusable signal, V then S couplets, rate episodes (brady/tachycardia ...), bigeminy/trigeminy, uncertain
        labels, low-confidence beats."""
        if self.kind == "run":
            return 0 if self.cls == "V" else 2
        if self.kind == "couplet":
            return 5 if self.cls == "V" else 6
        order = {"vf": 0, "rhythm": 1, "pause": 3, "unusable": 4, "undetected": 4, "unreadable": 4, "rate": 7,
                 "bigeminy": 8, "trigeminy": 8, "uncertain": 8, "lowconf": 9}
        return order.get(self.kind, 10)


_KIND_KEYS = {"runs": "run", "couplets": "couplet", "bigeminy": "bigeminy", "trigeminy": "trigeminy"}


def episodes(summary: dict) -> list[Episode]:
    """Every event of an :func:`ecgdl.rhythm.summarise` summary as an :class:`Episode`, by start time."""
    out: list[Episode] = []
    for cls, kinds in summary.get("events", {}).items():
        for key, kind in _KIND_KEYS.items():
            for ev in kinds.get(key, []):
                out.append(Episode(kind, cls, ev["start_s"], ev["end_s"], _event_detail(kind, ev)))
    for ev in summary.get("pauses", []):
        out.append(Episode("pause", "", ev["start_s"], ev["end_s"], f"{ev['duration_s']:.1f} s without a beat"))
    for key, what in (("unusable", "flat or missing"), ("vf", "no beats can be counted"),
                      ("undetected", "QRS activity but no beat detected"), ("unreadable", "signal quality too low")):
        for ev in summary.get(key) or []:
            out.append(Episode(key, "", ev["start_s"], ev["end_s"], f"{ev['end_s'] - ev['start_s']:.1f} s {what}"))
    return sorted(out, key=lambda e: (e.start_s, e.rank))


def _event_detail(kind: str, ev: dict) -> str:
    if kind == "run":
        rate = ev.get("rate_bpm")
        rate_txt = f" at {rate:.0f} bpm" if isinstance(rate, (int, float)) and math.isfinite(rate) else ""
        return f"{ev.get('beats', '?')} beats{rate_txt}"
    if kind in ("bigeminy", "trigeminy"):
        return f"{ev.get('cycles', '?')} cycles, {ev['end_s'] - ev['start_s']:.1f} s"
    return "2 beats"


def notable(eps: list[Episode], limit: int = 12) -> list[Episode]:
    """The ``limit`` most important episodes (runs first, then pauses, couplets, patterns), by time."""
    chosen = sorted(eps, key=lambda e: (e.rank, e.start_s))[:limit]
    return sorted(chosen, key=lambda e: e.start_s)


def show_letter(cls: str, window_s: float) -> bool:
    """Whether a beat's class letter is written on the strip: always for ectopic classes, for N only at
    windows up to 20 s (wider windows would pile the letters into unreadable "NNNN" runs)."""
    return cls != "N" or window_s <= 20.0


def hover_text(label: np.ndarray, proba: np.ndarray, classes: tuple[str, ...], t_s: np.ndarray,
               reference: np.ndarray | None = None, start_clock_s: float | None = None,
               agreement: np.ndarray | None = None) -> list[str]:
    """One hover line per beat: class name, its probability, time, the reference label if known, and a note where
    the adaptive step's k-means draws disagree on the label (``agreement`` < 1, :mod:`ecgdl.adapt_check`)."""
    label = np.asarray(label)
    proba = np.asarray(proba)
    col = {c: i for i, c in enumerate(classes)}
    out = []
    for k, (lab, t) in enumerate(zip(label, t_s)):
        p = float(proba[k, col[lab]]) if lab in col and proba.size else float("nan")
        line = f"{class_label(lab)}<br>p = {p:.2f}<br>{format_time(t, start_clock_s)}"
        if reference is not None and reference[k] != lab:
            line += f"<br><b>reference: {class_label(reference[k])}</b>"
        if agreement is not None and agreement[k] < 1.0:
            line += f"<br><b>uncertain: {agreement[k]:.0%} of the adaptive step's readings give this label</b>"
        out.append(line)
    return out


def class_order(classes: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Classes in display order (the model's own order when given, else AAMI order)."""
    return tuple(classes) if classes else AAMI_CLASSES


@dataclass(frozen=True)
class Trace:
    """A decimated trace: ``t`` seconds and ``y`` mV, each ``(m,)``, ``m <= TRACE_POINTS``."""

    t: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Markers:
    """Beat markers of one class in a window: time (s), height (mV), hover text, beat indices."""

    cls: str
    t: np.ndarray
    y: np.ndarray
    text: list[str]
    beat: np.ndarray
    tag: tuple[str, ...] = ()      # a short visible label per marker (the reference ring's "ref N")


def trace(y: np.ndarray, fs: float, start_s: float, stop_s: float, max_points: int = TRACE_POINTS) -> Trace:
    """The decimated ``y`` (one lead, ``(n,)`` mV at ``fs``) between ``start_s`` and ``stop_s``."""
    idx, val = minmax_decimate(y, int(start_s * fs), int(math.ceil(stop_s * fs)), max_points)
    return Trace(idx / fs, np.asarray(val, dtype=np.float32))


def denoised_trace(denoiser, conditioned: np.ndarray, fs: float, lead: int, start_s: float, stop_s: float,
                   margin_s: float = 1.0) -> Trace:
    """The denoised ``lead`` between ``start_s`` and ``stop_s``, decimated.

    Only the window (plus ``margin_s`` of context each side) is denoised, so the overlay costs the
    same for a 30-minute record as for a 24-hour one. denoiser: an object with
    ``denoise(x (m, C) conditioned mV, fs) -> (m, C)`` (:class:`ecgdl.denoise.Denoiser`).
    """
    n = len(conditioned)
    a = max(0, int((start_s - margin_s) * fs))
    b = min(n, int(math.ceil((stop_s + margin_s) * fs)))
    den = np.asarray(denoiser.denoise(conditioned[a:b], fs))
    part = trace(den[:, lead] if den.ndim == 2 else den, fs, start_s - a / fs, stop_s - a / fs)
    return Trace(part.t + a / fs, part.y)


def markers(y: np.ndarray, fs: float, sample: np.ndarray, label: np.ndarray, proba: np.ndarray,
            classes: tuple[str, ...], start_s: float, stop_s: float,
            reference: np.ndarray | None = None, start_clock_s: float | None = None,
            agreement: np.ndarray | None = None) -> list[Markers]:
    """Per-class beat markers for the beats in ``[start_s, stop_s)``, placed just above each R peak.

    y: ``(n,)`` the displayed lead (mV); sample/label/proba: per beat (``proba`` ``(n_beats, K)``);
    reference: ``(n_beats,)`` reference class per detected beat ("" when unmatched) or None;
    agreement: ``(n_beats,)`` the adaptive step's draw agreement (``RecordResult.agreement``) or None.
    """
    sel = in_window(sample, fs, start_s, stop_s)
    if sel.size == 0:
        return []
    s = np.asarray(sample)[sel]
    lab = np.asarray(label)[sel]
    height = marker_height(y, s, fs)
    ref = None if reference is None else np.asarray(reference)[sel]
    agree = None if agreement is None else np.asarray(agreement)[sel]
    text = hover_text(lab, np.asarray(proba)[sel], classes, s / fs, ref, start_clock_s, agree)
    out = []
    for cls in class_order(classes):
        m = lab == cls
        if m.any():
            out.append(Markers(cls, s[m] / fs, height[m].astype(np.float32), [t for t, k in zip(text, m) if k], sel[m]))
    return out


def marker_height(y: np.ndarray, s: np.ndarray, fs: float, radius_s: float = 0.06) -> np.ndarray:
    """Height (mV) for a beat's marker: just above the highest point within ``radius_s`` of each R peak."""
    y = np.asarray(y)
    r = int(radius_s * fs)
    lo, hi = np.maximum(np.asarray(s) - r, 0), np.minimum(np.asarray(s) + r + 1, len(y))
    top = np.array([y[a:b].max() if b > a else 0.0 for a, b in zip(lo, hi)], dtype=np.float32)
    return np.maximum(top, 0.0) + 0.25


def page_points(*parts) -> int:
    """Points a page sends: the sum over traces, markers and plain arrays."""
    total = 0
    for p in parts:
        if isinstance(p, (Trace, Markers)):
            total += len(p.t)
        elif isinstance(p, (list, tuple)):
            total += page_points(*p)
        elif p is not None:
            total += len(p)
    return total


# ----------------------------------------------------------------------------- reference annotations


def reference_labels(result) -> np.ndarray | None:
    """Per detected beat of a scored record, its reference class ("" = matches no reference beat), or None
    without annotations (``RecordResult.ref_label``: the scoring path's own 150 ms matching)."""
    ref = getattr(result, "ref_label", None)
    return None if ref is None else np.asarray(ref).astype(str)


def disagreements(result) -> np.ndarray:
    """Indices of detected beats whose class differs from the reference, or that match no reference beat."""
    ref = reference_labels(result)
    if ref is None:
        return np.zeros(0, np.int64)
    return np.flatnonzero(ref != np.asarray(result.label).astype(str))


def missed_reference(result) -> np.ndarray:
    """Samples (at ``record.fs``) of reference beats no detected beat matched (empty without a reference)."""
    ref = getattr(result, "reference", None) or {}
    return np.asarray(ref.get("missed_samples", []), dtype=np.int64)


def disagreement_markers(result, y: np.ndarray, start_s: float, stop_s: float) -> Markers | None:
    """Rings at the beats inside the window that differ from the reference, and at reference beats the
    detector missed; None without a reference."""
    ref = reference_labels(result)
    if ref is None:
        return None
    fs = result.record.fs
    sel = in_window(result.sample, fs, start_s, stop_s)
    sel = sel[ref[sel] != np.asarray(result.label)[sel].astype(str)]
    missed = missed_reference(result)
    missed = missed[(missed >= start_s * fs) & (missed < stop_s * fs)]
    s = np.r_[np.asarray(result.sample)[sel], missed].astype(np.int64)
    text = [f"model: {class_label(str(result.label[i]))}<br>reference: "
            f"{class_label(ref[i]) if ref[i] else 'no beat here'}" for i in sel]
    text += ["reference beat not detected"] * len(missed)
    tag = [f"ref {ref[i]}" if ref[i] else "ref: none" for i in sel] + ["ref: missed"] * len(missed)
    order = np.argsort(s, kind="stable")
    return Markers("", s[order] / fs, (marker_height(y, s, fs) - 0.05)[order], [text[i] for i in order],
                   np.r_[sel, np.full(len(missed), -1)][order], tuple(tag[i] for i in order))


def metric_rows(per_class: dict) -> list[dict]:
    """Rows ``{class, Se %, +P %, reference beats}`` from ``{class: ecgdl.metrics.class_metrics dict}``
    (or a report holding it under ``per_class``)."""
    if "per_class" in per_class:
        per_class = per_class["per_class"]
    return [{"class": class_label(cls), "Se %": percent(m.get("se")), "+P %": percent(m.get("ppv")),
             "reference beats": m.get("support", "")} for cls, m in per_class.items() if isinstance(m, dict)]


def agreement_rows(reference: dict) -> list[dict]:
    """Agreement table rows from ``RecordResult.reference``."""
    return metric_rows(reference or {})

