"""Batch scoring of many records into a folder: resumable, atomic, one bad record never stops the batch.

For each record ``DIR/<record>.beats.csv`` (or ``.beats.parquet``), ``DIR/<record>.episodes.csv``
(rhythm episodes, ``ecgdl.episodes.CSV_COLUMNS``) and ``DIR/<record>.summary.json`` (written last:
its presence marks the record finished); for the run ``DIR/summary.csv`` (one row
per record of the batch, skipped ones included) and, with ``reference``, ``DIR/reference.json``
(per-class Se/+P over all compared records, summed counts). These files depend only on the inputs
and the options: a run killed at any point and run again leaves them byte for byte as one clean run
would. ``DIR/run.json`` is the log of the latest run (what was scored now or reused, seconds each).

The folder is checked before anything is scored and locked while a batch writes into it
(:mod:`ecgdl.run_folder`); outputs are keyed so that two inputs never share a name, and a finished
record is reused only when its input files' content and the options are unchanged.

>>> result = score_batch(["../shared/data/mitdb"], BatchConfig(out=Path("out/scores")))   # doctest: +SKIP
"""

from __future__ import annotations

import glob
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecgdl.artifacts import atomic_write, strict_json
from ecgdl.run_folder import input_digest, output_keys, printable, resume_key
from ecgdl.run_table import reference_totals, rows_csv, run_row
from ecgdl.out_folder import check_out, locked, out_folder
from ecgdl.storage import UriRecord, find_uri_records, is_uri

#: Files accepted as records (a WFDB record is named by its ``.hea``).
RECORD_SUFFIXES = (".hea", ".edf", ".csv")
FORMATS = ("csv", "parquet")
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class BatchConfig:
    """How a batch is scored. ``reference``: compare with ``.atr`` annotations (Se/+P, 150 ms);
    ``use_reference_beats``: classify the reference beats instead of detected R peaks."""

    out: Path | str                      # a local folder or a pyarrow.fs URI (ecgdl.storage)
    model: Path | None = None
    device: str = "auto"
    workers: int = 1
    format: str = "csv"
    force: bool = False
    reference: bool = False
    use_reference_beats: bool = False
    progress: bool = True
    annotations: bool = False            # also write <stem>.ecgdl (WFDB annotations, ecgdl.annotations)
    csv_fs: float | None = None          # sampling rate of .csv inputs (Hz); required for them
    csv_units: str = "mV"                # units of .csv inputs
    engine: str = "local"                # "local" (this machine's processes) or "ray" (ecgdl.engine_ray)
    cluster: object | None = None        # ecgdl.engine_ray.ClusterConfig for engine="ray"
    adapt: bool = True                   # the model's patient-adaptive step (ecgdl.adapt); --no-adapt turns it off
    lead: str | None = None              # the lead read as primary ("-NAME": inverted); None: ecgdl.leads decides


@dataclass(frozen=True)
class RecordSummary:
    """What ``<stem>.summary.json`` holds: the scoring summary (``RecordResult.summary``), the
    reference comparison (beat lists cut to 1,000) and the batch's own fields. :meth:`to_json`
    writes the file; :meth:`from_dict` reads a finished record's file back (resuming a batch)."""

    scoring: dict
    reference: dict | None = None
    has_annotations: bool = False
    source_path: str = ""
    seconds: float | None = None
    input_sha256: str = ""
    resume_key: str = ""

    def to_dict(self) -> dict:
        """The file's JSON object: the scoring summary's keys, then ``reference`` and the batch's fields
        (undefined metrics as None, :func:`ecgdl.artifacts.strict_json`). ``seconds`` (this run's timing)
        is not in it: it goes to ``run.json``."""
        return strict_json({**self.scoring, "reference": self.reference, "has_annotations": self.has_annotations,
                            "source_path": self.source_path, "input_sha256": self.input_sha256,
                            "resume_key": self.resume_key})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, d: dict) -> RecordSummary:
        own = ("reference", "has_annotations", "source_path", "seconds", "input_sha256", "resume_key")
        return cls(scoring={k: v for k, v in d.items() if k not in own}, reference=d.get("reference"),
                   has_annotations=bool(d.get("has_annotations")), source_path=d.get("source_path", ""),
                   seconds=d.get("seconds"), input_sha256=d.get("input_sha256", ""),
                   resume_key=d.get("resume_key", ""))


@dataclass(frozen=True)
class RecordOutcome:
    """One record of a batch: ``status`` ``"ok"`` (scored now), ``"skipped"`` (already done) or
    ``"error"`` (``error`` says why; ``summary`` is None)."""

    path: Path | UriRecord
    stem: str
    status: str
    summary: RecordSummary | None = None
    error: str = ""


