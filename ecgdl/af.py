"""Atrial fibrillation evidence per beat: RR irregularity and atrial activity, and the AF scorers.

Plain numpy over ``(sample, label, conditioned lead)``; torch-free. Every feature is computed over a
window of ``window_beats`` beats centred on each beat, with RR intervals that touch a ventricular
(``V``) beat left out (an ectopic beat and its compensatory pause are not atrial irregularity), so
ventricular bigeminy does not look like AF.

Features (one row per beat, :data:`FEATURE_NAMES`):

* ``nrmssd``: RMS of successive RR differences / mean RR (AF: ~0.3; sinus rhythm: < 0.1).
* ``nmad``: median |successive RR difference| / median RR (robust to a single premature beat).
* ``pnn``: share of successive RR differences larger than 8 % of the mean RR.
* ``p_coherence``: atrial activity. The segment 250-90 ms before each R peak, averaged over the
  window's non-V beats: energy of the average / average energy. A P wave repeats beat after beat
  (near 1); fibrillatory waves do not (near ``1/window``).
* ``frac_v``: share of V labels in the window. (No share of S labels: the patient-adaptive step
  labels a third of 201's AF beats S, and a scorer that had learned "S runs are not AF" on the
  adaptive labels lost 201's AF in DS1 cross-validation: AFIB duration F1 0.81 -> 0.88 without it.)
* ``p_corr``: median over the window of each beat's correlation between its pre-R segment and the
  window's average (robust to premature beats with their own P wave: sinus with frequent APCs ~0.95,
  AF ~0.3).

Two scorers map features to a per-beat AF probability: :class:`LogisticAF` (the classical
baseline, coefficients in a JSON) and :class:`SequenceAF` (a temporal CNN over the beat sequence,
ONNX). ``pipelines/episodes_cv.py`` fits both on DS1 with patient-grouped cross-validation and
ships the better one as ``ecgdl/shipped/episodes_af.json`` (+ ``.onnx`` for the sequence model).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> s = np.cumsum(rng.uniform(0.4, 1.0, 200) * 360).astype(int)      # irregular RR
>>> f = af_features(s, np.full(200, "N"), 360.0)
>>> bool(np.median(f[:, 0]) > 0.2)
True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

FEATURE_NAMES: tuple[str, ...] = ("nrmssd", "nmad", "pnn", "p_coherence", "frac_v", "p_corr")
#: Inputs of the sequence model per beat (after :func:`sequence_inputs`).
SEQUENCE_NAMES: tuple[str, ...] = ("rr_rel", "drr_rel", "p_V", "rr_ok") + FEATURE_NAMES
#: Upper caps of the features before scoring: beyond them irregularity says nothing more about AF
#: (a run of premature beats is more irregular than AF; without the cap a linear score extrapolates).
FEATURE_CAPS: tuple[float, ...] = (0.4, 0.3, 1.0, 1.0, 1.0, 1.0)


@dataclass(frozen=True)
class AFFeatureConfig:
    """Window and atrial-activity segment of the AF features (beats, seconds)."""

    window_beats: int = 32
    p_start_s: float = -0.25
    p_end_s: float = -0.09
    pnn_frac: float = 0.08
    max_rr_s: float = 2.5     # longer RR (pauses, gaps) are not used for irregularity


def _rr(sample: np.ndarray, label: np.ndarray, fs: float, cfg: AFFeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(rr, ok)`` per beat: the interval ending at the beat, and whether it is usable (no V, no pause)."""
    rr = np.diff(sample) / fs
    rr = np.r_[rr[:1] if len(rr) else [1.0], rr]
    is_v = label == "V"
    ok = ~is_v & ~np.r_[True, is_v[:-1]] & (rr <= cfg.max_rr_s) & (rr > 0.15)
    ok[0] = False
    return rr, ok


