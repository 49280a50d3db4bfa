"""A printable, self-contained HTML report of one scored record.

Summary (beats per class, burden, heart rate, runs and pauses), the model and its intended use
(read from the model's sidecar, never written here), agreement with reference annotations when
present, and a 10-second strip on ECG paper (25 mm/s, 10 mm/mV) for each notable episode. The
strips are inline SVG drawn from min-max decimated data, so the file needs nothing else to open
or print, and holds no more of the signal than the strips show.

>>> html = render_report(result, clf.meta)              # doctest: +SKIP
>>> Path("report.html").write_text(html)                # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import math
from html import escape

import numpy as np

from ecgdl.labels import AAMI_NAMES
from ecgdl.clock import format_duration
from ecgdl.review import uncertain, uncertain_stretches
from ecgdl.rhythm import noise_gated_note
from ecgdl.view import (Episode, class_colour, episodes, format_time, in_window, metric_rows, minmax_decimate,
                        notable, window_around)

MM_PER_S = 25.0
MM_PER_MV = 10.0
STRIP_S = 10.0
#: What a "?" after a strip's beat letter means (both printable reports).
UNCERTAIN_NOTE = ("A beat lettered with \"?\" (e.g. S?) is one whose label another reading of the patient-adaptive "
                  "step changes (another k-means clustering of this record's beats, or a rule's record-level guard "
                  "read the other way where the beats do not settle it): check it on the ECG.")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1050px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:26px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:6px 0} td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left} .muted{color:#666;font-size:12px}
.use{background:#fff8e1;border:1px solid #f0d58a;padding:8px 12px;font-size:13px}
.row{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start}
.strip{page-break-inside:avoid;margin:10px 0 18px} svg{width:100%;height:auto;display:block}
@media print{body{margin:8mm} h2{page-break-after:avoid}}
"""


def svg_strip(y: np.ndarray, fs: float, start_s: float, stop_s: float, *, sample: np.ndarray | None = None,
              label: np.ndarray | None = None, highlight: tuple[float, float] | None = None,
              px_per_mm: float = 3.6, start_clock_s: float | None = None,
              uncertain: np.ndarray | None = None) -> str:
    """An ECG strip on standard paper as inline SVG.

    Args:
        y: ``(n,)`` one lead in mV at ``fs`` Hz. start_s, stop_s: the strip's time span (s).
        sample, label: optional beats (R-peak index at ``fs``, class letter) lettered above their peak.
        uncertain: optional per-beat flags (:func:`ecgdl.review.uncertain`): those beats lettered with a "?".
        highlight: optional ``(start_s, end_s)`` shaded behind the trace (the episode).
        px_per_mm: output size hint; the SVG scales to the page width.
        start_clock_s: the recording's start as seconds after midnight (header base time), for the
            strip's clock-time caption; ``None``: counted from 00:00:00.

    Returns:
        ``<svg>...</svg>``; the viewBox is in millimetres (25 mm/s, 10 mm/mV, 1 mm and 5 mm grid).
    """
    a, b = int(start_s * fs), int(math.ceil(stop_s * fs))
    width = (stop_s - start_s) * MM_PER_S
    idx, val = minmax_decimate(y, a, b, max_points=int(2 * width * px_per_mm))
    lo, hi = _amplitude_range(val)
    height = (hi - lo) * MM_PER_MV

    def px(t_s):
        return (np.asarray(t_s) - start_s) * MM_PER_S

    def py(v_mv):
        return (hi - np.asarray(v_mv)) * MM_PER_MV

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 -6 {width:.1f} {height + 6:.1f}" '
             f'width="{width * px_per_mm:.0f}" height="{(height + 6) * px_per_mm:.0f}" role="img">',
             f'<rect x="0" y="0" width="{width:.1f}" height="{height:.1f}" fill="#fffafa"/>']
    if highlight is not None:
        h0, h1 = max(highlight[0], start_s), min(max(highlight[1], highlight[0] + 0.3), stop_s)
        parts.append(f'<rect x="{px(h0):.2f}" y="0" width="{max(px(h1) - px(h0), 1):.2f}" height="{height:.1f}" '
                     'fill="#ffe082" fill-opacity="0.45"/>')
    parts.append(_grid(width, height))
    pts = " ".join(f"{x:.2f},{z:.2f}" for x, z in zip(px(idx / fs), py(np.clip(val, lo, hi))))
    parts.append(f'<polyline points="{pts}" fill="none" stroke="#111" stroke-width="0.25" '
                 'stroke-linejoin="round"/>')
    if sample is not None and label is not None:
        sel = in_window(sample, fs, start_s, stop_s)
        unsure = np.zeros(len(sample), bool) if uncertain is None else np.asarray(uncertain, bool)
        for s, c, q in zip(np.asarray(sample)[sel], np.asarray(label)[sel], unsure[sel]):
            weight = "bold" if c != "N" or q else "normal"
            parts.append(f'<text x="{px(s / fs):.2f}" y="-1.5" font-size="3.2" text-anchor="middle" '
                         f'font-weight="{weight}" fill="{class_colour(str(c))}">{escape(str(c))}{"?" if q else ""}</text>')
    parts.append(f'<text x="1" y="{height - 1:.1f}" font-size="2.6" fill="#555">'
                 f'{escape(format_time(start_s, start_clock_s))} · 25 mm/s · 10 mm/mV</text></svg>')
    return "".join(parts)


