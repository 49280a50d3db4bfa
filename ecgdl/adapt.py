"""Patient-adaptive beat labels: the record's own unlabelled beats as the reference (no label is read).

The inductive classifier sees each beat against the training patients. A cardiologist reads it
against *this* patient: the record's dominant QRS morphology and rhythm, whether a beat comes early
against that rhythm, whether its P wave differs from the dominant P wave, which morphology group it
belongs to. :func:`adapt_record` does that with numpy only (no torch, no labels):

1. **Cluster** the record's QRS complexes (k-means, fixed seed, :func:`cluster_beats`); the
   *dominant* cluster is the one holding most of the classifier's N + S probability mass (the
   record's normal conduction, even when ectopic beats outnumber sinus beats). Measured, not shipped
   (docs/episodes.md rounds 21-23): ``AdaptConfig.consensus`` clusters on the consensus partition of several
   k-means draws (:mod:`ecgdl.adapt_cluster`) and ``soft`` averages the cluster statistics over the draws.
2. **Record-relative features** (:func:`record_features`): the classifier's log-probabilities, their
   cluster average (label consistency within a morphology group), the cluster's share of beats, the
   beat's QRS distance from the dominant template, prematurity against the local upper RR quantile and
   the local median, compensatory pause, and the **P wave** (the 190 ms before QRS onset) against the
   dominant cluster's P-wave template: relative RMS difference and correlation per lead, and the
   difference's robust z-score within the record; with ``AdaptConfig.p_long`` (shipped) also against the
   template of the beats ending the longest RR intervals (:func:`long_rr_features`).
3. A small **stacker** (:class:`Stacker`, one hidden layer, weights in the ONNX sidecar) maps those
   features to new logits; it was fitted on the patient-grouped DS1 cross-validation outputs
   (``pipelines/adapt_eval.py``), never on DS2, then **temperature-scaled** on the same CV outputs and
   **blended** with the inductive log-probabilities (:func:`blend_logits`, weight ``AdaptConfig.blend``);
4. **cluster averaging** (:func:`cluster_average`) of the V, F, Q probabilities, then (``self_train``,
   shipped) the N:S split **self-trained** on the record's confident N and S beats (:func:`self_train`), then (``v_timing``)
   the **ventricular-timing rule** (:mod:`ecgdl.adapt_ventricular`: V clusters at normal timing, conducted width: N/S);
5. (``sinus_rule``, shipped) the **sinus-reference rule** (:mod:`ecgdl.adapt_atrial`: APCs read against the
   sinus cycle of the long-RR beats where ectopics outnumber sinus beats), then the **AF gate**
   (:func:`atrial_evidence`, :func:`af_gate`): irregular RR and no repeating P wave (AF): S goes to N;
6. a post calibration on the result (:meth:`Stacker.calibrate`: a second temperature, or per-class vector
   scaling, fitted on the CV out-of-fold outputs): the probability columns are calibrated.

The cluster id of each beat is returned too (the viewer relabels a whole template group with it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ecgdl.adapt_atrial import af_gate, atrial_evidence, guard_edge, sinus_reference_rule  # noqa: F401 (re-exported)
from ecgdl.adapt_cluster import _matmul, averaging_ids, cluster_stats, draws_of, partition
from ecgdl.adapt_cluster import _sq_dist, kmeans  # noqa: F401 (re-exported)
from ecgdl.adapt_embedding import CLUSTER_ON, joint_vectors
from ecgdl.adapt_features import _p_segments, long_rr_features, p_wave_features, qrs_vectors, rhythm_features
from ecgdl.adapt_features import _local_quantile, _p_compare, _pool  # noqa: F401 (re-exported)
from ecgdl.adapt_ventricular import v_timing_rule

#: Names of the record-relative features, in :func:`record_features` order.
FEATURE_NAMES: tuple[str, ...] = (
    "logp_N", "logp_S", "logp_V", "logp_F", "logp_Q",
    "clogp_N", "clogp_S", "clogp_V", "clogp_F", "clogp_Q",
    "log_cluster_frac", "qrs_dist_dom", "is_dominant",
    "pre_q80", "post_pre", "pre_med", "comp_pause", "pre_prev", "irregularity",
    "p_rms0", "p_rms1", "p_corr0", "p_corr1", "p_z",
)
#: Extra features of ``AdaptConfig.p_long``: the P wave against the longest-RR beats' template.
LONG_RR_NAMES: tuple[str, ...] = ("plong_corr0", "plong_corr1", "plong_z", "pre_long")
#: The optional tuple settings of :class:`AdaptConfig` (absent from its dict when off), in dict order.
_OPTIONAL: tuple[str, ...] = ("sinus_rule", "v_timing", "self_train", "noise_gate")


def feature_names(cfg: "AdaptConfig") -> tuple[str, ...]:
    """The record-relative features :func:`record_features` computes for ``cfg``, in order."""
    return FEATURE_NAMES + (LONG_RR_NAMES if cfg.p_long else ())


#: How :attr:`AdaptConfig.n_ensemble` runs are combined.
ENSEMBLE: tuple[str, ...] = ("mean", "medoid")


@dataclass(frozen=True)
class AdaptConfig:
    """Parameters of the adaptive step (stored in the sidecar's ``adapt`` section).

    n_clusters: k-means clusters per record (segment); seed: k-means++ seed; iters: Lloyd iterations.
    qrs_s: QRS window (before, after R) in seconds used for clustering; p_s: P-wave window (before R).
    af_gate: ``(irregularity, p_consistency)`` thresholds of :func:`af_gate` (``None``: no gate): a beat
    whose 32-beat neighbourhood has median |dRR| / median RR above the first and a median P-segment
    correlation with the neighbourhood's mean below the second is in an atrial-fibrillation-like
    rhythm, where prematurity means nothing: its S probability goes to N.
    blend: weight of the inductive log-probabilities mixed into the stacker's logits (0: stacker only),
    a hedge for rhythms the few DS1 training records do not show (SVTA runs with aberrant conduction).
    p_long: add :data:`LONG_RR_NAMES` (:func:`long_rr_features`) to the stacker's features.
    self_train: ``(confidence, weight)`` of :func:`self_train` after cluster averaging (``None``: off).
    sinus_rule: ``(prematurity, p_corr, p_consistency)`` of :mod:`ecgdl.adapt_atrial` before the gate (``None``: off).
    v_timing: ``(prematurity, pause, width[, corr[, share]])`` of :mod:`ecgdl.adapt_ventricular` after self-training (``None``: off).
    noise_gate: ``(q, prematurity, pause[, k[, ref_quantile]])`` of :mod:`ecgdl.noise_gate` (V at sinus timing amid
    noise: Q), applied by ``score_record`` after this step because it reads the detector's output (``None``: off).
    cluster_on: what k-means clusters (:mod:`ecgdl.adapt_embedding`): ``"qrs"`` windows, or ``"both"`` QRS windows
    and the classifier's ``embedding`` output (a model without that output: QRS windows, with a warning).
    n_init: k-means initialisations (seeds ``seed ..``), the lowest inertia kept (1: one, as shipped through round 18).
    n_ensemble: the whole step run under that many clusterings (seeds ``seed ..``; 1: one), combined by ``ensemble``:
    ``"mean"`` averages their probabilities, ``"medoid"`` keeps the one run whose labels agree with the others' on the
    most beats (:func:`medoid_run`).
    consensus: k-means draws (seeds ``seed ..``) whose consensus partition is clustered on (:func:`partition`,
    :mod:`ecgdl.adapt_cluster`; 1: one k-means run, as shipped through round 20).
    soft: the cluster statistics (the stacker's cluster features, :func:`cluster_average`) are averaged over the
    ``consensus`` draws instead of read from the one partition (:func:`record_features`, :func:`cluster_average`).
    unstable_ensemble: when the scoring path's stability check (:mod:`ecgdl.adapt_check`) finds a record's S / V / F
    count depending on the draw, that record's output is the step averaged over this many clusterings (seeds
    ``seed ..``, ``n_ensemble``'s mean) instead of the one draw (0: off; round 27 of docs/episodes.md).
    unstable_on: the unstable classes that lead to that average (round 28: ``"V"``, a split PVC cluster; an S- or
    F-unstable record keeps its one draw and the warning).
    """

    n_clusters: int = 12
    seed: int = 0
    iters: int = 15
    qrs_s: tuple[float, float] = (0.08, 0.12)
    p_s: tuple[float, float] = (0.25, 0.06)
    af_gate: tuple[float, float] | None = None
    blend: float = 0.0
    p_long: bool = False
    self_train: tuple[float, float] | None = None
    sinus_rule: tuple[float, float, float] | None = None
    v_timing: tuple[float, ...] | None = None
    cluster_on: str = "qrs"
    noise_gate: tuple[float, ...] | None = None
    n_init: int = 1
    n_ensemble: int = 1
    ensemble: str = "mean"
    consensus: int = 1
    soft: bool = False
    unstable_ensemble: int = 0
    unstable_on: str = "SVF"

    def __post_init__(self):
        if self.soft and self.consensus <= 1:
            raise ValueError("soft cluster statistics need consensus > 1 (the k-means draws they average over)")
        if self.cluster_on not in CLUSTER_ON:
            raise ValueError(f"cluster_on must be one of {CLUSTER_ON}, got {self.cluster_on!r}")
        if self.ensemble not in ENSEMBLE:
            raise ValueError(f"ensemble must be one of {ENSEMBLE}, got {self.ensemble!r}")

    def to_dict(self) -> dict:
        d = {"n_clusters": self.n_clusters, "seed": self.seed, "iters": self.iters,
             "qrs_s": list(self.qrs_s), "p_s": list(self.p_s),
             "af_gate": list(self.af_gate) if self.af_gate else None, "blend": self.blend}
        d = {**d, "p_long": True} if self.p_long else d
        d = {**d, "cluster_on": self.cluster_on} if self.cluster_on != "qrs" else d
        d = {**d, "n_init": self.n_init} if self.n_init != 1 else d
        d = {**d, "n_ensemble": self.n_ensemble} if self.n_ensemble != 1 else d
        d = {**d, "ensemble": self.ensemble} if self.ensemble != "mean" else d
        d = {**d, "consensus": self.consensus} if self.consensus != 1 else d
        d = {**d, "soft": True} if self.soft else d
        d = {**d, "unstable_ensemble": self.unstable_ensemble} if self.unstable_ensemble else d
        d = {**d, "unstable_on": self.unstable_on} if self.unstable_on != "SVF" else d
        return {**d, **{k: list(getattr(self, k)) for k in _OPTIONAL if getattr(self, k)}}

    @classmethod
    def from_dict(cls, d: dict) -> "AdaptConfig":
        gate = d.get("af_gate")
        return cls(n_clusters=int(d["n_clusters"]), seed=int(d["seed"]), iters=int(d["iters"]),
                   qrs_s=tuple(d["qrs_s"]), p_s=tuple(d["p_s"]), af_gate=tuple(gate) if gate else None,
                   blend=float(d.get("blend", 0.0)), p_long=bool(d.get("p_long", False)),
                   cluster_on=str(d.get("cluster_on", "qrs")), n_init=int(d.get("n_init", 1)),
                   n_ensemble=int(d.get("n_ensemble", 1)), ensemble=str(d.get("ensemble", "mean")),
                   consensus=int(d.get("consensus", 1)), soft=bool(d.get("soft", False)),
                   unstable_ensemble=int(d.get("unstable_ensemble", 0)), unstable_on=str(d.get("unstable_on", "SVF")),
                   **{k: tuple(d[k]) for k in _OPTIONAL if d.get(k)})


def record_draws(x: np.ndarray, fs: float, r_index: int, cfg: AdaptConfig,
                 v: np.ndarray | None) -> tuple[np.ndarray | None, list[tuple[np.ndarray, np.ndarray]] | None]:
    """``(what is clustered, the k-means draws)`` of one record (segment) for ``cfg.consensus`` > 1, run once for the
    partition and the soft statistics (``v``: the vectors, ``None``: the QRS windows); ``(v, None)`` otherwise."""
    if cfg.consensus <= 1 or len(x) <= 1:
        return v, None
    v = qrs_vectors(x, fs, r_index, cfg) if v is None else v
    return v, draws_of(v, cfg)


def cluster_beats(x: np.ndarray, fs: float, r_index: int, cfg: AdaptConfig) -> np.ndarray:
    """Morphology cluster id of each beat (k-means on :func:`qrs_vectors`), ids ordered by cluster size."""
    lab, _ = partition(qrs_vectors(x, fs, r_index, cfg), cfg)
    order = np.argsort(-np.bincount(lab), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[lab]


def record_features(x: np.ndarray, pre: np.ndarray, post: np.ndarray, proba: np.ndarray, fs: float, r_index: int,
                    cfg: AdaptConfig, vectors: np.ndarray | None = None, seg: np.ndarray | None = None,
                    draws: list[tuple[np.ndarray, np.ndarray]] | None = None,
                    rhy: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(features (n, len(FEATURE_NAMES)) float32, cluster id (n,))`` of one record (segment), beats in order.
    x: ``(n, C>=2, T)`` mV windows at ``fs`` with R at ``r_index``; pre/post: RR seconds; proba: ``(n, 5)``;
    seg: the P segments (:func:`_p_segments`) when the caller already cut them; draws: :func:`draws_of` (consensus > 1)
    when the caller already ran them; rhy: :func:`rhythm_features` when the caller already computed them."""
    n = len(x)
    if n == 0:
        return np.zeros((0, len(feature_names(cfg))), np.float32), np.zeros(0, np.int64)
    v = qrs_vectors(x, fs, r_index, cfg) if vectors is None else np.asarray(vectors, np.float32)  # what is clustered
    draws = draws_of(v, cfg) if draws is None else draws
    lab, cent = partition(v, cfg, draws)
    k = len(cent)
    counts = np.bincount(lab, minlength=k).astype(np.float64)
    logp = np.log(np.clip(proba.astype(np.float64), 1e-6, 1.0))
    # soft: each statistic the mean over the k-means draws (a beat near a boundary moves it a little, not a group)
    stats = [cluster_stats(v, dl, dc, proba) for dl, dc in draws] if cfg.soft and draws else [
        cluster_stats(v, lab, cent, proba)]
    cmean, frac, dist, is_dom = (np.mean([st[i] for st in stats], axis=0) for i in range(4))
    dom_beats = is_dom >= 0.5
    rhy = rhythm_features(pre, post) if rhy is None else rhy
    ref = dom_beats & (np.abs(rhy[:, 2]) < 0.1) & (rhy[:, 0] > -0.15)
    seg = _p_segments(x, fs, r_index, cfg) if seg is None else seg  # (n, L, t), read by both P-wave comparisons
    pw = p_wave_features(seg, ref if ref.sum() >= 3 else dom_beats)
    extra = [long_rr_features(seg, pre, dom_beats)] if cfg.p_long else []
    feats = np.concatenate([logp, np.log(np.clip(cmean, 1e-6, 1.0)), np.log(frac)[:, None],
                            dist[:, None], is_dom.astype(np.float64)[:, None],
                            rhy, pw, *extra], axis=1)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(k)
    return feats.astype(np.float32), rank[lab]


@dataclass
class Stacker:
    """Features -> logits: standardise, one ReLU hidden layer (or none), linear; then / temperature."""

    mean: np.ndarray
    std: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]
    temperature: float = 1.0
    post_temperature: float = 1.0  # on the log of the cluster-averaged probabilities (fitted on the CV)
    post_vector: tuple[np.ndarray, np.ndarray] | None = None  # (scale, bias) per class: replaces the temperature

    def calibrate(self, p: np.ndarray) -> np.ndarray:
        """The post calibration of the blended, cluster-averaged, gated probabilities ``p``: vector scaling
        ``softmax(a * log p + b)`` when fitted, else ``softmax(log p / post_temperature)``."""
        logp = np.log(np.clip(p, 1e-12, 1.0))
        if self.post_vector is not None:
            return softmax64(logp * self.post_vector[0] + self.post_vector[1])
        return p if self.post_temperature == 1.0 else softmax64(logp / self.post_temperature)

    def logits(self, feats: np.ndarray) -> np.ndarray:
        h = (feats.astype(np.float64) - self.mean) / self.std
        for i, (w, b) in enumerate(self.layers):
            h = _matmul(h, w) + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return (h / self.temperature).astype(np.float32)

    def to_dict(self) -> dict:
        d = {"mean": self.mean.tolist(), "std": self.std.tolist(), "temperature": float(self.temperature),
             "post_temperature": float(self.post_temperature),
             "layers": [{"w": w.tolist(), "b": b.tolist()} for w, b in self.layers]}
        if self.post_vector is not None:
            d["post_vector"] = {"scale": self.post_vector[0].tolist(), "bias": self.post_vector[1].tolist()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Stacker":
        pv = d.get("post_vector")
        return cls(np.asarray(d["mean"]), np.asarray(d["std"]),
                   [(np.asarray(l["w"]), np.asarray(l["b"])) for l in d["layers"]], float(d.get("temperature", 1.0)),
                   float(d.get("post_temperature", 1.0)),
                   (np.asarray(pv["scale"], np.float64), np.asarray(pv["bias"], np.float64)) if pv else None)


def softmax64(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z.astype(np.float64))
    return e / e.sum(1, keepdims=True)


def blend_logits(z: np.ndarray, proba: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * z + weight * log(proba)``: the stacker's logits hedged with the inductive ones."""
    if weight == 0.0:
        return z
    return (1.0 - weight) * z + weight * np.log(np.clip(proba.astype(np.float64), 1e-6, 1.0))


def cluster_average(proba: np.ndarray, cid: np.ndarray) -> np.ndarray:
    """Label consistency within a morphology group: the V, F, Q probabilities of each beat become its
    cluster's mean; the beat's own N:S split is kept (S and N share a QRS; only rhythm and P wave part them).
    ``cid`` ``(n, d)``: d partitions (the k-means draws of ``AdaptConfig.soft``), the mean of their averages."""
    if len(cid) == 0:
        return proba
    if cid.ndim == 2:
        return np.mean([cluster_average(proba, cid[:, j]) for j in range(cid.shape[1])], axis=0)
    k = int(cid.max()) + 1
    counts = np.bincount(cid, minlength=k).astype(np.float64)
    out = proba.astype(np.float64).copy()
    for j in range(2, proba.shape[1]):
        out[:, j] = (np.bincount(cid, weights=proba[:, j], minlength=k) / np.maximum(counts, 1))[cid]
    ns = proba[:, :2].astype(np.float64).sum(1, keepdims=True) + 1e-12
    out[:, :2] = proba[:, :2] / ns * np.clip(1 - out[:, 2:].sum(1, keepdims=True), 0.0, 1.0)
    return out


#: Columns of :data:`FEATURE_NAMES` that part N from S within a QRS morphology (rhythm and P wave).
SELF_COLUMNS: tuple[int, ...] = tuple(range(FEATURE_NAMES.index("pre_q80"), len(FEATURE_NAMES)))


def self_train(p: np.ndarray, feats: np.ndarray, conf: float, weight: float, min_beats: int = 20) -> np.ndarray:
    """Per-record self-training of the N:S split: the beats called N or S with probability >= ``conf``
    are pseudo-labels; a diagonal-Gaussian two-class model of their rhythm and P-wave features
    (:data:`SELF_COLUMNS`, pooled within-class variance, the pseudo-labels' share as prior) gives every
    beat a record-own S posterior, mixed by ``weight`` into its S:(N + S) ratio. V, F, Q are untouched;
    fewer than ``min_beats`` confident beats of either class: ``p`` unchanged."""
    top = p.argmax(1)
    sure = [(top == k) & (p[:, k] >= conf) for k in (0, 1)]
    if min(int(m.sum()) for m in sure) < min_beats:
        return p
    z = feats[:, SELF_COLUMNS].astype(np.float64)
    mu = [z[m].mean(0) for m in sure]
    var = sum(((z[m] - u) ** 2).sum(0) for m, u in zip(sure, mu)) / (sum(int(m.sum()) for m in sure) - 2) + 1e-3
    ll = [-0.5 * (((z - u) ** 2) / var).sum(1) + np.log(m.sum()) for m, u in zip(sure, mu)]
    post_s = 1.0 / (1.0 + np.exp(np.clip(ll[0] - ll[1], -50, 50)))
    ns = p[:, 0] + p[:, 1]
    ratio = (1 - weight) * p[:, 1] / np.maximum(ns, 1e-12) + weight * post_s
    out = p.astype(np.float64).copy()
    out[:, 1], out[:, 0] = ns * ratio, ns * (1 - ratio)
    return out


def medoid_run(labels: list[np.ndarray]) -> int:
    """Index of the run whose labels agree with the other runs' labels on the most beats (ties: the first)."""
    agree = [sum(int((a == b).sum()) for b in labels) for a in labels]
    return int(np.argmax(agree))


def adapt_record(x: np.ndarray, pre: np.ndarray, post: np.ndarray, proba: np.ndarray, fs: float, r_index: int,
                 stacker: Stacker, cfg: AdaptConfig, embedding: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(adapted probabilities (n, K) float32, cluster id (n,))`` of one record (segment), beats in order:
    the stacker on :func:`record_features` (clustering ``cfg.cluster_on``: with ``"both"`` and an ``embedding``
    ``(n, D)``, :func:`ecgdl.adapt_embedding.joint_vectors`; temperature-scaled, blended with the inductive logits),
    then :func:`cluster_average`, [:func:`self_train`,] [the sinus-reference rule,] the AF gate and the post calibration (:meth:`Stacker.calibrate`)."""
    p, cid, _, _ = adapt_record_checked(x, pre, post, proba, fs, r_index, stacker, cfg, embedding)
    return p, cid


def adapt_record_checked(x: np.ndarray, pre: np.ndarray, post: np.ndarray, proba: np.ndarray, fs: float, r_index: int,
                         stacker: Stacker, cfg: AdaptConfig, embedding: np.ndarray | None = None,
                         check_seeds=()) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], tuple | None]:
    """:func:`adapt_record`, and the adapted probabilities under each further k-means seed of ``check_seeds`` (one
    clustering each, the rest of ``cfg`` as it is: the stability check's draws, :mod:`ecgdl.adapt_check`), the
    clustering-independent parts (P segments, what is clustered, rhythm features) computed once for all; with
    ``check_seeds``, fourth: the one draw's sinus-rule guard edge (:func:`_adapt_once`) or ``None``."""
    seg = _p_segments(x, fs, r_index, cfg) if len(x) else None  # cut once: the features and the sinus rule
    both = cfg.cluster_on == "both" and embedding is not None and len(x)
    v = joint_vectors(qrs_vectors(x, fs, r_index, cfg), embedding) if both else None
    rhy = rhythm_features(pre, post)
    if (cfg.n_ensemble > 1 or len(check_seeds)) and v is None and len(x):
        v = qrs_vectors(x, fs, r_index, cfg)  # clustered by every draw
    if cfg.n_ensemble > 1:     # the step under several clusterings (seeds seed ..), combined by cfg.ensemble
        runs = [_adapt_once(x, pre, post, proba, fs, r_index, stacker, replace(cfg, seed=cfg.seed + i), seg, v,
                            rhy)[:2] for i in range(cfg.n_ensemble)]
        if cfg.ensemble == "medoid":
            p, cid = runs[medoid_run([p.argmax(1) for p, _ in runs])]
        else:
            p, cid = np.mean([p for p, _ in runs], axis=0).astype(np.float32), runs[0][1]
        edge = None
    else:
        p, cid, edge = _adapt_once(x, pre, post, proba, fs, r_index, stacker, cfg, seg, v, rhy, bool(len(check_seeds)))
    alts = [_adapt_once(x, pre, post, proba, fs, r_index, stacker, replace(cfg, seed=int(s), n_ensemble=1), seg, v,
                        rhy)[0] for s in check_seeds]
    return p, cid, alts, edge


def _adapt_once(x: np.ndarray, pre: np.ndarray, post: np.ndarray, proba: np.ndarray, fs: float, r_index: int,
                stacker: Stacker, cfg: AdaptConfig, seg: np.ndarray | None,
                v: np.ndarray | None, rhy: np.ndarray | None = None,
                edge: bool = False) -> tuple[np.ndarray, np.ndarray, tuple[dict, np.ndarray] | None]:
    """:func:`adapt_record` under one clustering (``cfg.seed``): ``seg`` the P segments, ``v`` what is clustered
    (``None``: the QRS windows), ``rhy`` the rhythm features (``None``: computed here). Third item, with ``edge``:
    where the sinus rule's record guard is not supported by the beats (:func:`ecgdl.adapt_atrial.guard_edge`), its
    ``(info, probabilities with the guard read the other way)``; else ``None``."""
    v, draws = record_draws(x, fs, r_index, cfg, v)
    feats, cid = record_features(x, pre, post, proba, fs, r_index, cfg, v, seg=seg, draws=draws, rhy=rhy)
    if len(feats) == 0:
        return proba.astype(np.float32), cid, None
    p = cluster_average(softmax64(blend_logits(stacker.logits(feats), proba, cfg.blend)), averaging_ids(cid, draws, cfg))
    if cfg.self_train is not None:
        p = self_train(p, feats, *cfg.self_train)
    p = p if cfg.v_timing is None else v_timing_rule(p, x, fs, r_index, pre, post, cid, cfg.v_timing)
    info = guard_edge(seg, pre, p, cfg.sinus_rule) if edge and cfg.sinus_rule is not None else None
    second = None if info is None else (info, _after_rules(p, x, fs, r_index, pre, seg, stacker, cfg, True))
    return _after_rules(p, x, fs, r_index, pre, seg, stacker, cfg), cid, second


def _after_rules(p: np.ndarray, x: np.ndarray, fs: float, r_index: int, pre: np.ndarray, seg: np.ndarray | None,
                 stacker: Stacker, cfg: AdaptConfig, flip: bool = False) -> np.ndarray:
    """The sinus-reference rule (its guard read the other way with ``flip``), the AF gate and the post calibration."""
    around = np.zeros(len(p), bool)  # beats with sinus beats around them: the AF gate leaves them alone
    if cfg.sinus_rule is not None:
        p, around = sinus_reference_rule(p, seg, pre, cfg.sinus_rule, flip)
    if cfg.af_gate is not None:
        irr, pcons = atrial_evidence(x, fs, r_index, pre, p[:, 2:4].sum(1) > 0.5)
        p = af_gate(p, np.where(around, np.nan, irr), pcons, cfg.af_gate)
    return stacker.calibrate(p).astype(np.float32)


@dataclass
class Adapter:
    """The adaptive step of a shipped model (its sidecar's ``adapt`` section): config, stacker, provenance."""

    config: AdaptConfig
    stacker: Stacker
    info: dict

    @classmethod
    def from_meta(cls, meta: dict) -> "Adapter | None":
        """The adapter in a sidecar, or ``None`` when the model ships without one."""
        d = meta.get("adapt")
        if not d:
            return None
        cfg = AdaptConfig.from_dict(d["config"])
        if list(d["features"]) != list(feature_names(cfg)):
            raise ValueError("the sidecar's adapt features do not match this ecgdl's ecgdl.adapt.feature_names")
        info = {k: d[k] for k in ("method", "cv_seed", "records", "hidden", "power") if k in d}
        return cls(cfg, Stacker.from_dict(d["stacker"]), info)

    def adapt(self, conditioned: np.ndarray, peaks: np.ndarray, fs: float, window, proba: np.ndarray,
              record: str = "", embedding: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(adapted proba (n, K) float32, cluster id (n,) int64)`` of a scored record, per feature segment
        (:func:`ecgdl.beats.segment_beat_sets`: 30-minute segments on a Holter); cluster ids are unique over
        the record (a later segment's ids continue after the earlier ones'). embedding: the classifier's
        ``(n, D)`` output ``embedding`` (read only with ``cluster_on="both"``)."""
        out, cluster, _, _ = self.adapt_checked(conditioned, peaks, fs, window, proba, record, embedding)
        return out, cluster

    def adapt_checked(self, conditioned: np.ndarray, peaks: np.ndarray, fs: float, window, proba: np.ndarray,
                      record: str = "", embedding: np.ndarray | None = None,
                      check_seeds=()) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], dict | None]:
        """:meth:`adapt`, and the adapted probabilities ``(n, K)`` under each k-means seed of ``check_seeds``
        (:func:`adapt_record_checked`: the stability check's draws, :mod:`ecgdl.adapt_check`); fourth, where a
        segment's sinus-rule guard is at its edge (round 32): ``{"segments": [{index, ratio, interval, on}],
        "proba": (n, K) the record with those segments' guard read the other way}``, else ``None``."""
        from ecgdl.beats import segment_beat_sets

        out = np.asarray(proba, np.float32).copy()
        alts = [out.copy() for _ in check_seeds]
        cluster = np.zeros(len(peaks), np.int64)
        offset, edges = 0, []
        for i, (sl, beats) in enumerate(segment_beat_sets(conditioned, peaks, fs, window, record)):
            p, cid, alt, edge = adapt_record_checked(beats.x, beats.rr[:, 0], beats.rr[:, 1], proba[sl], fs,
                                                     window.pre, self.stacker, self.config,
                                                     None if embedding is None else embedding[sl], check_seeds)
            out[sl], cluster[sl] = p, cid + offset
            for o, a in zip(alts, alt):
                o[sl] = a
            if edge is not None:
                edges.append((sl, {"index": i, **edge[0]}, edge[1]))
            offset += int(cid.max()) + 1 if len(cid) else 0
        if not edges:
            return out, cluster, alts, None
        second = out.copy()
        for sl, _, q in edges:
            second[sl] = q
        return out, cluster, alts, {"segments": [e[1] for e in edges], "proba": second}

    def adapt_segments(self, conditioned: np.ndarray, peaks: np.ndarray, fs: float, window, proba: np.ndarray,
                       base: np.ndarray, which, record: str = "", embedding: np.ndarray | None = None) -> np.ndarray:
        """``base`` (the record's adapted probabilities) with the feature segments ``which`` (indices, in
        :func:`ecgdl.beats.segment_beat_sets` order) adapted again under this adapter's config (the averaged
        step of an unstable segment, ``ecgdl.infer.average_unstable``); ``proba``: the inductive probabilities."""
        from ecgdl.beats import segment_beat_sets

        out = np.asarray(base, np.float32).copy()
        which = set(int(i) for i in which)
        for i, (sl, beats) in enumerate(segment_beat_sets(conditioned, peaks, fs, window, record)):
            if i in which:
                out[sl] = adapt_record(beats.x, beats.rr[:, 0], beats.rr[:, 1], proba[sl], fs, window.pre,
                                       self.stacker, self.config, None if embedding is None else embedding[sl])[0]
        return out
