"""Uploaded files -> :class:`~ecgdl.io.Record`, safely.

An upload is a list of ``(file name, bytes)`` pairs as a browser sends them: a WFDB record
(``.hea`` + the signal file(s) it names, ``.atr`` optional) as separate files or inside one
``.zip``, an ``.edf`` file, or a ``.csv`` file (its sampling rate given by the user).

Safety rules, each failure a :class:`~ecgdl.io.RecordError` whose message names the uploaded
file (never a server path) and the problem:

* total upload size, number of files, and (for a zip) the total *uncompressed* size are capped
  (:class:`UploadLimits`), so a zip bomb is refused before or while it is inflated;
* file names must be plain names: no absolute paths, no ``..``, no drive letters, no symlinks
  inside a zip; a WFDB header may only name signal files that were uploaded with it;
* the files are written to a private temporary folder that is removed whatever happens; the
  returned ``Record`` lives in memory only;
* nothing is logged: file names and contents are patient data.

Example:
    >>> files = [(p.name, p.read_bytes()) for p in Path("mitdb").glob("100.*")]  # doctest: +SKIP
    >>> rec = record_from_upload(files)                                             # doctest: +SKIP
    >>> rec.name, rec.fs                                                             # doctest: +SKIP
    ('100', 360.0)
"""

from __future__ import annotations

import io
import re
import stat
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from ecgdl.io import MODEL_FS, Record, RecordError, read_csv, read_record

#: File types accepted, by suffix (lower case).
WFDB_SUFFIXES = (".hea", ".dat", ".atr")
ACCEPTED_SUFFIXES = (*WFDB_SUFFIXES, ".zip", ".edf", ".csv")
#: Plain file names only: letters, digits and ``._-+`` (WFDB record names are like this).
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+\-]{0,120}$")
_MB = 1024 * 1024
_CHUNK = 1 << 20


@dataclass(frozen=True)
class UploadLimits:
    """Caps on one upload (bytes and counts).

    max_upload_bytes: all uploaded files together, as sent (zip compressed size counts here).
    max_uncompressed_bytes: all members of a zip together once inflated.
    max_files: files in the upload, or members in the zip.
    max_ratio: largest compression ratio a zip member may have (zeros compress ~1000:1; ECG ~3:1).
    """

    max_upload_bytes: int = 200 * _MB
    max_uncompressed_bytes: int = 400 * _MB
    max_files: int = 16
    max_ratio: float = 100.0


@dataclass(frozen=True)
class UploadOptions:
    """How to read the record. ``csv_fs``: sampling rate of a CSV upload in Hz (required for CSV);
    ``csv_units``: its units (mV, uV or V); ``target_fs``: the models' rate."""

    csv_fs: float | None = None
    csv_units: str = "mV"
    target_fs: float = MODEL_FS
    on_gaps: str = "fill"


def record_from_upload(files: Sequence[tuple[str, bytes]], options: UploadOptions = UploadOptions(),
                       limits: UploadLimits = UploadLimits()) -> Record:
    """Turn uploaded ``(name, bytes)`` pairs into one :class:`Record` at ``options.target_fs``.

    Raises :class:`RecordError` naming the uploaded file and the problem for anything unusable.
    The temporary folder the files pass through is always removed before returning.
    """
    files = list(files)
    if not files:
        raise RecordError("upload", "no files were uploaded")
    _check_counts(files, limits)
    names = [_safe_name(name) for name, _ in files]
    with tempfile.TemporaryDirectory(prefix="ecgdl-upload-") as tmp:
        folder = Path(tmp)
        if len(files) == 1 and names[0].lower().endswith(".zip"):
            written = _extract_zip(names[0], files[0][1], folder, limits)
        else:
            written = _write_files(names, [data for _, data in files], folder)
        try:
            return _read(folder, written, options)
        except RecordError as exc:
            problem = exc.problem.replace(f"{folder}{'/'}", "").replace(str(folder), "upload")
            raise RecordError(_shown_name(exc.path, folder), problem) from None


def describe_limits(limits: UploadLimits = UploadLimits()) -> str:
    """One line for the page: what may be uploaded and how much."""
    return (f"WFDB (.hea + .dat, .atr optional) as files or one .zip, EDF, or CSV; at most "
            f"{limits.max_upload_bytes // _MB} MB and {limits.max_files} files.")


# ----------------------------------------------------------------------------- checks


