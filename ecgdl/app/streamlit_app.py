"""ecgdl viewer for clinicians: a record in, every beat labelled, what is abnormal and where, results out.

Run:  ecgdl app   (or: streamlit run ecgdl/app/streamlit_app.py)
Thin over the library: reading uploads (ecgdl.uploads), scoring (ecgdl.infer, the CLI's path),
what to draw (ecgdl.view), the printable report (ecgdl.clinical_report). Nothing here logs
record data; uploads pass through a temporary folder that is removed at once.
"""

from __future__ import annotations

import hashlib
import os

import streamlit as st

from ecgdl import view
from ecgdl.app import corrections_ui, panels, review_ui
from ecgdl.app.ecg_figures import overview_figure, strip_figure
from ecgdl.clinical_report import intended_use, validated_metrics
from ecgdl.clock import format_duration, format_time
from ecgdl.io import RecordError
from ecgdl.metrics import percent
from ecgdl.result_store import ResultStore, result_nbytes
from ecgdl.review import class_reliability, episode_bands
from ecgdl.uploads import UploadLimits, UploadOptions, describe_limits, record_from_upload

DEFAULT_EXAMPLE = "200"
PLOT_CONFIG = review_ui.PLOT_CONFIG
#: Page style: little top padding (the strip must sit above the fold at 1366x768) and tiles that wrap
#: instead of truncating their text.
CSS = """<style>
[data-testid="stHeader"]{height:2.4rem;min-height:2.4rem;background:transparent}
[data-testid="stMainBlockContainer"]{padding-top:2.4rem;padding-bottom:2rem}
[data-testid="stMainBlockContainer"] h3{font-size:1.15rem;padding:0 0 .2rem 0}
.ecg-tiles{display:flex;flex-wrap:wrap;gap:6px;margin-bottom:2px}
.ecg-tile{border:1px solid #d9d9d9;border-radius:6px;padding:3px 9px;flex:1 1 0;min-width:max-content}
.ecg-tile .l{font-size:.78rem;color:#555;white-space:nowrap}
.ecg-tile .v{font-size:1.3rem;font-weight:600;line-height:1.25;white-space:nowrap}
.ecg-tile .r{font-size:.7rem;color:#444;white-space:nowrap}
.ecg-tile.check{border-color:#d55e00;background:#fff4ec}
.ecg-tile .flag{color:#b34700;font-weight:600}
</style>"""


# ----------------------------------------------------------------------------- cached work


@st.cache_resource(show_spinner="Loading the model…")
def load_classifier():
    """The shipped model (or ``$ECGDL_MODEL``, a ``.onnx`` with its sidecar), loaded once per server process."""
    from ecgdl.infer import BeatClassifier

    return BeatClassifier(os.environ.get("ECGDL_MODEL") or None)


@st.cache_resource(show_spinner="Scoring the example record…")
def score_example(name: str):
    """A MIT-BIH record from the data folder, scored once per server process (shared, read-only)."""
    from ecgdl.infer import score_record
    from ecgdl.paths import database_dir

    return score_record(database_dir("mitdb") / name, load_classifier())


@st.cache_resource(show_spinner=False)
def load_denoiser():
    """The denoising autoencoder when ``ecgdl/shipped/dae.onnx`` is shipped, else None."""
    from ecgdl.paths import MODELS_DIR

    if not (MODELS_DIR / "dae.onnx").is_file():
        return None
    try:
        from ecgdl.denoise import Denoiser

        return Denoiser(MODELS_DIR / "dae.onnx")
    except Exception:  # an optional overlay must never take the page down
        return None


def example_names() -> list[str]:
    """Held-out (DS2) MIT-BIH records present in the data folder."""
    from ecgdl.paths import database_dir
    from ecgdl.splits import DS2

    folder = database_dir("mitdb")
    return [r for r in DS2 if (folder / f"{r}.hea").is_file()]


def score_upload(files: list[tuple[str, bytes]], options: UploadOptions, preview=None):
    """(result, None) or (None, message); the last upload's outcome is kept in the session. ``preview``: a
    main-area ``st.empty()`` where a long record's overview is drawn while it is being scored."""
    if sum(len(data) for _, data in files) > _limits().max_upload_bytes:
        return _score_files(files, options)          # refused at once, before hashing a huge upload
    digest = hashlib.sha256(repr(options).encode())
    for name, data in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return _remembered(digest.hexdigest(), lambda: _score_files(files, options, preview))


