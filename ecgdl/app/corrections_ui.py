"""The Corrections and Downloads tabs: relabel one beat or a whole morphology group, add or delete a beat,
undo; export the corrected annotations (WFDB, CSV) and the reports (PDF, HTML). Thin over
:mod:`ecgdl.corrections` and :mod:`ecgdl.pdf_report`; the corrections live in the session only.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ecgdl import corrections as corr
from ecgdl import view
from ecgdl.app.ecg_figures import group_figure
from ecgdl.app.review_ui import PATIENT_FIELDS, PLOT_CONFIG
from ecgdl.clock import format_time


def _who() -> str:
    return str(st.session_state.get("reader") or "")


def _when() -> str:
    """The review date the reader typed, else today's date (UTC)."""
    import datetime as dt

    return str(st.session_state.get("review_date") or dt.datetime.now(dt.timezone.utc).date().isoformat())


def _add(c: corr.Correction) -> None:
    st.session_state["corrections"] = [*(st.session_state.get("corrections") or []), c]


def groups_for(original, key: str) -> np.ndarray:
    """Morphology groups of the model's beats, computed once per record and session."""
    memo = st.session_state.get("_groups")
    if not memo or memo[0] != key:
        with st.spinner("Grouping the beats by shape…"):
            memo = (key, corr.morphology_groups(original))
        st.session_state["_groups"] = memo
    return memo[1]


def _relabel_group(original, fixed, groups) -> None:
    """Relabel the chosen group (read from the widgets at click time) as the chosen class."""
    group, new = int(st.session_state["grp_pick"]), str(st.session_state["grp_new"])
    present = set(np.asarray(fixed.sample).tolist())
    c = corr.group_relabel(original, groups, group, new, who=_who())
    _add(corr.Correction("relabel", tuple(s for s in c.samples if s in present), new, group, c.who, c.when))


def _beat_edit(op: str, fixed) -> None:
    """Relabel / delete the chosen beat, or add one, from the widgets' values at click time."""
    ss = st.session_state
    if op == "add":
        start = view.clamp_window(float(ss.get("start_s", 0.0)), float(ss.get("win_s", view.DEFAULT_WINDOW_S)),
                                  fixed.record.duration_s)[0]
        sample, new = int(round((start + float(ss["add_at"])) * fixed.record.fs)), str(ss["add_new"])
    else:
        sample, new = int(fixed.sample[int(ss["beat_pick"])]), str(ss.get("beat_new", "")) if op == "relabel" else ""
    _add(corr.Correction(op, (sample,), new, who=_who(), when=corr.now_utc()))


def _undo() -> None:
    st.session_state["corrections"] = (st.session_state.get("corrections") or [])[:-1]


def corrections_ui(fixed, original, clf) -> None:
    """Group relabel, beat relabel / delete / add, the list of corrections with undo, and the export."""
    classes = tuple(clf.classes)
    key = st.session_state.get("_source", "")
    groups = groups_for(original, key)
    st.markdown("**Relabel a whole morphology group** (beats of one shape; "
                + ("the scoring path's template clusters)" if getattr(original, "cluster", None) is not None
                   else "k-means on the beat shapes, `ecgdl.corrections.morphology_groups`)"))
    _group_ui(fixed, original, groups, classes)
    st.markdown("**One beat in the strip**")
    _beat_ui(fixed, classes)
    _list_ui(fixed)


def _group_ui(fixed, original, groups: np.ndarray, classes) -> None:
    n = int(groups.max()) + 1 if groups.size else 0
    if not n:
        st.caption("No beats to group.")
        return
    labels = np.asarray(original.label).astype(str)
    shapes = corr.beat_shapes(original)

    def describe(g: int) -> str:
        sel = groups == g
        lab, cnt = np.unique(labels[sel], return_counts=True)
        mix = ", ".join(f"{a} {b:,}" for a, b in sorted(zip(lab, cnt), key=lambda x: -x[1]))
        return f"Group {g + 1} · {int(sel.sum()):,} beats · model: {mix}"

    templates = [np.median(shapes[groups == g], axis=0) for g in range(min(n, 12))]
    st.plotly_chart(group_figure(templates, [describe(g).split(" · model")[0] for g in range(len(templates))],
                                 fixed.record.fs), config=PLOT_CONFIG, key="groups", theme=None)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        g = st.selectbox("Group", range(n), format_func=describe, key="grp_pick", width=380)
        st.selectbox("New label", classes, key="grp_new", format_func=view.class_label, width=320)
        st.button("Relabel group", key="grp_apply", on_click=_relabel_group, args=(original, fixed, groups))
        first = np.asarray(original.sample)[groups == g]
        st.button("Show a beat of it", key="grp_show", on_click=_show_sample,
                  args=(int(first[0]) if first.size else 0, fixed))


