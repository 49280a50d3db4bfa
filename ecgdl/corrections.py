"""A reader's corrections to a scored record: relabel one beat or a whole morphology group, add or delete a
beat; the corrected record (counts, rhythm summary, report) follows, and the corrected annotations export
as a WFDB annotation file (``wfdb.wrann``) and as CSV, with the reader's name and date.

Corrections are a list of :class:`Correction` kept by the caller (the viewer keeps them in the session);
:func:`apply` replays them on the model's result, so the original is never changed and any edit can be
undone by dropping it from the list. Beats are named by their R-peak sample (at ``record.fs``), which
stays valid when other beats are added or deleted.

Morphology groups: when the scoring path provides template clusters (``RecordResult.cluster``) they are
used; otherwise :func:`morphology_groups` clusters the beats' shapes itself (k-means on the primary lead).

>>> fixed = apply(result, [Correction("relabel", (int(result.sample[0]),), "V")])    # doctest: +SKIP
>>> fixed.summary["counts"]["V"] == result.summary["counts"]["V"] + 1                 # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgdl.clock import format_time

#: Beat shape used for grouping, seconds before / after the R peak.
GROUP_WINDOW_S = (0.25, 0.40)
#: Morphology groups formed when the record brings none.
DEFAULT_GROUPS = 12


@dataclass(frozen=True)
class Correction:
    """One edit. op: "relabel" (``samples`` get class ``new``), "add" (a beat of class ``new`` at the one
    sample) or "delete" (the beats at ``samples`` are removed). group: the morphology group relabelled,
    when it was a group edit. who / when: the reader and the time of the edit (ISO 8601, UTC)."""

    op: str
    samples: tuple[int, ...]
    new: str = ""
    group: int | None = None
    who: str = ""
    when: str = ""

    def describe(self, start_clock_s: float | None = None, fs: float = 360.0) -> str:
        """One line for the corrections list and the report."""
        at = format_time(self.samples[0] / fs, start_clock_s) if self.samples else "—"
        if self.op == "relabel" and self.group is not None:
            return f"group {self.group + 1}: {len(self.samples):,} beats relabelled {self.new}"
        if self.op == "relabel":
            return f"beat at {at} relabelled {self.new}" if len(self.samples) == 1 else \
                f"{len(self.samples):,} beats relabelled {self.new}"
        if self.op == "add":
            return f"{self.new} beat added at {at}"
        return f"beat at {at} deleted" if len(self.samples) == 1 else f"{len(self.samples):,} beats deleted"


def now_utc() -> str:
    """The current time, ISO 8601 in UTC to the second (the ``when`` of a correction)."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def apply(result, corrections: list[Correction]):
    """The ``RecordResult`` with ``corrections`` replayed in order: sample, label, proba (a reader's label
    counts as certain), source_sample, edge, ref_label, cluster (-1 for an added beat) and agreement (1 where a reader
    decided the label) follow the beats, and the rhythm summary is
    recomputed. ``result.model_label`` (added) keeps the model's label of each beat ("" for added beats).

    Raises ValueError for a correction that names no existing beat, an unknown class, or an unknown op.
    """
    classes = tuple(result.classes)
    sample = np.asarray(result.sample, np.int64).copy()
    label = np.asarray(result.label).astype("<U1").copy()
    model = model_labels(result).copy()
    for c in corrections:
        if c.op != "delete" and c.new not in classes:
            raise ValueError(f"unknown class {c.new!r} (the model's classes: {', '.join(classes)})")
        if c.op == "add":
            pos = int(np.searchsorted(sample, c.samples[0]))
            sample, label, model = np.insert(sample, pos, c.samples[0]), np.insert(label, pos, c.new), \
                np.insert(model, pos, "")
            continue
        idx = _indices(sample, c.samples)
        if c.op == "relabel":
            label[idx] = c.new
        elif c.op == "delete":
            keep = np.ones(len(sample), bool)
            keep[idx] = False
            sample, label, model = sample[keep], label[keep], model[keep]
        else:
            raise ValueError(f"unknown correction {c.op!r} (relabel, add or delete)")
    return _rebuilt(result, sample, label, model)


def _indices(sample: np.ndarray, samples: tuple[int, ...]) -> np.ndarray:
    want = np.asarray(samples, np.int64)
    idx = np.searchsorted(sample, want)
    ok = (idx < len(sample)) & (sample[np.minimum(idx, len(sample) - 1)] == want)
    if not ok.all():
        raise ValueError(f"no beat at sample {int(want[~ok][0])}: the correction does not fit this record")
    return idx


