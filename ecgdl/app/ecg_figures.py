"""Plotly figures of the viewer, built from the arrays of :mod:`ecgdl.view` (no signal processing here)."""

from __future__ import annotations

import plotly.graph_objects as go

from ecgdl.view import Markers, Trace, class_colour, class_label

_PAPER = "#fff7f7"
_TEMPLATE = "plotly_white"
_FONT = dict(family="Source Sans Pro, sans-serif", size=13, color="#31333f")
_MINOR = "#f8d7d7"
_MAJOR = "#eeaaaa"


def strip_figure(tr: Trace, marks: list[Markers], *, start_s: float, stop_s: float, lead: str,
                 overlay: Trace | None = None, disagree: Markers | None = None,
                 unusable: list[tuple[float, float]] = ()) -> go.Figure:
    """The detail strip on ECG paper (grid 0.2 s / 0.5 mV, minor 0.04 s / 0.1 mV): trace + beat markers;
    ``unusable`` (start_s, end_s) stretches, where no beat could be detected, are greyed out."""
    fig = go.Figure()
    for a, b in unusable:
        fig.add_vrect(x0=max(a, start_s), x1=min(b, stop_s), fillcolor="#9e9e9e", opacity=0.35, line_width=0,
                      annotation_text="unusable signal", annotation_position="top left")
    fig.add_trace(go.Scatter(x=tr.t, y=tr.y, mode="lines", name=lead, line=dict(color="#111", width=1.1),
                             hoverinfo="skip"))
    if overlay is not None:
        fig.add_trace(go.Scatter(x=overlay.t, y=overlay.y, mode="lines", name="denoised",
                                 line=dict(color="#0072b2", width=1.0), opacity=0.75, hoverinfo="skip"))
    for m in marks:
        fig.add_trace(go.Scatter(x=m.t, y=m.y, mode="markers+text", text=[m.cls] * len(m.t),
                                 textposition="top center", name=class_label(m.cls), hovertext=m.text,
                                 hoverinfo="text", textfont=dict(color=class_colour(m.cls), size=13),
                                 marker=dict(color=class_colour(m.cls), size=9, symbol="triangle-down")))
    if disagree is not None and len(disagree.t):
        fig.add_trace(go.Scatter(x=disagree.t, y=disagree.y, mode="markers", name="differs from reference",
                                 hovertext=disagree.text, hoverinfo="text",
                                 marker=dict(size=22, symbol="circle-open", color="#e6007e", line=dict(width=2.5))))
    lo = float(min(tr.y.min(), -1.0)) if len(tr.y) else -1.0
    hi = float(max(max((m.y.max() for m in marks), default=0.0) + 0.4, tr.y.max() if len(tr.y) else 1.0, 1.0))
    _ecg_paper(fig, (start_s, stop_s), (lo - 0.1, hi))
    fig.update_layout(height=360, margin=dict(l=50, r=10, t=10, b=40), legend=dict(orientation="h", y=-0.18),
                      yaxis_title="mV", hovermode="closest", template=_TEMPLATE, font=_FONT)
    return fig


