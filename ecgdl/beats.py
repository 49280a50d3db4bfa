"""Beats: R-peaks -> beat windows + RR features -> :class:`BeatSet`.

A beat window spans ``pre_s`` before to ``post_s`` after the R peak, on every chosen lead. Beats
whose window crosses the record's start or end are kept: the window is padded with the edge
value and the beat is flagged ``edge`` (they are counted, never silently dropped). The first and
last beats lack a previous/next RR interval: the missing one is replaced by the local RR and the
beat is flagged ``edge`` as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

from ecgdl.signal import CHUNK_CONDITION_S

#: Names of the columns of ``BeatSet.rr`` (seconds, then dimensionless ratios).
RR_FEATURES: tuple[str, ...] = (
    "pre_rr", "post_rr", "local_rr", "avg_rr",
    "pre_local", "post_local", "pre_avg", "post_avg", "local_avg", "pre_post",
)


@dataclass(frozen=True)
class WindowConfig:
    """Beat window and RR context, in seconds (converted to samples at ``fs``).

    local_beats: half-width, in beats, of the local RR median (robust to ectopic runs).
    avg_s: half-width, in seconds, of the window for the average RR (record mean on a 30-min record,
    a 5-minute mean on a Holter).
    """

    fs: float = 360.0
    pre_s: float = 0.25
    post_s: float = 0.45
    local_beats: int = 8
    avg_s: float = 150.0

    @property
    def pre(self) -> int:
        return int(round(self.pre_s * self.fs))

    @property
    def post(self) -> int:
        return int(round(self.post_s * self.fs))

    @property
    def length(self) -> int:
        """Window length in samples (252 at 360 Hz)."""
        return self.pre + self.post

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class BeatSet:
    """Beats of one or more records.

    x: ``(n, C, T)`` float32 mV windows (C leads, T = WindowConfig.length)
    rr: ``(n, len(RR_FEATURES))`` float32
    y: ``(n,)`` int8 AAMI class index (-1 unknown)
    record: ``(n,)`` record name; sample: ``(n,)`` int64 R-peak index at ``fs``
    edge: ``(n,)`` bool, window or RR context reaches past the record's ends
    """

    x: np.ndarray
    rr: np.ndarray
    y: np.ndarray
    record: np.ndarray
    sample: np.ndarray
    edge: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, mask_or_index: np.ndarray) -> "BeatSet":
        return BeatSet(**{k: v[mask_or_index] for k, v in self.__dict__.items()})

    def records(self, names) -> "BeatSet":
        """Beats of the given records only."""
        return self.subset(np.isin(self.record, [str(n) for n in names]))

    def counts(self, classes=None) -> dict[str, int]:
        from ecgdl.labels import AAMI_CLASSES

        classes = classes or AAMI_CLASSES
        return {c: int((self.y == i).sum()) for i, c in enumerate(classes)}

    @staticmethod
    def concat(sets: list["BeatSet"]) -> "BeatSet":
        keys = BeatSet.__dataclass_fields__
        return BeatSet(**{k: np.concatenate([getattr(s, k) for s in sets]) for k in keys})


def rr_features(peaks: np.ndarray, fs: float, cfg: WindowConfig = WindowConfig()) -> tuple[np.ndarray, np.ndarray]:
    """RR features of each beat from its R-peak samples.

    Returns ``(rr, edge)``: rr ``(n, len(RR_FEATURES))`` float32, edge ``(n,)`` bool where the
    previous or next RR interval does not exist (first/last beat).

    >>> rr, edge = rr_features(np.array([0, 360, 720, 1000, 1440]), 360.0)
    >>> rr[3, :2].round(3).tolist(), edge.tolist()
    ([0.778, 1.222], [True, False, False, False, True])
    """
    peaks = np.asarray(peaks, dtype=np.float64)
    n = len(peaks)
    if n == 0:
        return np.zeros((0, len(RR_FEATURES)), np.float32), np.zeros(0, bool)
    if n == 1:
        rr = np.full((1, len(RR_FEATURES)), 1.0, np.float32)
        rr[0, :4] = 1.0  # unknown rhythm: neutral 60 bpm
        return rr, np.ones(1, bool)
    d = np.diff(peaks) / fs
    pre = np.r_[np.nan, d]
    post = np.r_[d, np.nan]
    local = _rolling_median(d, cfg.local_beats)
    local = np.r_[local[0], local]  # RR interval i ends at beat i+1
    avg = _windowed_mean_rr(peaks, fs, cfg.avg_s)
    edge = np.isnan(pre) | np.isnan(post)
    pre = np.where(np.isnan(pre), local, pre)
    post = np.where(np.isnan(post), local, post)
    feats = np.stack([pre, post, local, avg, pre / local, post / local, pre / avg, post / avg, local / avg,
                      pre / post], axis=1)
    return feats.astype(np.float32), edge


def _rolling_median(v: np.ndarray, half: int) -> np.ndarray:
    """Centered median of ``v`` over ``2 * half + 1`` values (shrinking at the ends)."""
    padded = np.pad(v, half, mode="reflect") if len(v) > half else np.pad(v, half, mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return np.median(win, axis=1)


def _windowed_mean_rr(peaks: np.ndarray, fs: float, half_s: float) -> np.ndarray:
    """Mean RR over the beats within ``half_s`` seconds of each beat: (last - first) / (count - 1)."""
    t = peaks / fs
    lo = np.searchsorted(t, t - half_s, side="left")
    hi = np.searchsorted(t, t + half_s, side="right") - 1
    hi = np.maximum(hi, np.minimum(lo + 1, len(t) - 1))
    span = t[hi] - t[lo]
    count = np.maximum(hi - lo, 1)
    return span / count


def cut_windows(signal: np.ndarray, peaks: np.ndarray, cfg: WindowConfig = WindowConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``(n, C, T)`` windows around ``peaks`` from ``signal`` ``(n_samples, C)``.

    Windows crossing the ends are padded with the edge sample; returns ``(x, edge)``.
    """
    peaks = np.asarray(peaks, dtype=np.int64)
    n, width = signal.shape[0], cfg.pre + cfg.post
    start = peaks - cfg.pre
    edge = (start < 0) | (start + width > n)
    if n < width:
        idx = np.clip(start[:, None] + np.arange(width)[None, :], 0, n - 1)
        return np.ascontiguousarray(signal[idx].transpose(0, 2, 1), dtype=np.float32), edge
    windows = np.lib.stride_tricks.sliding_window_view(signal, width, axis=0)    # (n - T + 1, C, T) view
    x = np.ascontiguousarray(windows[np.clip(start, 0, n - width)], dtype=np.float32)   # (n, C, T)
    for i in np.flatnonzero(edge):                                               # few: pad with the edge sample
        idx = np.clip(start[i] + np.arange(width), 0, n - 1)
        x[i] = signal[idx].T
    return x, edge


