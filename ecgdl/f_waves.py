"""Fibrillatory (f) waves: the atrial activity left once the QRST complexes are cancelled.

AF is an irregular ventricular rhythm *with* fibrillatory atrial activity; an irregular rhythm whose
atria are quiet between the complexes (junctional rhythm, sinus rhythm whose P waves the pre-R test
missed, ectopy) is not. The RR and P-wave evidence of :mod:`ecgdl.af` cannot tell those apart; the
atrial signal can. Per lead:

1. **QRST cancellation by average beat subtraction** (Slocum et al. 1992; Stridh & Sornmo 2001): each
   beat's window ``[R - a, R + b]`` (``a = min(0.30 s, 0.45 RR_before)``, ``b = min(0.45 s, 0.55 RR_after)``:
   P wave to T wave, never two beats' windows overlapping) minus the median of the beats of its label in
   its block of ``template_beats`` consecutive such beats; the QRS itself (``-50..+80 ms``), where any
   misalignment leaves a spike, is replaced by a straight line. A repeating P wave is part of the template
   and cancels; f waves, which are not locked to the QRS, do not.
2. **Dominant atrial frequency** of the residual: Welch spectrum (4-s Hann segments, half overlap) over
   ``window_s`` windows every ``hop_s``, the frequency of its largest peak in 3-12 Hz. f waves in AF put it
   at 4-9 Hz (lead V1: 3.5-8.8 Hz, mean 6.0 in 12-lead AF recordings; Husser, Stridh, Sornmo, Olsson &
   Bollmann 2004, Indian Pacing Electrophysiol J 4:122); a quiet residual (noise and cancellation error,
   whose spectrum falls with frequency) puts it at the band's low edge.
3. Per beat, the **median** over the windows within ``smooth_s`` of it of the **highest** lead's dominant
   frequency (f waves are clearest in V1, which need not be the first lead).

:func:`f_wave_frequency` returns that per-beat figure; ``ecgdl.episodes`` (``EpisodeConfig.af_fwave_hz``)
takes AF votes away where it is below the threshold. Plain numpy + ``scipy.signal.welch``; torch-free. Only the
stretches asked for (``only``) are measured, so a record without AF candidates costs nothing.

>>> import numpy as np
>>> fs, rng = 250.0, np.random.default_rng(0)
>>> t = np.arange(int(120 * fs)) / fs
>>> r = np.cumsum(rng.uniform(0.5, 1.0, 200) * fs).astype(int); r = r[r < len(t) - fs]
>>> qrs = np.zeros_like(t); qrs[r] = 1.0
>>> qrs = np.convolve(qrs, np.hanning(int(0.08 * fs)), "same")
>>> af = qrs + 0.08 * np.sin(2 * np.pi * 6.0 * t + 2 * np.sin(2 * np.pi * 0.3 * t))
>>> float(np.median(f_wave_frequency(af[:, None], fs, r, np.full(len(r), "N")))) > 4.5
True
>>> float(np.median(f_wave_frequency(qrs[:, None] + 0.01 * rng.standard_normal((len(t), 1)), fs, r,
...                                  np.full(len(r), "N")))) < 4.0
True
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FWaveConfig:
    """Cancellation windows, template blocks and spectral windows (seconds, beats, Hz)."""

    before_s: float = 0.30
    after_s: float = 0.45
    before_rr: float = 0.45
    after_rr: float = 0.55
    qrs_s: tuple[float, float] = (-0.05, 0.08)
    template_beats: int = 31
    window_s: float = 10.0
    hop_s: float = 5.0
    segment_s: float = 4.0
    band_hz: tuple[float, float] = (3.0, 12.0)
    smooth_s: float = 15.0


def atrial_residual(x: np.ndarray, fs: float, sample: np.ndarray, label: np.ndarray,
                    cfg: FWaveConfig = FWaveConfig()) -> np.ndarray:
    """``x`` (one conditioned lead) with every beat's QRST replaced by its residual from the block template."""
    x = np.asarray(x, np.float64)
    res = x.copy()
    n, A, B = len(x), int(round(cfg.before_s * fs)), int(round(cfg.after_s * fs))
    s = np.asarray(sample, np.int64)
    ok = (s - A >= 0) & (s + B < n)
    s, lab = s[ok], np.asarray(label).astype(str)[ok]
    if len(s) < 3:
        return res
    rr = np.diff(s) / fs
    a = np.minimum(cfg.before_s, cfg.before_rr * np.r_[2 * cfg.before_s, rr])
    b = np.minimum(cfg.after_s, cfg.after_rr * np.r_[rr, 2 * cfg.after_s])
    off = np.arange(-A, B)
    idx = s[:, None] + off[None, :]
    segs = x[idx]
    tpl = np.zeros_like(segs)
    k = max(3, cfg.template_beats)
    have = np.zeros(len(s), bool)         # beats with a template (a class of >= 3 beats); the rest stay as they are
    for c in np.unique(lab):
        rows = np.flatnonzero(lab == c)
        if len(rows) < 3:
            continue
        have[rows] = True
        for blk in np.array_split(rows, max(1, len(rows) // k)):
            tpl[blk] = np.median(segs[blk], axis=0)
    t = off[None, :] / fs
    inside = (t >= -a[:, None]) & (t < b[:, None]) & have[:, None]
    res[idx[inside]] = (segs - tpl)[inside]
    q0, q1 = int(round(cfg.qrs_s[0] * fs)), int(round(cfg.qrs_s[1] * fs))
    i0, i1 = s + q0 - 1, s + q1
    frac = (np.arange(q0, q1) - (q0 - 1)) / (q1 - q0 + 1)
    line = res[i0][:, None] + (res[i1] - res[i0])[:, None] * frac[None, :]
    res[(s[:, None] + np.arange(q0, q1)[None, :])] = line
    return res


def dominant_frequency(res: np.ndarray, fs: float, cfg: FWaveConfig = FWaveConfig(),
                       starts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(centre_s, df_hz)`` of the residual's windows (``starts``: their first samples; default every hop)."""
    from scipy.signal import welch

    W, seg = int(round(cfg.window_s * fs)), int(round(cfg.segment_s * fs))
    if len(res) < W:
        return np.zeros(0), np.zeros(0)
    if starts is None:
        starts = np.arange(0, len(res) - W + 1, max(1, int(round(cfg.hop_s * fs))))
    frames = res[np.asarray(starts)[:, None] + np.arange(W)[None, :]]
    f, p = welch(frames, fs, nperseg=seg, noverlap=seg // 2, axis=-1)
    band = (f >= cfg.band_hz[0]) & (f <= cfg.band_hz[1])
    df = f[band][np.argmax(p[:, band], axis=1)]
    return (np.asarray(starts) + W / 2) / fs, df


def f_wave_frequency(signals: np.ndarray, fs: float, sample: np.ndarray, label: np.ndarray,
                     cfg: FWaveConfig = FWaveConfig(), only: np.ndarray | None = None) -> np.ndarray:
    """``(n,)`` per beat: the median, over the windows within ``smooth_s``, of the highest lead's dominant
    atrial frequency (Hz); NaN where not measured (outside ``only``, a bool mask of beats, or too near an end)."""
    sig = np.asarray(signals, np.float64)
    sig = sig[:, None] if sig.ndim == 1 else sig
    sample = np.asarray(sample, np.int64)
    out = np.full(len(sample), np.nan)
    W, hop = int(round(cfg.window_s * fs)), max(1, int(round(cfg.hop_s * fs)))
    if len(sample) < 3 or sig.shape[0] < W:
        return out
    starts = np.arange(0, sig.shape[0] - W + 1, hop)
    centre = (starts + W / 2) / fs
    t = sample / fs
    want = np.ones(len(sample), bool) if only is None else np.asarray(only, bool)
    if not want.any():
        return out
    lo = np.searchsorted(centre, t[want] - cfg.smooth_s, "left")
    hi = np.searchsorted(centre, t[want] + cfg.smooth_s, "right")
    mark = np.zeros(len(starts) + 1, np.int64)
    np.add.at(mark, lo, 1)
    np.add.at(mark, hi, -1)
    near = np.cumsum(mark)[:-1] > 0                     # windows within smooth_s of a wanted beat
    if not near.any():
        return out
    df = np.full(len(starts), np.nan)
    best = np.full(near.sum(), -np.inf)
    for j in range(sig.shape[1]):
        res = atrial_residual(sig[:, j], fs, sample, label, cfg)
        best = np.maximum(best, dominant_frequency(res, fs, cfg, starts[near])[1])
    df[near] = best
    h = int(round(cfg.smooth_s / cfg.hop_s))             # rolling median over the windows within smooth_s
    pad = np.r_[np.full(h, np.nan), df, np.full(h, np.nan)]
    roll = np.lib.stride_tricks.sliding_window_view(pad, 2 * h + 1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # all-NaN windows: NaN (not measured)
        smooth = np.nanmedian(roll, axis=1)
    k = np.zeros(int(want.sum()), np.int64)
    if len(centre) > 1:                                    # the nearest window centre
        k = np.clip(np.searchsorted(centre, t[want]), 1, len(centre) - 1)
        k -= (t[want] - centre[k - 1]) < (centre[k] - t[want])
    out[want] = smooth[k]
    return out
