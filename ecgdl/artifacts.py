"""Files the house writes and trusts: one file hash, one atomic writer, one ONNX sidecar loader.

* :func:`sha256_file`: hex sha256 of a file (``hashlib.file_digest``): source hashes in the dataset
  manifest, the ONNX hash in a sidecar.
* :func:`atomic_write` (text or bytes), :func:`atomic_write_npz` and :func:`atomic_write_with` (any
  writer, e.g. ``torch.save``): the data goes to a temp file in the destination's folder, is
  flushed and fsynced, then ``os.replace``\\ d over the destination, so a reader sees the old file or
  the whole new one, never a partial one. The temp file is ``<name>.<random>.<pid>.tmp`` (a batch
  removes those of dead processes, :func:`stale_tmp_files`); permissions follow the umask.
* :func:`strict_json`: NaN (an undefined metric) as ``null``, so that any JSON parser reads the file.
* :func:`load_onnx`: ``<name>.onnx`` + its sidecar ``<name>.json`` read, the sidecar's sha256
  checked against the file, and an ONNX Runtime session on CUDA when asked and working, else on
  CPU with the reason (used by both :class:`ecgdl.infer.BeatClassifier` and
  :class:`ecgdl.denoise.Denoiser`).

Torch-free; ``onnxruntime`` is imported only by :func:`load_onnx`.

>>> import tempfile; folder = Path(tempfile.mkdtemp())
>>> atomic_write(folder / "a.txt", "hello")
>>> sha256_file(folder / "a.txt")[:12]
'2cf24dba5fb0'
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

DEVICES = ("auto", "cpu", "cuda")
CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


def sha256_file(path: str | os.PathLike | IO[bytes]) -> str:
    """Hex sha256 of the file at ``path``, or of what an open binary file (a ``pyarrow.fs`` stream) reads."""
    if hasattr(path, "read"):
        return hashlib.file_digest(path, "sha256").hexdigest()
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def atomic_write_with(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(binary file)`` on a temp file beside ``path``, fsync it, then replace ``path`` with it."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "xb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_folder(path.parent)


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically (see the module docstring)."""
    blob = data.encode() if isinstance(data, str) else data
    atomic_write_with(path, lambda fh: fh.write(blob))


def atomic_write_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """``np.savez(path, **arrays)`` atomically (``path`` is used as given: no ``.npz`` is appended)."""
    atomic_write_with(path, lambda fh: np.savez(fh, **arrays))