@st.cache_resource
def _result_store() -> ResultStore:
    """One process-wide store: per-session results, capped in total, stale ones dropped (ecgdl.result_store)."""
    return ResultStore.from_env()


def _remembered(key: str, score):
    """The session's result for ``key`` from the shared, capped store, scoring it when it is not held."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    session = ctx.session_id if ctx is not None else "local"
    store = _result_store()
    outcome = store.get(session, key)
    if outcome is None:
        outcome = score()
        store.put(session, key, outcome, result_nbytes(outcome[0]) if outcome[0] is not None else 0)
    return outcome


def _limits() -> UploadLimits:
    """Upload limits, the size cap taken from the server's own ``server.maxUploadSize`` (MB)."""
    return UploadLimits(max_upload_bytes=int(st.get_option("server.maxUploadSize")) * 1024 * 1024)


def _score_files(files, options, preview=None):
    from ecgdl.infer import score_record

    try:
        with st.spinner("Reading the record…"):
            record = record_from_upload(files, options, _limits())
        if preview is not None and record.duration_s >= PREVIEW_FROM_S:
            _preview(preview, record)
        with st.spinner("Scoring the record (detecting and classifying every beat)…"):
            result = score_record(record, load_classifier()), None
        if preview is not None:
            preview.empty()
        return result
    except RecordError as exc:
        return None, str(exc)
    except Exception as exc:  # any other failure is reported, never raised (no traceback, no data in logs)
        return None, f"the record could not be analysed ({type(exc).__name__})"


#: Records at least this long get their overview drawn as soon as they are read, before scoring ends.
PREVIEW_FROM_S = 2 * 3600.0


def _preview(slot, record) -> None:
    """The overview of a long record, drawn in ``slot`` while its beats are being scored."""
    y = record.signal[:, record.lead_pair()[0]]
    with slot.container(key="preview"):
        st.subheader(f"Record {record.name}  ·  {format_duration(record.duration_s)}  ·  {record.source_fs:g} Hz  ·  "
                     f"{', '.join(record.leads)}  ·  starts {format_time(0, record.start_clock_s)}  (scoring…)")
        st.plotly_chart(overview_figure(view.trace(y, record.fs, 0, record.duration_s, 3000), {}, window=(0, 0),
                                        duration_s=record.duration_s, start_clock_s=record.start_clock_s),
                        config=PLOT_CONFIG, key="preview_overview", theme=None)
        st.caption(f"Overview of the raw {record.leads[record.lead_pair()[0]]} lead; every beat of the "
                   f"{format_duration(record.duration_s)} is being detected and classified (tens of seconds for a "
                   "day of recording); the full view follows.")


# ----------------------------------------------------------------------------- sidebar


def source_ui(preview=None):
    """Sidebar: the upload, the example picker (always there) and CSV options. Returns (result, error, key)."""
    sb = st.sidebar
    sb.header("Record")
    uploaded = sb.file_uploader("Drop a record here (.hea + .dat [+ .atr], .zip, .edf or .csv)",
                                accept_multiple_files=True, key="upload",
                                help=describe_limits(_limits()))
    with sb.expander("CSV options"):
        csv_fs = st.number_input("Sampling rate of a CSV upload (Hz)", min_value=100.0, max_value=2000.0,
                                 value=None, placeholder="e.g. 250", key="csv_fs")
        units = st.selectbox("CSV units", ["mV", "uV", "V"], key="csv_units")
    names = example_names()
    show_upload = bool(uploaded)
    if uploaded and names:
        show_upload = sb.radio("Show", ["Uploaded record", "Example"], key="show", horizontal=True) != "Example"
    choice = None
    if names:
        choice = sb.selectbox("Example (MIT-BIH, held-out test record)", names,
                              index=names.index(DEFAULT_EXAMPLE) if DEFAULT_EXAMPLE in names else 0, key="example")
    if show_upload:
        files = [(f.name, f.getvalue()) for f in uploaded]
        result, error = score_upload(files, preview=preview, options=UploadOptions(csv_fs=csv_fs, csv_units=units,
                                                          target_fs=load_classifier().fs))
        return result, error, "upload:" + ",".join(sorted(n for n, _ in files))
    if choice is None:
        return None, None, ""
    return score_example(choice), None, "example:" + choice