def _amplitude_range(val: np.ndarray) -> tuple[float, float]:
    """Vertical span (mV) of a strip: the data's range with a margin, at least 3 mV, at most 8 mV."""
    if val.size == 0:
        return -1.5, 1.5
    lo, hi = float(np.min(val)) - 0.3, float(np.max(val)) + 0.3
    lo, hi = max(lo, -4.0), min(hi, 4.0)
    if hi - lo < 3.0:
        mid = (hi + lo) / 2
        lo, hi = mid - 1.5, mid + 1.5
    return math.floor(lo * 2) / 2, math.ceil(hi * 2) / 2


def _grid(width: float, height: float) -> str:
    minor = "".join(f"M{x} 0V{height:.1f}" for x in range(0, int(width) + 1) if x % 5) + \
        "".join(f"M0 {z}H{width:.1f}" for z in range(0, int(height) + 1) if z % 5)
    major = "".join(f"M{x} 0V{height:.1f}" for x in range(0, int(width) + 1, 5)) + \
        "".join(f"M0 {z}H{width:.1f}" for z in range(0, int(height) + 1, 5))
    return (f'<path d="{minor}" stroke="#f6c6c6" stroke-width="0.08"/>'
            f'<path d="{major}" stroke="#e89a9a" stroke-width="0.18"/>')


# ----------------------------------------------------------------------------- model facts


def model_facts(meta: dict, provider: str | None = None) -> list[tuple[str, str]]:
    """``(label, value)`` rows describing the model, read from its sidecar ``meta`` (ecgdl.export)."""
    onnx_info, git = meta.get("onnx") or {}, meta.get("git") or {}
    arch = (meta.get("model") or {}).get("registry_name")
    version = meta.get("version") or (f"sha256 {onnx_info['sha256'][:12]}" if onnx_info.get("sha256") else "unknown")
    rows = [("Model", str(meta.get("name", "unknown"))), ("Version", str(version))]
    if arch:
        rows.append(("Architecture", str(arch)))
    if meta.get("created_utc"):
        rows.append(("Exported", str(meta["created_utc"])))
    if git.get("commit"):
        rows.append(("Code commit", str(git["commit"])[:12] + (" (uncommitted changes)" if git.get("dirty") else "")))
    training = meta.get("training") or {}
    if training.get("data"):
        rows.append(("Trained on", f"{training['data']}; {training.get('split', '')}".rstrip("; ")))
    if "fs" in meta:
        rows.append(("Sampling rate", f"{meta['fs']:g} Hz (records are resampled to it)"))
    if meta.get("classes"):
        names = meta.get("class_names") or {}
        rows.append(("Classes", ", ".join(f"{c} {names.get(c, '')}".strip() for c in meta["classes"])))
    if provider:
        device = {"CUDAExecutionProvider": "GPU (CUDA)", "CPUExecutionProvider": "CPU"}.get(provider, provider)
        rows.append(("Runs on", f"{device} — ONNX Runtime {provider}" if device != provider else provider))
    return rows


