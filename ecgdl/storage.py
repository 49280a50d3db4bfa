"""Records at ``pyarrow.fs`` URIs (``s3://``, ``gs://``, ``hdfs://``, ``file:///``), so that a cluster's
nodes read the same places without a shared mount (the ``--out`` side: :mod:`ecgdl.out_folder`).

* :func:`find_uri_records`: record search over a URI folder, file, record name or ``*`` pattern (WFDB
  headers, EDF, CSV), as :func:`ecgdl.batch.find_records` does on a local folder.
* :func:`uri_input_digest`: a URI record's input digest, the same as a local copy's
  (:func:`ecgdl.run_folder.input_digest`: file names and contents), so resume works on content.
* :func:`stage`: a URI record's files copied into a local folder for the readers (which read files),
  one temp folder per record, removed after scoring (:func:`remove_dead_staging` clears those of killed
  workers); :func:`restaged`: an error message naming the URI, not the temp folder.
* :func:`is_uri`, :func:`join`, :func:`display` (a URI without credentials), :func:`filesystem`.

>>> find_uri_records("s3://archive/holter?endpoint_override=127.0.0.1:9000&scheme=http", (".hea",))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ecgdl.artifacts import process_alive, sha256_file
from ecgdl.run_folder import files_digest, signal_files

_SECRETS = ("access_key", "secret_key", "session_token")
_STAGE = "ecgdl-stage-"


def is_uri(where) -> bool:
    """True for ``scheme://...`` (a ``pyarrow.fs`` URI), False for a local path."""
    return "://" in str(where)


def _split(uri: str) -> tuple[str, str]:
    base, _, query = str(uri).partition("?")
    return base, query


def join(uri: str, rel: str) -> str:
    """``uri`` with ``rel`` appended to its path (its ``?options`` kept at the end)."""
    base, query = _split(uri)
    return base.rstrip("/") + "/" + rel + (f"?{query}" if query else "")


def display(uri: str) -> str:
    """``uri`` without credentials (``access_key``, ``secret_key``, ``session_token`` options): safe to print and store."""
    base, query = _split(uri)
    kept = [kv for kv in query.split("&") if kv and kv.split("=", 1)[0] not in _SECRETS]
    return base + (f"?{'&'.join(kept)}" if kept else "")


@functools.lru_cache(maxsize=64)
def filesystem(uri: str):
    """``(pyarrow filesystem, path inside it)`` of ``uri`` (one filesystem object per URI and process)."""
    import pyarrow.fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as exc:  # unknown scheme, unparsable URI, unreachable store
        raise FileNotFoundError(f"{display(uri)}: {exc}") from None


@dataclass(frozen=True)
class UriRecord:
    """A record in the folder ``root`` (a URI): ``rel`` is its file name (WFDB: the record name, no suffix)."""

    root: str
    rel: str

    def __str__(self) -> str:
        return display(join(self.root, self.rel))

    @property
    def name(self) -> str:
        return self.rel

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.rel).suffix

    @property
    def stem(self) -> str:
        return PurePosixPath(self.rel).stem

    @property
    def folder_parts(self) -> tuple[str, ...]:
        """The folders above the record inside its filesystem (output names: :func:`ecgdl.run_folder.output_keys`)."""
        return PurePosixPath(filesystem(self.root)[1]).parts

    def path(self, name: str | None = None) -> str:
        """The path inside the filesystem of this record's file ``name`` (default: ``rel``)."""
        return filesystem(self.root)[1].rstrip("/") + "/" + (name or self.rel)


