"""The queryable result of a run: a Parquet dataset beside the per-record files.

Every ``ecgdl score --out DIR`` run (local or Ray engine) writes, under ``DIR/dataset/``:

``beats/record=<record>/part-0.parquet`` (one partition per record, written by the worker that scored it)
    the record's beats table (``RecordResult.beat_columns``, the same table as ``<record>.beats.csv``):
    ``sample`` int64 (R peak, at the file's own rate), ``time_s`` float64 (3 decimals), ``label`` string
    (AAMI class), ``p_<class>`` float64 (4 decimals, one per model class), ``edge`` int64 (1: window
    clipped at a record edge), with the adaptive step also ``cluster`` int64 and ``agreement`` float64
    (``ecgdl.adapt_check``), with ``--reference`` also ``ref_label`` string (class of the matched
    annotation, "" when unmatched). The ``record`` column comes from the partition folder (read it as a
    string: ``hive_types``; ``union_by_name`` where some runs have ``ref_label`` and others not).
``records.parquet`` (one row per record of the run, failed ones included; rewritten by each run)
    see :data:`RECORD_COLUMNS` for every column, its type and meaning.
``events.parquet`` (one row per rhythm event of every scored record)
    ``record``; ``source``: ``beats`` (couplets, runs, bigeminy, trigeminy of the beat labels, and
    pauses; ``ecgdl.rhythm``) or ``episode`` (the rhythm episodes of ``<record>.episodes.csv``;
    ``ecgdl.episodes``); ``class`` (V/S for beat events, else null); ``kind`` (couplet, run, bigeminy,
    trigeminy, pause, or the episode's rhythm: AFIB, VT, SVTA, VFL, B, T, SBR, BII, PAUSE, ...);
    ``start_s``, ``end_s``, ``duration_s``, ``beats``, ``rate_bpm`` (nulls where a kind has no such field).

Analysts query it with ``ecgdl query DIR "SQL"`` (:mod:`ecgdl.query`).
"""

from __future__ import annotations

import io
from pathlib import Path

DATASET = "dataset"

