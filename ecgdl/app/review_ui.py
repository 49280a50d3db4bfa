"""The review workflow of the viewer: navigation by event, page and beat; the event list (most important
first); the reader's corrections (beat, morphology group, add, delete); the downloads (corrected WFDB and
CSV annotations, PDF and HTML reports). Thin over :mod:`ecgdl.review` and :mod:`ecgdl.corrections`;
everything the reader does stays in the Streamlit session.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ecgdl import corrections as corr
from ecgdl import view
from ecgdl.clock import format_time
from ecgdl.review import event_window, review_events

PLOT_CONFIG = {"displaylogo": False, "scrollZoom": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
PATIENT_FIELDS = (("pt_name", "Patient name"), ("pt_id", "Patient ID"), ("pt_dob", "Date of birth"),
                  ("rec_date", "Recording date"), ("referrer", "Referred by"))
STEP_TARGETS = ("V beat", "S beat", "F beat", "mismatch", "low-confidence beat")
EVENTS_SHOWN = 20         # buttons per page of the event list (fewer elements for the browser to draw)


# ----------------------------------------------------------------------------- session state


def reset_review(key: str) -> None:
    """A new record: window at the start, no corrections, nothing shaded."""
    ss = st.session_state
    ss["_source"], ss["start_s"], ss["corrections"], ss["highlight"], ss["event_i"] = key, 0.0, [], None, -1
    ss.pop("_fixed", None)
    ss.pop("_groups", None)


def corrected_result(result, key: str):
    """The result with the session's corrections applied (memoised per record and list of corrections)."""
    edits = st.session_state.get("corrections") or []
    if not edits:
        return result
    memo = st.session_state.get("_fixed")
    if memo and memo[0] == (key, len(edits)):
        return memo[1]
    fixed = corr.apply(result, edits)
    st.session_state["_fixed"] = ((key, len(edits)), fixed)
    return fixed


def events_for(result, key: str):
    """Review events of the (corrected) result, memoised like :func:`corrected_result`."""
    tag = (key, len(st.session_state.get("corrections") or []))
    memo = st.session_state.get("_events")
    if not memo or memo[0] != tag:
        memo = (tag, review_events(result))
        st.session_state["_events"] = memo
    return memo[1]


# ----------------------------------------------------------------------------- navigation


def _win() -> float:
    return float(st.session_state.get("win_s", view.DEFAULT_WINDOW_S))


def show_event(i: int, events, duration_s: float) -> None:
    """Centre the strip on event ``i``, shade it, and scroll the strip into view."""
    if not events:
        return
    i = int(np.clip(i, 0, len(events) - 1))
    ev = events[i]
    ss = st.session_state
    ss["event_i"], ss["highlight"], ss["event_page"] = i, (ev.start_s, ev.end_s), i // EVENTS_SHOWN
    ss["start_s"] = round(event_window(ev, _win(), duration_s)[0], 2)
    ss["_scroll"] = True


def show_time(t_s: float, duration_s: float) -> None:
    """Centre the strip on a time (a beat, the slowest rate ...), shade it, scroll the strip into view."""
    ss = st.session_state
    ss["start_s"] = round(view.clamp_window(t_s - _win() / 2, _win(), duration_s)[0], 2)
    ss["highlight"], ss["_scroll"] = (t_s - 0.3, t_s + 0.3), True


def _page(direction: int, duration_s: float) -> None:
    ss = st.session_state
    ss["start_s"] = view.clamp_window(float(ss.get("start_s", 0.0)) + direction * _win(), _win(), duration_s)[0]


def _step_beat(times, direction: int, duration_s: float, what: str) -> None:
    here = float(st.session_state.get("start_s", 0.0)) + 0.5 * _win()
    t = view.step_to(times, here, direction)
    if t is None:
        st.session_state["_nav_msg"] = f"No {'later' if direction > 0 else 'earlier'} {what}."
    else:
        show_time(t, duration_s)


def step_times(result, what: str) -> np.ndarray:
    """Sorted times (s) of the beats ``what`` names (a class, the mismatches, the low-confidence beats)."""
    fs = result.record.fs
    if what == "mismatch":
        return np.asarray(result.sample)[view.disagreements(result)] / fs
    if what == "low-confidence beat":
        conf = np.asarray(result.proba).max(axis=1) if np.asarray(result.proba).size else np.zeros(0)
        return np.asarray(result.sample)[conf < 0.6] / fs
    return view.class_times(result.sample, result.label, fs, what[0])