def _show_sample(sample: int, fixed) -> None:
    from ecgdl.app.review_ui import show_time

    show_time(sample / fixed.record.fs, fixed.record.duration_s)


def _beat_ui(fixed, classes) -> None:
    rec = fixed.record
    win = float(st.session_state.get("win_s", view.DEFAULT_WINDOW_S))
    start, stop = view.clamp_window(float(st.session_state.get("start_s", 0.0)), win, rec.duration_s)
    sel = view.in_window(fixed.sample, rec.fs, start, stop)
    conf = np.asarray(fixed.proba).max(axis=1) if np.asarray(fixed.proba).size else np.zeros(len(fixed.sample))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        if sel.size:
            st.selectbox("Beat in the window", sel.tolist(), key="beat_pick", width=250,
                             format_func=lambda k: f"{format_time(fixed.sample[k] / rec.fs, rec.start_clock_s)}"
                                                   f".{int(fixed.sample[k] / rec.fs % 1 * 100):02d} · "
                                                   f"{fixed.label[k]} (p {conf[k]:.2f})")
            st.selectbox("New label", classes, key="beat_new", format_func=view.class_label, width=320)
            st.button("Relabel beat", key="beat_apply", on_click=_beat_edit, args=("relabel", fixed))
            st.button("Delete beat", key="beat_delete", on_click=_beat_edit, args=("delete", fixed))
        st.number_input("Add a beat at (s into the window)", 0.0, float(stop - start), 0.0, 0.05, key="add_at",
                        width=200)
        st.selectbox("Its label", classes, key="add_new", format_func=view.class_label, width=320)
        st.button("Add beat", key="add_apply", on_click=_beat_edit, args=("add", fixed))


def _list_ui(fixed) -> None:
    edits = st.session_state.get("corrections") or []
    rec = fixed.record
    if not edits:
        st.caption("No corrections yet: the counts, summary and reports show the model's labels.")
        return
    st.markdown(f"**{len(edits)} correction(s)** — the tiles, summary, events and reports follow them:")
    st.markdown("\n".join(f"- {c.describe(rec.start_clock_s, rec.fs)} ({c.who or 'reader not named'}, {c.when})"
                          for c in edits))
    st.button("Undo the last correction", key="undo", on_click=_undo)
    export_ui(fixed)


def export_ui(fixed) -> None:
    """Download the corrected annotations as a WFDB annotation file and as CSV."""
    name, who, when = fixed.record.name, _who(), _when()      # read now: the downloads are built later
    if not who:
        st.caption("Type your name as reader (sidebar, *Patient, recording and reader*) to sign the export.")
    c1, c2 = st.columns(2)
    c1.download_button("Corrected annotations (WFDB .cor)", lambda: corr.annotation_bytes(fixed, who, when),
                       file_name=f"{name}.cor", mime="application/octet-stream", key="dl_wfdb", on_click="ignore",
                       help=f"Read it with wfdb.rdann('{name}', 'cor') next to the record's header.")
    c2.download_button("Corrected annotations (CSV)", lambda: corr.corrections_csv(fixed, who, when),
                       file_name=f"{name}_corrected.csv", mime="text/csv", key="dl_corr_csv", on_click="ignore")


def downloads_ui(fixed, clf) -> None:
    """Per-beat CSV, summary JSON, the PDF and HTML reports (all after corrections), the corrected annotations."""
    from ecgdl.clinical_report import render_report
    from ecgdl.pdf_report import render_pdf

    name, who, when = fixed.record.name, _who(), _when()      # read now: the downloads are built later
    edits = list(st.session_state.get("corrections") or [])
    patient = {label: str(st.session_state.get(k) or "") for k, label in PATIENT_FIELDS}
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button("PDF report", lambda: render_pdf(fixed, clf.meta, patient=patient, corrections=edits,
                                                        reviewer=who, review_date=when),
                       file_name=f"{name}_report.pdf", mime="application/pdf", key="dl_pdf", on_click="ignore")
    c2.download_button("Per-beat CSV", fixed.beats_csv, file_name=f"{name}_beats.csv", mime="text/csv",
                       key="dl_csv", on_click="ignore")
    c3.download_button("Summary JSON", fixed.summary_json, file_name=f"{name}_summary.json",
                       mime="application/json", key="dl_json", on_click="ignore")
    c4.download_button("Printable report (HTML)", lambda: render_report(fixed, clf.meta, provider=clf.provider),
                       file_name=f"{name}_report.html", mime="text/html", key="dl_html", on_click="ignore")
    st.caption("The PDF holds the recording and patient fields (sidebar), the summary with each class's "
               "reliability, the events, a strip per notable event, your corrections and a sign-off line. "
               + (f"{len(edits)} correction(s) are included." if edits else "No corrections so far."))
    export_ui(fixed)
