"""The signed-off PDF report of one reviewed record (fpdf2): recording and patient fields, the summary with
each class's reliability, HRV and rhythm episodes when the summary has them, the events in order of
importance, a 10-second strip on ECG paper (25 mm/s, 10 mm/mV, lead named) for each notable event, the
reader's corrections, the model and its intended use, and a sign-off line.

>>> pdf = render_pdf(corrected_result, clf.meta, patient={"Name": "..."}, corrections=edits)  # doctest: +SKIP
>>> Path("233.pdf").write_bytes(pdf)                                                        # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import math

import numpy as np

from ecgdl.clinical_report import UNCERTAIN_NOTE, intended_use, model_facts, validated_metrics
from ecgdl.clock import format_duration, format_time
from ecgdl.labels import AAMI_NAMES
from ecgdl.metrics import percent
from ecgdl.review import class_reliability, event_window, record_hrv, review_events, uncertain
from ecgdl.rhythm import noise_gated_note
from ecgdl.view import class_colour, in_window, minmax_decimate

#: Section titles, in order (a test reads them back from the rendered PDF).
SECTIONS = ("Recording", "Patient", "Summary", "Heart rate variability", "Rhythm episodes", "Events",
            "Strips of notable events", "Corrections", "Model", "Sign-off")
MM_PER_S, MM_PER_MV, STRIP_S = 25.0, 10.0, 10.0
_PAGE_W, _MARGIN = 297.0, 12.0


def render_pdf(result, meta: dict, *, patient: dict[str, str] | None = None, corrections=(), reviewer: str = "",
               review_date: str = "", max_strips: int = 6, generated_at: _dt.datetime | None = None) -> bytes:
    """The PDF (A4 landscape) of a scored, possibly corrected ``RecordResult``, as bytes.

    meta: the model sidecar; patient: reader-typed fields (name, ID, date of birth, ...), shown as given;
    corrections: :class:`ecgdl.corrections.Correction` list; reviewer / review_date: prefill the sign-off.
    """
    from fpdf import FPDF

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=12)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.add_page()
    rec, s = result.record, result.summary
    when = (generated_at or _dt.datetime.now(_dt.timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 9, _latin(f"ECG report - record {rec.name}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(0, 4, _latin(f"Generated {when} by ecgdl. {intended_use(meta)}"), new_x="LMARGIN", new_y="NEXT")
    _heading(pdf, "Recording")
    _pairs(pdf, [("Record", rec.name), ("Start (clock)", format_time(0, rec.start_clock_s)
                                          + ("" if rec.start_clock_s is not None else " (no base time in the file)")),
                 ("Duration", format_duration(rec.duration_s)), ("Sampling rate", f"{rec.source_fs:g} Hz"),
                 ("Leads", ", ".join(rec.leads)), ("Notes", "; ".join(rec.notes) or "none")])
    _heading(pdf, "Patient")
    _pairs(pdf, [(k, v or "-") for k, v in (patient or {}).items()] or [("Patient", "not entered")])
    _summary(pdf, result, meta)
    _hrv(pdf, record_hrv(result))
    _episodes_and_events(pdf, result)
    _strips(pdf, result, max_strips)
    _corrections(pdf, list(corrections), rec)
    _heading(pdf, "Model")
    _pairs(pdf, model_facts(meta))
    _heading(pdf, "Sign-off")
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 7, _latin(f"Reviewed and signed by: {reviewer or '______________________________'}    "
                                f"Date: {review_date or '______________'}    Signature: ______________________\n"
                                "Findings confirmed on the ECG:  yes / no"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _latin(text: str) -> str:
    """Text for the PDF's core fonts (Latin-1): dashes and arrows spelled plainly."""
    text = str(text).replace("\u2013", "-").replace("\u2014", "-").replace("\u2192", "->").replace("\u2265", ">=")
    return text.encode("latin-1", "replace").decode("latin-1")


