"""Wide QRS complexes unlike the record's dominant one: the morphology evidence of the VT rule.

A clinical VT reading asks for >= 3 beats at > 100 bpm with a wide QRS (>= 120 ms) of a shape
unlike the record's sinus QRS. This module measures, per beat and on every lead of the conditioned
signal, two numbers against the record's **dominant template** (the median complex of the beats
labelled N, so a record whose own sinus QRS is wide, e.g. a bundle branch block, compares against
that wide complex, not against an absolute width):

* ``corr``: Pearson correlation of the beat's complex (``window_s`` around the R peak, each lead's
  median removed, leads concatenated) with the dominant template;
* ``width_ratio``: the beat's QRS width over the template's, the width read as the span holding the
  central 80 % of the complex's slope energy (sum over leads of the squared first difference between
  the 10 % and 90 % points of its cumulative sum): cheap, no onset/offset delineation, and a wide
  ventricular complex spreads its slopes where a narrow one concentrates them.

Torch-free numpy; vectorised over beats (a 30-min record: a few ms).

>>> fs = 360.0
>>> t = np.arange(int(30 * fs)) / fs
>>> narrow = lambda c: np.exp(-0.5 * ((t - c) / 0.012) ** 2)
>>> wide = lambda c: -1.5 * np.exp(-0.5 * ((t - c) / 0.045) ** 2)
>>> x = sum(narrow(c) for c in np.arange(1, 25)) + sum(wide(c) for c in (25.5, 26.0, 26.5))
>>> s = (np.r_[np.arange(1, 25), 25.5, 26.0, 26.5] * fs).astype(int)
>>> m = qrs_morphology(x, s, fs, np.array(list("N" * 27)))
>>> bool(m.corr[0] > 0.99), bool(m.corr[-1] < 0.5), bool(m.width_ratio[-1] > 2.0), bool(m.twin[-1] > 0.99)
(True, True, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class QRSMorphology:
    """Per beat: ``corr`` with the dominant template, ``width_ratio`` (beat width / template width) and
    ``twin`` (the larger correlation with the previous or the next beat: consecutive ventricular beats
    resemble each other, noise detections do not); NaN for a beat too near the record's ends.
    ``template_width_s``: the dominant template's width."""

    corr: np.ndarray
    width_ratio: np.ndarray
    twin: np.ndarray
    template_width_s: float


def _width(seg: np.ndarray, fs: float) -> np.ndarray:
    """``(n,)`` seconds between the 10 % and 90 % points of each complex's cumulative slope energy;
    seg ``(n, w, L)``."""
    e = (np.diff(seg, axis=1) ** 2).sum(axis=2)
    c = np.cumsum(e, axis=1)
    c /= np.maximum(c[:, -1:], 1e-12)
    return ((c < 0.9).sum(axis=1) - (c < 0.1).sum(axis=1)) / fs


def qrs_morphology(x: np.ndarray, sample: np.ndarray, fs: float, label: np.ndarray,
                   window_s: tuple[float, float] = (0.1, 0.15), max_template_beats: int = 600,
                   min_template_beats: int = 20) -> QRSMorphology | None:
    """Correlation and width ratio of each beat's QRS against the dominant (N-labelled) template.

    x: ``(n_samples,)`` or ``(n_samples, L)`` conditioned signal; sample: ``(n,)`` R peaks at ``fs``;
    label: ``(n,)`` predicted class letters (the template is the median of up to ``max_template_beats``
    N beats spread over the record). None when fewer than ``min_template_beats`` N beats lie inside.
    """
    x = np.asarray(x, np.float32)
    x = x[:, None] if x.ndim == 1 else x
    sample = np.asarray(sample, np.int64)
    a, b = int(round(window_s[0] * fs)), int(round(window_s[1] * fs))
    inside = (sample - a >= 0) & (sample + b < len(x))
    dom = np.flatnonzero(inside & (np.asarray(label) == "N"))
    if len(dom) < min_template_beats:
        return None
    idx = np.clip(sample[:, None] + np.arange(-a, b)[None, :], 0, len(x) - 1)
    seg = x[idx]                                                     # (n, w, L)
    seg = seg - np.median(seg, axis=1, keepdims=True)
    take = dom[np.linspace(0, len(dom) - 1, min(len(dom), max_template_beats)).astype(int)]
    tmpl = np.median(seg[take], axis=0)
    flat = seg.reshape(len(seg), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    t = tmpl.ravel() - tmpl.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = flat @ t / (np.linalg.norm(flat, axis=1) * np.linalg.norm(t))
        w_t = float(_width(tmpl[None], fs)[0])
        ratio = _width(seg, fs) / max(w_t, 1.0 / fs)
        unit = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    nb = np.einsum("ij,ij->i", unit[1:], unit[:-1]) if len(unit) > 1 else np.zeros(0)
    twin = np.fmax(np.r_[np.nan, nb], np.r_[nb, np.nan])
    nan = lambda v: np.where(inside, v, np.nan).astype(np.float64)
    return QRSMorphology(nan(corr), nan(ratio), nan(twin), w_t)