def make_beats(signal: np.ndarray, peaks: np.ndarray, fs: float, *, labels: np.ndarray | None = None,
               record: str = "", cfg: WindowConfig = WindowConfig()) -> BeatSet:
    """Beat windows + RR features for every R peak of one record.

    signal: ``(n_samples, C)`` conditioned, at ``fs`` (must equal ``cfg.fs``); peaks sorted.
    """
    if abs(fs - cfg.fs) > 1e-6:
        raise ValueError(f"signal at {fs} Hz but the window config expects {cfg.fs} Hz: resample first")
    peaks = np.asarray(peaks, dtype=np.int64)
    x, edge_w = cut_windows(signal, peaks, cfg)
    rr, edge_rr = rr_features(peaks, fs, cfg)
    y = np.full(len(peaks), -1, np.int8) if labels is None else np.asarray(labels, dtype=np.int8)
    return BeatSet(x=x, rr=rr, y=y, record=np.full(len(peaks), record, dtype="<U16"), sample=peaks,
                   edge=edge_w | edge_rr)


#: Beats of recordings longer than :data:`ecgdl.signal.CHUNK_CONDITION_S` are classified per segment
#: of this length: the feature recipe's record-level context (median beat, median RR) then spans
#: 30 minutes, the length of the training records, and memory stays bounded on a 24-hour Holter.
FEATURE_SEGMENT_S = 1800.0


def beat_segments(peaks: np.ndarray, fs: float, n_samples: int) -> list[slice]:
    """Slices of ``peaks`` classified together: all of them for records up to
    :data:`ecgdl.signal.CHUNK_CONDITION_S`, else :data:`FEATURE_SEGMENT_S` segments (a last one
    shorter than half a segment joins the previous)."""
    if n_samples <= CHUNK_CONDITION_S * fs or not len(peaks):
        return [slice(0, len(peaks))]
    seg = int(FEATURE_SEGMENT_S * fs)
    n_seg = max(1, int(round(n_samples / seg)))
    bounds = np.searchsorted(peaks, np.arange(1, n_seg) * seg)
    edges = np.r_[0, bounds, len(peaks)]
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def segment_beat_sets(conditioned: np.ndarray, peaks: np.ndarray, fs: float, window: WindowConfig,
                      record: str = "") -> Iterator[tuple[slice, BeatSet]]:
    """``(slice of peaks, its BeatSet)`` per :func:`beat_segments` segment of a conditioned record.

    RR features come from the whole record; windows are cut per segment (bounded memory on a Holter).
    """
    if abs(fs - window.fs) > 1e-6:
        raise ValueError(f"signal at {fs} Hz but the model's window expects {window.fs} Hz")
    rr, edge_rr = rr_features(peaks, fs, window)
    for sl in beat_segments(peaks, fs, conditioned.shape[0]):
        x, edge_w = cut_windows(conditioned, peaks[sl], window)
        n = len(x)
        yield sl, BeatSet(x=x, rr=rr[sl], y=np.full(n, -1, np.int8), record=np.full(n, record, dtype="<U16"),
                          sample=peaks[sl], edge=edge_w | edge_rr[sl])