def _check_counts(files: list[tuple[str, bytes]], limits: UploadLimits) -> None:
    if len(files) > limits.max_files:
        raise RecordError("upload", f"too many files: {len(files)} (at most {limits.max_files})")
    total = sum(len(data) for _, data in files)
    if total > limits.max_upload_bytes:
        raise RecordError("upload", f"too large: {total / _MB:.1f} MB uploaded "
                                    f"(at most {limits.max_upload_bytes / _MB:.0f} MB)")
    zips = [name for name, _ in files if name.lower().endswith(".zip")]
    if zips and len(files) > 1:
        raise RecordError(zips[0], "upload a .zip on its own, not together with other files")


def _safe_name(name: str) -> str:
    """The name itself if it is a plain file name with an accepted suffix, else RecordError."""
    shown = name if len(name) <= 80 else name[:77] + "..."
    if not name or "\x00" in name:
        raise RecordError("upload", "a file has an empty or invalid name")
    if _escapes(name):
        raise RecordError(shown, "file name contains a path (only plain file names are accepted)")
    if not _SAFE_NAME.match(name):
        raise RecordError(shown, "file name has unsupported characters (use letters, digits, '.', '_', '-')")
    if Path(name).suffix.lower() not in ACCEPTED_SUFFIXES:
        raise RecordError(shown, f"unsupported file type (accepted: {', '.join(ACCEPTED_SUFFIXES)})")
    return name


def _escapes(name: str) -> bool:
    """True when ``name`` is not a plain file name: it has a folder part, or :func:`_climbs`."""
    return _climbs(name) or "/" in name or "\\" in name


def _climbs(name: str) -> bool:
    """True when ``name`` is absolute, has a drive, or climbs with ``..`` (POSIX or Windows style)."""
    return any(pure.is_absolute() or pure.drive or pure.root or ".." in pure.parts
               for pure in (PurePosixPath(name), PureWindowsPath(name)))


# ----------------------------------------------------------------------------- writing


def _write_files(names: list[str], blobs: list[bytes], folder: Path) -> list[Path]:
    lowered = [n.lower() for n in names]
    if len(set(lowered)) != len(lowered):
        dup = next(n for n in names if lowered.count(n.lower()) > 1)
        raise RecordError(dup, "uploaded twice")
    out = []
    for name, data in zip(names, blobs):
        path = folder / name
        path.write_bytes(data)
        out.append(path)
    return out


