"""EDF+ annotations: the ``EDF Annotations`` signal's time-stamped annotation lists (TALs), read with
the standard library and numpy.

An EDF+ file stores its annotations as an extra "signal" named ``EDF Annotations`` whose bytes hold
TALs: ``+onset[\\x15duration]\\x14text\\x14[text\\x14...]\\x00`` (onset in seconds from the start of
the recording; the first TAL of every data record is its time keeping, with no text). ECG beat
annotations exported from WFDB tools carry the MIT-BIH beat symbol as their text (``N``, ``V``,
``A`` ...), which is what :mod:`ecgdl.io` keeps; other texts are events of the recording.

>>> edf = read_edf_plus(Path("holter.edf"))      # doctest: +SKIP
>>> edf.tals[:2]                                  # doctest: +SKIP
[(0.5, 'N'), (1.31, 'N')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ANNOTATION_LABEL = "EDF Annotations"
_TAL = re.compile(rb"([+-]\d+(?:\.\d*)?)(?:\x15(\d+(?:\.\d*)?))?\x14(.*?)\x00", re.S)


def _fields(header: bytes, offset: int, n: int, width: int) -> list[str]:
    return [header[offset + i * width: offset + (i + 1) * width].decode("latin-1").strip() for i in range(n)]


@dataclass(frozen=True)
class EdfPlus:
    """An EDF+ file with annotations: its ordinary signals (physical units, ``(n, n_leads)`` float64) and TALs."""

    signal: np.ndarray
    fs: float
    names: list[str]
    units: list[str]
    tals: list[tuple[float, str]]   # (onset s from the start, text), sorted by onset


def read_edf_plus(path: Path) -> EdfPlus | None:
    """The signals and annotations of an EDF+ file that has an ``EDF Annotations`` signal; ``None`` for a
    plain EDF (read it with wfdb). ``ValueError`` naming the problem when the file is malformed or its
    ECG signals have different sampling rates."""
    with open(path, "rb") as fh:
        head = fh.read(256)
        if len(head) < 256:
            raise ValueError("EDF header shorter than 256 bytes")
        n_sig, n_rec, rec_s = int(head[252:256]), int(head[236:244]), float(head[244:252])
        sig_head = fh.read(256 * n_sig)
        labels = _fields(sig_head, 0, n_sig, 16)
        ann = [i for i, lab in enumerate(labels) if lab == ANNOTATION_LABEL]
        if not ann:
            return None
        num = [[float(v) for v in _fields(sig_head, off * n_sig, n_sig, 8)] for off in (104, 112, 120, 128)]
        spr = [int(v) for v in _fields(sig_head, 216 * n_sig, n_sig, 8)]
        data = np.fromfile(fh, dtype=np.uint8)
    record_bytes = 2 * sum(spr)
    n_rec = n_rec if n_rec >= 0 else len(data) // record_bytes
    if len(data) < n_rec * record_bytes:
        raise ValueError(f"EDF truncated: {len(data)} data bytes, the header's {n_rec} records need {n_rec * record_bytes}")
    blocks = data[: n_rec * record_bytes].reshape(n_rec, record_bytes)
    starts = np.cumsum([0, *[2 * s for s in spr]])
    leads = [i for i in range(n_sig) if i not in ann]
    if len({spr[i] for i in leads}) != 1:
        raise ValueError("EDF+ signals at different sampling rates are not supported")
    signal = np.empty((n_rec * spr[leads[0]], len(leads)))
    for k, i in enumerate(leads):
        d = blocks[:, starts[i]:starts[i + 1]].copy().view("<i2").reshape(-1).astype(np.float64)
        pmin, pmax, dmin, dmax = (num[f][i] for f in range(4))
        signal[:, k] = (d - dmin) * (pmax - pmin) / (dmax - dmin) + pmin
    units = _fields(sig_head, 96 * n_sig, n_sig, 8)
    return EdfPlus(signal, spr[leads[0]] / rec_s, [labels[i] for i in leads], [units[i] for i in leads],
                   _tals(blocks, starts, ann))


def _tals(blocks: np.ndarray, starts: np.ndarray, ann: list[int]) -> list[tuple[float, str]]:
    tals: list[tuple[float, str]] = []
    for i in ann:
        raw = blocks[:, starts[i]:starts[i + 1]].tobytes()
        for onset, _duration, texts in _TAL.findall(raw):
            tals += [(float(onset), t.decode("utf-8", "replace")) for t in texts.split(b"\x14") if t]
    return sorted(tals, key=lambda t: t[0])


def beat_annotations(tals: list[tuple[float, str]], fs: float, symbols) -> tuple[np.ndarray, np.ndarray]:
    """``(sample int64, symbol)`` of the TALs whose text is one of ``symbols`` (MIT-BIH beat symbols),
    onsets converted to samples at ``fs``."""
    kept = [(t, s) for t, s in tals if s in symbols]
    return (np.array([int(round(t * fs)) for t, _ in kept], np.int64),
            np.array([s for _, s in kept], dtype=object))