def navigation_ui(result, events, leads: list[str], has_denoiser: bool) -> str:
    """One wrapping row of controls above the strip; returns the chosen lead."""
    dur = result.record.duration_s
    i = int(st.session_state.get("event_i", -1))
    with st.container(horizontal=True, key="nav", vertical_alignment="bottom", gap="small"):
        lead = st.selectbox("Lead", leads, key="lead", width=110)
        st.selectbox("Window", view.WINDOW_CHOICES_S, key="win_s", format_func=lambda v: f"{v:g} s", width=90,
                     index=view.WINDOW_CHOICES_S.index(view.DEFAULT_WINDOW_S))
        st.button("◀ event", key="prev_event", on_click=show_event, args=(i - 1, events, dur), shortcut="P",
                  disabled=not events or i <= 0, help="Previous event, in order of importance (key P)")
        st.button("event ▶", key="next_event", on_click=show_event, args=(i + 1, events, dur), shortcut="N",
                  disabled=not events or i >= len(events) - 1, help="Next event, in order of importance (key N)")
        st.button("◀ page", key="prev_page", on_click=_page, args=(-1, dur), shortcut="Left",
                  help="The previous window (key ←)")
        st.button("page ▶", key="next_page", on_click=_page, args=(+1, dur), shortcut="Right",
                  help="The next window (key →)")
        what = st.selectbox("Step by", STEP_TARGETS, key="step_by", width=170)
        times = step_times(result, what)
        st.button("◀", key="prev_beat", on_click=_step_beat, args=(times, -1, dur, what), disabled=not len(times),
                  help=f"Previous {what}")
        st.button("▶", key="next_beat", on_click=_step_beat, args=(times, +1, dur, what), disabled=not len(times),
                  help=f"Next {what}")
        st.checkbox("Denoised overlay", key="denoise", disabled=not has_denoiser,
                    help=None if has_denoiser else "No denoising model (ecgdl/shipped/dae.onnx) is shipped.")
    msg = st.session_state.pop("_nav_msg", None)
    if msg:
        st.info(msg)
    if 0 <= i < len(events):
        e = events[i]
        st.caption(f"Event {i + 1} of {len(events)}: **{e.title}** at "
                   f"{format_time(e.start_s, result.record.start_clock_s)} · {e.detail} (shaded)")
    return lead


def scroll_to_strip() -> None:
    """After an event was chosen below the strip: bring the strip back into view (a one-off script)."""
    if not st.session_state.pop("_scroll", False):
        return
    n = st.session_state["_scrolls"] = st.session_state.get("_scrolls", 0) + 1
    with st.container(key=f"scroll_{n}"):     # a new element each time: its script runs again
        st.html("<script>for (const ms of [60, 300, 800, 1500, 2500, 4000]) setTimeout(() => {"
                " const el = document.querySelector('.st-key-strip_box');"
                " if (el) el.scrollIntoView({block: 'center', behavior: 'instant'}); }, ms);</script>",
                unsafe_allow_javascript=True)


def events_ui(result, events) -> None:
    """Every event, most important first: V runs, rhythm episodes, S runs, pauses, unusable signal, couplets,
    patterns, low-confidence beats. A click centres the strip on it and shades it."""
    if not events:
        st.caption("No events: no runs, couplets, patterns, pauses or low-confidence beats.")
        return
    dur, clock = result.record.duration_s, result.record.start_clock_s
    st.caption(f"{len(events)} events, most important first (VF/VFL, V runs, rhythm episodes, S runs, pauses, "
               "unusable or undetected signal, couplets, rate episodes, bigeminy/trigeminy, lowest-confidence "
               "beats). Click one to centre "
               "the strip on it; N / P step through them.")
    pages = max(1, -(-len(events) // EVENTS_SHOWN))
    page = 0
    if pages > 1:
        page = st.selectbox("Events shown", range(pages), key="event_page", width=220,
                            format_func=lambda p: f"{p * EVENTS_SHOWN + 1}–{min((p + 1) * EVENTS_SHOWN, len(events))} "
                                                  f"of {len(events)}")
    with st.container(height=300, key="event_list"):
        for k in range(page * EVENTS_SHOWN, min((page + 1) * EVENTS_SHOWN, len(events))):
            e = events[k]
            st.button(f"{k + 1}. {format_time(e.start_s, clock)} · {e.title} · {e.detail}", key=f"ev_{k}",
                      on_click=show_event, args=(k, events, dur), width="stretch",
                      type="primary" if k == st.session_state.get("event_i") else "secondary")