def _extract_zip(zip_name: str, data: bytes, folder: Path, limits: UploadLimits) -> list[Path]:
    """Extract the accepted members of a zip into ``folder`` (flattened), enforcing the limits."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - zipfile raises many types on a corrupt archive
        raise RecordError(zip_name, f"not a readable zip file ({_why(exc)})") from None
    with archive:
        members = _zip_members(zip_name, archive, limits)
        out: list[Path] = []
        budget = limits.max_uncompressed_bytes
        for info, name in members:
            budget -= _inflate(zip_name, archive, info, folder / name, budget, limits)
            out.append(folder / name)
    if not out:
        raise RecordError(zip_name, f"the zip holds no record files ({', '.join(ACCEPTED_SUFFIXES[:-3])}, "
                                    ".edf or .csv)")
    return out


def _zip_members(zip_name: str, archive: zipfile.ZipFile, limits: UploadLimits):
    """(ZipInfo, flat name) of each accepted member; unsafe members raise, others are skipped."""
    infos = archive.infolist()
    if len(infos) > limits.max_files:
        raise RecordError(zip_name, f"too many files in the zip: {len(infos)} (at most {limits.max_files})")
    declared = sum(i.file_size for i in infos)
    if declared > limits.max_uncompressed_bytes:
        raise RecordError(zip_name, f"unpacks to {declared / _MB:.0f} MB, more than the "
                                    f"{limits.max_uncompressed_bytes / _MB:.0f} MB allowed")
    members, seen = [], set()
    for info in infos:
        if not info.filename:  # zipfile's own is_dir() fails on it
            raise RecordError(zip_name, "a member of the zip has an empty name: the zip is damaged; make it again")
        if _climbs(info.filename):
            raise RecordError(zip_name, f"member {info.filename[:80]!r} has a path that leaves the archive")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise RecordError(zip_name, f"member {info.filename[:80]!r} is a symbolic link")
        if info.is_dir() or _skipped_member(info.filename):
            continue
        if info.flag_bits & 0x1:
            raise RecordError(zip_name, "the zip is encrypted")
        name = PurePosixPath(info.filename).name
        if not _SAFE_NAME.match(name) or name.lower() in seen:
            raise RecordError(zip_name, f"member {info.filename[:80]!r} has an unsupported or repeated name")
        seen.add(name.lower())
        members.append((info, name))
    return members


def _skipped_member(filename: str) -> bool:
    """Members we ignore: macOS metadata, hidden files, and files of other types (README, ...)."""
    parts = PurePosixPath(filename).parts
    if any(p == "__MACOSX" or p.startswith(".") for p in parts):
        return True
    return PurePosixPath(filename).suffix.lower() not in ACCEPTED_SUFFIXES or filename.lower().endswith(".zip")


def _inflate(zip_name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, budget: int,
             limits: UploadLimits) -> int:
    """Inflate one member in chunks, counting real bytes (declared sizes can lie). Returns bytes written."""
    written = 0
    cap = min(budget, max(limits.max_ratio * max(info.compress_size, 1), 64 * 1024))
    try:
        with archive.open(info) as src, open(dest, "wb") as dst:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > cap:
                    raise RecordError(zip_name, f"member {info.filename[:80]!r} inflates beyond the allowed size "
                                                f"(a zip bomb?); at most {limits.max_uncompressed_bytes / _MB:.0f} MB "
                                                f"in all, compression ratio at most {limits.max_ratio:.0f}")
                dst.write(chunk)
    except RecordError:
        raise
    except Exception as exc:  # noqa: BLE001 - zlib.error, negative seeks, bad CRCs...: a corrupt archive
        raise RecordError(zip_name, f"member {info.filename[:80]!r} could not be extracted: the zip is damaged "
                                    f"({_why(exc)}); make the zip again") from None
    return written


def _why(exc: Exception) -> str:
    """A short reason for a library failure on a damaged file (its type, the first line of its message)."""
    text = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ----------------------------------------------------------------------------- reading


def _read(folder: Path, written: list[Path], options: UploadOptions) -> Record:
    by_suffix: dict[str, list[Path]] = {}
    for p in written:
        by_suffix.setdefault(p.suffix.lower(), []).append(p)
    kinds = [s for s in (".hea", ".edf", ".csv") if s in by_suffix]
    if len(kinds) > 1 or any(len(by_suffix[k]) > 1 for k in kinds):
        found = ", ".join(p.name for k in kinds for p in by_suffix[k])
        raise RecordError("upload", f"more than one record in the upload ({found}): upload one record at a time")
    if not kinds:
        if ".dat" in by_suffix:
            raise RecordError(by_suffix[".dat"][0].name, "a WFDB signal file needs its header (.hea) as well")
        raise RecordError("upload", "no record found: upload a .hea with its .dat, a .zip, an .edf or a .csv")
    path = by_suffix[kinds[0]][0]
    if kinds[0] == ".csv":
        if not options.csv_fs:
            raise RecordError(path.name, "a CSV file needs its sampling rate: enter it before uploading")
        return _guarded(path, lambda: read_csv(path, options.csv_fs, target_fs=options.target_fs,
                                               on_gaps=options.on_gaps, units=options.csv_units))
    if kinds[0] == ".hea":
        _check_header_files(path, {p.name for p in written})
    return _guarded(path, lambda: read_record(path, target_fs=options.target_fs, on_gaps=options.on_gaps))


def _check_header_files(hea: Path, uploaded: set[str]) -> None:
    """A header may only name plain signal files that were uploaded with it (read before wfdb parses it)."""
    try:
        text = hea.read_text(encoding="latin-1")
    except OSError as exc:
        raise RecordError(hea.name, f"header cannot be read ({exc})") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise RecordError(hea.name, "header is empty")
    first = lines[0].split()
    if "/" in first[0]:
        raise RecordError(hea.name, "multi-segment records are not supported; upload a single-segment record")
    try:
        n_sig = int(first[1]) if len(first) > 1 else 0
    except ValueError:
        raise RecordError(hea.name, f"header's first line does not parse (number of signals {first[1]!r})") from None
    for line in lines[1:1 + n_sig]:
        fname = line.split()[0]
        if fname == "-" or fname.startswith("~"):
            raise RecordError(hea.name, f"signal file {fname!r} is not a file (streams are not supported)")
        if _escapes(fname):
            raise RecordError(hea.name, f"header names a signal file outside the upload ({fname[:80]!r})")
        if fname not in uploaded:
            raise RecordError(hea.name, f"header names signal file {fname!r}, which was not uploaded")


def _guarded(path: Path, read) -> Record:
    """Run a reader; anything but RecordError (a reader's own bug on odd input) becomes RecordError."""
    try:
        return read()
    except RecordError:
        raise
    except MemoryError:
        raise RecordError(path.name, "record is too large to hold in memory") from None
    except Exception as exc:  # readers of untrusted files: every failure must reach the page as a message
        raise RecordError(path.name, f"could not be read ({type(exc).__name__}: {exc})") from None


def _shown_name(path: str, folder: Path) -> str:
    """The uploaded file's own name for an error raised inside the temporary folder."""
    try:
        return str(Path(path).relative_to(folder))
    except ValueError:
        return Path(path).name or "upload"
