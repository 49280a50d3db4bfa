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
from ecgdl.app.ecg_figures import overview_figure, strip_figure, trend_figure
from ecgdl.clinical_report import ds2_metrics, ds2_summary, intended_use, model_facts, render_report
from ecgdl.io import RecordError
from ecgdl.result_store import ResultStore, result_nbytes
from ecgdl.uploads import UploadLimits, UploadOptions, describe_limits, record_from_upload

DEFAULT_EXAMPLE = "200"
PLOT_CONFIG = {"displaylogo": False, "scrollZoom": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


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


def score_upload(files: list[tuple[str, bytes]], options: UploadOptions):
    """(result, None) or (None, message); the last upload's outcome is kept in the session."""
    if sum(len(data) for _, data in files) > _limits().max_upload_bytes:
        return _score_files(files, options)          # refused at once, before hashing a huge upload
    digest = hashlib.sha256(repr(options).encode())
    for name, data in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return _remembered(digest.hexdigest(), lambda: _score_files(files, options))


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


def _score_files(files, options):
    from ecgdl.infer import score_record

    try:
        with st.spinner("Reading and scoring the record…"):
            record = record_from_upload(files, options, _limits())
            return score_record(record, load_classifier()), None
    except RecordError as exc:
        return None, str(exc)
    except Exception as exc:  # any other failure is reported, never raised (no traceback, no data in logs)
        return None, f"the record could not be analysed ({type(exc).__name__})"


# ----------------------------------------------------------------------------- sidebar


def source_ui():
    """Sidebar: the upload (or the example) and CSV options. Returns (result, error, record key)."""
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
    if uploaded:
        files = [(f.name, f.getvalue()) for f in uploaded]
        result, error = score_upload(files, UploadOptions(csv_fs=csv_fs, csv_units=units,
                                                          target_fs=load_classifier().fs))
        return result, error, "upload:" + ",".join(sorted(n for n, _ in files))
    if not names:
        return None, None, ""
    choice = sb.selectbox("Example (MIT-BIH, held-out test record)", names,
                          index=names.index(DEFAULT_EXAMPLE) if DEFAULT_EXAMPLE in names else 0, key="example")
    sb.caption("Shown while nothing is uploaded.")
    return score_example(choice), None, "example:" + choice


# ----------------------------------------------------------------------------- main panels


def header_ui(result, classes: tuple[str, ...]) -> None:
    rec, s = result.record, result.summary
    source = "example" if st.session_state.get("_source", "").startswith("example") else "upload"
    st.subheader(f"Record {rec.name}  ·  {view.format_time(rec.duration_s)}  ·  {rec.source_fs:g} Hz  ·  "
                 f"{', '.join(rec.leads)}  ({source})")
    for note in rec.notes:
        st.caption(f"Note: {note}")
    warnings_ui(rec.warnings)
    hr = s["heart_rate"]
    cols = st.columns(2 + len(classes))
    cols[0].metric("Beats", f"{s['beats']:,}")
    cols[1].metric("Mean heart rate", "—" if hr["mean_bpm"] is None else f"{hr['mean_bpm']:.0f} bpm")
    for col, cls in zip(cols[2:], classes):
        col.metric(view.short_label(cls), f"{s['counts'].get(cls, 0):,}", f"{s['percent'].get(cls, 0):.1f}% of beats",
                   delta_color="off", delta_arrow="off", help=view.class_label(cls))


def warnings_ui(warnings) -> None:
    """Loud notes from reading the record (odd amplitude, ignored annotations...): read them before the result."""
    for text in warnings:
        st.warning(f"**Check this record:** {text}", icon=":material/warning:")


def _goto(t_s: float, duration_s: float) -> None:
    win = float(st.session_state.get("win_s", view.DEFAULT_WINDOW_S))
    st.session_state["start_s"] = round(view.window_around(t_s, win, duration_s)[0], 1)


def _step(times, direction: int, duration_s: float, what: str) -> None:
    win = float(st.session_state.get("win_s", view.DEFAULT_WINDOW_S))
    here = float(st.session_state.get("start_s", 0.0)) + 0.3 * win
    t = view.step_to(times, here, direction)
    if t is None:
        st.session_state["_nav_msg"] = f"No {'later' if direction > 0 else 'earlier'} {what}."
    else:
        _goto(t, duration_s)


def navigation_ui(result, targets: dict[str, object]) -> None:
    """Buttons: previous/next V beat, S beat, episode (and mismatch with the reference when there is one)."""
    dur = result.record.duration_s
    cols = st.columns(2 * len(targets))
    for k, (what, times) in enumerate(targets.items()):
        cols[2 * k].button(f"◀ {what}", key=f"prev_{what}", on_click=_step, args=(times, -1, dur, what),
                           disabled=len(times) == 0, width="stretch")
        cols[2 * k + 1].button(f"{what} ▶", key=f"next_{what}", on_click=_step, args=(times, +1, dur, what),
                               disabled=len(times) == 0, width="stretch")
    msg = st.session_state.pop("_nav_msg", None)
    if msg:
        st.info(msg)


def strip_ui(result, classes: tuple[str, ...]) -> None:
    """Overview of the whole record, the detail window controls, and the labelled strip."""
    rec, fs, dur = result.record, result.record.fs, result.record.duration_s
    primary, secondary = rec.lead_pair()
    leads = [rec.leads[primary]] + ([rec.leads[secondary]] if secondary != primary else [])
    c1, c2, c3 = st.columns([1, 1, 1])
    lead = c1.selectbox("Lead", leads, key="lead")
    c2.selectbox("Window", view.WINDOW_CHOICES_S, key="win_s", format_func=lambda v: f"{v:g} s",
                 index=view.WINDOW_CHOICES_S.index(view.DEFAULT_WINDOW_S))
    denoiser = load_denoiser()
    overlay_on = c3.checkbox("Overlay denoised signal", key="denoise", disabled=denoiser is None,
                             help=None if denoiser else "No denoising model (ecgdl/shipped/dae.onnx) is shipped.")
    win = float(st.session_state["win_s"])
    st.session_state["start_s"] = view.clamp_window(st.session_state.get("start_s", 0.0), win, dur)[0]
    y = result.conditioned[:, leads.index(lead)]
    targets = {"V beat": view.class_times(result.sample, result.label, fs, "V"),
               "S beat": view.class_times(result.sample, result.label, fs, "S"),
               "episode": sorted({e.start_s for e in view.episodes(result.summary)})}
    ref_labels = view.reference_labels(result)
    if ref_labels is not None:
        targets["mismatch"] = result.sample[view.disagreements(result)] / fs
    navigation_ui(result, targets)
    start = st.slider("Window start (s)", 0.0, max(dur - win, 0.1), key="start_s", step=0.5,
                      help="Drag to move the detail window; the shaded band in the overview follows.")
    start, stop = view.clamp_window(start, win, dur)
    ectopic = {c: list(view.class_times(result.sample, result.label, fs, c)) for c in ("V", "S")}
    st.plotly_chart(overview_figure(view.trace(y, fs, 0, dur, 3000), ectopic, window=(start, stop), duration_s=dur),
                    config=PLOT_CONFIG, key="overview", theme=None)
    overlay = _denoised(denoiser, result, leads.index(lead), start, stop) if overlay_on and denoiser else None
    marks = view.markers(y, fs, result.sample, result.label, result.proba, classes, start, stop, ref_labels)
    st.plotly_chart(strip_figure(view.trace(y, fs, start, stop), marks, start_s=start, stop_s=stop, lead=lead,
                                 overlay=overlay, disagree=view.disagreement_markers(result, y, start, stop),
                                 unusable=[(u["start_s"], u["end_s"]) for u in result.summary.get("unusable", [])
                                           if u["end_s"] > start and u["start_s"] < stop]),
                    config=PLOT_CONFIG, key="strip", theme=None)
    st.caption(f"{view.format_time(start)} – {view.format_time(stop)} · band-passed signal · "
               "grid 0.2 s × 0.5 mV (small squares 0.04 s × 0.1 mV) · hover a beat for its probability")


def _denoised(denoiser, result, lead_idx: int, start: float, stop: float):
    try:
        return view.denoised_trace(denoiser, result.conditioned, result.record.fs, lead_idx, start, stop)
    except Exception:
        st.warning("The denoised overlay could not be computed for this window.")
        return None


def summary_ui(result) -> None:
    """Burden, heart rate and its trend, and every episode with a button to show it in the strip."""
    s, dur = result.summary, result.record.duration_s
    hr, burden = s["heart_rate"], s["ectopic_burden_pct"]
    c1, c2 = st.columns([1, 2])
    with c1:
        st.markdown(f"**Ventricular burden** {burden['V']:.2f}%  \n**Supraventricular burden** {burden['S']:.2f}%"
                    f"  \n**Ectopic, all** {burden['total']:.2f}%")
        for key, label in (("min", "Slowest"), ("max", "Fastest")):
            if hr[f"{key}_bpm"] is not None:
                st.button(f"{label} rate {hr[f'{key}_bpm']:.0f} bpm at {view.format_time(hr[f'{key}_at_s'])}",
                          key=f"hr_{key}", on_click=_goto, args=(hr[f"{key}_at_s"], dur))
    if hr["trend"]:
        c2.plotly_chart(trend_figure(hr["trend"]), config=PLOT_CONFIG, key="trend", theme=None)
    eps = view.episodes(s)
    counts = {}
    for e in eps:
        counts[e.title] = counts.get(e.title, 0) + 1
    st.markdown("**Episodes:** " + (", ".join(f"{k} × {v}" for k, v in counts.items()) or "none found"))
    if eps:
        st.caption("Notable episodes (runs first, then pauses, couplets, bigeminy/trigeminy): click to show it "
                   "in the strip.")
    cols = st.columns(3)
    for i, e in enumerate(view.notable(eps, 12)):
        cols[i % 3].button(f"{view.format_time(e.start_s)} · {e.title} · {e.detail}", key=f"ep_{i}",
                           on_click=_goto, args=(e.start_s, dur), width="stretch")
    if len(eps) > 12:
        pick = st.selectbox("All episodes", range(len(eps)), key="ep_pick",
                            format_func=lambda i: f"{view.format_time(eps[i].start_s)} · {eps[i].title} · "
                                                  f"{eps[i].detail}")
        st.button("Show in strip", key="ep_go", on_click=_goto, args=(eps[pick].start_s, dur))


def agreement_ui(result) -> None:
    """Se/+P per class against the reference annotations, and the disagreements (ringed on the strip)."""
    if not result.reference:
        st.caption("No reference annotations (.atr) came with this record.")
        return
    ref = result.reference
    if ref.get("reference_beats"):
        st.caption(f"{ref['matched']:,} of {ref['reference_beats']:,} reference beats matched a detected beat within "
                   f"{1000 * ref.get('tolerance_s', 0.15):.0f} ms (AAMI EC57); Se = sensitivity, +P = positive "
                   "predictivity, per class.")
    st.table(_frame(view.agreement_rows(ref)))
    n = len(view.disagreements(result))
    st.markdown(f"**{n:,} beats differ from the reference.** They are ringed in magenta on the strip; "
                "use ◀ mismatch / mismatch ▶ above the strip to step through them.")


def downloads_ui(result, clf) -> None:
    name = result.record.name
    c1, c2, c3 = st.columns(3)
    c1.download_button("Per-beat CSV", result.beats_csv, file_name=f"{name}_beats.csv", mime="text/csv",
                       key="dl_csv", on_click="ignore")
    c2.download_button("Summary JSON", result.summary_json, file_name=f"{name}_summary.json",
                       mime="application/json", key="dl_json", on_click="ignore")
    c3.download_button("Printable report (HTML)", lambda: render_report(result, clf.meta, provider=clf.provider),
                       file_name=f"{name}_report.html", mime="text/html", key="dl_html", on_click="ignore")
    st.caption("The report opens in any browser and prints on A4/Letter (summary + a strip per notable episode).")


def _frame(rows: list[dict]):
    """A small table for st.table, indexed by its first column (no 0..n row numbers)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    return frame.set_index(frame.columns[0]) if len(frame.columns) else frame


def model_ui(clf) -> None:
    meta = clf.meta
    st.table({k: v for k, v in model_facts(meta, clf.provider)})
    metrics = ds2_metrics(meta)
    if metrics:
        overall = ds2_summary(meta)
        extra = ", ".join(f"{label} {overall[key]:{fmt}}" for key, label, fmt in
                          (("n", "beats", ","), ("accuracy", "accuracy", ".3f"), ("macro_f1", "macro-F1", ".3f"))
                          if isinstance(overall.get(key), (int, float)))
        st.markdown("**Held-out test performance (MIT-BIH DS2, inter-patient)**" + (f" — {extra}" if extra else ""))
        st.table(_frame(view.metric_rows(metrics)))
    st.warning(intended_use(meta), icon="⚠️")


def main() -> None:
    st.set_page_config(page_title="ecgdl · ECG beat viewer", page_icon="🫀", layout="wide")
    st.title("ECG beat viewer")
    try:
        clf = load_classifier()
    except Exception as exc:
        st.error(f"The model could not be loaded ({type(exc).__name__}: {exc}).")
        return
    result, error, key = source_ui()
    st.sidebar.caption(intended_use(clf.meta))
    if error:
        st.error(f"**This upload cannot be used.** {error}", icon=":material/block:")
        return
    if result is None:
        st.info("No example records found (set ECGDL_DATA to the folder holding mitdb/). Upload a record.")
        return
    if st.session_state.get("_source") != key:
        st.session_state["_source"] = key
        st.session_state["start_s"] = 0.0
    header_ui(result, tuple(clf.classes))
    strip_ui(result, tuple(clf.classes))
    panels_ui(result, clf)


PANELS = ("Summary", "Agreement with reference", "Downloads", "Model")


def panels_ui(result, clf) -> None:
    """The tabs under the strip; only the open one is built (less to compute and to draw per rerun)."""
    tabs = st.tabs(PANELS, key="panel", on_change="rerun")
    draw = {"Summary": lambda: summary_ui(result), "Agreement with reference": lambda: agreement_ui(result),
            "Downloads": lambda: downloads_ui(result, clf), "Model": lambda: model_ui(clf)}
    for name, tab in zip(PANELS, tabs):
        if tab.open:
            with tab:
                draw[name]()


if __name__ == "__main__":
    main()
