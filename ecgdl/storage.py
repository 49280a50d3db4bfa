"""Records and outputs at ``pyarrow.fs`` URIs (``s3://``, ``gs://``, ``hdfs://``, ``file:///``), so that a
cluster's nodes read and write the same places without a shared mount.

* :func:`find_uri_records`: record search over a URI folder, file, record name or ``*`` pattern (WFDB
  headers, EDF, CSV), as :func:`ecgdl.batch.find_records` does on a local folder.
* :func:`uri_input_digest`: a URI record's input digest, the same as a local copy's
  (:func:`ecgdl.run_folder.input_digest`: file names and contents), so resume works on content.
* :func:`stage`: a URI record's files copied into a local folder for the readers (which read files),
  one temp folder per record, removed after scoring (:func:`remove_dead_staging` clears those of killed
  workers).
* :func:`out_folder`: ``--out`` as a local folder or a URI, with ``write`` (atomic), ``read`` and
  ``files``; :func:`check_out` and :func:`locked` as for a local ``--out``.

What each store guarantees for a write: on a local or mounted filesystem (``file://``) the run's own
atomic writer (temp file, fsync, rename); on S3, GCS and Azure Blob one PUT (single or multipart upload)
per file, which these stores make visible only once complete (a reader gets the old object or the whole
new one, never part), so no temp key is needed (a "move" there is a copy plus a delete); an upload cut
short leaves no object (S3: an incomplete multipart upload, invisible, removed by a bucket lifecycle
rule). Other filesystems (HDFS, ...): a temp key then ``fs.move``. The lock of a URI ``--out`` is a lock
file on the driver's machine keyed on the URI plus an owner object ``.ecgdl-score.lock`` in the folder:
a second run from any machine is refused while the owner's record names a live run, but object stores
offer ``pyarrow`` no create-if-absent, so two drivers started at the same instant on two machines are not
excluded: run one driver per ``--out``.

>>> find_uri_records("s3://archive/holter?endpoint_override=127.0.0.1:9000&scheme=http", (".hea",))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import json
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ecgdl.artifacts import atomic_write, sha256_file, stale_tmp_files
from ecgdl.run_folder import (LOCK_NAME, OutFolderError, check_out_folder, files_digest, locked as local_lock,
                              signal_files)

#: pyarrow filesystems whose single PUT is atomic (see the module docstring).
OBJECT_STORES = ("s3", "gcs", "abfs")
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
        if pid.isdigit() and not _alive(int(pid)) and d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)
            n += 1
    return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalFolder:
    """A local ``--out`` folder: files written with :func:`ecgdl.artifacts.atomic_write`."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def write(self, rel: str, data: str | bytes) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data)

    def read(self, rel: str) -> bytes | None:
        try:
            return (self.path / rel).read_bytes()
        except OSError:
            return None

    def files(self, rels: list[str]) -> list[bool]:
        """Whether each of ``rels`` is a file."""
        return [(self.path / r).is_file() for r in rels]

    def remove_stale_tmp(self, pid: int | None = None) -> int:
        """Temp files of dead writers (``pid``: of that process only) in the folder and its dataset folders."""
        from ecgdl.artifacts import is_atomic_tmp

        dirs = [self.path, self.path / "dataset", *(self.path / "dataset").glob("beats/record=*")]
        stale = ([f for d in dirs for f in stale_tmp_files(d)] if pid is None else
                 [f for d in dirs for f in d.glob(f"*.{pid}.tmp") if is_atomic_tmp(f, pid)])
        for f in stale:
            f.unlink(missing_ok=True)
        return len(stale)