def _heading(pdf, title: str) -> None:
    if pdf.get_y() > 180:
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 7, _latin(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(180, 180, 180)
    pdf.line(_MARGIN, pdf.get_y(), _PAGE_W - _MARGIN, pdf.get_y())
    pdf.ln(1)


def _pairs(pdf, rows) -> None:
    pdf.set_font("Helvetica", "", 9)
    for k, v in rows:
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(45, 5, _latin(str(k)))
        pdf.set_font("Helvetica", "", 9)
        pdf.multi_cell(0, 5, _latin(str(v)), new_x="LMARGIN", new_y="NEXT")


def _table(pdf, head: list[str], rows: list[list[str]], widths: tuple[float, ...] | None = None) -> None:
    pdf.set_font("Helvetica", "", 8.5)
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.6, first_row_as_headings=True) as table:
        for row in [head, *rows]:
            r = table.row()
            for v in row:
                r.cell(_latin(str(v)))


def _summary(pdf, result, meta: dict) -> None:
    _heading(pdf, "Summary")
    s = result.summary
    rel = class_reliability(result, validated_metrics(result, meta))
    rows = []
    for c in result.classes:
        r = rel[c]
        rows.append([f"{c} {AAMI_NAMES.get(c, '')}", f"{s['counts'].get(c, 0):,}", f"{s['percent'].get(c, 0):.1f}%",
                     percent(r.se, 0, "%"), percent(r.ppv, 0, "%"),
                     "-" if r.mean_confidence is None else f"{r.mean_confidence:.2f}",
                     ("check: " + r.reason) if r.needs_look else "ok"])
    _table(pdf, ["Class", "Beats", "Share", "Validated Se", "Validated +P", "Mean confidence", "Reliability"], rows,
           (50, 18, 16, 22, 22, 26, 119))
    hr, burden = s.get("heart_rate", {}), s.get("ectopic_burden_pct", {})
    start = result.record.start_clock_s
    pdf.ln(1)
    _pairs(pdf, [("Beats", f"{s.get('beats', 0):,}"),
                 ("Heart rate", f"mean {_bpm(hr.get('mean_bpm'))}; slowest {_bpm(hr.get('min_bpm'))} at "
                                f"{_clock(hr.get('min_at_s'), start)}; fastest {_bpm(hr.get('max_bpm'))} at "
                                f"{_clock(hr.get('max_at_s'), start)}"),
                 ("Ectopic burden", f"V {burden.get('V', 0):.2f}%, S {burden.get('S', 0):.2f}%, "
                                    f"F {s['percent'].get('F', 0):.2f}% of beats"),
                 ("Pauses", f"{len(s.get('pauses', []))}"),
                 ("Unusable signal", f"{len(s.get('unusable', []))} stretches"),
                 *([("Q beats", noise_gated_note(s))] if noise_gated_note(s) else [])])  # why some are Q


def _hrv(pdf, hrv) -> None:
    if not isinstance(hrv, dict) or not hrv:
        return
    _heading(pdf, "Heart rate variability")
    _pairs(pdf, [(k.replace("_", " "), f"{v:.4g}" if isinstance(v, float) else v) for k, v in hrv.items()
                 if not isinstance(v, (dict, list))])


def _episodes_and_events(pdf, result) -> None:
    start = result.record.start_clock_s
    events = review_events(result)
    rhythm = sorted((e for e in events if e.kind in ("rhythm", "rate")), key=lambda e: e.start_s)
    if rhythm:
        _heading(pdf, "Rhythm episodes")
        _table(pdf, ["Episode", "Start", "End", "Detail"],
               [[e.title, _clock(e.start_s, start), _clock(e.end_s, start), e.detail] for e in rhythm])
    _heading(pdf, "Events")
    shown = [e for e in events if e.kind != "lowconf"][:30]
    if not shown:
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(0, 5, "No runs, couplets, patterns, pauses or rhythm episodes were found.", new_x="LMARGIN",
                 new_y="NEXT")
        return
    _table(pdf, ["Event (most important first)", "Start", "End", "Detail"],
           [[e.title, _clock(e.start_s, start), _clock(e.end_s, start), e.detail] for e in shown], (80, 30, 30, 133))


