"""AF from the entropy of heart-rate words (Zhou et al. 2015), with its published threshold.

Zhou X, Ding H, Wu W, Zhang Y, "A real-time atrial fibrillation detection algorithm based on the
instantaneous state of heart rate", PLoS ONE 10(9):e0136544 (2015). Per beat:

1. instantaneous heart rate ``60 / RR`` (bpm) of the interval ending at the beat;
2. a symbol ``min(floor(HR / 5), 63)`` (5-bpm steps, 64 symbols);
3. a word of the last 3 symbols, ``s[n-2] * 64**2 + s[n-1] * 64 + s[n]``;
4. over a window of ``N = 127`` words, the Shannon entropy of the word distribution scaled by the share
   of distinct words: ``ShEn = -(N_distinct / (N * log2 N)) * sum(p * log2 p)`` (0: one word repeated;
   1: every word distinct).

AF where ``ShEn >= 0.639``: the threshold was fixed by ROC on the Long-Term AF Database and tested unchanged
on MIT-BIH Arrhythmia (Se 97.83 %, PPV 47.67 %), so it carries nothing learnt from our DS1. The online detector
reads the window ending at a beat; here the window is centred on it (the offline equivalent of its delay), and
clipped at the record's ends. Plain numpy, torch-free; a 30-min record takes a few ms.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> irregular = np.cumsum(rng.uniform(0.4, 1.0, 400) * 360).astype(int)
>>> regular = np.arange(400) * 288
>>> float(np.median(heart_rate_entropy(irregular, 360.0))) > ZHOU_THRESHOLD
True
>>> float(heart_rate_entropy(regular, 360.0).max()) < 0.1
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Published decision threshold (Zhou et al. 2015, fixed on the Long-Term AF Database).
ZHOU_THRESHOLD: float = 0.639
WINDOW_WORDS: int = 127
SYMBOL_BPM: float = 5.0
SYMBOL_MAX: int = 63
#: Beat labels whose adjacent RR intervals the filtered entropy leaves out (round 13).
ECTOPIC: str = "VFQ"


def heart_rate_words(sample: np.ndarray, fs: float) -> np.ndarray:
    """``(n,)`` int64 word per beat (3 consecutive 5-bpm heart-rate symbols); the first beats reuse the first RR."""
    sample = np.asarray(sample, np.float64)
    if len(sample) < 2:
        return np.zeros(len(sample), np.int64)
    rr = np.diff(sample) / fs
    return _words(np.r_[rr[:1], rr])


def _words(rr: np.ndarray) -> np.ndarray:
    """Words of the RR series ``rr`` (s), one per interval; the first two reuse the first symbol."""
    hr = 60.0 / np.maximum(rr, 1e-6)
    sym = np.minimum(np.floor(hr / SYMBOL_BPM), SYMBOL_MAX).astype(np.int64)
    prev1, prev2 = np.r_[sym[:1], sym[:-1]], np.r_[sym[:1], sym[:1], sym[:-2]][: len(sym)]
    return prev2 * (SYMBOL_MAX + 1) ** 2 + prev1 * (SYMBOL_MAX + 1) + sym


def ectopic_kept(label, exclude: str = ECTOPIC) -> np.ndarray:
    """``(n,)`` bool per beat: the RR interval ending at the beat is kept (round 13): neither the beat nor the one
    before it is labelled one of ``exclude`` (the interval into and the one out of an ectopic beat are removed);
    the first beat has no interval."""
    bad = np.isin(np.asarray(label).astype(str), list(exclude))
    keep = ~bad & ~np.r_[True, bad[:-1]]
    if len(keep):
        keep[0] = False
    return keep


def contiguous_words(keep: np.ndarray) -> np.ndarray:
    """``(n,)`` bool per beat: the word ending at the beat is made of three consecutive kept intervals (the intervals
    ending at this beat and the two before it all kept, :func:`ectopic_kept`), as Zhou's words are (round 25).

    >>> contiguous_words(np.array([0, 1, 1, 1, 0, 1, 1, 1, 1], bool)).astype(int).tolist()
    [0, 0, 0, 1, 0, 0, 0, 1, 1]
    """
    keep = np.asarray(keep, bool)
    return keep & np.r_[False, keep[:-1]] & np.r_[False, False, keep[:-2]][: len(keep)]


def word_mask(label, exclude: str = ECTOPIC, contiguous: bool = False) -> np.ndarray:
    """The beats whose word the filtered entropy reads: :func:`ectopic_kept` (round 13), or with ``contiguous``
    :func:`contiguous_words` of it (round 25)."""
    keep = ectopic_kept(label, exclude)
    return contiguous_words(keep) if contiguous else keep


def filtered_entropy(sample: np.ndarray, fs: float, label, exclude: str = ECTOPIC,
                     n_win: int = WINDOW_WORDS, contiguous: bool = False) -> np.ndarray:
    """``(n,)`` Zhou entropy per beat on the ectopic-filtered RR series: words over the kept intervals in order
    (:func:`ectopic_kept`), each beat given the entropy of the window centred on its position among them; 0 with
    fewer than 2 kept intervals. ``contiguous``: only the words of three consecutive kept intervals, built on the
    whole RR series (:func:`contiguous_words`), none joining intervals from either side of a removed one."""
    sample = np.asarray(sample, np.float64)
    keep = word_mask(label, exclude, contiguous)
    if keep.sum() < 2:
        return np.zeros(len(sample))
    rr = np.r_[0.0, np.diff(sample) / fs]
    words = _words(np.r_[rr[1:2], rr[1:]])[keep] if contiguous else _words(rr[keep])
    e = window_entropy(words, n_win)
    pos = np.clip(np.cumsum(keep) - 1, 0, len(e) - 1)     # the last kept interval (word) at or before each beat
    return e[pos]


def kept_coverage(keep: np.ndarray, n_win: int = WINDOW_WORDS) -> np.ndarray:
    """``(n,)`` share of kept intervals (``keep``: :func:`ectopic_kept`) among the ``n_win`` RR intervals centred on
    each beat, the window clipped at the record's ends as :func:`window_entropy` clips it (round 14).

    >>> kept_coverage(np.array([0, 1, 1, 0, 1, 1], bool), 3).round(2).tolist()
    [0.67, 0.67, 0.67, 0.67, 0.67, 0.67]
    """
    keep = np.asarray(keep, bool)
    n = len(keep)
    w = min(n_win, n)
    if w < 1:
        return np.zeros(n)
    start = np.clip(np.arange(n) - w // 2, 0, n - w)
    c = np.r_[0, np.cumsum(keep)]
    return (c[start + w] - c[start]) / w


def window_entropy(words: np.ndarray, n_win: int = WINDOW_WORDS, chunk: int = 16384) -> np.ndarray:
    """Zhou's scaled Shannon entropy of ``words`` over a window of ``n_win`` centred on each index.

    Vectorised: each window's words sorted in a ``(chunk, n_win)`` array; runs of equal values are the counts.
    Records shorter than the window use the whole record for every beat.
    """
    words = np.asarray(words, np.int32)               # < 64**3: int32 sorts faster
    n = len(words)
    w = min(n_win, n)
    if w < 2:
        return np.zeros(n)
    start = np.clip(np.arange(n) - w // 2, 0, n - w)
    return np.concatenate([_entropy_rows(words, start[i:i + chunk], w) for i in range(0, n, chunk)])


def _entropy_rows(words: np.ndarray, start: np.ndarray, w: int) -> np.ndarray:
    """Scaled entropy of the windows ``words[start[i]:start[i] + w]``: each row sorted, runs of equal words counted
    on the flattened rows (every row opens a run, so no run spans two rows)."""
    n = len(start)
    win = np.sort(words[start[:, None] + np.arange(w, dtype=np.int32)[None, :]], axis=1)
    new = np.ones(win.shape, dtype=bool)
    new[:, 1:] = win[:, 1:] != win[:, :-1]
    first = np.flatnonzero(new)
    counts = np.diff(np.r_[first, n * w]).astype(np.float64)
    n_distinct = new.sum(axis=1)
    row_start = np.r_[0, np.cumsum(n_distinct)[:-1]]
    clogc = np.add.reduceat(counts * np.log2(counts), row_start)
    plogp = clogc / w - np.log2(w)                     # sum p log2 p with p = c / w
    return -(n_distinct / (w * np.log2(w))) * plogp


def heart_rate_entropy(sample: np.ndarray, fs: float, n_win: int = WINDOW_WORDS) -> np.ndarray:
    """``(n,)`` Zhou entropy per beat of R peaks ``sample`` at ``fs`` (AF where >= :data:`ZHOU_THRESHOLD`)."""
    return window_entropy(heart_rate_words(sample, fs), n_win)


def zhou_af_score(sample: np.ndarray, fs: float, p_corr: np.ndarray | None = None,
                  p_present: float | None = None, label=None, exclude: str = "",
                  min_coverage: float | None = None, contiguous: bool = False) -> np.ndarray:
    """Per-beat AF score to compare with :data:`ZHOU_THRESHOLD`: the entropy, set to 0 where the beat's window
    has repeating P waves (``p_corr >= p_present``) when both are given (the P-wave complement, ``ecgdl.af``).
    With ``label`` and a non-empty ``exclude`` the entropy reads the ectopic-filtered RR (:func:`filtered_entropy`);
    with ``min_coverage`` too, it is 0 where fewer than that share of the beat's window is kept (:func:`kept_coverage`:
    the RR evidence too thin to judge, round 14); ``contiguous``: the words of consecutive kept intervals only, and
    the coverage their share (round 25)."""
    filtered = bool(exclude) and label is not None
    e = filtered_entropy(sample, fs, label, exclude, contiguous=contiguous) if filtered else heart_rate_entropy(sample, fs)
    if min_coverage is not None and filtered:
        e = np.where(kept_coverage(word_mask(label, exclude, contiguous)) >= min_coverage, e, 0.0)
    if p_corr is None or p_present is None:
        return e
    return np.where(np.nan_to_num(np.asarray(p_corr, np.float64), nan=0.0) >= p_present, 0.0, e)


@dataclass(frozen=True)
class EntropyAF:
    """The AF scorer ``ecgdl.episodes`` reads (``kind: "zhou_entropy"`` in ``ecgdl/shipped/episodes_af.json``):
    per beat :func:`zhou_af_score` (entropy, 0 where P waves repeat), AF at or above ``threshold``.

    ``features``: the ``ecgdl.af.AFFeatureConfig`` whose ``p_corr`` feature is the P-wave evidence;
    ``exclude``: beat labels whose adjacent RR the entropy leaves out ("" reads every RR, as rounds 11-12);
    ``min_coverage``: the entropy votes only where at least this share of its window's RR is kept (None: off);
    ``contiguous``: words of three consecutive kept intervals only (round 25; False: the kept intervals concatenated).
    """

    threshold: float = ZHOU_THRESHOLD
    p_present: float | None = 0.8
    features: object = field(default=None)
    exclude: str = ""
    min_coverage: float | None = None
    contiguous: bool = False

    def predict_beats(self, sample: np.ndarray, fs: float, feats: np.ndarray, p_corr_col: int,
                      label=None) -> np.ndarray:
        """``(n,)`` AF score per beat of R peaks ``sample`` (``feats``: ``ecgdl.af.af_features`` rows; ``label``:
        the scoring path's beat labels, needed when ``exclude`` is set)."""
        if self.exclude and label is None:
            raise ValueError(f"EntropyAF(exclude={self.exclude!r}) needs the beat labels")
        pc = feats[:, p_corr_col] if self.p_present is not None and len(feats) else None
        return zhou_af_score(sample, fs, pc, self.p_present, label, self.exclude, self.min_coverage, self.contiguous)


@dataclass(frozen=True)
class UnionAF:
    """The shipped AF scorer since round 12 (``kind: "union"``): AF where the classical scorer (``ecgdl.af.LogisticAF``)
    reaches ``threshold`` **or** :class:`EntropyAF` reaches its own; score ``max(p_classical, 1 if entropy AF else 0)``."""

    classical: object
    entropy: EntropyAF
    threshold: float = 0.9
    features: object = field(default=None)

    def predict_beats(self, sample: np.ndarray, fs: float, feats: np.ndarray, p_corr_col: int,
                      label=None) -> np.ndarray:
        """``(n,)`` AF score per beat (compare with ``threshold``)."""
        p = self.classical.predict(feats)
        e = self.entropy.predict_beats(sample, fs, feats, p_corr_col, label)
        return np.maximum(p, np.where(e >= self.entropy.threshold, 1.0, 0.0))
