"""Wide QRS complexes unlike the record's dominant one: the morphology evidence of the VT rule.

A clinical VT reading asks for >= 3 beats at > 100 bpm with a wide QRS (>= 120 ms) of a shape
unlike the record's sinus QRS. This module measures, per beat and on every lead of the conditioned
signal, two numbers against the record's **dominant template** (the median complex of the beats
labelled N, so a record whose own sinus QRS is wide, e.g. a bundle branch block, compares against
that wide complex, not against an absolute width):

* ``corr``: Pearson correlation of the beat's complex (``window_s`` around the R peak, each lead's
  mean removed, leads concatenated) with the dominant template;
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
    seg ``(L, n, w)``."""
    d = np.diff(seg, axis=-1)
    c = np.cumsum(np.einsum("lnw,lnw->nw", d, d), axis=1)
    c /= np.maximum(c[:, -1:], 1e-12)
    return ((c < 0.9).sum(axis=1) - (c < 0.1).sum(axis=1)) / fs


def _segments(x: np.ndarray, at: np.ndarray, a: int, b: int) -> np.ndarray:
    """``(L, m, a + b)`` float32 complexes ``[-a, b)`` of ``x`` ``(n_samples, L)`` around the samples ``at``
    (all inside), each lead's mean removed. Only the complexes are copied (a 24-h record's signal is not)."""
    idx = at[:, None] + np.arange(-a, b)[None, :]
    seg = np.stack([x[idx, k] for k in range(x.shape[1])]).astype(np.float32, copy=False)
    seg -= seg.mean(axis=-1, keepdims=True)
    return seg


def qrs_morphology(x: np.ndarray, sample: np.ndarray, fs: float, label: np.ndarray,
                   window_s: tuple[float, float] = (0.1, 0.15), max_template_beats: int = 600,
                   min_template_beats: int = 20, only: np.ndarray | None = None) -> QRSMorphology | None:
    """Correlation and width ratio of each beat's QRS against the dominant (N-labelled) template.

    x: ``(n_samples,)`` or ``(n_samples, L)`` conditioned signal; sample: ``(n,)`` R peaks at ``fs``;
    label: ``(n,)`` predicted class letters (the template is the median of up to ``max_template_beats``
    N beats spread over the record); only: ``(n,)`` bool, measure these beats (and their neighbours, for
    ``twin``) only, NaN elsewhere (the VT rule asks about fast beats: most of a record is skipped). None when
    fewer than ``min_template_beats`` N beats lie inside.
    """
    x = np.asarray(x)
    x = x[:, None] if x.ndim == 1 else x                             # (n_samples, L), not copied
    sample = np.asarray(sample, np.int64)
    n = len(sample)
    a, b = int(round(window_s[0] * fs)), int(round(window_s[1] * fs))
    inside = (sample - a >= 0) & (sample + b < x.shape[0])
    dom = np.flatnonzero(inside & (np.asarray(label) == "N"))
    if len(dom) < min_template_beats:
        return None
    take = dom[np.linspace(0, len(dom) - 1, min(len(dom), max_template_beats)).astype(int)]
    tmpl = np.median(np.ascontiguousarray(_segments(x, sample[take], a, b).transpose(0, 2, 1)), axis=-1)[:, None]
    want = np.ones(n, bool) if only is None else np.asarray(only, bool)
    want = want | np.r_[want[1:], False] | np.r_[False, want[:-1]]
    ext = np.flatnonzero(inside & want)
    corr, ratio, twin = (np.full(n, np.nan) for _ in range(3))
    w_t = float(_width(tmpl, fs)[0])
    if not len(ext):
        return QRSMorphology(corr, ratio, twin, w_t)
    seg = _segments(x, sample[ext], a, b)                           # (L, m, w)
    flat = seg.transpose(1, 0, 2).reshape(len(ext), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    t = tmpl.transpose(1, 0, 2).ravel() - tmpl.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = np.linalg.norm(flat, axis=1)
        corr[ext] = flat @ t / (norm * np.linalg.norm(t))
        ratio[ext] = _width(seg, fs) / max(w_t, 1.0 / fs)
        nb = np.einsum("ij,ij->i", flat[1:], flat[:-1]) / (norm[1:] * norm[:-1])
    pair = np.flatnonzero(np.diff(ext) == 1)                          # ext[j], ext[j + 1] are neighbours
    twin[ext[pair]] = nb[pair]
    twin[ext[pair + 1]] = np.fmax(twin[ext[pair + 1]], nb[pair])
    return QRSMorphology(corr, ratio, twin, w_t)
