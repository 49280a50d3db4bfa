"""The one scoring path: :class:`BeatClassifier` over ONNX Runtime and :func:`score_record`.

Torch-free. Everything the path needs (classes, sampling rate, window, conditioning, detector,
feature recipe and statistics) is read from the model's sidecar JSON, never from a literal.
:func:`score_record` is a column of named steps, each owned by its concept's module:

    read (ecgdl.io, gaps filled) -> leads (ecgdl.leads: which lead is MLII-like, which way up)
    -> condition (ecgdl.signal.condition_record)
    -> detect (ecgdl.qrs.detect_r_peaks, or the reference beats: ecgdl.reference)
    -> beats (ecgdl.beats.segment_beat_sets) -> classify (inputs ecgdl.features, ONNX here)
    -> [adapt] -> noise gate (ecgdl.noise_gate) -> [check: the adapt step under other k-means seeds, ecgdl.adapt_check]
    -> compare (ecgdl.reference.compare_record) -> summarise (ecgdl.rhythm)
    -> episodes + HRV (ecgdl.episodes.score_episodes, from the summary's pauses)

>>> clf = BeatClassifier()                                   # doctest: +SKIP
>>> res = score_record("../shared/data/mitdb/100", clf)      # doctest: +SKIP
>>> res.summary["counts"]                                    # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecgdl.adapt_check import DRAWS as CHECK_DRAWS
from ecgdl.adapt_check import agreement, by_segment
from ecgdl.adapt_check import seeds as check_seeds
from ecgdl.adapt_check import warning as adapt_warning
from ecgdl.adapt_embedding import EMBEDDING_OUTPUT as EMBEDDING
from ecgdl.artifacts import CUDA, load_onnx, strict_json
from ecgdl.beats import BeatSet, WindowConfig, beat_segments, segment_beat_sets
from ecgdl.episodes import score_episodes
from ecgdl.io import Record, read_record
from ecgdl.leads import decide_leads
from ecgdl.noise_gate import noise_gate
from ecgdl.quality import SegmentQuality
from ecgdl.qrs_config import DEFAULT_CONFIG as DEFAULT_QRS
from ecgdl.qrs_config import QRSConfig
from ecgdl.reference import compare_record, reference_beats
from ecgdl.signal import ConditioningConfig, condition_record

#: The shipped model the CLI and the app use when none is named (``ecgdl/shipped/<name>.onnx``).
DEFAULT_MODEL_NAME = "ecgdl_cnn"


def default_model_path() -> Path:
    """``ecgdl/shipped/ecgdl_cnn.onnx``, or the first shipped ``ecgdl/shipped/*.onnx`` when that one is absent."""
    from ecgdl.paths import MODELS_DIR

    preferred = MODELS_DIR / f"{DEFAULT_MODEL_NAME}.onnx"
    if preferred.is_file():
        return preferred
    shipped = sorted(MODELS_DIR.glob("*.onnx"))
    if not shipped:
        raise FileNotFoundError(f"no shipped model under {MODELS_DIR} (run pipelines/export.py)")
    return shipped[0]


class BeatClassifier:
    """A shipped beat classifier (``<name>.onnx`` + ``<name>.json``) on ONNX Runtime.

    device: ``"auto"`` (CUDA when it works, else CPU), ``"cpu"`` or ``"cuda"`` (falls back to CPU
    with a warning when CUDA does not work). ``provider`` is the ACTIVE provider
    (``session.get_providers()[0]``), ``fallback`` says why CUDA is not used when it was asked for.
    """

    def __init__(self, model_path: str | Path | None = None, device: str = "auto", *, batch_size: int | None = None,
                 threads: int | None = None):
        path = Path(model_path) if model_path else default_model_path()
        if path.suffix != ".onnx":
            path = path.with_suffix(".onnx")
        loaded = load_onnx(path, device, threads=threads)
        self.path, self.meta, self.session, self.fallback = path, loaded.meta, loaded.session, loaded.fallback
        self.name: str = self.meta.get("name", path.stem)
        self.classes: tuple[str, ...] = tuple(self.meta["classes"])
        # the scoring recipe's configs, all from the sidecar (a sidecar without "qrs": the default detector)
        self.fs: float = float(self.meta["fs"])
        self.conditioning = ConditioningConfig(**self.meta["conditioning"])
        self.window = WindowConfig(**self.meta["window"])
        self.qrs: QRSConfig = QRSConfig.from_dict(self.meta["qrs"]) if "qrs" in self.meta else DEFAULT_QRS
        self.provider: str = loaded.provider
        self.outputs: tuple[str, ...] = tuple(o.name for o in self.session.get_outputs())
        self.has_embedding: bool = EMBEDDING in self.outputs  # older ONNX files: logits only
        from ecgdl.adapt import Adapter

        self.adapter: Adapter | None = Adapter.from_meta(self.meta)  # the patient-adaptive step, if shipped
        if self.adapter is not None and self.adapter.config.cluster_on != "qrs" and not self.has_embedding:
            import warnings

            warnings.warn(f"{path.name} has no '{EMBEDDING}' output: the adaptive step clusters QRS windows only "
                          f"(its sidecar asks for cluster_on={self.adapter.config.cluster_on!r})", RuntimeWarning,
                          stacklevel=2)
        # CPU: small batches stay in cache (~15% less CPU time than 4,096 here); GPU: large batches
        self.batch_size = int(batch_size or (4096 if self.provider == CUDA else 256))
        from ecgdl.features import FeatureConfig

        feats = self.meta["features"]
        self.feature_config = FeatureConfig.from_dict(feats["config"])
        self.stats: dict | None = feats.get("stats")
        names = (self.stats or {}).get("rr_names")
        if names is not None and list(names) != self.feature_config.rr_names():
            raise ValueError(f"{path}: the sidecar's feature recipe (rr inputs {len(names)}) does not match this "
                             f"ecgdl's ecgdl.features ({self.feature_config.n_rr()}): re-export the model or "
                             f"update ecgdl")

    def __repr__(self) -> str:
        return f"BeatClassifier({self.name!r}, provider={self.provider!r})"

    def inputs(self, beats: BeatSet) -> dict[str, np.ndarray]:
        """The model inputs of ``beats`` (``ecgdl.features.make_inputs`` with the sidecar's recipe)."""
        from ecgdl.features import make_inputs

        return make_inputs(beats, self.feature_config, self.stats)

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """``(n, K)`` float32 logits of ready inputs (``beats`` ``(n, C, T)``, ``rr`` ``(n, F)``), batched."""
        return self.run(inputs)[0]

    def run(self, inputs: dict[str, np.ndarray], embedding: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """``(logits (n, K), embedding (n, D) or None)`` float32 of ready inputs, batched; the embedding (the
        pooled encoder vector the head reads, :mod:`ecgdl.export_embedding`) when asked and the ONNX has it."""
        n = len(inputs["beats"])
        names = ["logits", EMBEDDING] if embedding and self.has_embedding else ["logits"]
        out, emb = np.zeros((n, len(self.classes)), np.float32), None
        for i in range(0, n, self.batch_size):
            feed = {k: inputs[k][i:i + self.batch_size] for k in ("beats", "rr")}
            res = self.session.run(names, feed)
            out[i:i + self.batch_size] = res[0]
            if len(res) > 1:
                emb = np.zeros((n, res[1].shape[1]), np.float32) if emb is None else emb
                emb[i:i + self.batch_size] = res[1]
        return out, emb

    def predict_proba(self, beats: BeatSet) -> np.ndarray:
        """``(n, K)`` float32 class probabilities (softmax of the logits), columns in ``classes`` order."""
        return softmax(self.logits(self.inputs(beats)))

    def wants_embedding(self) -> bool:
        """True when the adaptive step clusters the embedding (``cluster_on="both"``) and the ONNX has it."""
        return self.has_embedding and self.adapter is not None and self.adapter.config.cluster_on == "both"

    def info(self) -> dict:
        """Model name, file hash, commit and active provider (goes into every summary)."""
        return {"name": self.name, "sha256": self.meta.get("onnx", {}).get("sha256"),
                "commit": self.meta.get("git", {}).get("commit"), "provider": self.provider,
                "fallback": self.fallback or None}


def decide(proba: np.ndarray, classes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(class index (n,), class letter (n,))`` of each beat: the most probable class."""
    pred = proba.argmax(1) if len(proba) else np.zeros(0, np.int64)
    label = np.asarray(classes)[pred] if len(pred) else np.zeros(0, "<U1")
    return pred, label


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, float32."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z, dtype=np.float64)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def classify_beats(clf: BeatClassifier, conditioned: np.ndarray, peaks: np.ndarray, fs: float,
                   window: WindowConfig, record: str = "") -> tuple[np.ndarray, np.ndarray]:
    """``(proba (n, K) float32, edge (n,) bool)`` of the beats at ``peaks`` of a conditioned record.

    Equal to ``clf.predict_proba(make_beats(conditioned, peaks, fs))`` for records up to an hour;
    longer ones go segment by segment (:func:`ecgdl.beats.segment_beat_sets`).
    """
    proba, edge, _ = classify_record(clf, conditioned, peaks, fs, window, record)
    return proba, edge


def classify_record(clf: BeatClassifier, conditioned: np.ndarray, peaks: np.ndarray, fs: float, window: WindowConfig,
                    record: str = "", embedding: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`classify_beats` plus the classifier's ``embedding`` output ``(n, D)`` float32 when asked and the
    ONNX has it (else None), from the same inference pass."""
    proba = np.zeros((len(peaks), len(clf.classes)), np.float32)
    edge = np.zeros(len(peaks), bool)
    emb = None
    for sl, beats in segment_beat_sets(conditioned, peaks, fs, window, record):
        logits, e = clf.run(clf.inputs(beats), embedding)
        proba[sl], edge[sl] = softmax(logits), beats.edge
        if e is not None:
            emb = np.zeros((len(peaks), e.shape[1]), np.float32) if emb is None else emb
            emb[sl] = e
    return proba, edge, emb


@dataclass
class RecordResult:
    """The scored record; see the scoring contract (``sample`` at ``record.fs``, ``source_sample`` at the file's rate)."""

    record: Record
    conditioned: np.ndarray
    sample: np.ndarray
    source_sample: np.ndarray
    label: np.ndarray
    proba: np.ndarray
    summary: dict
    reference: dict | None
    classes: tuple[str, ...] = ()
    edge: np.ndarray | None = None
    ref_label: np.ndarray | None = None  # reference class letter of each beat ("" when unmatched)
    cluster: np.ndarray | None = None  # morphology cluster id of each beat (ecgdl.adapt), None when not adapted
    episodes: list = field(default_factory=list)  # ecgdl.episodes.Episode, sorted by start
    p_v_inductive: np.ndarray | None = None  # the classifier's p(V) before the adapt step (VT rule), None when not adapted
    quality: SegmentQuality | None = None  # the detector's segment quality (None with reference beats); the noise gate reads it
    agreement: np.ndarray | None = None  # share of the checked k-means draws labelling each beat so (ecgdl.adapt_check)

    def episodes_csv(self) -> str:
        """The ``<record>.episodes.csv`` text (``ecgdl.episodes.CSV_COLUMNS``, seconds from the record's start)."""
        from ecgdl.episodes import episodes_csv

        return episodes_csv(self.episodes)

    def beat_columns(self) -> dict[str, np.ndarray]:
        """The per-beat table, one array per column, as the outputs carry it (CSV and parquet alike):
        ``sample`` (file's own rate), ``time_s`` (3 decimals), ``label``, ``p_<class>``... (4 decimals),
        ``edge`` (0/1) [, ``cluster`` (morphology group, adaptive scoring)] [, ``agreement`` (share of the k-means
        draws giving this label, :mod:`ecgdl.adapt_check`)] [, ``ref_label`` ("" when
        unmatched), with a reference comparison]."""
        edge = self.edge if self.edge is not None else np.zeros(len(self.source_sample), bool)
        cols = {"sample": np.asarray(self.source_sample, np.int64),
                "time_s": np.round(self.source_sample / self.record.source_fs, 3),
                "label": np.asarray(self.label, dtype=str),
                **{f"p_{c}": np.round(self.proba[:, i].astype(np.float64), 4) for i, c in enumerate(self.classes)},
                "edge": edge.astype(np.int64)}
        if self.cluster is not None:
            cols["cluster"] = np.asarray(self.cluster, np.int64)
        if self.agreement is not None:
            cols["agreement"] = np.round(np.asarray(self.agreement, np.float64), 2)
        if self.ref_label is not None:
            cols["ref_label"] = np.asarray(self.ref_label, dtype=str)
        ragged = {k: len(v) for k, v in cols.items() if len(v) != len(self.source_sample)}
        if ragged:   # a table whose columns disagree would be cut to the shortest when written: refuse it
            raise ValueError(f"the per-beat columns {ragged} do not have one row per beat ({len(self.source_sample)})")
        return cols

    def beats_csv(self) -> str:
        """:meth:`beat_columns` as CSV text."""
        cols = self.beat_columns()
        fmt = ",".join(_CSV_FORMATS.get(name[:2] if name.startswith("p_") else name, "%s") for name in cols)
        lines = [",".join(cols)] + [fmt % row for row in zip(*(c.tolist() for c in cols.values()))]
        return "\n".join(lines) + "\n"

    def short_reference(self) -> dict | None:
        """The reference comparison with its beat lists cut to the first 1,000 (what summaries carry)."""
        if self.reference is None:
            return None
        keep = ("disagree_beats", "missed_samples", "extra_beats")
        return {**{k: v for k, v in self.reference.items() if k not in keep},
                **{k: self.reference[k][:1000] for k in keep}}

    def summary_json(self) -> str:
        """The summary with the short reference comparison, as JSON text."""
        return json.dumps(strict_json({**self.summary, "reference": self.short_reference()}), indent=1)


#: printf formats of the per-beat CSV columns (``p_`` stands for every probability column).
_CSV_FORMATS = {"sample": "%d", "time_s": "%.3f", "label": "%s", "p_": "%.4f", "edge": "%d", "cluster": "%d",
                "agreement": "%.2f", "ref_label": "%s"}


def _source_ranges(rec: Record, ranges) -> tuple[tuple[int, int], ...]:
    """``[start, stop)`` ranges at ``rec.fs`` -> sorted, at the file's own rate."""
    ranges = sorted({(int(a), int(b)) for a, b in ranges})
    if not ranges:
        return ()
    a = rec.to_source_samples([r[0] for r in ranges])
    b = rec.to_source_samples([r[1] for r in ranges])
    return tuple((int(x), int(y)) for x, y in zip(a, b))


def score_record(source: str | Path | Record, clf: BeatClassifier, *, use_reference: bool = False,
                 compare: bool = True, adapt: bool = True, lead: str | None = None,
                 check_draws: int = CHECK_DRAWS) -> RecordResult:
    """Score one record end to end, one named step per line (see the module docstring).

    use_reference: classify the record's reference beat annotations instead of detected R peaks.
    compare: with annotations present, fill ``reference`` (Se/+P per class, 150 ms matching).
    adapt: apply the model's patient-adaptive step (:mod:`ecgdl.adapt`) when its sidecar ships one.
    lead: the lead to read as primary, ``"-NAME"`` when it is inverted (else decided: :mod:`ecgdl.leads`).
    check_draws: further k-means draws the adapted labels are checked against (:mod:`ecgdl.adapt_check`; 0: none).
    """
    rec = read_for_model(source, clf.fs)                                       # read
    rec, lead_choice = decide_leads(rec, lead)                                  # leads
    raw = model_leads(rec)
    conditioned = condition_record(raw, rec.fs, clf.conditioning)               # condition
    peaks, spans = find_beats(rec, raw, clf.qrs, use_reference)                 # detect
    inductive, edge, emb = classify_record(clf, conditioned, peaks, rec.fs, clf.window, rec.name,  # beats -> classify
                                           adapt and clf.wants_embedding())
    adapted, cluster, drawn, guard = adapt_beats(clf, conditioned, peaks, rec.fs, inductive, rec.name, adapt, emb,  # adapt
                                                 check_draws)
    proba, gated = gate_noise(clf, adapted, peaks, rec.fs, spans["quality"], cluster is not None, conditioned)  # noise gate
    pred, label = decide(proba, clf.classes)
    agree, stable, alt = check_adapt(clf, drawn, conditioned, peaks, rec.fs, spans["quality"], label, guard)  # check
    if stable is not None and averaged_segments(clf.adapter.config, stable):                 # unstable: average
        proba, gated, agree, stable = average_unstable(clf, conditioned, peaks, rec.fs, inductive, rec.name, emb,
                                                       spans["quality"], adapted, np.c_[label, alt], stable)
        pred, label = decide(proba, clf.classes)
    p_v_ind = inductive[:, clf.classes.index("V")].copy() if cluster is not None and "V" in clf.classes else None
    reference, ref_label = compare_record(rec, peaks, pred, clf.classes) if compare else (None, None)
    source_sample = rec.to_source_samples(peaks)
    spans = {**spans, "unusable": (*spans["unusable"], *rec.gaps)}
    summary = record_summary(rec, clf, label, source_sample, spans,                          # summarise
                             beat_source="reference" if use_reference else "detected", edge_beats=int(edge.sum()))
    episodes, part = score_episodes(peaks, label, rec.fs, proba=proba, classes=clf.classes,           # episodes
                                    signal=conditioned[:, 0], pauses=summary["pauses"],
                                    vf=summary.get("vf", ()), duration_s=rec.duration_s, p_v_ind=p_v_ind,
                                    qrs_signal=conditioned)
    summary.update(part)
    summary["adapt"] = adapt_info(clf, cluster, gated, stable)
    summary["warnings"] += list(filter(None, [adapt_warning(stable)]))
    summary["lead_choice"] = lead_choice.to_dict(rec.leads)
    return RecordResult(record=rec, conditioned=conditioned, sample=peaks, source_sample=source_sample, label=label,
                        proba=proba, summary=summary, reference=reference, classes=clf.classes, edge=edge,
                        ref_label=ref_label, episodes=episodes, cluster=cluster, p_v_inductive=p_v_ind,
                        quality=spans["quality"], agreement=agree)


def adapt_beats(clf: BeatClassifier, conditioned: np.ndarray, peaks: np.ndarray, fs: float, proba: np.ndarray,
                record: str = "", enabled: bool = True, embedding: np.ndarray | None = None,
                check_draws: int = 0) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray], dict | None]:
    """The adapt step: ``(proba, cluster, check draws, guard edge)`` rewritten from the record's own unlabelled beats
    (never a label) by the model's :class:`ecgdl.adapt.Adapter` (``embedding``: the classifier's output, clustered with
    the QRS windows when the adapter's ``cluster_on`` is ``"both"``); the third item: the step's probabilities under
    ``check_draws`` other k-means seeds (:mod:`ecgdl.adapt_check`), the fourth: its reading with the sinus rule's guard
    the other way where that guard is at its edge (``Adapter.adapt_checked``). Unchanged, ``None``, ``[]`` and
    ``None`` when off or not shipped."""
    if not enabled or clf.adapter is None:
        return proba, None, [], None
    return clf.adapter.adapt_checked(conditioned, peaks, fs, clf.window, proba, record, embedding,
                                     check_seeds(clf.adapter.config, check_draws))


def gate_noise(clf: BeatClassifier, proba: np.ndarray, peaks: np.ndarray, fs: float, quality, adapted: bool,
               conditioned: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The noise gate of the adapted labels (:mod:`ecgdl.noise_gate`: V at sinus timing in a low-quality
    segment becomes Q): ``(proba, hits)``; unchanged and ``None`` when the record was not adapted, the
    sidecar's ``AdaptConfig.noise_gate`` is off or there is no detector quality (reference beats)."""
    params = clf.adapter.config.noise_gate if adapted and clf.adapter is not None else None
    if params is None or quality is None:
        return proba, None
    return noise_gate(proba, peaks, fs, quality, params, conditioned)


def check_adapt(clf: BeatClassifier, drawn: list[np.ndarray], conditioned: np.ndarray, peaks: np.ndarray, fs: float,
                quality, label: np.ndarray, guard: dict | None = None) -> tuple[np.ndarray | None, dict | None,
                                                                                np.ndarray | None]:
    """The check step (:mod:`ecgdl.adapt_check`): the adapt step's other k-means draws (``drawn``, from
    :func:`adapt_beats`) and, where the sinus rule's guard is at its edge, the reading with it the other way
    (``guard``, round 32), through the same noise gate, against the output ``label``, per record and per feature
    segment (:func:`ecgdl.adapt_check.by_segment`); ``(agreement per beat, the stability part, the readings' labels
    (n, d))``, or ``(None, None, None)`` without draws. No label changes."""
    if not drawn:
        return None, None, None
    alt = np.stack([decide(gate_noise(clf, p, peaks, fs, quality, True, conditioned)[0], clf.classes)[1]
                    for p in drawn + ([guard["proba"]] if guard else [])], 1)
    cfg = clf.adapter.config
    part = by_segment(label, alt, beat_segments(peaks, fs, conditioned.shape[0]), np.asarray(peaks) / fs)
    part = {**part, "seeds": [cfg.seed, *check_seeds(cfg, len(drawn))]}
    return agreement(label, alt), ({**part, "guard_edge": guard["segments"]} if guard else part), alt


def averaged_segments(cfg, stable: dict) -> list[int]:
    """The feature segments (indices) of a record averaged over clusterings: with ``AdaptConfig.unstable_ensemble``
    > 1, those unstable in a class of ``unstable_on`` (every segment of a one-segment record when the record is)."""
    if cfg.unstable_ensemble <= 1:
        return []
    if "segments" in stable:
        return [g["index"] for g in stable["segments"] if any(c in cfg.unstable_on for c in g["unstable"])]
    return [0] if any(c in cfg.unstable_on for c in stable["unstable"]) else []


def average_unstable(clf: BeatClassifier, conditioned: np.ndarray, peaks: np.ndarray, fs: float, inductive: np.ndarray,
                     record: str, embedding: np.ndarray | None, quality, adapted: np.ndarray, draws: np.ndarray,
                     stable: dict) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, dict]:
    """A record the check found unstable (rounds 27-28): the adapt step averaged over ``AdaptConfig.unstable_ensemble``
    clusterings (``n_ensemble``'s mean) in its :func:`averaged_segments` (the others keep ``adapted``, the one draw),
    then the noise gate; ``(proba, gated, agreement, stability part)``, the
    agreement now the share of the two checked draws (the shipped seed's and the next one's) giving the averaged
    label (``draws`` ``(n, 2)``: their labels), and the part's ``averaged_over`` / ``output_counts`` telling what
    was done."""
    from dataclasses import replace

    cfg = clf.adapter.config
    n = cfg.unstable_ensemble
    which = averaged_segments(cfg, stable)
    avg = replace(clf.adapter, config=replace(cfg, n_ensemble=n, unstable_ensemble=0))
    p = avg.adapt_segments(conditioned, peaks, fs, clf.window, inductive, adapted, which, record, embedding)
    p, gated = gate_noise(clf, p, peaks, fs, quality, True, conditioned)
    out = decide(p, clf.classes)[1]
    part = {**stable, "averaged_over": n, "averaged_segments": which,
            "output_counts": {c: int((out == c).sum()) for c in stable["counts"]}}
    return p, gated, (np.asarray(draws) == out[:, None]).mean(1), part


def adapt_info(clf: BeatClassifier, cluster: np.ndarray | None, gated: np.ndarray | None = None,
               stable: dict | None = None) -> dict:
    """What the summary says about adaptation: applied or not, the method, clusters found, the beats the
    noise gate made Q (``noise_gated``, when the gate is on) and the check over other k-means draws (``stability``)."""
    if cluster is None:
        return {"applied": False, "available": clf.adapter is not None}
    info = {"applied": True, "method": clf.adapter.info.get("method", ""), "clusters": int(len(np.unique(cluster)))}
    info = {**info, "noise_gated": int(gated.sum())} if gated is not None else info
    return {**info, "stability": stable} if stable is not None else info


def read_for_model(source: str | Path | Record, fs: float) -> Record:
    """The record at the model's rate ``fs`` (read and resampled, gaps filled; a ``Record`` is checked)."""
    rec = source if isinstance(source, Record) else read_record(source, target_fs=fs, on_gaps="fill")
    if abs(rec.fs - fs) > 1e-6:
        raise ValueError(f"{rec.name}: record at {rec.fs} Hz, model expects {fs} Hz")
    return rec


def model_leads(rec: Record) -> np.ndarray:
    """``(n, 2)`` the primary and secondary leads the model reads, a lead marked inverted
    (``rec.lead_invert``) turned upright (a view when possible: 24 h is 250 MB)."""
    pair = list(rec.lead_pair())
    x = rec.signal[:, :2] if pair == [0, 1] else rec.signal[:, pair]
    if any(rec.lead_invert):
        x = x * np.where(np.asarray(rec.lead_invert), -1.0, 1.0).astype(np.float32)
    return x


def find_beats(rec: Record, raw: np.ndarray, qrs: QRSConfig,
               use_reference: bool = False) -> tuple[np.ndarray, dict]:
    """``(beat positions at rec.fs, spans)``: detected R peaks, or the reference beats.

    spans: ``[start, stop)`` ranges at rec.fs under "unusable", "undetected" (gaps with QRS
    activity but no beat), "vf" (VF/VFL) and "unreadable" (low quality), and "quality" (the
    per-segment :class:`ecgdl.quality.SegmentQuality`, None with reference beats).
    """
    if use_reference:
        if rec.annotations is None:
            raise ValueError(f"{rec.name}: use_reference=True but the record has no reference annotations")
        return reference_beats(rec)[0], {"unusable": (), "undetected": (), "vf": (), "unreadable": (),
                                         "quality": None}
    from ecgdl.qrs import detect_r_peaks, is_standard_lead

    found = detect_r_peaks(raw, rec.fs, qrs, choose_lead=not is_standard_lead(rec.leads[rec.primary_lead()]))
    return found.peaks, {"unusable": tuple(found.unusable), "undetected": found.undetected, "vf": found.vf,
                         "unreadable": found.quality.unreadable if found.quality else (),
                         "quality": found.quality}


def record_summary(rec: Record, clf: BeatClassifier, label: np.ndarray, source_sample: np.ndarray, spans: dict,
                   *, beat_source: str, edge_beats: int) -> dict:
    """The record's summary: where it came from, how it was made (model, detector config), then
    :func:`ecgdl.rhythm.summarise`; spans as :func:`find_beats` returns them (ranges at rec.fs)."""
    from ecgdl import ecg_presence
    from ecgdl.rhythm import summarise

    presence = ecg_presence.assess(spans.get("quality"), vf=spans.get("vf", ()), fs=rec.fs)  # is there an ECG here?
    warnings = [*rec.warnings, *filter(None, [ecg_presence.warning(presence)])]
    return {"record": rec.name, "leads": [rec.leads[i] for i in rec.lead_pair()], "source_fs": rec.source_fs,
            "model_fs": rec.fs, "start_clock_s": rec.start_clock_s, "beat_source": beat_source,
            "qrs": clf.qrs.to_dict() if beat_source == "detected" else None,
            "edge_beats": edge_beats, "notes": list(rec.notes), "warnings": warnings,
            "model": clf.info(),
            **summarise(label, source_sample, rec.source_fs, classes=clf.classes, duration_s=rec.duration_s,
                        **{k: _source_ranges(rec, spans.get(k, ())) for k in ("unusable", "undetected", "vf",
                                                                              "unreadable")}),
            "quality": _quality_summary(spans.get("quality"), presence)}


def _quality_summary(q, presence=None) -> dict | None:
    """The per-segment quality index for the summary JSON (index rounded to 0.01, null without beats)
    and the no-ECG check's figures (:mod:`ecgdl.ecg_presence`) under ``ecg``."""
    if q is None:
        return None
    idx = [None if not np.isfinite(v) else round(float(v), 2) for v in q.index]
    ok = q.index[np.isfinite(q.index)]
    return {"segment_s": q.segment_s, "index": idx,
            "median_index": round(float(np.median(ok)), 3) if ok.size else None,
            "ecg": presence.to_dict() if presence is not None else None}