def _rebuilt(result, sample: np.ndarray, label: np.ndarray, model: np.ndarray):
    from ecgdl.rhythm import RhythmConfig, summarise

    classes = tuple(result.classes)
    old = {int(s): i for i, s in enumerate(np.asarray(result.sample))}
    src = np.array([old.get(int(s), -1) for s in sample], np.int64)
    onehot = np.eye(len(classes), dtype=np.float32)[[classes.index(c) for c in label]] if len(label) else \
        np.zeros((0, len(classes)), np.float32)
    kept = (src >= 0) & (label == model)                  # beats whose model output still stands
    proba = np.where(kept[:, None], np.asarray(result.proba)[np.maximum(src, 0)], onehot)
    p_ind = getattr(result, "p_v_inductive", None)        # the VT rule's pre-adaptation p(V), remapped the same way
    if p_ind is not None and "V" in classes:
        p_ind = np.where(kept, np.asarray(p_ind)[np.maximum(src, 0)], onehot[:, classes.index("V")])
    edge = None if result.edge is None else np.where(src >= 0, np.asarray(result.edge)[np.maximum(src, 0)], False)
    ref = None if result.ref_label is None else np.where(src >= 0, np.asarray(result.ref_label)[np.maximum(src, 0)], "")
    cluster = getattr(result, "cluster", None)          # the scoring path's morphology cluster: -1 for an added beat
    cluster = None if cluster is None else np.where(src >= 0, np.asarray(cluster)[np.maximum(src, 0)], -1)
    agree = getattr(result, "agreement", None)          # a reader's label is certain: agreement 1
    agree = None if agree is None else np.where(kept, np.asarray(agree)[np.maximum(src, 0)], 1.0)
    s = result.summary
    cfg_keys = {f.name for f in dataclasses.fields(RhythmConfig)}
    cfg = RhythmConfig(**{k: v for k, v in (s.get("rhythm_config") or {}).items() if k in cfg_keys})
    rec = result.record
    source_sample = rec.to_source_samples(sample)
    spans = {k: tuple((u["start_sample"], u["end_sample"]) for u in s.get(k) or []) for k in
             ("unusable", "undetected", "vf", "unreadable") if k in s}      # at the file's rate, as scored
    summary = {**s, **summarise(label, source_sample, rec.source_fs, classes=classes, duration_s=rec.duration_s,
                                cfg=cfg, **spans)}
    episodes = getattr(result, "episodes", None)
    if episodes is not None:                            # the rhythm episodes and HRV follow the corrected labels
        from ecgdl.episodes import score_episodes

        episodes, part = score_episodes(sample, label, rec.fs, proba=proba, classes=classes,
                                        signal=np.asarray(result.conditioned)[:, 0], pauses=summary["pauses"],
                                        vf=s.get("vf", ()), duration_s=rec.duration_s, p_v_ind=p_ind)
        summary.update(part)
    fixed = dataclasses.replace(result, sample=sample, label=label, proba=proba, edge=edge, ref_label=ref,
                                source_sample=source_sample, summary=summary, p_v_inductive=p_ind,
                                **({"cluster": cluster} if hasattr(result, "cluster") else {}),
                                **({"agreement": agree} if hasattr(result, "agreement") else {}))
    if episodes is not None:
        fixed.episodes = episodes
    fixed.model_label = model                       # RecordResult is a plain (unfrozen) dataclass
    return fixed


def model_labels(result) -> np.ndarray:
    """The model's label of each beat of a (possibly corrected) result ("" for beats a reader added)."""
    return np.asarray(getattr(result, "model_label", result.label)).astype("<U1")


# ----------------------------------------------------------------------------- morphology groups