#: ``records.parquet``: column -> (Arrow type name, meaning). ``n_<class>`` columns follow the model's classes.
RECORD_COLUMNS: dict[str, tuple[str, str]] = {
    "record": ("string", "output name of the record (its file name; folder-prefixed when two share a name)"),
    "status": ("string", "ok (scored in this run), skipped (finished by an earlier run), error"),
    "error": ("string", "why the record failed (null otherwise)"),
    "source_path": ("string", "the input record as given"),
    "input_sha256": ("string", "sha256 of the record's input files, as the batch's summary gives it"),
    "duration_s": ("float64", "recording length, seconds"),
    "beats": ("int64", "beats scored"),
    "beat_source": ("string", "detected (R-peak detector) or reference (annotated beats)"),
    "n_N": ("int64", "beats per class (n_S, n_V, n_F, n_Q likewise, one per model class)"),
    "V_burden_pct": ("float64", "ventricular beats, % of beats"),
    "S_burden_pct": ("float64", "supraventricular ectopic beats, % of beats"),
    "ectopic_burden_pct": ("float64", "S + V + F beats, % of beats"),
    "hr_mean_bpm": ("float64", "mean heart rate"), "hr_min_bpm": ("float64", "minimum (8-beat median)"),
    "hr_max_bpm": ("float64", "maximum (8-beat median)"),
    "V_runs": ("int64", "runs of 3+ consecutive V beats (V_couplets, V_bigeminy, V_trigeminy, S_* likewise)"),
    "V_longest_run_beats": ("int64", "beats in the longest run of V beats (0: none); S_longest_run_beats likewise"),
    "pauses": ("int64", "pauses in the rhythm summary"),
    "longest_pause_s": ("float64", "longest pause (null: none)"),
    "episodes": ("int64", "rhythm episodes (all rhythms; ecgdl.episodes)"),
    "AF_burden_pct": ("float64", "time in AF episodes, % of the recording"),
    "AF_seconds": ("float64", "time in AF episodes, seconds"),
    "AFIB_episodes": ("int64", "episodes per rhythm: AFIB_episodes, VT_episodes, SVTA_episodes, ... (one per code)"),
    "VT_longest_beats": ("int64", "beats of the longest VT episode (null: none); <RHYTHM>_longest_s likewise in s"),
    "unusable_s": ("float64", "signal where no beat could be detected (noise, lead off, gaps), seconds"),
    "unusable_pct": ("float64", "unusable_s, % of the recording"),
    "vf_s": ("float64", "ventricular flutter/fibrillation stretches found by the detector, seconds"),
    "quality_mean": ("float64", "mean of the per-segment signal quality index (0-1)"),
    "quality_min": ("float64", "lowest per-segment signal quality index (0-1)"),
    "edge_beats": ("int64", "beats whose window was clipped at a record edge"),
    "warnings": ("string", "input warnings and reading notes, joined by '; ' (null: none)"),
    # names and paths that are not UTF-8 (surrogate-escaped bytes) are stored with backslash escapes
    "qrs_se": ("float64", "QRS sensitivity vs the annotations (with --reference)"),
    "qrs_ppv": ("float64", "QRS positive predictivity vs the annotations (with --reference)"),
    "model_name": ("string", "classifier name"), "model_sha256": ("string", "sha256 of the ONNX file"),
    "model_commit": ("string", "commit the model was exported from"),
    "provider": ("string", "ONNX Runtime provider that scored it (CPU/CUDA)"),
}
#: Rhythm codes with an ``<RHYTHM>_episodes`` column (``ecgdl.episodes.RHYTHMS``, written here so the
#: schema does not depend on which rhythms a run happened to find).
RHYTHMS = ("AFIB", "AFL", "SVTA", "VT", "VFL", "B", "T", "SBR", "BII", "NOD", "IVR", "PAUSE", "BRADY", "TACHY")
_EVENT_TYPES = {"record": "string", "source": "string", "class": "string", "kind": "string", "start_s": "float64",
                "end_s": "float64", "duration_s": "float64", "beats": "int64", "rate_bpm": "float64"}


def dataset_dir(out) -> Path:
    """``DIR/dataset``."""
    return Path(out) / DATASET


def beats_partition(out, stem: str) -> Path:
    """The per-beat partition file of one record (a name that is not UTF-8 is written with backslash escapes)."""
    return Path(out) / partition_key(stem)


def partition_key(stem: str) -> str:
    """The partition file of one record relative to the run's folder: ``dataset/beats/record=<stem>/part-0.parquet``."""
    from ecgdl.run_folder import printable

    return f"{DATASET}/beats/record={printable(stem)}/part-0.parquet"