def people_ui() -> None:
    """Sidebar: patient and recording fields and the reader (who / when), typed by the reader; they go into
    the PDF report and the exported annotations, and stay in this session only."""
    with st.sidebar.expander("Patient, recording and reader"):
        for key, label in review_ui.PATIENT_FIELDS:
            st.text_input(label, key=key)
        st.text_input("Reader (who reviews and corrects)", key="reader")
        st.text_input("Review date", key="review_date", placeholder="e.g. 2026-12-01")


# ----------------------------------------------------------------------------- main panels


def header_ui(result, clf) -> None:
    """The record line and one tile per figure: beats, mean rate, and each class with its reliability."""
    rec, s = result.record, result.summary
    source = "example" if st.session_state.get("_source", "").startswith("example") else "upload"
    st.subheader(f"Record {rec.name}  ·  {format_duration(rec.duration_s)}  ·  {rec.source_fs:g} Hz  ·  "
                 f"{', '.join(rec.leads)}  ·  starts {format_time(0, rec.start_clock_s)}  ({source})")
    for note in rec.notes:
        st.caption(f"Note: {note}")
    warnings_ui(s.get("warnings", rec.warnings))
    hr = s["heart_rate"]
    tiles = [_tile("Beats", f"{s['beats']:,}", "all classes", key="beats"),
             _tile("Mean heart rate", "—" if hr["mean_bpm"] is None else f"{hr['mean_bpm']:.0f} bpm",
                   "over the usable signal", key="hr")]
    rel = class_reliability(result, validated_metrics(result, clf.meta))
    for cls in result.classes:
        r = rel[cls]
        sub = f"{s['percent'].get(cls, 0):.1f}% · Se {percent(r.se, 0, '%')} +P {percent(r.ppv, 0, '%')} · conf " + \
              ("—" if r.mean_confidence is None else f"{r.mean_confidence:.2f}")
        tiles.append(_tile(view.short_label(cls), f"{s['counts'].get(cls, 0):,}", sub, key=cls,
                           check=r.reason if r.needs_look else "", count=s["counts"].get(cls, 0)))
    st.markdown('<div class="ecg-tiles">' + "".join(tiles) + "</div>", unsafe_allow_html=True)


def warnings_ui(warnings) -> None:
    """Loud notes from reading the record (odd amplitude, ignored annotations...): read them before the result."""
    for text in warnings:
        st.warning(f"**Check this record:** {text}", icon=":material/warning:")


def _tile(label: str, value: str, sub: str, *, key: str, check: str = "", count: int | None = None) -> str:
    from html import escape

    flag = f' <span class="flag" title="{escape(check)}">⚑ check</span>' if check else ""
    data = f' data-count="{count}"' if count is not None else ""
    return (f'<div class="ecg-tile{" check" if check else ""}" data-tile="{escape(key)}"{data} '
            f'title="{escape(check or label)}"><div class="l">{escape(label)}{flag}</div>'
            f'<div class="v">{escape(value)}</div><div class="r">{escape(sub)}</div></div>')


