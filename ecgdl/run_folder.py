"""The ``--out`` folder a batch writes into: checked before any scoring, locked, outputs keyed per input.

* :func:`check_out_folder`: a file, a read-only folder or an unwritable parent is one clear
  :class:`OutFolderError`, raised before anything is scored.
* :func:`locked`: one batch at a time per folder (``fcntl.flock`` on ``.ecgdl-score.lock``, released
  by the kernel when the process dies, even by ``kill -9``).
* :func:`output_keys`: the file stem of each input; two inputs never share one (``a/p/100`` and
  ``b/p/100`` become ``a_p_100`` and ``b_p_100``; ``100.hea`` and ``100.edf`` become ``100`` and
  ``100_edf``), and a name that is not valid UTF-8 is %-escaped.
* :func:`input_digest` and :func:`resume_key`: a finished record is reused only when its input files'
  content and the scoring options are the same, never on the name alone.

>>> output_keys([Path("a/p/100"), Path("b/p/100"), Path("c/101")])
{PosixPath('a/p/100'): 'a_p_100', PosixPath('b/p/100'): 'b_p_100', PosixPath('c/101'): '101'}
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

from ecgdl.artifacts import sha256_file

LOCK_NAME = ".ecgdl-score.lock"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+\-=@,%]")


class OutFolderError(Exception):
    """An ``--out`` folder that cannot be used; the message is one line naming it and the reason."""


def check_out_folder(out: Path) -> None:
    """Create ``out`` if needed and prove it writable (a probe file is written and removed)."""
    if out.exists() and not out.is_dir():
        raise OutFolderError(f"--out {out}: is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutFolderError(f"--out {out}: cannot be created ({exc.strerror or exc})") from None
    probe = out / f".ecgdl-write-probe.{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutFolderError(f"--out {out}: is not writable ({exc.strerror or exc})") from None


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the folder's lock for the ``with`` block; OutFolderError when another batch holds it."""
    import fcntl

    fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutFolderError(f"--out {out}: another ecgdl score run is writing into this folder; "
                                 "wait for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock


def safe_name(name: str) -> str:
    """``name`` usable as a file stem and a CSV cell: bytes that are not UTF-8 (a surrogate-escaped
    file name) and characters outside ``[A-Za-z0-9._+-=@,%]`` become ``%XX``."""
    raw = os.fsencode(name) if isinstance(name, str) else bytes(name)
    text = raw.decode("utf-8", "surrogateescape")
    out = []
    for ch in text:
        if "\udc80" <= ch <= "\udcff" or _UNSAFE.match(ch):
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogateescape"))
        else:
            out.append(ch)
    return "".join(out) or "_"


def printable(text: str) -> str:
    """``text`` with characters that cannot be written as UTF-8 (surrogate-escaped bytes of a file name)
    shown as backslash escapes: safe to print and to write into a table."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def output_keys(records: list[Path]) -> dict[Path, str]:
    """Stem per record (see the module docstring); unique over ``records`` whatever their names.

    A record's own stem first (``_edf`` added to an EDF file whose name a WFDB record also has); where
    stems still clash, the clashing ones are prefixed by one more parent folder at a time; paths that
    are the same text all the way up are numbered.
    """
    own = {r: _own_stem(r, records) for r in records}
    keys = dict(own)
    for depth in range(1, 64):
        clash = _clashes(keys)
        if not clash:
            break
        for r in clash:
            parents = [safe_name(p) for p in _folder_parts(r)[-depth:] if p != os.sep]
            keys[r] = "_".join([*parents, own[r]])
    for i, r in enumerate(sorted(_clashes(keys), key=str)):
        keys[r] = f"{keys[r]}_{i + 1}"
    return keys


def _folder_parts(r) -> tuple[str, ...]:
    """The folders above a record (a ``pyarrow.fs`` record, ``ecgdl.storage.UriRecord``, gives its own)."""
    return r.folder_parts if hasattr(r, "folder_parts") else Path(os.path.abspath(r)).parent.parts


_FILE_RECORDS = (".edf", ".csv")  # records that are one file, named with their suffix (WFDB: without)


def _own_stem(r: Path, records: list[Path]) -> str:
    """The record's name; an EDF/CSV file whose name another record of another kind has gets ``_edf``/``_csv``."""
    kind = r.suffix.lower() if r.suffix.lower() in _FILE_RECORDS else ""
    stem = safe_name(r.stem if kind else r.name)
    others = [o for o in records if o != r and (o.suffix.lower() if o.suffix.lower() in _FILE_RECORDS else "") != kind]
    if kind and any(safe_name(o.stem if o.suffix.lower() in _FILE_RECORDS else o.name).lower() == stem.lower()
                    for o in others):
        return f"{stem}_{kind[1:]}"
    return stem


def _clashes(keys: dict[Path, str]) -> list[Path]:
    lowered: dict[str, list[Path]] = {}
    for r, k in keys.items():
        lowered.setdefault(k.lower(), []).append(r)  # case-insensitive file systems too
    return [r for group in lowered.values() if len(group) > 1 for r in group]


def input_files(record: Path) -> list[Path]:
    """The files a record is read from: an EDF or CSV file, or the WFDB header, the signal files it names and
    the ``.atr`` beside it."""
    if record.suffix.lower() in _FILE_RECORDS:
        return [record]
    hea = record.with_name(record.name + ".hea")
    try:
        names = [hea.name, *signal_files(hea.read_bytes()), record.name + ".atr"]
    except OSError:
        names = [hea.name, record.name + ".atr"]
    return list(dict.fromkeys(f for f in map(record.with_name, names) if f.is_file()))


def signal_files(header: bytes) -> list[str]:
    """The signal file names a WFDB header names (those in the header's own folder)."""
    lines = [ln.split() for ln in header.decode("latin-1").splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return [ln[0] for ln in lines[1:] if ln and "/" not in ln[0]]


def input_digest(record: Path) -> str:
    """sha256 over the names and contents of :func:`input_files` (changes when any of them changes)."""
    return files_digest((f.name, sha256_file(f)) for f in input_files(record))


def files_digest(named_hashes) -> str:
    """The input digest of ``(file name, hex sha256)`` pairs, in order (local files and ``pyarrow.fs`` ones alike)."""
    h = hashlib.sha256()
    for name, hexdigest in named_hashes:
        h.update(os.fsencode(name) + b"\0" + bytes.fromhex(hexdigest))
    return h.hexdigest()


def resume_key(digest: str, options: dict) -> str:
    """One key for "this input scored this way": the input digest and the options (model hash, beat
    source, reference comparison, format), as a sha256 hex string."""
    blob = json.dumps({"input": digest, **options}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def comparable_outputs(out: Path) -> dict[str, bytes]:
    """A finished run folder's files (relative name -> bytes) without what differs between two runs of the
    same inputs: the lock file and the wall-time fields (``seconds`` of each summary JSON, ``processing_s`` of
    ``run.json``'s records, the ``seconds``/``processing_s`` columns of ``summary.csv``). Two engines, or a run
    and its resumed twin, must agree on every byte of what is left."""
    files = {}
    for f in sorted(p for p in Path(out).rglob("*") if p.is_file() and p.name != LOCK_NAME):
        data = f.read_bytes()
        if f.name.endswith(".summary.json"):
            s = json.loads(data)
            s.pop("seconds", None)
            data = json.dumps(s).encode()
        elif f.name == "run.json":  # what this run did, with each record's wall time
            log = json.loads(data)
            data = json.dumps([{k: v for k, v in r.items() if k != "processing_s"} for r in log["records"]]).encode()
        elif f.name == "summary.csv":
            rows = [r.split(",") for r in data.decode().splitlines()]
            drop = {j for j, c in enumerate(rows[0]) if c in ("seconds", "processing_s")}
            data = "\n".join(",".join(c for j, c in enumerate(r) if j not in drop) for r in rows).encode()
        files[str(f.relative_to(out))] = data
    return files
