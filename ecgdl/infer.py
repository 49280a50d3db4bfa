"""The one scoring path: :class:`BeatClassifier` over ONNX Runtime and :func:`score_record`.

Torch-free. Everything the path needs (classes, sampling rate, window, conditioning, feature
recipe and statistics) is read from the model's sidecar JSON, never from a literal.

    read (ecgdl.io, gaps filled) -> condition (ecgdl.signal) -> R peaks (ecgdl.qrs, or the record's
    reference beat annotations) -> windows + RR (ecgdl.beats) -> inputs (ecgdl.features) -> ONNX
    -> per-beat labels and probabilities -> rhythm summary (ecgdl.rhythm)

>>> clf = BeatClassifier()                                   # doctest: +SKIP
>>> res = score_record("../shared/data/mitdb/100", clf)      # doctest: +SKIP
>>> res.summary["counts"]                                    # doctest: +SKIP
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgdl.beats import BeatSet, WindowConfig, cut_windows, rr_features
from ecgdl.io import Record, read_record
from ecgdl.labels import BEAT_SYMBOLS, CLASS_INDEX
from ecgdl.signal import ConditioningConfig, condition

#: The shipped model the CLI and the app use when none is named (``models/<name>.onnx``).
DEFAULT_MODEL_NAME = "ecgdl_cnn"
DEVICES = ("auto", "cpu", "cuda")
_CPU, _CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


def default_model_path() -> Path:
    """``models/ecgdl_cnn.onnx``, or the first shipped ``models/*.onnx`` when that one is absent."""
    from ecgdl.paths import MODELS_DIR

    preferred = MODELS_DIR / f"{DEFAULT_MODEL_NAME}.onnx"
    if preferred.is_file():
        return preferred
    shipped = sorted(MODELS_DIR.glob("*.onnx"))
    if not shipped:
        raise FileNotFoundError(f"no shipped model under {MODELS_DIR} (run pipelines/export.py)")
    return shipped[0]


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _make_session(path: Path, device: str, threads: int | None = None):
    """``(session, note)``: an ORT session on CUDA when asked/available and working, else CPU."""
    import onnxruntime as ort

    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # no busy-waiting worker threads: on a shared laptop/CI box spinning costs more than it saves
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = int(threads)
    want_cuda = device in ("auto", "cuda") and _CUDA in ort.get_available_providers()
    note = ""
    if want_cuda:
        if hasattr(ort, "preload_dlls") and Path("/dev/nvidiactl").exists():
            try:
                ort.preload_dlls()  # CUDA/cuDNN from the nvidia-* wheels when torch is not imported
            except Exception:  # noqa: BLE001 - a machine without them falls back below
                pass
        ort.set_default_logger_severity(4)  # the failed CUDA load is reported by us, once, in plain words
        try:
            sess = ort.InferenceSession(str(path), opts, providers=[_CUDA, _CPU])
            if sess.get_providers()[0] == _CUDA:
                return sess, note
            note = "CUDA provider did not start (no usable GPU / CUDA libraries); using CPU"
        except Exception as exc:  # noqa: BLE001 - fall back to CPU and say why
            note = f"CUDA provider failed ({type(exc).__name__}: {exc}); using CPU"
        finally:
            ort.set_default_logger_severity(2)
    elif device == "cuda":
        note = "onnxruntime has no CUDA provider in this install; using CPU"
    return ort.InferenceSession(str(path), opts, providers=[_CPU]), note


class BeatClassifier:
    """A shipped beat classifier (``<name>.onnx`` + ``<name>.json``) on ONNX Runtime.

    device: ``"auto"`` (CUDA when it works, else CPU), ``"cpu"`` or ``"cuda"`` (falls back to CPU
    with a warning when CUDA does not work). ``provider`` is the ACTIVE provider
    (``session.get_providers()[0]``), ``fallback`` says why CUDA is not used when it was asked for.
    """

    def __init__(self, model_path: str | Path | None = None, device: str = "auto", *, batch_size: int = 4096,
                 threads: int | None = None):
        path = Path(model_path) if model_path else default_model_path()
        if path.suffix != ".onnx":
            path = path.with_suffix(".onnx")
        sidecar = path.with_suffix(".json")
        if not path.is_file() or not sidecar.is_file():
            raise FileNotFoundError(f"{path}: model or its sidecar {sidecar.name} not found")
        self.path = path
        self.meta: dict = json.loads(sidecar.read_text())
        digest = self.meta.get("onnx", {}).get("sha256")
        if digest and digest != _sha256(path):
            raise ValueError(f"{path}: sha256 differs from the sidecar's (file replaced or corrupted)")
        self.name: str = self.meta.get("name", path.stem)
        self.classes: tuple[str, ...] = tuple(self.meta["classes"])
        self.batch_size = int(batch_size)
        self.session, self.fallback = _make_session(path, device, threads)
        self.provider: str = self.session.get_providers()[0]
        if self.fallback and device == "cuda":
            warnings.warn(f"{self.name}: {self.fallback}", RuntimeWarning, stacklevel=2)
        from ecgdl.features import FeatureConfig

        feats = self.meta["features"]
        self.feature_config = FeatureConfig.from_dict(feats["config"])
        self.stats: dict | None = feats.get("stats")

    def __repr__(self) -> str:
        return f"BeatClassifier({self.name!r}, provider={self.provider!r})"

    def inputs(self, beats: BeatSet) -> dict[str, np.ndarray]:
        """The model inputs of ``beats`` (``ecgdl.features.make_inputs`` with the sidecar's recipe)."""
        from ecgdl.features import make_inputs

        return make_inputs(beats, self.feature_config, self.stats)

    def logits(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """``(n, K)`` float32 logits of ready inputs (``beats`` ``(n, C, T)``, ``rr`` ``(n, F)``), batched."""
        n = len(inputs["beats"])
        out = np.zeros((n, len(self.classes)), np.float32)
        for i in range(0, n, self.batch_size):
            feed = {k: inputs[k][i:i + self.batch_size] for k in ("beats", "rr")}
            out[i:i + self.batch_size] = self.session.run(["logits"], feed)[0]
        return out

    def predict_proba(self, beats: BeatSet) -> np.ndarray:
        """``(n, K)`` float32 class probabilities (softmax of the logits), columns in ``classes`` order."""
        return softmax(self.logits(self.inputs(beats)))

    def info(self) -> dict:
        """Model name, file hash, commit and active provider (goes into every summary)."""
        return {"name": self.name, "sha256": self.meta.get("onnx", {}).get("sha256"),
                "commit": self.meta.get("git", {}).get("commit"), "provider": self.provider,
                "fallback": self.fallback or None}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, float32."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z, dtype=np.float64)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


#: Beats of recordings longer than :data:`CHUNK_CONDITION_S` are classified per segment of this length:
#: the feature recipe's record-level context (median beat, median RR) then spans 30 minutes, the
#: length of the training records, and memory stays bounded on a 24-hour Holter.
FEATURE_SEGMENT_S = 1800.0
#: Records longer than this are conditioned in overlapping chunks (bounded memory; the chunk
#: overlap makes the zero-phase filter's result equal to the whole-record one to float32 precision).
CHUNK_CONDITION_S = 3600.0
MATCH_TOLERANCE_S = 0.15


def condition_record(x: np.ndarray, fs: float, cfg: ConditioningConfig, *, chunk_s: float = 1800.0,
                     pad_s: float = 30.0) -> np.ndarray:
    """Condition ``x`` ``(n, C)``; records over :data:`CHUNK_CONDITION_S` go in chunks with ``pad_s`` context."""
    n = x.shape[0]
    if n <= CHUNK_CONDITION_S * fs:
        return condition(x, fs, cfg)
    out = np.empty(x.shape, np.float32)
    core, pad = int(chunk_s * fs), int(pad_s * fs)
    for a in range(0, n, core):
        b = min(n, a + core)
        a0, b0 = max(0, a - pad), min(n, b + pad)
        out[a:b] = condition(x[a0:b0], fs, cfg)[a - a0:b - a0]
    return out


def beat_segments(peaks: np.ndarray, fs: float, n_samples: int) -> list[slice]:
    """Slices of ``peaks`` classified together: all of them for records up to :data:`CHUNK_CONDITION_S`,
    else :data:`FEATURE_SEGMENT_S` segments (a last one shorter than half a segment joins the previous)."""
    if n_samples <= CHUNK_CONDITION_S * fs or not len(peaks):
        return [slice(0, len(peaks))]
    seg = int(FEATURE_SEGMENT_S * fs)
    n_seg = max(1, int(round(n_samples / seg)))
    bounds = np.searchsorted(peaks, np.arange(1, n_seg) * seg)
    edges = np.r_[0, bounds, len(peaks)]
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def classify_beats(clf: BeatClassifier, conditioned: np.ndarray, peaks: np.ndarray, fs: float,
                   window: WindowConfig, record: str = "") -> tuple[np.ndarray, np.ndarray]:
    """``(proba (n, K) float32, edge (n,) bool)`` of the beats at ``peaks`` of a conditioned record.

    Equal to ``clf.predict_proba(make_beats(conditioned, peaks, fs))`` for records up to an hour;
    longer ones go segment by segment (:func:`beat_segments`), windows cut per segment.
    """
    if abs(fs - window.fs) > 1e-6:
        raise ValueError(f"signal at {fs} Hz but the model's window expects {window.fs} Hz")
    rr, edge_rr = rr_features(peaks, fs, window)
    proba = np.zeros((len(peaks), len(clf.classes)), np.float32)
    edge = np.zeros(len(peaks), bool)
    for sl in beat_segments(peaks, fs, conditioned.shape[0]):
        x, edge_w = cut_windows(conditioned, peaks[sl], window)
        n = len(x)
        beats = BeatSet(x=x, rr=rr[sl], y=np.full(n, -1, np.int8), record=np.full(n, record, dtype="<U16"),
                        sample=peaks[sl], edge=edge_w | edge_rr[sl])
        proba[sl] = clf.predict_proba(beats)
        edge[sl] = beats.edge
    return proba, edge


def reference_beats(record: Record) -> tuple[np.ndarray, np.ndarray]:
    """``(sample, class index)`` of the record's reference beat annotations inside the signal.

    The same beats the prepared dataset (``ecgdl.dataset.record_beats``) uses.
    """
    ann = record.annotations
    if ann is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int8)
    is_beat = np.isin(ann.symbol, list(BEAT_SYMBOLS))
    peaks, symbols = ann.sample[is_beat], ann.symbol[is_beat]
    inside = (peaks >= 0) & (peaks < record.signal.shape[0])
    from ecgdl.labels import to_aami

    return peaks[inside].astype(np.int64), to_aami(symbols[inside])


def match_beats(ref: np.ndarray, det: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of sorted sample arrays: mutual nearest neighbours within ``tolerance``.

    Returns ``(ref_idx, det_idx)`` of the matched pairs.

    >>> match_beats(np.array([100, 400, 700]), np.array([110, 690, 1000]), 54)
    (array([0, 2]), array([0, 1]))
    """
    ref, det = np.asarray(ref, np.int64), np.asarray(det, np.int64)
    if not len(ref) or not len(det):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    near_det = _nearest(det, ref)
    near_ref = _nearest(ref, det)
    i = np.arange(len(ref))
    ok = (near_ref[near_det] == i) & (np.abs(det[near_det] - ref) <= tolerance)
    return i[ok], near_det[ok]


def _nearest(sorted_a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Index into ``sorted_a`` of the element nearest to each of ``v``."""
    j = np.clip(np.searchsorted(sorted_a, v), 1, len(sorted_a) - 1) if len(sorted_a) > 1 else np.zeros(len(v), int)
    if len(sorted_a) == 1:
        return j
    left_closer = np.abs(v - sorted_a[j - 1]) <= np.abs(sorted_a[j] - v)
    return np.where(left_closer, j - 1, j)


def compare_reference(ref_sample, ref_y, det_sample, pred, fs: float, classes: tuple[str, ...],
                      tolerance_s: float = MATCH_TOLERANCE_S) -> dict:
    """Per-class Se/+P against reference beats with ``tolerance_s`` matching (AAMI EC57 style).

    Matched beats fill the confusion matrix; a missed reference beat counts against its class's Se,
    an unmatched detection against its predicted class's +P. Returns the counts (``confusion``,
    ``missed``, ``extra``: summable over records), ``per_class`` and the disagreeing beats.
    """
    ri, di = match_beats(ref_sample, det_sample, int(round(tolerance_s * fs)))
    k = len(classes)
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (np.asarray(ref_y)[ri].astype(np.int64), np.asarray(pred)[di].astype(np.int64)), 1)
    missed_mask = np.ones(len(ref_sample), bool)
    missed_mask[ri] = False
    extra_mask = np.ones(len(det_sample), bool)
    extra_mask[di] = False
    missed = np.bincount(np.asarray(ref_y)[missed_mask].astype(np.int64), minlength=k)[:k]
    extra = np.bincount(np.asarray(pred)[extra_mask].astype(np.int64), minlength=k)[:k]
    wrong = di[np.asarray(ref_y)[ri] != np.asarray(pred)[di]]
    return {"tolerance_s": tolerance_s, "reference_beats": int(len(ref_sample)), "detected_beats": int(len(det_sample)),
            "matched": int(len(ri)), "confusion": cm.tolist(), "missed": missed.tolist(), "extra": extra.tolist(),
            "per_class": per_class_table(cm, missed, extra, classes),
            "disagree_beats": wrong.tolist(), "missed_samples": np.asarray(ref_sample)[missed_mask].tolist(),
            "extra_beats": np.flatnonzero(extra_mask).tolist()}


def per_class_table(cm, missed, extra, classes: tuple[str, ...]) -> dict:
    """``{class: {"se", "ppv", "tp", "ref", "pred"}}`` from summed counts (Se/+P are None when undefined)."""
    cm, missed, extra = np.asarray(cm), np.asarray(missed), np.asarray(extra)
    out = {}
    for i, c in enumerate(classes):
        tp, ref, pred = int(cm[i, i]), int(cm[i].sum() + missed[i]), int(cm[:, i].sum() + extra[i])
        out[c] = {"se": tp / ref if ref else None, "ppv": tp / pred if pred else None, "tp": tp, "ref": ref,
                  "pred": pred}
    return out


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

    def beats_csv(self) -> str:
        """CSV: ``sample`` (file's own rate), ``time_s``, ``label``, ``p_<class>``..., ``edge`` [, ``ref_label``]."""
        cols = ["sample", "time_s", "label", *(f"p_{c}" for c in self.classes), "edge"]
        t = self.source_sample / self.record.source_fs
        parts = [self.source_sample.astype(str), np.char.mod("%.3f", t), self.label.astype(str)]
        parts += [np.char.mod("%.4f", self.proba[:, j]) for j in range(self.proba.shape[1])]
        parts.append(np.where(self.edge if self.edge is not None else np.zeros(len(t), bool), "1", "0"))
        if self.ref_label is not None:
            cols.append("ref_label")
            parts.append(self.ref_label.astype(str))
        if not len(t):
            return ",".join(cols) + "\n"
        rows = parts[0]
        for p in parts[1:]:
            rows = np.char.add(np.char.add(rows, ","), p)
        return ",".join(cols) + "\n" + "\n".join(rows.tolist()) + "\n"

    def summary_json(self) -> str:
        return json.dumps({**self.summary, "reference": _short_reference(self.reference)}, indent=1)


def _short_reference(ref: dict | None) -> dict | None:
    if ref is None:
        return None
    keep = ("disagree_beats", "missed_samples", "extra_beats")
    return {**{k: v for k, v in ref.items() if k not in keep}, **{k: ref[k][:1000] for k in keep}}


def score_record(source: str | Path | Record, clf: BeatClassifier, *, use_reference: bool = False,
                 compare: bool = True) -> RecordResult:
    """Score one record end to end (see the module docstring).

    use_reference: classify the record's reference beat annotations instead of detected R peaks.
    compare: with annotations present, fill ``reference`` (Se/+P per class, 150 ms matching).
    """
    from ecgdl.rhythm import summarise

    meta = clf.meta
    rec = source if isinstance(source, Record) else read_record(source, target_fs=meta["fs"], on_gaps="fill")
    if abs(rec.fs - meta["fs"]) > 1e-6:
        raise ValueError(f"{rec.name}: record at {rec.fs} Hz, model expects {meta['fs']} Hz")
    pair = list(rec.lead_pair())
    raw = rec.signal[:, :2] if pair == [0, 1] else rec.signal[:, pair]  # a view when possible (24 h: 250 MB)
    conditioned = condition_record(raw, rec.fs, ConditioningConfig(**meta["conditioning"]))
    ref_sample, ref_y = reference_beats(rec)
    if use_reference:
        if rec.annotations is None:
            raise ValueError(f"{rec.name}: use_reference=True but the record has no reference annotations")
        peaks, unusable = ref_sample, ()
    else:
        from ecgdl.qrs import detect_r_peaks

        qrs = detect_r_peaks(raw, rec.fs)
        peaks, unusable = qrs.peaks, tuple(qrs.unusable)
    window = WindowConfig(**meta["window"])
    proba, edge = classify_beats(clf, conditioned, peaks, rec.fs, window, rec.name)
    pred = proba.argmax(1) if len(proba) else np.zeros(0, np.int64)
    classes = clf.classes
    label = np.asarray(classes)[pred] if len(pred) else np.zeros(0, "<U1")
    source_sample = rec.to_source_samples(peaks)
    reference, ref_label = None, None
    if compare and rec.annotations is not None:
        ref_y = np.array([classes.index(c) for c in CLASS_INDEX])[ref_y]  # AAMI index -> model's class index
        reference = compare_reference(ref_sample, ref_y, peaks, pred, rec.fs, classes)
        ri, di = match_beats(ref_sample, peaks, int(round(MATCH_TOLERANCE_S * rec.fs)))
        ref_label = np.full(len(peaks), "", dtype="<U1")
        ref_label[di] = np.asarray(classes)[ref_y[ri]]
    all_unusable = tuple(sorted({*unusable, *rec.gaps}))
    src_unusable = tuple((int(a), int(b)) for a, b in
                         zip(rec.to_source_samples([u[0] for u in all_unusable]),
                             rec.to_source_samples([u[1] for u in all_unusable])))
    summary = {"record": rec.name, "leads": [rec.leads[i] for i in pair], "source_fs": rec.source_fs,
               "model_fs": rec.fs, "beat_source": "reference" if use_reference else "detected",
               "edge_beats": int(edge.sum()), "notes": list(rec.notes), "model": clf.info(),
               **summarise(label, source_sample, rec.source_fs, classes=classes, duration_s=rec.duration_s,
                           unusable=src_unusable)}
    return RecordResult(record=rec, conditioned=conditioned, sample=peaks, source_sample=source_sample, label=label,
                        proba=proba, summary=summary, reference=reference, classes=classes, edge=edge,
                        ref_label=ref_label)