def strip_ui(result, classes: tuple[str, ...], events) -> None:
    """Controls, the labelled strip (the event under review shaded), the overview and the window slider."""
    rec, fs, dur = result.record, result.record.fs, result.record.duration_s
    primary, secondary = rec.lead_pair()
    leads = [rec.leads[primary]] + ([rec.leads[secondary]] if secondary != primary else [])
    denoiser = load_denoiser()
    lead = review_ui.navigation_ui(result, events, leads, denoiser is not None)
    win = float(st.session_state["win_s"])
    start, stop = view.clamp_window(st.session_state.get("start_s", 0.0), win, dur)
    st.session_state["start_s"] = start
    y = result.conditioned[:, leads.index(lead)]
    overlay_on = st.session_state.get("denoise") and denoiser is not None
    overlay = _denoised(denoiser, result, leads.index(lead), start, stop) if overlay_on else None
    ref_labels = view.reference_labels(result)
    marks = view.markers(y, fs, result.sample, result.label, result.proba, classes, start, stop, ref_labels,
                         rec.start_clock_s, getattr(result, "agreement", None))
    with st.container(key="strip_box"):
        st.plotly_chart(strip_figure(view.trace(y, fs, start, stop), marks, start_s=start, stop_s=stop, lead=lead,
                                     overlay=overlay, disagree=view.disagreement_markers(result, y, start, stop),
                                     unusable=[(u["start_s"], u["end_s"]) for u in result.summary.get("unusable", [])
                                               if u["end_s"] > start and u["start_s"] < stop],
                                     highlight=st.session_state.get("highlight"), start_clock_s=rec.start_clock_s),
                        config=PLOT_CONFIG, key="strip", theme=None)
    ectopic = {c: list(view.class_times(result.sample, result.label, fs, c)) for c in ("V", "S")}
    st.plotly_chart(overview_figure(view.trace(y, fs, 0, dur, 3000), ectopic, window=(start, stop), duration_s=dur,
                                    start_clock_s=rec.start_clock_s, bands=episode_bands(result)),
                    config=PLOT_CONFIG, key="overview", theme=None)
    step = max(1, int(round(dur / 2000)))
    options = list(range(0, int(max(dur - win, 0.0)) + 1, step)) or [0]
    st.session_state["_pos"] = min(options[-1], int(round(start / step)) * step)
    st.select_slider("Window start", options, key="_pos", format_func=lambda v: format_time(v, rec.start_clock_s),
                     on_change=_moved, help="Drag to move the detail window; the shaded band in the overview follows.")
    st.caption(f"{format_time(start, rec.start_clock_s)} – {format_time(stop, rec.start_clock_s)} · lead {lead} · "
               "band-passed signal · grid 0.2 s × 0.5 mV (small squares 0.04 s × 0.1 mV) · hover a beat for its "
               "probability · keys: N / P next / previous event, → / ← next / previous page")


def _moved() -> None:
    st.session_state["start_s"] = float(st.session_state["_pos"])


def _denoised(denoiser, result, lead_idx: int, start: float, stop: float):
    try:
        return view.denoised_trace(denoiser, result.conditioned, result.record.fs, lead_idx, start, stop)
    except Exception:
        st.warning("The denoised overlay could not be computed for this window.")
        return None


def main() -> None:
    st.set_page_config(page_title="ecgdl · ECG beat viewer", page_icon="🫀", layout="wide")
    st.html(CSS)
    st.sidebar.title("ECG beat viewer")
    try:
        clf = load_classifier()
    except Exception as exc:
        st.error(f"The model could not be loaded ({type(exc).__name__}: {exc}).")
        return
    preview = st.empty()
    result, error, key = source_ui(preview)
    people_ui()
    st.sidebar.caption(intended_use(clf.meta))
    if error:
        st.error(f"**This upload cannot be used.** {error}", icon=":material/block:")
        return
    if result is None:
        st.info("No example records found (set ECGDL_DATA to the folder holding mitdb/). Upload a record.")
        return
    if st.session_state.get("_source") != key:
        review_ui.reset_review(key)
    fixed = review_ui.corrected_result(result, key)
    events = review_ui.events_for(fixed, key)
    header_ui(fixed, clf)
    strip_ui(fixed, tuple(clf.classes), events)
    panels_ui(fixed, result, clf, events)
    review_ui.scroll_to_strip()


PANELS = ("Events", "Corrections", "Summary", "Agreement with reference", "Downloads", "Model")


def panels_ui(fixed, original, clf, events) -> None:
    """The tabs under the strip; only the open one is built (less to compute and to draw per rerun)."""
    tabs = st.tabs(PANELS, key="panel", on_change="rerun")
    draw = {"Events": lambda: review_ui.events_ui(fixed, events),
            "Corrections": lambda: corrections_ui.corrections_ui(fixed, original, clf),
            "Summary": lambda: panels.summary_ui(fixed),
            "Agreement with reference": lambda: panels.agreement_ui(original),
            "Downloads": lambda: corrections_ui.downloads_ui(fixed, clf), "Model": lambda: panels.model_ui(clf)}
    for name, tab in zip(PANELS, tabs):
        if tab.open:
            with tab:
                draw[name]()


if __name__ == "__main__":
    main()
