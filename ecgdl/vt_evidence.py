"""Per-beat evidence the VT rule of ``ecgdl.episodes`` reads: strong and member V beats from the labels and
probabilities (:func:`v_evidence`), wide QRS complexes unlike the dominant one (:func:`wide_beats`,
``ecgdl.wide_qrs``) and the bridging of a weak beat between two strong ones (:func:`bridged`).

``cfg`` is an ``ecgdl.episodes.EpisodeConfig`` (its ``vt_*`` fields); these functions only read it.
Pure numpy, torch-free; the episodes are built in ``ecgdl.episodes.ectopic_runs``.
"""

from __future__ import annotations

import numpy as np


def v_evidence(label, cfg, p_v=None, p_v_ind=None) -> tuple[np.ndarray, np.ndarray]:
    """``(strong, member)`` per beat from the labels and probabilities (``ecgdl.episodes.ectopic_runs``)."""
    is_x = label == "V"
    strong = is_x & (p_v >= cfg.vt_min_pv) if p_v is not None else is_x
    if p_v_ind is not None and cfg.vt_ind_pv is not None:
        ind = np.asarray(p_v_ind) >= cfg.vt_ind_pv
        strong, is_x = strong | ind, is_x | ind
    return strong, is_x


def wide_beats(qrs_signal, sample, label, fs, cfg, skip: np.ndarray | None = None) -> np.ndarray | None:
    """Beats whose QRS is wide and unlike the record's dominant one (``ecgdl.wide_qrs``): correlation with
    the dominant template < ``vt_wide_corr``, width >= ``vt_wide_ratio`` x the template's, and (with
    ``vt_wide_twin``) correlation >= that with a neighbouring beat; None when off or not measurable. Only
    beats within two of an RR faster than ``vt_min_bpm`` are measured, and none in ``skip`` (beats already
    strong V beats: the evidence would change nothing there)."""
    if cfg.vt_wide_corr is None or qrs_signal is None:
        return None
    from ecgdl.wide_qrs import qrs_morphology

    rr = np.diff(sample) / fs
    fast = np.r_[False, rr < 60.0 / cfg.vt_min_bpm] | np.r_[rr < 60.0 / cfg.vt_min_bpm, False]
    for _ in range(2):                                # beats within two of a fast RR: a VT run's beats
        fast = fast | np.r_[fast[1:], False] | np.r_[False, fast[:-1]]
    m = qrs_morphology(qrs_signal, sample, fs, label, only=fast if skip is None else fast & ~skip)
    if m is None:
        return None
    with np.errstate(invalid="ignore"):
        w = (m.corr < cfg.vt_wide_corr) & (m.width_ratio >= cfg.vt_wide_ratio)
        return w & (m.twin >= cfg.vt_wide_twin) if cfg.vt_wide_twin is not None else w


def bridged(is_x: np.ndarray, may: np.ndarray, gap: int) -> np.ndarray:
    """``is_x`` with runs of at most ``gap`` ``may`` beats lying between two ``is_x`` beats set True.

    >>> bridged(np.array([1, 0, 1, 0, 0, 1], bool), np.ones(6, bool), 1).astype(int).tolist()
    [1, 1, 1, 0, 0, 1]
    """
    out = np.asarray(is_x, bool).copy()
    if gap < 1 or len(out) < 3:
        return out
    edge = np.diff(np.r_[0, (~out).astype(np.int8), 0])
    a, b = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1) - 1          # runs of ~is_x: [a, b]
    bad = np.r_[0, np.cumsum(~np.asarray(may, bool))]                          # bad[b + 1] - bad[a]: non-may in [a, b]
    keep = (a > 0) & (b < len(out) - 1) & (b - a + 1 <= gap) & (bad[b + 1] == bad[a])
    for i, j in zip(a[keep], b[keep]):
        out[i:j + 1] = True
    return out