def _window_sum(x: np.ndarray, w: int) -> np.ndarray:
    """Sum of ``x`` (n, ...) over the centred window ``[i - w//2, i + w//2)``, clipped at the ends."""
    n = len(x)
    c = np.concatenate([np.zeros((1, *x.shape[1:])), np.cumsum(x, axis=0)])
    i = np.arange(n)
    lo, hi = np.clip(i - w // 2, 0, n), np.clip(i + w // 2, 0, n)
    return c[hi] - c[lo]


def atrial_activity(sig: np.ndarray, sample: np.ndarray, fs: float, use: np.ndarray,
                    cfg: AFFeatureConfig = AFFeatureConfig(), chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """``(p_coherence, p_corr)`` per beat (see the module docstring), each ``(n,)`` in ``[0, 1]``.

    sig: ``(n_samples,)`` conditioned lead; use: beats that enter the average (non-V). Beats go in
    blocks of ``chunk`` (with a window of context each side), so memory stays bounded on 24 h.
    """
    n, w = len(sample), cfg.window_beats
    coherence, corr = np.zeros(n), np.zeros(n)
    for lo in range(0, n, chunk):
        a, b = max(0, lo - w), min(n, lo + chunk + w)
        c0, c1 = _atrial_block(sig, sample[a:b], fs, use[a:b], cfg)
        keep = slice(lo - a, lo - a + min(chunk, n - lo))
        coherence[lo:lo + chunk], corr[lo:lo + chunk] = c0[keep], c1[keep]
    return coherence, windowed_nanmedian(np.where(use, corr, np.nan), w)


def _atrial_block(sig, sample, fs, use, cfg):
    a, b = int(round(cfg.p_start_s * fs)), int(round(cfg.p_end_s * fs))
    idx = np.clip(sample[:, None] + np.arange(a, b)[None], 0, len(sig) - 1)
    seg = sig[idx].astype(np.float64)
    seg -= seg.mean(axis=1, keepdims=True)
    seg *= use[:, None]
    w = cfg.window_beats
    m = _window_sum(seg, w)
    k = np.maximum(_window_sum(use.astype(np.float64), w), 1.0)
    energy = _window_sum((seg ** 2).sum(axis=1), w)
    coherence = ((m ** 2).sum(axis=1) / k ** 2) / (energy / k + 1e-12)
    seg /= np.linalg.norm(seg, axis=1, keepdims=True) + 1e-9
    return coherence, (seg * m).sum(axis=1) / (np.linalg.norm(m, axis=1) + 1e-9)


def af_features(sample, label, fs: float, sig: np.ndarray | None = None,
                cfg: AFFeatureConfig = AFFeatureConfig()) -> np.ndarray:
    """``(n, len(FEATURE_NAMES))`` float32 features of each beat (module docstring).

    sample: sorted R-peak samples at ``fs``; label: predicted class letters; sig: conditioned lead
    at ``fs`` (without it ``p_coherence`` is NaN and the scorers treat atrial activity as unknown).
    """
    sample = np.asarray(sample, np.int64)
    label = np.asarray(label).astype(str)
    n, w = len(sample), cfg.window_beats
    out = np.full((n, len(FEATURE_NAMES)), np.nan, np.float32)
    if n < 3:
        return out
    rr, ok = _rr(sample, label, fs, cfg)
    d = np.abs(np.diff(rr, prepend=rr[0]))
    okd = ok & np.r_[False, ok[:-1]]
    k = np.maximum(_window_sum(ok.astype(float), w), 1.0)
    kd = np.maximum(_window_sum(okd.astype(float), w), 1.0)
    mean_rr = _window_sum(np.where(ok, rr, 0.0), w) / k
    out[:, 0] = np.sqrt(_window_sum(np.where(okd, d ** 2, 0.0), w) / kd) / np.maximum(mean_rr, 1e-3)
    out[:, 2] = _window_sum((okd & (d > cfg.pnn_frac * np.maximum(mean_rr, 1e-3))).astype(float), w) / kd
    out[:, 1] = _windowed_median_ratio(rr, d, ok, okd, w)
    if sig is not None:
        out[:, 3], out[:, 5] = atrial_activity(np.asarray(sig), sample, fs, label != "V", cfg)
    out[:, 4] = _window_sum((label == "V").astype(float), w) / _window_sum(np.ones(n), w)
    out[k < 4, :3] = np.nan  # too few usable intervals: irregularity unknown
    return out


def windowed_nanmedian(x: np.ndarray, w: int) -> np.ndarray:
    """NaN-aware median of ``x`` over the centred window ``[i - w//2, i + w//2)`` (NaN where all NaN)."""
    pad = w // 2
    xw = np.sort(np.lib.stride_tricks.sliding_window_view(np.pad(x, (pad, w - pad - 1), constant_values=np.nan), w),
                 axis=1)                                   # NaN sort last: the k valid values lead each row
    k = (~np.isnan(xw)).sum(axis=1)
    rows = np.arange(len(xw))
    lo, hi = xw[rows, np.maximum(k - 1, 0) // 2], xw[rows, np.maximum(k, 1) // 2 - (k == 0)]
    return np.where(k > 0, 0.5 * (lo + hi), np.nan)


def _windowed_median_ratio(rr, d, ok, okd, w: int) -> np.ndarray:
    """median(|dRR|) / median(RR) over the centred window, NaN-aware."""
    return windowed_nanmedian(np.where(okd, d, np.nan), w) / windowed_nanmedian(np.where(ok, rr, np.nan), w)


def capped(feats: np.ndarray) -> np.ndarray:
    """Features clipped to ``[0, FEATURE_CAPS]`` (NaN kept)."""
    return np.minimum(np.maximum(feats, 0.0), np.asarray(FEATURE_CAPS, feats.dtype))


def sequence_inputs(sample, label, proba: np.ndarray | None, classes, fs: float, feats: np.ndarray,
                    cfg: AFFeatureConfig = AFFeatureConfig()) -> np.ndarray:
    """``(n, len(SEQUENCE_NAMES))`` float32 per-beat inputs of the sequence model.

    RR relative to the record's median usable RR, its successive difference, the beat classifier's
    V probability (``label == "V"`` without ``proba``; no N/S probabilities, for the reason
    ``frac_s`` is gone), and the :func:`capped` window features (NaN -> 0, p_coherence NaN -> 0.5).
    """
    sample = np.asarray(sample, np.int64)
    label = np.asarray(label).astype(str)
    rr, ok = _rr(sample, label, fs, cfg)
    med = float(np.median(rr[ok])) if ok.any() else 1.0
    rel = np.clip(rr / med, 0, 4)
    x = np.zeros((len(sample), len(SEQUENCE_NAMES)), np.float32)
    x[:, 0] = rel - 1.0
    x[:, 1] = np.clip(np.diff(rel, prepend=rel[:1]), -2, 2)
    x[:, 2] = proba[:, list(classes).index("V")] if proba is not None and "V" in classes else label == "V"
    x[:, 3] = ok
    f = capped(feats)
    for name in ("p_coherence", "p_corr"):
        j = FEATURE_NAMES.index(name)
        f[:, j] = np.nan_to_num(f[:, j], nan=0.5)
    x[:, 4:] = np.nan_to_num(f, nan=0.0)
    return x


@dataclass
class LogisticAF:
    """Classical baseline: logistic regression on :data:`FEATURE_NAMES` (standardised; NaN -> mean)."""

    mean: list
    std: list
    coef: list
    intercept: float
    features: AFFeatureConfig = AFFeatureConfig()
    threshold: float = 0.5

    def predict(self, feats: np.ndarray, **_) -> np.ndarray:
        """``(n,)`` AF probability of each beat."""
        mu, sd = np.asarray(self.mean), np.asarray(self.std)
        f = capped(np.asarray(feats, np.float64))
        z = (np.where(np.isnan(f), mu, f) - mu) / sd
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.coef) + self.intercept)))

    def to_dict(self) -> dict:
        return {"kind": "logistic", "feature_names": list(FEATURE_NAMES), "mean": list(self.mean),
                "std": list(self.std), "coef": list(self.coef), "intercept": float(self.intercept),
                "features": asdict(self.features), "threshold": float(self.threshold)}


