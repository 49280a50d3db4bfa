"""Plotly figures of the viewer, built from the arrays of :mod:`ecgdl.view` (no signal processing here)."""

from __future__ import annotations

import plotly.graph_objects as go

from ecgdl.clock import clock_ticks, format_time
from ecgdl.review import trend_range
from ecgdl.view import RING_COLOUR, Markers, Trace, class_colour, class_label, show_letter

_PAPER = "#fff7f7"
_TEMPLATE = "plotly_white"
_FONT = dict(family="Source Sans Pro, sans-serif", size=13, color="#31333f")
_MINOR = "#f8d7d7"
_MAJOR = "#eeaaaa"


def strip_figure(tr: Trace, marks: list[Markers], *, start_s: float, stop_s: float, lead: str,
                 overlay: Trace | None = None, disagree: Markers | None = None,
                 unusable: list[tuple[float, float]] = (), highlight: tuple[float, float] | None = None,
                 start_clock_s: float | None = None, height: int = 300) -> go.Figure:
    """The detail strip on ECG paper (grid 0.2 s / 0.5 mV, minor 0.04 s / 0.1 mV): trace + beat markers,
    clock-time axis; ``highlight`` (the event under review) is shaded; ``unusable`` (start_s, end_s)
    stretches, where no beat could be detected, are greyed out; the denoised ``overlay`` is drawn under the
    trace, light and wide, so it never hides it; at wide windows N beats lose their letters (label thinning)."""
    fig = go.Figure()
    if highlight is not None and highlight[1] > start_s and highlight[0] < stop_s:
        a, b = max(highlight[0], start_s), min(max(highlight[1], highlight[0] + 0.3), stop_s)
        fig.add_vrect(x0=a - 0.15, x1=b + 0.15, fillcolor="#ffc107", opacity=0.22, line_width=1,  # over the paper
                      line_color="#c79100", layer="above", annotation_text="event", annotation_position="top left")
    for a, b in unusable:
        fig.add_vrect(x0=max(a, start_s), x1=min(b, stop_s), fillcolor="#9e9e9e", opacity=0.35, line_width=0,
                      annotation_text="unusable signal", annotation_position="top left")
    if overlay is not None:
        fig.add_trace(go.Scatter(x=overlay.t, y=overlay.y, mode="lines", name="denoised (under the trace)",
                                 line=dict(color="#56b4e9", width=3.0), opacity=0.45, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=tr.t, y=tr.y, mode="lines", name=lead, line=dict(color="#111", width=1.1),
                             hoverinfo="skip"))
    window = stop_s - start_s
    for m in marks:
        letters = show_letter(m.cls, window)
        fig.add_trace(go.Scatter(x=m.t, y=m.y, mode="markers+text" if letters else "markers",
                                 text=[m.cls] * len(m.t) if letters else None,
                                 textposition="top center", name=class_label(m.cls), hovertext=m.text,
                                 hoverinfo="text", textfont=dict(color=class_colour(m.cls), size=13),
                                 marker=dict(color=class_colour(m.cls), size=9 if letters else 6,
                                             symbol="triangle-down")))
    if disagree is not None and len(disagree.t):
        fig.add_trace(go.Scatter(x=disagree.t, y=disagree.y - 0.35, mode="markers+text", name="differs from reference",
                                 text=list(disagree.tag) if window <= 20 else None, textposition="bottom center",
                                 textfont=dict(color=RING_COLOUR, size=11), hovertext=disagree.text, hoverinfo="text",
                                 marker=dict(size=20, symbol="circle-open", color=RING_COLOUR, line=dict(width=2))))
    lo = float(min(tr.y.min(), -1.0)) if len(tr.y) else -1.0
    hi = float(max(max((m.y.max() for m in marks), default=0.0) + 0.4, tr.y.max() if len(tr.y) else 1.0, 1.0))
    _ecg_paper(fig, (start_s, stop_s), (lo - 0.1, hi), start_clock_s)
    fig.update_layout(height=height, margin=dict(l=50, r=10, t=6, b=34),
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right", font=dict(size=11)),
                      yaxis_title=f"{lead} (mV)", hovermode="closest", template=_TEMPLATE, font=_FONT)
    return fig