def parquet_bytes(table) -> bytes:
    """A pyarrow table as Parquet file bytes (deterministic for the same table and pyarrow)."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def record_row(s: dict, classes: tuple[str, ...]) -> dict:
    """One ``records.parquet`` row from a record's summary dict (plus ``status``, ``error``)."""
    from ecgdl.run_folder import printable

    row = {k: None for k in _columns(classes)}
    row.update(record=printable(s.get("record")), status=s.get("status"), error=printable(s["error"]) if s.get("error")
               else None, source_path=printable(s["source_path"]) if s.get("source_path") else None)
    if s.get("status") == "error":
        return row
    hr, burden, dur = s.get("heart_rate", {}), s.get("ectopic_burden_pct", {}), s.get("duration_s")
    unusable = _seconds(s.get("unusable"))
    row.update(input_sha256=s.get("input_sha256"), duration_s=dur, beats=s.get("beats"),
               beat_source=s.get("beat_source"), V_burden_pct=burden.get("V"), S_burden_pct=burden.get("S"),
               ectopic_burden_pct=burden.get("total"), hr_mean_bpm=hr.get("mean_bpm"), hr_min_bpm=hr.get("min_bpm"),
               hr_max_bpm=hr.get("max_bpm"), pauses=len(s.get("pauses", [])),
               longest_pause_s=max((p["duration_s"] for p in s.get("pauses", [])), default=None),
               unusable_s=unusable, unusable_pct=round(100 * unusable / dur, 3) if dur else None,
               vf_s=_seconds(s.get("vf")), edge_beats=s.get("edge_beats"),
               warnings=printable("; ".join(map(str, [*s.get("warnings", []), *s.get("notes", [])]))) or None)
    index = [q for q in (s.get("quality") or {}).get("index") or [] if q is not None]  # None: segment not rated
    row.update(quality_mean=round(sum(index) / len(index), 3) if index else None,
               quality_min=min(index) if index else None)
    row.update({f"n_{c}": s.get("counts", {}).get(c) for c in classes})
    for cls, kinds in s.get("events", {}).items():
        row.update({f"{cls}_{k}": len(v) for k, v in kinds.items()})
        row[f"{cls}_longest_run_beats"] = max((e["beats"] for e in kinds.get("runs", [])), default=0)
    row.update(_episode_fields(s.get("episodes")))
    ref = s.get("reference") or {}
    if ref:
        row["qrs_se"] = _ratio(ref.get("matched"), ref.get("reference_beats"))
        row["qrs_ppv"] = _ratio(ref.get("matched"), ref.get("detected_beats"))
    model = s.get("model", {})
    row.update(model_name=model.get("name"), model_sha256=model.get("sha256"), model_commit=model.get("commit"),
               provider=model.get("provider"))
    return row


def _seconds(spans) -> float:
    return round(sum(u["end_s"] - u["start_s"] for u in spans or []), 3)


def _ratio(a, b):
    return round(a / b, 4) if a is not None and b else None


def _episode_fields(ep: dict | None) -> dict:
    """Columns from the summary's ``episodes`` part (``ecgdl.episodes.episode_summary``); none without it."""
    if not isinstance(ep, dict):
        return {}
    counts = ep.get("counts", {})
    out = {"episodes": sum(counts.values()), "AF_burden_pct": ep.get("af_burden_pct"), "AF_seconds": ep.get("af_seconds")}
    out.update({f"{r}_episodes": counts.get(r, 0) for r in RHYTHMS})
    out["VT_longest_beats"] = (ep.get("longest", {}).get("VT") or {}).get("beats")
    return out


def _columns(classes: tuple[str, ...]) -> list[str]:
    cols = [c for c in RECORD_COLUMNS if c not in ("n_N", "AFIB_episodes")]
    at = cols.index("V_burden_pct")
    cols[at:at] = [f"n_{c}" for c in classes]
    at = cols.index("pauses")
    cols[at:at] = [f"{x}_{k}" for x in ("V", "S") for k in ("couplets", "runs", "bigeminy", "trigeminy",
                                                             "longest_run_beats")]
    at = cols.index("VT_longest_beats")
    cols[at:at] = [f"{r}_episodes" for r in RHYTHMS]
    return cols


def _arrow(name: str):
    import pyarrow as pa

    return {"string": pa.string(), "float64": pa.float64(), "int64": pa.int64()}[name]


def arrow_array(values, kind: str | None = None):
    """An Arrow array of ``values`` (a numpy array, or a list with ``None`` for nulls) of ``kind``
    (``"int64"``, ``"float64"``, ``"string"``; ``None``: a numpy array's own dtype, text as string).

    Built from buffers: pyarrow's ``pa.array``/``pa.table`` import pandas on first use (about 0.5 s
    and 100 MB at start-up), which a one-record ``ecgdl score`` should not pay.
    """
    import numpy as np
    import pyarrow as pa

    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf" and kind != "string":
        data = np.ascontiguousarray(values if kind is None else values.astype(kind))
        return pa.Array.from_buffers(pa.from_numpy_dtype(data.dtype), len(data), [None, pa.py_buffer(data)])
    vals = values.tolist() if isinstance(values, np.ndarray) else list(values)
    kind = kind or "string"
    valid = np.fromiter((v is not None for v in vals), dtype=bool, count=len(vals))
    nulls = int(len(vals) - valid.sum())
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    if kind == "string":
        enc = [b"" if v is None else str(v).encode("utf-8") for v in vals]
        offsets = np.zeros(len(enc) + 1, dtype=np.int32)
        np.cumsum([len(e) for e in enc], out=offsets[1:])
        return pa.Array.from_buffers(pa.string(), len(enc), [bitmap, pa.py_buffer(offsets),
                                                             pa.py_buffer(b"".join(enc))], null_count=nulls)
    cast = int if kind == "int64" else float
    data = np.array([0 if v is None else cast(v) for v in vals], dtype=kind)
    return pa.Array.from_buffers(_arrow(kind), len(data), [bitmap, pa.py_buffer(data)], null_count=nulls)