class SequenceAF:
    """Sequence model: a temporal CNN (ONNX, input ``seq`` ``(1, C, n)``, output ``logit`` ``(1, n)``)."""

    def __init__(self, onnx_path: Path, features: AFFeatureConfig, threshold: float = 0.5):
        from ecgdl.artifacts import load_onnx

        self.session = load_onnx(onnx_path, device="cpu", threads=1).session  # sha256 checked against the JSON
        self.features, self.threshold = features, threshold

    def predict(self, feats: np.ndarray, seq: np.ndarray | None = None) -> np.ndarray:
        """``(n,)`` AF probability of each beat from :func:`sequence_inputs` ``seq``."""
        if seq is None or not len(seq):
            return np.zeros(len(feats))
        logit = self.session.run(["logit"], {"seq": seq.T[None].astype(np.float32)})[0][0]
        return 1.0 / (1.0 + np.exp(-logit.astype(np.float64)))


def af_model_info(path: str | Path | None = None) -> dict | None:
    """``{"kind", "threshold", "sha256", "chosen_by"}`` of the shipped AF scorer (what summaries carry), or None."""
    from ecgdl.paths import MODELS_DIR

    path = Path(path) if path else MODELS_DIR / "episodes_af.json"
    if not path.is_file():
        return None
    meta = json.loads(path.read_text())
    return {k: meta.get(k) for k in ("kind", "threshold", "sha256", "chosen_by")}


def load_af_model(path: str | Path | None = None):
    """The shipped AF scorer (``ecgdl/shipped/episodes_af.json``), or None when it is absent (cached per path)."""
    if path is None:
        from ecgdl.paths import MODELS_DIR

        path = MODELS_DIR / "episodes_af.json"
    return _load_af_model(str(path))


@lru_cache(maxsize=4)
def _load_af_model(path: str):
    path = Path(path)
    if not path.is_file():
        return None
    meta = json.loads(path.read_text())
    feats = AFFeatureConfig(**meta.get("features", {}))
    if meta["kind"] in ("zhou_entropy", "union"):
        from ecgdl.af_entropy import EntropyAF, UnionAF

        z = meta.get("entropy", meta)
        entropy = EntropyAF(z["threshold"], z.get("p_present"), feats, z.get("exclude", ""), z.get("min_coverage"),
                            bool(z.get("contiguous", False)))
        if meta["kind"] == "zhou_entropy":
            return entropy
        lr = meta["classical"]
        classical = LogisticAF(lr["mean"], lr["std"], lr["coef"], lr["intercept"], feats, meta["threshold"])
        return UnionAF(classical, entropy, meta["threshold"], feats)
    if meta["kind"] == "logistic":
        return LogisticAF(meta["mean"], meta["std"], meta["coef"], meta["intercept"], feats, meta.get("threshold", 0.5))
    return SequenceAF(path.with_suffix(".onnx"), feats, meta.get("threshold", 0.5))