def _ecg_paper(fig: go.Figure, x_range: tuple[float, float], y_range: tuple[float, float],
               start_clock_s: float | None = None) -> None:
    """ECG paper as one background image in data coordinates: big squares 0.2 s x 0.5 mV, small 0.04 s x 0.1 mV
    (one element instead of hundreds of grid lines, so it is cheap to draw and stays aligned when zoomed);
    clock-time labels on an overlaid axis."""
    long_window = x_range[1] - x_range[0] > 20
    fig.add_layout_image(source=paper_svg(x_range, y_range, long_window), xref="x", yref="y", x=x_range[0],
                         y=y_range[1], sizex=x_range[1] - x_range[0], sizey=y_range[1] - y_range[0],
                         sizing="stretch", layer="below")
    fig.update_xaxes(range=list(x_range), showgrid=False, zeroline=False, showticklabels=False)
    fig.update_yaxes(range=list(y_range), dtick=0.5, showgrid=False, zeroline=False)
    vals, text = clock_ticks(x_range[0], x_range[1], start_clock_s)
    fig.update_layout(plot_bgcolor=_PAPER, xaxis2=dict(overlaying="x", matches="x", anchor="y", side="bottom",
                                                       tickvals=vals, ticktext=text, showgrid=False, ticks="outside"))
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


def add_bands(fig: go.Figure, bands, *, min_label_s: float = 0.0) -> None:
    """Rhythm-episode bands ``(start_s, end_s, code, colour)`` behind the trace; those at least
    ``min_label_s`` long are named at their top (short ones would pile their names into one smudge)."""
    for a, b, code, colour in bands:
        name = dict(annotation_text=code, annotation_position="top left", annotation_font=dict(size=9, color=colour))
        fig.add_vrect(x0=a, x1=b, fillcolor=colour, opacity=0.18, line_width=0, layer="below",
                      **(name if b - a >= min_label_s else {}))  # plotly writes "new text" on an empty name


def overview_figure(tr: Trace, ectopic: dict[str, list[float]], *, window: tuple[float, float],
                    duration_s: float, start_clock_s: float | None = None, bands=()) -> go.Figure:
    """The whole record, small, with the detail window shaded, each V/S beat ticked above it, the rhythm
    episodes as named bands (:func:`ecgdl.review.episode_bands`) and a clock axis."""
    fig = go.Figure(go.Scatter(x=tr.t, y=tr.y, mode="lines", line=dict(color="#444", width=0.6),
                               hoverinfo="skip", showlegend=False))
    add_bands(fig, bands, min_label_s=duration_s / 40)
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
    vals, text = clock_ticks(0.0, duration_s, start_clock_s, max_ticks=9)
    fig.update_layout(height=150, margin=dict(l=50, r=10, t=5, b=25), showlegend=True, template=_TEMPLATE, font=_FONT,
                      legend=dict(orientation="h", y=1.25), plot_bgcolor="#fafafa",
                      xaxis=dict(range=[0, duration_s], title=None, tickvals=vals, ticktext=text),
                      yaxis=dict(showticklabels=False, showgrid=False))
    return fig


def trend_figure(trend: list[dict], duration_s: float, start_clock_s: float | None = None, bands=()) -> go.Figure:
    """Mean heart rate per trend bin (bpm) at each bin's middle, bins clipped to the record, on an axis at
    least 40 bpm tall (:func:`ecgdl.review.trend_range`) and clock-time labels; the rhythm episodes
    (atrial fibrillation first among them) shaded behind it."""
    x = [(b["start_s"] + b["end_s"]) / 2 for b in trend]
    y = [b["mean_bpm"] for b in trend]
    labels = [f"{format_time(b['start_s'], start_clock_s)}-{format_time(b['end_s'], start_clock_s)}" for b in trend]
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers", line=dict(color="#d55e00"), customdata=labels,
                               hovertemplate="%{customdata}: %{y:.0f} bpm<extra></extra>"))
    add_bands(fig, bands, min_label_s=duration_s / 40)
    vals, text = clock_ticks(0.0, duration_s, start_clock_s, max_ticks=7)
    fig.update_layout(height=200, margin=dict(l=50, r=10, t=10, b=35), template=_TEMPLATE, font=_FONT,
                      xaxis=dict(range=[0, duration_s], tickvals=vals, ticktext=text, title="clock time"),
                      yaxis=dict(range=list(trend_range(y)), title="heart rate (bpm)"))
    return fig


def group_figure(templates: list, titles: list[str], fs: float) -> go.Figure:
    """Each morphology group's median beat side by side (same mV scale), titled with its number and size."""
    fig = go.Figure()
    for k, (tpl, title) in enumerate(zip(templates, titles)):
        x = [k + j / max(len(tpl) - 1, 1) * 0.85 for j in range(len(tpl))]
        fig.add_trace(go.Scatter(x=x, y=list(tpl), mode="lines", line=dict(color="#111", width=1.2),
                                 hoverinfo="skip", showlegend=False))
        fig.add_annotation(x=k + 0.42, y=1.0, yref="paper", text=title.replace(" · ", "<br>"), showarrow=False,
                           font=dict(size=10), yanchor="bottom")
    fig.update_layout(height=170, margin=dict(l=10, r=10, t=40, b=5), template=_TEMPLATE, font=_FONT,
                      xaxis=dict(visible=False), yaxis=dict(visible=False))
    return fig
