"""``--out`` as a local folder or a ``pyarrow.fs`` URI: :func:`out_folder` gives an object with ``write``
(atomic), ``read`` and ``files``; :func:`check_out` and :func:`locked` as for a local ``--out``
(:mod:`ecgdl.run_folder`).

What each store guarantees for a write: on a local or mounted filesystem (``file://``) the run's own
atomic writer (temp file, fsync, rename); on S3, GCS and Azure Blob one PUT (single or multipart upload)
per file, which these stores make visible only once complete (a reader gets the old object or the whole
new one, never part), so no temp key is needed (a "move" there is a copy plus a delete); an upload cut
short leaves no object (S3: an incomplete multipart upload, invisible, removed by a bucket lifecycle
rule). Other filesystems (HDFS, ...): a temp key then ``fs.move``. The lock of a URI ``--out`` is a lock
file on the driver's machine keyed on the URI plus an owner object ``.ecgdl-score.lock`` in the folder:
a second run is refused while that object is there from another machine or names a live process on this
one (a dead run's own leftover is taken over), but object stores offer ``pyarrow`` no create-if-absent, so two drivers started at the same instant on two machines are not
excluded: run one driver per ``--out``.

>>> out_folder("s3://results/run").write("summary.csv", "record\\n")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ecgdl.artifacts import atomic_write, process_alive, stale_tmp_files
from ecgdl.run_folder import LOCK_NAME, OutFolderError, check_out_folder, locked as local_lock
from ecgdl.storage import display, filesystem, is_uri

#: pyarrow filesystems whose single PUT is atomic (see the module docstring).
OBJECT_STORES = ("s3", "gcs", "abfs")


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
        if owner.get("host") != me["host"] or (pid > 0 and process_alive(pid)):
            raise OutFolderError(
                f"--out {display(folder.uri)}: a run on {owner.get('host')} (pid {owner.get('pid')}, started "
                f"{owner.get('started')}) holds it; if that run is gone, delete {LOCK_NAME} there and run again")
    folder.write(LOCK_NAME, json.dumps(me))