def intended_use(meta: dict) -> str:
    """The sidecar's intended-use statement (a plain notice when the sidecar has none)."""
    text = meta.get("intended_use") or meta.get("intended-use")
    return str(text) if text else "The model's sidecar states no intended use: do not use for patient care."


def ds2_metrics(meta: dict, adaptive: bool = False) -> dict[str, dict[str, float]]:
    """Per-class test metrics from the sidecar (``{"V": ecgdl.metrics.class_metrics dict, ...}``), {} when absent.

    adaptive: the figures of the patient-adaptive scoring (``metrics.ds2_adaptive``: DS2 through ``ecgdl score``
    with the adaptive step), {} when the sidecar has none: an adapted record is never shown the inductive model's
    figures as its own."""
    metrics = ((meta.get("metrics") or {}).get("ds2_adaptive") or {}) if adaptive else ds2_summary(meta)
    per_class = metrics.get("per_class", metrics)
    return {c: v for c, v in per_class.items() if isinstance(v, dict)}


def validated_metrics(result, meta: dict) -> dict[str, dict[str, float]]:
    """:func:`ds2_metrics` of the way ``result`` was scored (adaptive step applied or not)."""
    return ds2_metrics(meta, adaptive=bool((result.summary.get("adapt") or {}).get("applied")))


def ds2_summary(meta: dict) -> dict:
    """The sidecar's whole DS2 metrics block (``{}`` when the model ships without one)."""
    metrics = meta.get("metrics") or {}
    for key in ("ds2", "DS2", "test"):
        if key in metrics:
            return metrics[key] if isinstance(metrics[key], dict) else {}
    return metrics


# ----------------------------------------------------------------------------- report


def render_report(result, meta: dict, *, provider: str | None = None, max_strips: int = 12,
                  strip_s: float = STRIP_S, generated_at: _dt.datetime | None = None) -> str:
    """The full HTML report of a ``RecordResult`` (see :func:`ecgdl.infer.score_record`).

    meta: the model sidecar (``BeatClassifier.meta``); provider: the active ONNX Runtime provider.
    """
    rec, summ = result.record, result.summary
    when = (generated_at or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    body = [f"<h1>ECG beat classification — record {escape(rec.name)}</h1>",
            f'<p class="muted">Generated {when} by ecgdl. Duration {format_duration(rec.duration_s)}, '
            f'starts {format_time(0, rec.start_clock_s)}, '
            f'{rec.source_fs:g} Hz, leads {escape(", ".join(rec.leads))}.</p>',
            f'<div class="use"><b>Intended use.</b> {escape(intended_use(meta))}</div>',
            *(f'<div class="use"><b>Check this record.</b> {escape(w)}</div>' for w in summ.get("warnings", [])),
            "<h2>Summary</h2>", _summary_tables(summ, rec.start_clock_s)]
    note = noise_gated_note(summ)
    if note:
        body.append(f'<p class="muted">{escape(note)}.</p>')
    if getattr(result, "reference", None):
        body += ["<h2>Agreement with the reference annotations</h2>", _agreement_table(result.reference)]
    body += ["<h2>Notable episodes</h2>", _episode_section(result, summ, max_strips, strip_s)]
    body += ["<h2>Model</h2>", _table(["", ""], model_facts(meta, provider), header=False)]
    if rec.notes:
        body.append('<p class="muted">Notes: ' + escape("; ".join(rec.notes)) + "</p>")
    body.append('<p style="margin-top:28px">Reviewed by: ______________________ &nbsp; Date: ____________ '
                "&nbsp; Findings confirmed on the ECG: yes / no</p>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>ECG report {escape(rec.name)}</title><style>{_CSS}</style></head><body>"
            + "".join(body) + "</body></html>")


def _table(head: list[str], rows: list[tuple], header: bool = True) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{escape(str(h))}</th>" for h in head) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>")
    return "".join(out) + "</table>"