def _ecg_paper(fig: go.Figure, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
    """ECG paper as one background image in data coordinates: big squares 0.2 s x 0.5 mV, small 0.04 s x 0.1 mV
    (one element instead of hundreds of grid lines, so it is cheap to draw and stays aligned when zoomed);
    time labels every second on an overlaid axis."""
    long_window = x_range[1] - x_range[0] > 20
    fig.add_layout_image(source=paper_svg(x_range, y_range, long_window), xref="x", yref="y", x=x_range[0],
                         y=y_range[1], sizex=x_range[1] - x_range[0], sizey=y_range[1] - y_range[0],
                         sizing="stretch", layer="below")
    fig.update_xaxes(range=list(x_range), showgrid=False, zeroline=False, showticklabels=False)
    fig.update_yaxes(range=list(y_range), dtick=0.5, showgrid=False, zeroline=False)
    fig.update_layout(plot_bgcolor=_PAPER, xaxis2=dict(overlaying="x", matches="x", anchor="y", side="bottom",
                                                       dtick=5.0 if long_window else 1.0, showgrid=False,
                                                       ticks="outside", title="time (s)"))
    fig.add_trace(go.Scatter(x=list(x_range), y=[y_range[0]] * 2, xaxis="x2", mode="lines", hoverinfo="skip",
                             showlegend=False, line=dict(width=0)))


def paper_svg(x_range: tuple[float, float], y_range: tuple[float, float], long_window: bool = False) -> str:
    """A data-URI SVG of ECG paper for ``x_range`` (s) x ``y_range`` (mV); lines sit at absolute multiples."""
    import base64
    import math

    dx = 0.2 if long_window else 0.04                    # small square, seconds
    w, h = (x_range[1] - x_range[0]) / dx, (y_range[1] - y_range[0]) / 0.1
    lines = []
    for k in range(math.ceil(x_range[0] / dx - 1e-6), math.floor(x_range[1] / dx + 1e-6) + 1):
        x = k - x_range[0] / dx
        major = k % 5 == 0
        lines.append(f'<path d="M{x:.3f} 0V{h:.3f}" class="{"M" if major else "m"}"/>')
    for k in range(math.ceil(y_range[0] / 0.1 - 1e-6), math.floor(y_range[1] / 0.1 + 1e-6) + 1):
        y = y_range[1] / 0.1 - k
        major = k % 5 == 0
        lines.append(f'<path d="M0 {y:.3f}H{w:.3f}" class="{"M" if major else "m"}"/>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.3f} {h:.3f}" preserveAspectRatio="none">'
           f"<style>path{{vector-effect:non-scaling-stroke}}.m{{stroke:{_MINOR};stroke-width:0.7px}}"
           f".M{{stroke:{_MAJOR};stroke-width:1.2px}}</style>"
           f'<rect width="{w:.3f}" height="{h:.3f}" fill="{_PAPER}"/>' + "".join(lines) + "</svg>")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def overview_figure(tr: Trace, ectopic: dict[str, list[float]], *, window: tuple[float, float],
                    duration_s: float) -> go.Figure:
    """The whole record, small, with the detail window shaded and each V/S beat ticked above it."""
    fig = go.Figure(go.Scatter(x=tr.t, y=tr.y, mode="lines", line=dict(color="#444", width=0.6),
                               hoverinfo="skip", showlegend=False))
    top = float(tr.y.max()) if len(tr.y) else 1.0
    for k, (cls, times) in enumerate(ectopic.items()):
        if len(times):   # one path of vertical ticks per class: cheap to draw even for thousands of beats
            y0, y1 = top + 0.25 + 0.45 * k, top + 0.6 + 0.45 * k
            xs = [v for t in times for v in (t, t, None)]
            ys = [v for _ in times for v in (y0, y1, None)]
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"{class_label(cls)} ({len(times):,})",
                                     line=dict(color=class_colour(cls), width=1), hoverinfo="skip"))
    fig.add_vrect(x0=window[0], x1=window[1], fillcolor="#ffcc00", opacity=0.35, line_width=1,
                  line_color="#c09000")
    fig.update_layout(height=170, margin=dict(l=50, r=10, t=5, b=30), showlegend=True, template=_TEMPLATE, font=_FONT,
                      legend=dict(orientation="h", y=1.25), xaxis=dict(range=[0, duration_s], title=None),
                      yaxis=dict(showticklabels=False, showgrid=False), plot_bgcolor="#fafafa")
    return fig


def trend_figure(trend: list[dict]) -> go.Figure:
    """Mean heart rate per trend bin (bpm) against time (minutes)."""
    x = [(b["start_s"] + b["end_s"]) / 120.0 for b in trend]
    y = [b["mean_bpm"] for b in trend]
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers", line=dict(color="#d55e00"),
                               hovertemplate="%{x:.0f} min: %{y:.0f} bpm<extra></extra>"))
    fig.update_layout(height=200, margin=dict(l=50, r=10, t=10, b=35), xaxis_title="time (min)",
                      yaxis_title="heart rate (bpm)", template=_TEMPLATE, font=_FONT)
    return fig