def morphology_groups(result, n_groups: int = DEFAULT_GROUPS, seed: int = 0) -> np.ndarray:
    """A template group per beat, ``(n_beats,)`` int, 0 = the largest group.

    ``result.cluster`` when the scoring path provides it; else k-means (``scipy.cluster.vq.kmeans2``,
    seeded) on each beat's shape in the primary lead, ``GROUP_WINDOW_S`` around the R peak, decimated to
    ~60 points and with its median removed (amplitude kept: a tall wide V beat and an N beat differ in both).
    """
    given = getattr(result, "cluster", None)
    if given is not None and len(given) == len(result.sample):
        given = np.asarray(given, np.int64)
        return _by_size(np.where(given < 0, given.max(initial=0) + 1, given))  # beats a reader added: a group of their own
    x = beat_shapes(result)
    if len(x) <= n_groups:
        return np.arange(len(x), dtype=np.int64)
    from scipy.cluster.vq import kmeans2

    _, assign = kmeans2(x.astype(np.float64), n_groups, seed=seed, minit="++", iter=20)
    return _by_size(assign.astype(np.int64))


def beat_shapes(result) -> np.ndarray:
    """``(n_beats, d)`` float32: each beat's primary-lead shape around its R peak, median removed."""
    rec = result.record
    y = np.asarray(result.conditioned)[:, 0]                       # column 0: the primary lead
    before, after = (int(round(v * rec.fs)) for v in GROUP_WINDOW_S)
    step = max(1, (before + after) // 60)
    offsets = np.arange(-before, after, step)
    pos = np.clip(np.asarray(result.sample)[:, None] + offsets[None, :], 0, len(y) - 1)
    shapes = y[pos].astype(np.float32)
    return shapes - np.median(shapes, axis=1, keepdims=True)


def _by_size(groups: np.ndarray) -> np.ndarray:
    """Renumber groups by size, largest first."""
    ids, counts = np.unique(groups, return_counts=True)
    order = ids[np.argsort(-counts, kind="stable")]
    remap = np.empty(ids.max() + 1, np.int64)
    remap[order] = np.arange(len(order))
    return remap[groups]


def group_relabel(result, groups: np.ndarray, group: int, new: str, who: str = "", when: str = "") -> Correction:
    """The :class:`Correction` that relabels every beat of ``group`` (``groups`` from :func:`morphology_groups`)."""
    samples = tuple(int(s) for s in np.asarray(result.sample)[np.asarray(groups) == group])
    if not samples:
        raise ValueError(f"group {group + 1} holds no beats")
    return Correction("relabel", samples, new, group=int(group), who=who, when=when or now_utc())


# ----------------------------------------------------------------------------- export


def corrected_mask(result) -> np.ndarray:
    """True where a beat's label is not the model's (relabelled or added)."""
    return np.asarray(result.label).astype("<U1") != model_labels(result)


def annotation_bytes(result, who: str, when: str, extension: str = "cor") -> bytes:
    """The corrected beats as a WFDB annotation file ``<record>.<extension>`` (``wfdb.wrann``), at the file's
    own sampling rate; each corrected beat carries ``aux_note`` "corrected from <model label> by <who> on
    <when>" (added beats: "added by ..."). Read it back with ``wfdb.rdann(record, extension)``."""
    import wfdb

    rec = result.record
    label, model = np.asarray(result.label).astype(str), model_labels(result)
    aux = [("" if m == lab else (f"corrected from {m}" if m else "added") + f" by {who or 'unknown'} on {when}")
           for lab, m in zip(label, model)]
    with tempfile.TemporaryDirectory(prefix="ecgdl-ann-") as tmp:
        wfdb.wrann(rec.name, extension, np.asarray(result.source_sample, np.int64), symbol=list(label),
                   aux_note=aux, fs=rec.source_fs, write_dir=tmp)
        return (Path(tmp) / f"{rec.name}.{extension}").read_bytes()


def corrections_csv(result, who: str, when: str) -> str:
    """Every beat after correction: ``sample`` (file's rate), ``time_s``, ``clock``, ``label``, ``model_label``,
    ``corrected`` (0/1), ``reviewed_by``, ``review_date``."""
    rec = result.record
    label, model = np.asarray(result.label).astype(str), model_labels(result)
    who_c, when_c = _csv_field(who), _csv_field(when)
    lines = ["sample,time_s,clock,label,model_label,corrected,reviewed_by,review_date"]
    for s, t, lab, m in zip(result.source_sample, np.asarray(result.sample) / rec.fs, label, model):
        lines.append(f"{int(s)},{t:.3f},{format_time(t, rec.start_clock_s)},{lab},{m},{int(lab != m)},{who_c},{when_c}")
    return "\n".join(lines) + "\n"


def _csv_field(text: str) -> str:
    text = str(text).replace("\n", " ").replace("\r", " ")
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"') else text