def find_uri_records(arg: str, suffixes: tuple[str, ...]) -> list[UriRecord]:
    """Records (WFDB without extension) of a URI folder, file, record name or ``*``/``[...]`` pattern in its
    last part (``?`` starts a URI's options, so it is no wildcard here).

    Raises ``FileNotFoundError`` naming an argument that matches nothing.
    """
    import pyarrow.fs as pafs

    base, query = _split(arg)
    parent = base.rstrip("/").rsplit("/", 1)[0] + (f"?{query}" if query else "")
    last = base.rstrip("/").rsplit("/", 1)[1]
    if any(ch in last for ch in "*["):
        fs, folder = filesystem(parent)
        root, names = parent, [n for n in _listed(fs, folder, suffixes) if fnmatch.fnmatchcase(n, last)]
    else:
        fs, path = filesystem(arg)
        if fs.get_file_info(path).type == pafs.FileType.Directory:
            root, names = arg, _listed(fs, path, suffixes)
        elif pafs.FileType.File in (fs.get_file_info(path).type, fs.get_file_info(path + ".hea").type):
            root, names = parent, [last]
        else:
            raise FileNotFoundError(f"{display(arg)}: no such record, folder or matching files")
    if not names:
        raise FileNotFoundError(f"{display(arg)}: no records (.hea, .edf or .csv) found")
    stems = [n.rsplit(".", 1)[0] if n.lower().endswith((".hea", ".dat", ".atr")) else n for n in names]
    return [UriRecord(root, n) for n in dict.fromkeys(stems)]


def _listed(fs, path: str, suffixes: tuple[str, ...]) -> list[str]:
    import pyarrow.fs as pafs

    infos = fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    return sorted(i.base_name for i in infos if i.type == pafs.FileType.File
                  and PurePosixPath(i.base_name).suffix.lower() in suffixes)


def uri_input_files(record: UriRecord) -> list[str]:
    """The names of the files a URI record is read from (as :func:`ecgdl.run_folder.input_files`)."""
    import pyarrow.fs as pafs

    fs = filesystem(record.root)[0]
    if record.suffix.lower() in (".edf", ".csv"):
        names = [record.rel]
    else:
        hea = record.rel + ".hea"
        try:
            with fs.open_input_stream(record.path(hea)) as fh:
                names = [hea, *signal_files(fh.read())]
        except OSError:
            names = [hea]
        names.append(record.rel + ".atr")
    names = list(dict.fromkeys(names))
    infos = fs.get_file_info([record.path(n) for n in names])
    return [n for n, i in zip(names, infos) if i.type == pafs.FileType.File]


def uri_input_digest(record: UriRecord) -> str:
    """The record's input digest (file names and contents), equal to that of a local copy of its files."""
    fs = filesystem(record.root)[0]

    def digest(name: str) -> str:
        with fs.open_input_stream(record.path(name)) as fh:
            return sha256_file(fh)

    return files_digest((n, digest(n)) for n in uri_input_files(record))


def stage(record: UriRecord, folder: Path) -> Path:
    """Copy the record's files into ``folder``; returns the local record path (WFDB: without extension)."""
    fs = filesystem(record.root)[0]
    folder.mkdir(parents=True, exist_ok=True)
    for name in uri_input_files(record):
        with fs.open_input_stream(record.path(name)) as src, open(folder / name, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return folder / record.rel


@contextlib.contextmanager
def staging_dir() -> Iterator[Path]:
    """A local temp folder for one record (``ecgdl-stage-<pid>-*``), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"{_STAGE}{os.getpid()}-") as tmp:
        yield Path(tmp)


def restaged(exc: Exception, folder: Path, record) -> Exception:
    """``exc`` with the staging ``folder`` in its message replaced by the record's own folder URI."""
    if not isinstance(record, UriRecord) or str(folder) not in str(exc):
        return exc
    where = _split(display(record.root))[0].rstrip("/")
    new = type(exc).__new__(type(exc))  # not copy.copy: that calls __init__ again (RecordError takes two)
    new.args = tuple(a.replace(str(folder), where) if isinstance(a, str) else a for a in exc.args)
    for k, v in vars(exc).items():  # e.g. RecordError.path
        if isinstance(v, str):
            v = v.replace(str(folder), where)
        setattr(new, k, v)
    return new


def remove_dead_staging() -> int:
    """Remove this machine's staging folders of processes that are gone (a killed worker); returns how many."""
    n = 0
    for d in Path(tempfile.gettempdir()).glob(f"{_STAGE}*-*"):
        pid = d.name[len(_STAGE):].split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)) and d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)
            n += 1
    return n