def _summary_tables(s: dict, clock: float | None = None) -> str:
    counts, pct = s.get("counts", {}), s.get("percent", {})
    rows = [(f"{c} – {AAMI_NAMES.get(c, '')}", f"{n:,}", f"{pct.get(c, 0):.2f}%") for c, n in counts.items()]
    rows.append(("All beats", f"{s.get('beats', 0):,}", ""))
    hr = s.get("heart_rate", {})
    burden = s.get("ectopic_burden_pct", {})
    facts = [("Heart rate, mean", _bpm(hr.get("mean_bpm"))),
             ("Heart rate, min", f"{_bpm(hr.get('min_bpm'))} at {_t(hr.get('min_at_s'), clock)}"),
             ("Heart rate, max", f"{_bpm(hr.get('max_bpm'))} at {_t(hr.get('max_at_s'), clock)}"),
             ("Ventricular burden", f"{burden.get('V', 0):.2f}%"),
             ("Supraventricular burden", f"{burden.get('S', 0):.2f}%")]
    ev = [(f"{cls} {kind}", len(items)) for cls, kinds in s.get("events", {}).items() for kind, items in kinds.items()]
    ev += [("Pauses", len(s.get("pauses", []))), ("Unusable stretches", len(s.get("unusable", [])))]
    return ('<div class="row">' + _table(["Class", "Beats", "Share"], rows) + _table(["", ""], facts, header=False)
            + _table(["Event", "Count"], ev) + "</div>")


def _bpm(v) -> str:
    return "—" if v is None else f"{v:.0f} bpm"


def _t(v, clock: float | None = None) -> str:
    return "—" if v is None else format_time(v, clock)


def _agreement_table(ref: dict) -> str:
    rows = [tuple(r.values()) for r in metric_rows(ref)]
    matched = ref.get("matched")
    head = ""
    if matched is not None and ref.get("reference_beats"):
        head = (f'<p class="muted">{matched:,} of {ref["reference_beats"]:,} reference beats matched a detected beat '
                f'within {1000 * ref.get("tolerance_s", 0.15):.0f} ms.</p>')
    return head + _table(["Class", "Sensitivity %", "Positive predictivity %", "Reference beats"], rows)


def _episode_section(result, summ: dict, max_strips: int, strip_s: float) -> str:
    unsure = uncertain_stretches(result)[:max_strips]
    eps = notable(episodes(summ), max_strips - len(unsure)) + unsure
    if not eps:
        eps = _first_beats(result, strip_s)
    if not eps:
        return "<p>No runs, couplets, patterns or pauses were found.</p>"
    clock = result.record.start_clock_s
    rows = [(e.title, format_time(e.start_s, clock), format_time(e.end_s, clock), e.detail) for e in eps]
    out = [_table(["Episode", "Start", "End", "Detail"], rows)]
    flags = uncertain(result)
    if flags.any():
        out.append(f'<p class="muted">{escape(UNCERTAIN_NOTE)}</p>')
    y, fs, dur = result.conditioned[:, 0], result.record.fs, result.record.duration_s
    for e in eps:
        a, b = window_around(e.start_s, max(strip_s, e.end_s - e.start_s + 2.0) if e.kind == "pause" else strip_s, dur)
        lead = result.record.leads[result.record.lead_pair()[0]]
        strip = svg_strip(y, fs, a, b, sample=result.sample, label=result.label, highlight=(e.start_s, e.end_s),
                          start_clock_s=clock, uncertain=flags)
        out.append(f'<div class="strip"><b>{escape(e.title)}</b> at {format_time(e.start_s, clock)} — '
                   f"{escape(e.detail)} (lead {escape(lead)}, 25 mm/s, 10 mm/mV)" + strip + "</div>")
    return "".join(out)


def _first_beats(result, strip_s: float) -> list[Episode]:
    """When there are no events: the first beat of each ectopic class, so the report shows examples."""
    out = []
    for cls in ("V", "S", "F"):
        hit = np.flatnonzero(np.asarray(result.label) == cls)
        if hit.size:
            t = float(result.sample[hit[0]] / result.record.fs)
            out.append(Episode("beat", cls, t, t, f"first {AAMI_NAMES.get(cls, cls)} beat ({hit.size} in all)"))
    return out