def _strips(pdf, result, max_strips: int) -> None:
    events = [e for e in review_events(result) if e.kind != "lowconf"]
    unsure = [e for e in events if e.kind == "uncertain"][:max_strips]      # always shown: where to check the labels
    events = [e for e in events if e.kind != "uncertain"][:max_strips - len(unsure)] + unsure
    if not events:
        events = review_events(result)[:2]
    _heading(pdf, "Strips of notable events")
    unsure = uncertain(result)
    if unsure.any():
        pdf.set_font("Helvetica", "", 8)
        pdf.multi_cell(0, 4, _latin(UNCERTAIN_NOTE), new_x="LMARGIN", new_y="NEXT")
    rec = result.record
    lead = rec.lead_pair()[0]
    for e in events:
        a, b = event_window(e, STRIP_S, rec.duration_s)
        height = 40.0
        if pdf.get_y() + height + 10 > 198:
            pdf.add_page()
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(0, 5, _latin(f"{e.title} at {format_time(e.start_s, rec.start_clock_s)} - {e.detail}   "
                              f"(lead {rec.leads[lead]}, 25 mm/s, 10 mm/mV)"), new_x="LMARGIN", new_y="NEXT")
        _strip(pdf, result, a, b, (e.start_s, e.end_s), pdf.get_y(), height, unsure)
        pdf.set_y(pdf.get_y() + height + 3)


def _strip(pdf, result, a: float, b: float, shade: tuple[float, float], top: float, height: float,
           unsure: np.ndarray) -> None:
    """One strip of the primary lead (column 0 of ``result.conditioned``): shaded event, 1 mm / 5 mm grid, the
    trace, each beat's letter in its class colour (with a "?" where ``unsure``, :func:`ecgdl.review.uncertain`)."""
    fs, y = result.record.fs, np.asarray(result.conditioned)[:, 0]
    x0, width = _MARGIN, (b - a) * MM_PER_S
    mid = float(np.median(y[int(a * fs):int(b * fs)])) if b > a else 0.0
    h0, h1 = max(shade[0], a), min(max(shade[1], shade[0] + 0.3), b)
    pdf.set_fill_color(255, 224, 130)
    pdf.rect(x0 + (h0 - a) * MM_PER_S, top, max((h1 - h0) * MM_PER_S, 1.0), height, style="F")
    for k in range(int(width) + 1):
        pdf.set_draw_color(*((232, 154, 154) if k % 5 == 0 else (248, 214, 214)))
        pdf.set_line_width(0.18 if k % 5 == 0 else 0.06)
        pdf.line(x0 + k, top, x0 + k, top + height)
    for k in range(int(height) + 1):
        pdf.set_draw_color(*((232, 154, 154) if k % 5 == 0 else (248, 214, 214)))
        pdf.set_line_width(0.18 if k % 5 == 0 else 0.06)
        pdf.line(x0, top + k, x0 + width, top + k)
    idx, val = minmax_decimate(y, int(a * fs), int(math.ceil(b * fs)), 2000)
    py = np.clip(top + height / 2 - (val - mid) * MM_PER_MV, top, top + height)
    pdf.set_draw_color(17, 17, 17)
    pdf.set_line_width(0.25)
    pdf.polyline(list(zip((x0 + (idx / fs - a) * MM_PER_S).tolist(), py.tolist())))
    pdf.set_font("Helvetica", "B", 7)
    for i in in_window(result.sample, fs, a, b):
        c = str(result.label[i])
        pdf.set_text_color(*_rgb(class_colour(c)))
        pdf.text(x0 + (result.sample[i] / fs - a) * MM_PER_S - 1.0, top + 3.0, c + ("?" if unsure[i] else ""))
    pdf.set_text_color(0, 0, 0)


def _corrections(pdf, corrections: list, rec) -> None:
    _heading(pdf, "Corrections")
    if not corrections:
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(0, 5, "No corrections: the labels are the model's.", new_x="LMARGIN", new_y="NEXT")
        return
    _table(pdf, ["Correction", "By", "When (UTC)"],
           [[c.describe(rec.start_clock_s, rec.fs), c.who or "-", c.when or "-"] for c in corrections], (160, 50, 63))


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def _bpm(v) -> str:
    return "-" if v is None else f"{v:.0f} bpm"


def _clock(t, start) -> str:
    return "-" if t is None else format_time(t, start)
