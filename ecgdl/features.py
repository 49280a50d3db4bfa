"""Model inputs from a :class:`~ecgdl.beats.BeatSet`: the one place training and inference build them.

Torch-free (numpy only): ``ecgdl.infer`` calls :func:`make_inputs` with the :class:`FeatureConfig`
and the fitted statistics read from the ONNX sidecar, so training and serving cannot drift apart.

Two arrays come out, named as the ONNX inputs:

* ``beats`` ``(n, C, T)`` float32: per chosen lead (mV, average-pooled by ``decimate``), depending on
  ``median_mode``: the beat (``none``), the beat then the record's median beat (``beside``), or the
  beat minus the record's median beat (``diff``, the default: "patient-level normalisation", the
  network sees how the beat departs from what is normal *for this patient*, not the patient's own
  morphology, which it would otherwise memorise); optionally divided by the median beat's
  peak-to-peak amplitude per lead.
* ``rr`` ``(n, F)`` float32: log RR features (:data:`ecgdl.beats.RR_FEATURES`), the log RR
  intervals of the ``±rr_context`` neighbouring beats over the local RR, and the log RR over
  the record's median RR; standardised with statistics fitted on training records only.

Record-level quantities (median beat, median RR) are computed over the beats of each record
present in the ``BeatSet`` (at inference: over the record's detected beats).

>>> cfg = FeatureConfig()
>>> stats = fit_stats(train_beats, cfg)                  # doctest: +SKIP
>>> inputs = make_inputs(test_beats, cfg, stats)         # doctest: +SKIP
>>> inputs["beats"].shape, inputs["rr"].shape            # doctest: +SKIP
((n, 2, 126), (n, 23))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ecgdl.beats import RR_FEATURES, BeatSet

#: Version of the input recipe; bump when :func:`make_inputs` changes meaning for the same config.
FEATURES_VERSION = 3
_EPS = 1e-3


@dataclass(frozen=True)
class FeatureConfig:
    """How beats become model inputs.

    leads: indices into ``BeatSet.x`` channels (0 = primary lead, MLII where present; 1 = secondary).
    decimate: average-pool factor along time (2: 360 Hz -> 180 Hz, 252 -> 126 samples).
    median_mode: ``none`` (beat only), ``beside`` (beat, then the record's median beat: 2x channels),
    ``diff`` (beat minus the record's median beat).
    amp_norm: divide windows by the record median beat's peak-to-peak amplitude, per lead.
    rr_context: half-width k, in beats, of the neighbouring RR intervals given (2k values; 0: none).
    record_rr: add log(pre, post, local RR / record median RR).
    irregularity: add the rhythm's irregularity around the beat (median |log RR_j / RR_j-1| over
    ±8 beats, leaving out the beat's own two intervals) and over the record: premature in a regular
    rhythm (an ectopic beat) differs from irregular everywhere (atrial fibrillation, labelled N).
    rr_reference: what "premature" is measured against. ``median``: the local median RR (the RR
    features of :mod:`ecgdl.beats`). ``upper``: the local 80th percentile of the RR intervals over
    ±16 beats (and the record's 80th percentile), with no median-based column at all: when ectopic
    beats outnumber sinus beats the median RR *is* the ectopic rhythm, while the upper quantile still
    tracks the slower underlying sinus rhythm.
    """

    leads: tuple[int, ...] = (0, 1)
    decimate: int = 2
    median_mode: str = "diff"
    amp_norm: bool = False
    rr_context: int = 4
    record_rr: bool = True
    irregularity: bool = True
    rr_reference: str = "median"

    def n_channels(self) -> int:
        if self.median_mode not in ("none", "beside", "diff"):
            raise ValueError(f"median_mode must be none, beside or diff, not {self.median_mode!r}")
        if self.rr_reference not in ("median", "upper"):
            raise ValueError(f"rr_reference must be median or upper, not {self.rr_reference!r}")
        return len(self.leads) * (2 if self.median_mode == "beside" else 1)

    def n_samples(self, window: int = 252) -> int:
        return window // self.decimate

    def rr_names(self) -> list[str]:
        """Names of the ``rr`` input columns, in order."""
        if self.rr_reference == "upper":
            names = ["log_pre_s", "log_post_s", "log_ref_s", "log_pre_ref", "log_post_ref", "log_pre_post"]
            names += [f"log_rr{j:+d}_ref" for j in range(-self.rr_context + 1, self.rr_context + 1)]
            if self.record_rr:
                names += ["log_pre_recq80", "log_post_recq80", "log_ref_recq80"]
        else:
            names = [f"log_{n}" for n in RR_FEATURES]
            names += [f"log_rr{j:+d}_local" for j in range(-self.rr_context + 1, self.rr_context + 1)]
            if self.record_rr:
                names += ["log_pre_recmed", "log_post_recmed", "log_local_recmed"]
        if self.irregularity:
            names += ["log_irregularity_local", "log_irregularity_record"]
        return names

    def n_rr(self) -> int:
        return len(self.rr_names())

    def to_dict(self) -> dict:
        d = asdict(self)
        d["leads"] = list(self.leads)
        d["version"] = FEATURES_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        known = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in d.items() if k in known}
        if "leads" in kw:
            kw["leads"] = tuple(int(v) for v in kw["leads"])
        return cls(**kw)


def _pool(x: np.ndarray, k: int) -> np.ndarray:
    """Average-pool the last axis by ``k`` (trailing samples that do not fill a bin are dropped)."""
    if k <= 1:
        return x
    t = x.shape[-1] // k * k
    if k > 4:
        return x[..., :t].reshape(*x.shape[:-1], t // k, k).mean(-1)
    s = x[..., 0:t:k].copy()           # the same sum, in numpy's order for a few terms, then / k: equal to
    for i in range(1, k):              # .mean(-1) of the bins bit for bit, at half its cost (no length-k reduce)
        s += x[..., i:t:k]
    s /= k
    return s


def _record_groups(beats: BeatSet) -> list[np.ndarray]:
    """Indices of each record's beats, sorted by R-peak sample."""
    order = np.lexsort((beats.sample, beats.record))
    rec = beats.record[order]
    cuts = np.flatnonzero(rec[1:] != rec[:-1]) + 1
    return np.split(order, cuts)


def _rr_context(pre: np.ndarray, post: np.ndarray, local: np.ndarray, k: int) -> np.ndarray:
    """``(n, 2k)`` log RR of the intervals around each beat over its local RR (one record, beats in order).

    Interval j ends at beat j (``pre[j]``); beat i gets intervals i-k+1 .. i+k, i.e. its own previous
    interval, k-1 before it, and k after it. Beyond the record's ends the nearest interval repeats.
    """
    n = len(pre)
    if k == 0 or n == 0:
        return np.zeros((n, 0), np.float64)
    intervals = np.r_[pre, post[-1]]  # intervals[j] ends at beat j; intervals[n] = last beat's post
    idx = np.arange(n)[:, None] + np.arange(-k + 1, k + 1)[None, :]
    np.clip(idx, 0, n, out=idx)
    return np.log(np.maximum(intervals[idx], _EPS) / np.maximum(local[:, None], _EPS))


def _rr_block(beats: BeatSet, idx: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    rr = beats.rr[idx].astype(np.float64)
    pre, post, local = rr[:, 0], rr[:, 1], rr[:, 2]
    if cfg.rr_reference == "upper":
        return _rr_block_upper(pre, post, cfg)
    cols = [np.log(np.maximum(rr, _EPS)), _rr_context(pre, post, local, cfg.rr_context)]
    if cfg.record_rr:
        med = max(float(np.median(pre)), _EPS) if len(pre) else 1.0
        cols.append(np.log(np.maximum(np.stack([pre, post, local], 1), _EPS) / med))
    if cfg.irregularity:
        cols.append(_irregularity(pre, post))
    return np.concatenate(cols, axis=1)


def _rr_block_upper(pre: np.ndarray, post: np.ndarray, cfg: FeatureConfig, half: int = 16, q: float = 80.0):
    """RR columns measured against the local and record upper quantile of the RR intervals (one record)."""
    n = len(pre)
    intervals = np.maximum(np.r_[pre, post[-1]], _EPS)  # interval j ends at beat j
    idx = np.clip(np.arange(n)[:, None] + np.arange(-half + 1, half + 1)[None, :], 0, n)
    ref = np.percentile(intervals[idx], q, axis=1)  # (n,) seconds
    lg = lambda v: np.log(np.maximum(v, _EPS))  # noqa: E731
    cols = [np.stack([lg(pre), lg(post), lg(ref), lg(pre / ref), lg(post / ref), lg(pre / post)], 1),
            _rr_context(pre, post, ref, cfg.rr_context)]
    if cfg.record_rr:
        rec = max(float(np.percentile(intervals, q)), _EPS)
        cols.append(lg(np.stack([pre, post, ref], 1) / rec))
    if cfg.irregularity:
        cols.append(_irregularity(pre, post))
    return np.concatenate(cols, axis=1)


def _irregularity(pre: np.ndarray, post: np.ndarray, half: int = 8) -> np.ndarray:
    """``(n, 2)`` log(0.01 + median |successive log-RR change|): around each beat (its own two changes
    left out) and over the record (one record, beats in order)."""
    n = len(pre)
    if n < 3:
        return np.full((n, 2), np.log(0.01))
    intervals = np.log(np.maximum(np.r_[pre, post[-1]], _EPS))  # interval j ends at beat j
    change = np.abs(np.diff(intervals))  # change[j] = |log I[j+1] - log I[j]|, around beat j
    rec = np.median(change)
    idx = np.arange(n)[:, None] + np.r_[np.arange(-half, -1), np.arange(2, half + 1)][None, :]
    local = np.median(change[np.clip(idx, 0, len(change) - 1)], axis=1)
    return np.log(0.01 + np.stack([local, np.full(n, rec)], axis=1))


def _beat_block(beats: BeatSet, idx: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    x = _pool(beats.x[idx][:, list(cfg.leads)].astype(np.float64), cfg.decimate)  # (m, L, T)
    med = np.median(x, axis=0, keepdims=True) if len(x) else x
    if cfg.amp_norm:
        scale = np.maximum(np.ptp(med, axis=2, keepdims=True), 0.05)  # (1, L, 1) mV
        x, med = x / scale, med / scale
    if cfg.median_mode == "beside":
        x = np.concatenate([x, np.broadcast_to(med, x.shape)], axis=1)
    elif cfg.median_mode == "diff":
        x = x - med
    return x


def raw_inputs(beats: BeatSet, cfg: FeatureConfig) -> dict[str, np.ndarray]:
    """Inputs before standardisation (float64), in the ``BeatSet``'s beat order."""
    n = len(beats)
    out_x = np.zeros((n, cfg.n_channels(), cfg.n_samples(beats.x.shape[-1])), np.float64)
    out_rr = np.zeros((n, cfg.n_rr()), np.float64)
    for idx in _record_groups(beats) if n else []:
        out_x[idx] = _beat_block(beats, idx, cfg)
        out_rr[idx] = _rr_block(beats, idx, cfg)
    return {"beats": out_x, "rr": out_rr}


def fit_stats(beats: BeatSet, cfg: FeatureConfig) -> dict:
    """Standardisation statistics fitted on (training) beats; JSON-serialisable.

    ``rr_mean``/``rr_std`` per ``rr`` column; ``beat_scale`` one global scale of the windows.
    """
    raw = raw_inputs(beats, cfg)
    std = raw["rr"].std(0)
    return {"rr_mean": raw["rr"].mean(0).tolist(), "rr_std": np.where(std < 1e-6, 1.0, std).tolist(),
            "beat_scale": float(max(raw["beats"].std(), 1e-6)), "rr_names": cfg.rr_names(),
            "features_version": FEATURES_VERSION}


def make_inputs(beats: BeatSet, cfg: FeatureConfig, stats: dict | None) -> dict[str, np.ndarray]:
    """The model (ONNX) inputs of ``beats``: ``{"beats": (n, C, T) float32, "rr": (n, F) float32}``.

    ``stats`` from :func:`fit_stats` (``None``: no standardisation). Row i is beat i of ``beats``.
    """
    raw = raw_inputs(beats, cfg)
    x, rr = raw["beats"], raw["rr"]
    if stats is not None:
        if len(stats["rr_mean"]) != rr.shape[1]:
            raise ValueError(f"stats fitted for {len(stats['rr_mean'])} rr columns, config gives {rr.shape[1]}")
        rr = (rr - np.asarray(stats["rr_mean"])) / np.asarray(stats["rr_std"])
        x = x / stats["beat_scale"]
    return {"beats": np.ascontiguousarray(x, np.float32), "rr": np.ascontiguousarray(rr, np.float32)}