def arrow_table(columns: dict, kinds: dict[str, str] | None = None):
    """An Arrow table of named columns (each as :func:`arrow_array` takes it), without pandas."""
    import pyarrow as pa

    kinds = kinds or {}
    return pa.Table.from_arrays([arrow_array(v, kinds.get(k)) for k, v in columns.items()], names=list(columns))


def records_table(summaries: list[dict], classes: tuple[str, ...]):
    """The ``records.parquet`` table of a run (columns and types of :data:`RECORD_COLUMNS`)."""
    rows = [record_row(s, classes) for s in summaries]
    cols = _columns(classes)
    return arrow_table({c: [r.get(c) for r in rows] for c in cols},
                       {c: RECORD_COLUMNS.get(c, ("int64",))[0] for c in cols})


def event_rows(s: dict, episodes_csv: str | None = None) -> list[dict]:
    """``events.parquet`` rows of one record: its summary's beat events and pauses, and the episodes of
    its ``<record>.episodes.csv`` text when given."""
    from ecgdl.run_folder import printable

    out = []
    for cls, kinds in s.get("events", {}).items():
        for kind, events in kinds.items():
            out += [{"source": "beats", "class": cls, "kind": kind[:-1] if kind.endswith("s") else kind, **e}
                    for e in events]
    out += [{"source": "beats", "class": None, "kind": "pause", **p} for p in s.get("pauses", [])]
    if episodes_csv:
        import csv

        for e in csv.DictReader(io.StringIO(episodes_csv)):
            out.append({"source": "episode", "class": None, "kind": e["rhythm"], "start_s": float(e["start_s"]),
                        "end_s": float(e["end_s"]), "beats": int(e["beats"]),
                        "rate_bpm": float(e["mean_hr_bpm"]) if e.get("mean_hr_bpm") else None})
    rows = []
    for e in out:
        dur = e.get("duration_s")
        if dur is None and e.get("start_s") is not None and e.get("end_s") is not None:
            dur = round(e["end_s"] - e["start_s"], 3)
        rows.append({**{k: e.get(k) for k in _EVENT_TYPES}, "record": printable(s["record"]), "duration_s": dur})
    return rows


def events_table(folder, summaries: list[dict]):
    """The ``events.parquet`` table of a run (episodes read from each record's ``<record>.episodes.csv`` in
    ``folder``, an ``ecgdl.storage`` folder: ``read(name) -> bytes | None``)."""
    rows = []
    for s in summaries:
        if s.get("status") != "error":
            ep = folder.read(f"{s['record']}.episodes.csv")
            rows += event_rows(s, ep.decode() if ep is not None else None)
    return arrow_table({c: [r[c] for r in rows] for c in _EVENT_TYPES}, dict(_EVENT_TYPES))


def write_tables(folder, summaries: list[dict], classes: tuple[str, ...]) -> None:
    """Write ``dataset/records.parquet`` and ``dataset/events.parquet`` into ``folder`` (an ``ecgdl.storage``
    folder: ``write(name, bytes)`` atomic, local or at a URI)."""
    folder.write(f"{DATASET}/records.parquet", parquet_bytes(records_table(summaries, classes)))
    folder.write(f"{DATASET}/events.parquet", parquet_bytes(events_table(folder, summaries)))