@dataclass
class BatchResult:
    """What a batch did: one outcome and one ``summary.csv`` row per record, in the order found."""

    outcomes: list[RecordOutcome] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    reference: dict | None = None
    provider: str = ""
    workers: list[dict] = field(default_factory=list)  # engine="ray": one dict per actor (pid, records, memory)

    @property
    def ok(self) -> bool:
        return not self.failures


def find_records(paths) -> list[Path | UriRecord]:
    """Record paths (without extension for WFDB) from files, record names, folders or glob patterns;
    ``pyarrow.fs`` URIs (``s3://bucket/holter``) give :class:`~ecgdl.storage.UriRecord` records.

    Raises ``FileNotFoundError`` naming an argument that matches nothing.
    """
    found: list[Path | UriRecord] = []
    for arg in map(str, paths):
        if is_uri(arg):
            found += find_uri_records(arg, RECORD_SUFFIXES)
            continue
        p = Path(arg)
        if p.is_dir():
            items = sorted(q for q in p.iterdir() if q.suffix.lower() in RECORD_SUFFIXES and q.is_file())
        elif p.is_file() or p.with_name(p.name + ".hea").is_file():
            items = [p]  # an existing path is taken as written, never as a pattern (a[1].hea is not a1.hea)
        elif any(ch in arg for ch in "*?["):
            items = sorted(Path(q) for q in glob.glob(arg) if Path(q).suffix.lower() in RECORD_SUFFIXES)
        else:
            raise FileNotFoundError(f"{arg}: no such record, folder or matching files")
        if not items:
            raise FileNotFoundError(f"{arg}: no records (.hea, .edf or .csv) found")
        found += [q.with_suffix("") if q.suffix.lower() in (".hea", ".dat", ".atr") else q for q in items]
    return list(dict.fromkeys(found))


def output_names(records: list[Path]) -> dict[Path, str]:
    """Output stem per record, unique over ``records`` (:func:`ecgdl.run_folder.output_keys`)."""
    return output_keys(records)


def options_key(cfg: BatchConfig, model_sha256: str | None) -> dict:
    """The options a record's outputs depend on (with its input's content, the resume key)."""
    return {"model_sha256": model_sha256, "beat_source": "reference" if cfg.use_reference_beats else "detected",
            "reference": bool(cfg.reference), "format": cfg.format, "adapt": bool(cfg.adapt),
            **({"lead": cfg.lead} if cfg.lead else {})}


def _paths(out: Path, stem: str, fmt: str) -> tuple[Path, Path]:
    return out / f"{stem}.beats.{fmt}", out / f"{stem}.summary.json"


def finished(out, stem: str, cfg: BatchConfig, key: str, present: set[str] | None = None) -> RecordSummary | None:
    """The saved summary when this record is already done from the same input content with the same
    model and options (its ``resume_key`` equals ``key``), else None. The name alone is never enough.
    ``present``: the files of a URI ``out`` (one listing), instead of asking for each file."""
    from ecgdl.store import partition_key

    folder = out_folder(out)
    needed = [f"{stem}.beats.{cfg.format}", f"{stem}.summary.json", f"{stem}.episodes.csv", partition_key(stem)]
    if not all(folder.files(needed) if present is None else (n in present for n in needed)):
        return None
    try:
        s = json.loads(folder.read(needed[1]) or b"")
    except ValueError:
        return None
    return RecordSummary.from_dict(s) if isinstance(s, dict) and s.get("resume_key") == key else None


_CLF = None


def _init_worker(model, device, threads=None):
    """Load this process's classifier (once per worker), its arrays on small pages; returns it."""
    global _CLF
    from ecgdl.infer import BeatClassifier

    _small_pages()
    _CLF = BeatClassifier(model, device=device, threads=threads)
    return _CLF


def _small_pages() -> None:
    """Stop numpy advising transparent huge pages for this process's large arrays.

    Scoring allocates and frees many record-long arrays; with the advice each fresh one is faulted in
    2-MiB pages that the kernel must find (compacting memory) and zero: on a 24-h Holter that was 3-4 s
    of system time of a 10-s run on this project's 2-core machine (``docs/speed.md``). The same as
    ``NUMPY_MADVISE_HUGEPAGE=0``; numpy without the switch is left as it is.
    """
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:                                   # numpy < 2: numpy.core
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return
    _set_madvise_hugepage(False)


def _init_pool_worker(model, device, threads=None) -> None:
    """A pool worker: dies with the batch process, then loads the model once."""
    _die_with_parent()
    _init_worker(model, device, threads)


def _die_with_parent() -> None:
    """End this worker when its parent dies (``kill -9`` included): Linux's parent-death signal, and a
    watchdog thread that sees the parent change (any POSIX system)."""
    import signal
    import threading

    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="ecgdl-parent-watch", daemon=True).start()