class UriFolder:
    """An ``--out`` at a ``pyarrow.fs`` URI; each write atomic as the store allows (module docstring)."""

    def __init__(self, uri: str):
        self.uri = uri
        self.fs, self.root = filesystem(uri)
        self.root = self.root.rstrip("/")
        self.direct = self.fs.type_name in OBJECT_STORES

    def _p(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def write(self, rel: str, data: str | bytes) -> None:
        blob = data.encode() if isinstance(data, str) else data
        if self.fs.type_name == "local":
            return LocalFolder(Path(self.root)).write(rel, blob)
        target = self._p(rel)
        if self.direct:
            with self.fs.open_output_stream(target) as out:
                out.write(blob)
            return
        self.fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        tmp = f"{target}.{secrets.token_hex(4)}.{os.getpid()}.tmp"
        try:
            with self.fs.open_output_stream(tmp) as out:
                out.write(blob)
            self.fs.move(tmp, target)
        finally:
            with contextlib.suppress(OSError):
                self.fs.delete_file(tmp)

    def read(self, rel: str) -> bytes | None:
        try:
            with self.fs.open_input_stream(self._p(rel)) as fh:
                return fh.read()
        except OSError:  # FileNotFoundError included
            return None

    def files(self, rels: list[str]) -> list[bool]:
        import pyarrow.fs as pafs

        return [i.type == pafs.FileType.File for i in self.fs.get_file_info([self._p(r) for r in rels])]

    def listing(self) -> set[str]:
        """Every file under the folder, relative to it (one listing: cheaper than a request per file)."""
        import pyarrow.fs as pafs

        infos = self.fs.get_file_info(pafs.FileSelector(self.root, recursive=True, allow_not_found=True))
        return {i.path[len(self.root) + 1:] for i in infos if i.type == pafs.FileType.File}

    def put_tree(self, local: Path, last: str) -> None:
        """Upload every file under ``local`` to the same relative paths here, ``last`` after all others."""
        files = sorted(str(f.relative_to(local)) for f in local.rglob("*") if f.is_file())
        for rel in sorted(files, key=lambda r: r == last):
            self.write(rel, (local / rel).read_bytes())

    def remove_stale_tmp(self, pid: int | None = None) -> int:
        """Local filesystem: as :class:`LocalFolder`. Object stores write no temp keys; others: every
        ``*.<8 hex>.<pid>.tmp`` key (the run holds the folder's lock, so no live writer owns one)."""
        if self.fs.type_name == "local":
            return LocalFolder(Path(self.root)).remove_stale_tmp(pid)
        if self.direct:
            return 0
        from ecgdl.artifacts import atomic_tmp_pid

        stale = [r for r in self.listing() if (p := atomic_tmp_pid(r.rsplit("/", 1)[-1])) is not None
                 and (pid is None or p == pid)]
        for r in stale:
            self.fs.delete_file(self._p(r))
        return len(stale)


def out_folder(out) -> LocalFolder | UriFolder:
    """``--out`` as a folder object: a local path or a ``pyarrow.fs`` URI."""
    return UriFolder(str(out)) if is_uri(out) else LocalFolder(Path(out))


def check_out(out) -> None:
    """A usable ``--out`` (created; a probe written and removed), else one :class:`OutFolderError` line."""
    if not is_uri(out):
        return check_out_folder(Path(out))
    import pyarrow.fs as pafs

    try:
        folder = UriFolder(str(out))
    except FileNotFoundError as exc:
        raise OutFolderError(f"--out {exc}") from None
    if folder.fs.type_name == "local":
        return check_out_folder(Path(folder.root))
    try:
        if folder.fs.get_file_info(folder.root).type == pafs.FileType.File:
            raise OutFolderError(f"--out {display(out)}: is a file, not a folder")
        probe = f".ecgdl-write-probe.{os.getpid()}"
        folder.write(probe, b"")
        folder.fs.delete_file(folder._p(probe))
    except OSError as exc:
        raise OutFolderError(f"--out {display(out)}: is not writable ({exc})") from None


@contextlib.contextmanager
def locked(out) -> Iterator[None]:
    """One run at a time per ``--out`` (local path or URI; see the module docstring for a URI's lock)."""
    if not is_uri(out) or UriFolder(str(out)).fs.type_name == "local":
        with local_lock(Path(out) if not is_uri(out) else Path(UriFolder(str(out)).root)):
            yield
        return
    import hashlib

    folder = UriFolder(str(out))
    key = hashlib.sha256(f"{folder.fs.type_name}:{folder.root}".encode()).hexdigest()[:24]
    here = Path(tempfile.gettempdir(), "ecgdl-locks", key)
    here.mkdir(parents=True, exist_ok=True)
    try:
        with local_lock(here):
            _claim(folder)
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    folder.fs.delete_file(folder._p(LOCK_NAME))
    except OutFolderError as exc:
        if str(here) in str(exc):
            raise OutFolderError(f"--out {display(out)}: another ecgdl score run on this machine is writing into it")
        raise


def _claim(folder: UriFolder) -> None:
    """Write the owner object, unless one names a live run (another machine's, or a live process here)."""
    me = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    held = folder.read(LOCK_NAME)
    if held:
        try:
            owner = json.loads(held)
        except ValueError:
            owner = {}
        pid = owner.get("pid") if isinstance(owner.get("pid"), int) else 0
        if owner.get("host") != me["host"] or (pid > 0 and _alive(pid)):
            raise OutFolderError(
                f"--out {display(folder.uri)}: a run on {owner.get('host')} (pid {owner.get('pid')}, started "
                f"{owner.get('started')}) holds it; if that run is gone, delete {LOCK_NAME} there and run again")
    folder.write(LOCK_NAME, json.dumps(me))
