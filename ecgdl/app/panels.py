"""The Summary, Agreement and Model tabs of the viewer: burden, heart rate and its trend, HRV and episode
counts; Se/+P against the reference annotations; the model's facts, test metrics and intended use."""

from __future__ import annotations

import streamlit as st

from ecgdl import view
from ecgdl.app import review_ui
from ecgdl.app.ecg_figures import trend_figure
from ecgdl.clinical_report import ds2_metrics, ds2_summary, intended_use, model_facts
from ecgdl.clock import format_time
from ecgdl.review import episode_bands, hr_trend, record_hrv, rhythm_episodes
from ecgdl.rhythm import noise_gated_note

PLOT_CONFIG = review_ui.PLOT_CONFIG


def summary_ui(result) -> None:
    """Burden, heart rate and its trend, and the episode counts (the events themselves: the Events tab)."""
    s, rec = result.summary, result.record
    hr, pct = s["heart_rate"], s["percent"]
    c1, c2 = st.columns([1, 2])
    with c1:
        st.markdown(f"**Ventricular burden** {pct.get('V', 0):.2f}%  \n"
                    f"**Supraventricular burden** {pct.get('S', 0):.2f}%"
                    f"  \n**Ectopic, V + S** {pct.get('V', 0) + pct.get('S', 0):.2f}%  \n**Fusion (F)** "
                    f"{pct.get('F', 0):.2f}% (not counted as ectopic above)")
        note = noise_gated_note(s)
        if note:
            st.caption(note)
        for key, label in (("min", "Slowest"), ("max", "Fastest")):
            if hr[f"{key}_bpm"] is not None:
                t = hr[f"{key}_at_s"]
                st.button(f"{label} rate {hr[f'{key}_bpm']:.0f} bpm at {format_time(t, rec.start_clock_s)}",
                          key=f"hr_{key}", on_click=review_ui.show_time, args=(t, rec.duration_s))
    trend = hr_trend(result.sample, rec.fs, rec.duration_s, s.get("rhythm_config"))
    if trend:
        c2.plotly_chart(trend_figure(trend, rec.duration_s, rec.start_clock_s, episode_bands(result)), config=PLOT_CONFIG, key="trend",
                        theme=None)
    hrv = record_hrv(result)
    if hrv and hrv.get("sdnn_ms") is not None:
        st.markdown(f"**Heart-rate variability** (N-N intervals): SDNN {hrv['sdnn_ms']:.0f} ms, RMSSD "
                    f"{hrv['rmssd_ms']:.0f} ms, pNN50 {hrv['pnn50_pct']:.1f}%"
                    + (f", LF/HF {hrv['lf_hf']:.2f}" if hrv.get("lf_hf") is not None else ""))
    counts: dict[str, int] = {}
    for e in view.episodes(s) + rhythm_episodes(result):
        counts[e.title] = counts.get(e.title, 0) + 1
    st.markdown("**Episodes:** " + (", ".join(f"{k} × {v}" for k, v in counts.items()) or "none found")
                + " — every one is in the Events tab, most important first.")


def agreement_ui(result) -> None:
    """Se/+P per class against the reference annotations, and the disagreements (ringed on the strip)."""
    if not result.reference:
        st.caption("No reference annotations (.atr) came with this record.")
        return
    ref = result.reference
    if ref.get("reference_beats"):
        st.caption(f"{ref['matched']:,} of {ref['reference_beats']:,} reference beats matched a detected beat within "
                   f"{1000 * ref.get('tolerance_s', 0.15):.0f} ms (AAMI EC57); Se = sensitivity, +P = positive "
                   "predictivity, per class (the model's labels, before any correction).")
    st.table(_frame(view.agreement_rows(ref)))
    n = len(view.disagreements(result))
    st.markdown(f"**{n:,} beats differ from the reference.** They are ringed in black on the strip with the "
                "reference label beside the ring; choose *mismatch* under *Step by* to step through them.")


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
    adaptive = ds2_metrics(meta, adaptive=True)
    if adaptive:
        st.markdown("**With the patient-adaptive step** (the default scoring: DS2 through `ecgdl score`, "
                    "its own R-peaks, 150 ms matching) — the figures the class tiles show for an adapted record")
        st.table(_frame(view.metric_rows(adaptive)))
    st.warning(intended_use(meta), icon="⚠️")