def _score_one(path, stem: str, cfg: BatchConfig, keys: tuple[str, str] = ("", "")) -> RecordSummary:
    """Score one record and write its files (the summary last); returns its summary. A URI record is staged
    to a local temp folder first; for a URI ``out`` the files are written there, then uploaded (the summary
    last), so the bytes are those of a local run."""
    if not isinstance(path, UriRecord) and not is_uri(cfg.out):
        return _score_local(path, stem, cfg, keys)
    import dataclasses

    from ecgdl.storage import restaged, staging_dir, stage

    with staging_dir() as tmp:
        local = stage(path, tmp / "in") if isinstance(path, UriRecord) else path
        work = dataclasses.replace(cfg, out=tmp / "out") if is_uri(cfg.out) else cfg
        Path(work.out).mkdir(parents=True, exist_ok=True)
        try:
            summary = _score_local(local, stem, work, keys, given=str(path))
        except Exception as exc:  # noqa: BLE001 - the message names the record's URI, not the staging folder
            raise restaged(exc, tmp / "in", path) from None
        if is_uri(cfg.out):
            out_folder(cfg.out).put_tree(tmp / "out", last=f"{stem}.summary.json")
    return summary


def _score_local(path: Path, stem: str, cfg: BatchConfig, keys: tuple[str, str], given: str | None = None
                 ) -> RecordSummary:
    """:func:`_score_one` for a local record into a local folder (``given``: the record as given, a URI)."""
    from ecgdl.infer import score_record
    from ecgdl.store import beats_partition

    t0 = time.perf_counter()
    source = path
    if path.suffix.lower() == ".csv":
        from ecgdl.io import read_csv

        source = read_csv(path, cfg.csv_fs, target_fs=_CLF.meta["fs"], on_gaps="fill", units=cfg.csv_units)
    res = score_record(source, _CLF, use_reference=cfg.use_reference_beats, compare=cfg.reference, adapt=cfg.adapt,
                       lead=cfg.lead)
    beats_path, summ_path = _paths(cfg.out, stem, cfg.format)
    columns = res.beat_columns()
    atomic_write(beats_path, parquet_bytes(columns) if cfg.format == "parquet" else res.beats_csv())
    atomic_write(cfg.out / f"{stem}.episodes.csv", res.episodes_csv())
    if cfg.annotations:
        from ecgdl.annotations import write_annotations

        write_annotations(res, cfg.out, stem)
    part = beats_partition(cfg.out, stem)  # the record's partition of the run's Parquet dataset (ecgdl.store)
    part.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(part, parquet_bytes(columns))
    summary = RecordSummary(scoring=res.summary, reference=res.short_reference(),
                            has_annotations=res.record.annotations is not None, source_path=given or str(path),
                            seconds=round(time.perf_counter() - t0, 3), input_sha256=keys[0], resume_key=keys[1])
    atomic_write(summ_path, summary.to_json())
    return summary


def parquet_bytes(columns: dict[str, np.ndarray]) -> bytes:
    """A parquet file of a column table (``RecordResult.beat_columns``): integers int64, text string."""
    from ecgdl.store import arrow_table, parquet_bytes as table_bytes

    return table_bytes(arrow_table(columns))


def _remove_stale_tmp(out) -> int:
    """Delete temp files left by interrupted runs (their process is gone), and this machine's staging
    folders of dead workers; returns how many temp files."""
    from ecgdl.storage import remove_dead_staging

    remove_dead_staging()
    return out_folder(out).remove_stale_tmp()


def score_batch(paths, cfg: BatchConfig) -> BatchResult:
    """Score every record found in ``paths`` into ``cfg.out`` (see the module docstring).

    Raises ``FileNotFoundError`` for an input that matches nothing and
    :class:`~ecgdl.run_folder.OutFolderError` for an unusable or busy ``--out``, both before scoring.
    """
    if cfg.format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    if cfg.engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}")
    import pyarrow  # noqa: F401 - the run's Parquet dataset needs it: fail before scoring anything
    records = find_records(paths)
    if cfg.csv_fs is None and any(r.suffix.lower() == ".csv" for r in records):
        raise ValueError("a .csv record carries no sampling rate: give it (--fs HZ, BatchConfig.csv_fs)")
    check_out(cfg.out)
    with locked(cfg.out):
        return _score_locked(records, cfg)