def strict_json(v):
    """``v`` ready for any JSON parser: NaN / infinity as None, numpy scalars and arrays as Python
    numbers and lists, tuples and sets as lists, paths as strings."""
    if isinstance(v, np.ndarray):
        return strict_json(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: strict_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set)):
        return [strict_json(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    return v


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


#: The name :func:`atomic_write_with` gives its temp files: ``<name>.<8 hex digits>.<pid>.tmp``.
_TMP_NAME = re.compile(r"^.+\.[0-9a-f]{8}\.(?P<pid>[0-9]+)\.tmp$")


def is_atomic_tmp(path: Path, pid: int | None = None) -> bool:
    """True when ``path`` is a plain file named as :func:`atomic_write_with` names its temp files
    (by process ``pid`` when given): never a user's ``notes.tmp`` or a folder."""
    m = _TMP_NAME.match(path.name)
    return bool(m) and (pid is None or int(m["pid"]) == pid) and path.is_file() and not path.is_symlink()


def atomic_tmp_pid(name: str) -> int | None:
    """The writer's pid when ``name`` is named as :func:`atomic_write_with` names its temp files, else None."""
    m = _TMP_NAME.match(name)
    return int(m["pid"]) if m else None


def stale_tmp_files(folder: Path) -> list[Path]:
    """Temp files of :func:`atomic_write_with` in ``folder`` whose writing process is gone. Only plain
    files named exactly as it names them: a user's ``notes.tmp`` or a folder ``cache.tmp`` is never one."""
    stale = []
    for f in folder.glob("*.tmp"):
        if is_atomic_tmp(f) and not process_alive(int(_TMP_NAME.match(f.name)["pid"])):
            stale.append(f)
    return stale


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a pid we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------------------- ONNX + sidecar


def sidecar_digest(meta: dict) -> str | None:
    """The ONNX file's sha256 a sidecar records (classifier: ``onnx.sha256``; denoiser: ``sha256``)."""
    return (meta.get("onnx") or {}).get("sha256") or meta.get("sha256")


def read_sidecar(onnx_path: Path) -> dict:
    """The sidecar ``<name>.json`` of ``<name>.onnx``, verified: both files exist, the hash matches.

    Raises ``FileNotFoundError`` naming the missing file, ``ValueError`` when the ONNX file's sha256
    differs from the sidecar's (file replaced or corrupted). A sidecar without a hash is not checked.
    """
    sidecar = onnx_path.with_suffix(".json")
    if not onnx_path.is_file() or not sidecar.is_file():
        raise FileNotFoundError(f"{onnx_path}: model or its sidecar {sidecar.name} not found")
    meta = json.loads(sidecar.read_text())
    digest = sidecar_digest(meta)
    if digest and digest != sha256_file(onnx_path):
        raise ValueError(f"{onnx_path}: sha256 differs from the sidecar's (file replaced or corrupted)")
    return meta


@dataclass(frozen=True)
class OnnxModel:
    """A verified ONNX file, its sidecar and a session. ``fallback``: why CUDA is not used ("" if it is
    or was not asked for)."""

    path: Path
    meta: dict
    session: Any
    fallback: str

    @property
    def provider(self) -> str:
        """The ACTIVE provider (``session.get_providers()[0]``): an available provider is not a used one."""
        return self.session.get_providers()[0]


def load_onnx(path: str | os.PathLike, device: str = "auto", *, threads: int | None = None) -> OnnxModel:
    """Read and verify ``path`` + sidecar (:func:`read_sidecar`), then open a session (:func:`onnx_session`).

    ``device="cuda"`` that falls back to CPU warns (``RuntimeWarning``) with the reason.
    """
    path = Path(path)
    meta = read_sidecar(path)
    session, note = onnx_session(path, device, threads)
    if note and device == "cuda":
        warnings.warn(f"{meta.get('name', path.stem)}: {note}", RuntimeWarning, stacklevel=3)
    return OnnxModel(path=path, meta=meta, session=session, fallback=note)


def onnx_session(path: Path, device: str = "auto", threads: int | None = None) -> tuple[Any, str]:
    """``(session, note)``: an ORT session on CUDA when asked (``auto``/``cuda``), available and working,
    else on CPU; ``note`` says why CUDA is not used."""
    import onnxruntime as ort

    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # no busy-waiting worker threads: on a shared laptop/CI box spinning costs more than it saves
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = int(threads)
    note = ""
    if device in ("auto", "cuda") and CUDA in ort.get_available_providers():
        sess, note = _cuda_session(ort, path, opts)
        if sess is not None:
            return sess, ""
    elif device == "cuda":
        note = "onnxruntime has no CUDA provider in this install; using CPU"
    return ort.InferenceSession(str(path), opts, providers=[CPU]), note


def _cuda_session(ort, path: Path, opts) -> tuple[Any, str]:
    """``(session on CUDA, "")`` or ``(None, why not)``."""
    if hasattr(ort, "preload_dlls") and Path("/dev/nvidiactl").exists():
        try:
            ort.preload_dlls()  # CUDA/cuDNN from the nvidia-* wheels when torch is not imported
        except Exception:  # noqa: BLE001 - a machine without them falls back below
            pass
    ort.set_default_logger_severity(4)  # the failed CUDA load is reported by us, once, in plain words
    try:
        sess = ort.InferenceSession(str(path), opts, providers=[CUDA, CPU])
        if sess.get_providers()[0] == CUDA:
            return sess, ""
        return None, "CUDA provider did not start (no usable GPU / CUDA libraries); using CPU"
    except Exception as exc:  # noqa: BLE001 - fall back to CPU and say why
        return None, f"CUDA provider failed ({type(exc).__name__}: {exc}); using CPU"
    finally:
        ort.set_default_logger_severity(2)