def _score_locked(records: list[Path], cfg: BatchConfig) -> BatchResult:
    """The batch itself, with ``cfg.out`` checked and locked."""
    stems = output_names(records)
    _remove_stale_tmp(cfg.out)
    _init_worker(cfg.model, cfg.device)
    clf = _CLF
    result = BatchResult(provider=clf.provider)
    opts = options_key(cfg, clf.meta["onnx"]["sha256"])
    keys = {r: record_keys(r, opts) for r in records}
    outcomes: dict[Path, RecordOutcome] = {}
    todo = []
    present = out_folder(cfg.out).listing() if is_uri(cfg.out) and not cfg.force else None
    for r in records:
        done = None if cfg.force else finished(cfg.out, stems[r], cfg, keys[r][1], present)
        if done is not None:
            outcomes[r] = RecordOutcome(r, stems[r], "skipped", done)
        else:
            todo.append(r)
    bar = _progress_bar(len(records), len(records) - len(todo), cfg.progress)
    for r, outcome in _run(todo, stems, cfg, keys, result.workers):
        if isinstance(outcome, Exception):
            result.failures.append((str(r), f"{type(outcome).__name__}: {outcome}"))
            outcomes[r] = RecordOutcome(r, stems[r], "error", error=str(outcome))
        else:
            outcomes[r] = RecordOutcome(r, stems[r], "ok", outcome)
        bar.update(1)
    bar.close()
    result.outcomes = [outcomes[r] for r in records]
    _write_run_files(result, cfg, clf.classes)
    return result


def record_keys(record: Path | UriRecord, opts: dict) -> tuple[str, str]:
    """``(input sha256, resume key)`` of a record scored with ``opts`` (:func:`options_key`)."""
    from ecgdl.storage import uri_input_digest

    try:
        digest = uri_input_digest(record) if isinstance(record, UriRecord) else input_digest(record)
    except OSError:
        digest = ""  # unreadable now: it is scored (and fails with the reader's message)
    return digest, resume_key(digest, opts)


def _write_run_files(result: BatchResult, cfg: BatchConfig, classes: tuple[str, ...]) -> None:
    """``summary.csv`` and ``reference.json`` (functions of the inputs and options) and ``run.json`` (this run)."""
    result.rows = [run_row(o) for o in result.outcomes]
    folder = out_folder(cfg.out)
    folder.write("summary.csv", rows_csv(result.rows))
    from ecgdl.store import write_tables

    write_tables(folder, [_table_entry(o) for o in result.outcomes], classes)
    if cfg.reference:
        result.reference = reference_totals([o.summary for o in result.outcomes if o.summary], classes)
        folder.write("reference.json", json.dumps(strict_json(result.reference), indent=1))
    log = {"provider": result.provider, "records": [
        {"record": o.stem, "path": str(o.path), "status": o.status,
         "processing_s": o.summary.seconds if o.summary and o.status == "ok" else None} for o in result.outcomes]}
    folder.write("run.json", json.dumps(log, indent=1))


def _table_entry(o: RecordOutcome) -> dict:
    """A record's entry of the run's dataset tables: as the run table, a function of the inputs and options
    (status ``ok`` whether scored now or reused) and plain UTF-8 text (escaped file names)."""
    entry = o.summary.to_dict() if o.summary else {}
    return {**entry, "record": o.stem, "status": "error" if o.status == "error" else "ok",
            "error": printable(o.error), "source_path": printable(entry.get("source_path", str(o.path)))}


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, initial: int, show: bool):
    """A tqdm bar on stderr when ``show``; otherwise a stand-in (tqdm is not even imported)."""
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="score", unit="record")


def _run(todo: list[Path], stems: dict, cfg: BatchConfig, keys: dict, workers: list):
    """Yield ``(record, summary | exception)``; in-process with one worker, a process pool whose
    workers die with this process, or Ray actors (``engine="ray"``, :mod:`ecgdl.engine_ray`)."""
    if cfg.engine == "ray" and todo:
        from ecgdl.engine_ray import Work, run_ray

        yield from run_ray(todo, stems, Work(_init_worker, _score_one, cfg, keys), _CLF.path, workers)
        return
    if cfg.workers <= 1 or len(todo) <= 1:
        for r in todo:
            try:
                yield r, _score_one(r, stems[r], cfg, keys[r])
            except Exception as exc:  # noqa: BLE001 - one bad record must not stop the batch
                yield r, exc
        return
    threads = max(1, (os.cpu_count() or 1) // cfg.workers)  # no oversubscription of the cores
    with ProcessPoolExecutor(cfg.workers, initializer=_init_pool_worker,
                             initargs=(cfg.model, cfg.device, threads)) as pool:
        futures = {pool.submit(_score_one, r, stems[r], cfg, keys[r]): r for r in todo}
        for fut in as_completed(futures):
            try:
                yield futures[fut], fut.result()
            except Exception as exc:  # noqa: BLE001
                yield futures[fut], exc
