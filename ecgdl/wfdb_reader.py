"""A lean reader for the common WFDB records: header, format 212/16 signals, MIT annotation files.

Importing ``wfdb`` pulls in pandas (~0.5 s of start-up); most records in the field (all of MIT-BIH,
NSTDB, most PhysioNet ECG databases) are single-segment records in format 212 or 16 with one sample
per frame, which plain numpy decodes. This module reads exactly those, equal sample for sample to
``wfdb.rdrecord(physical=True, return_res=32)`` and ``wfdb.rdann`` (tested on all 48 MIT-BIH
records); anything else (multi-segment, other formats, skew, several samples per frame, custom
annotation labels) returns ``None`` so that :mod:`ecgdl.io` falls back to ``wfdb`` itself.

>>> hdr = read_header(Path("../shared/data/mitdb/100.hea"))      # doctest: +SKIP
>>> hdr.fs, hdr.sig_name, hdr.base_time                           # doctest: +SKIP
(360.0, ['MLII', 'V5'], None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

#: Formats decoded here (bits per sample); others go through wfdb.
LEAN_FORMATS = {"212": 12, "16": 16}
#: The digital value that stands for a missing sample, per format (WFDB's convention).
_DIGITAL_NAN = {"212": -2048, "16": -32768}
_DEFAULT_FS = 250.0
_CHUNK = 1 << 18  # frames decoded at a time (even; bounded temporaries that stay in cache)

_FMT = re.compile(r"^(?P<fmt>\d+)(?:x(?P<spf>\d+))?(?::(?P<skew>\d+))?(?:\+(?P<offset>\d+))?$")
_GAIN = re.compile(r"^(?P<gain>[-+\d.eE]+)(?:\((?P<baseline>-?\d+)\))?(?:/(?P<units>\S+))?$")


@dataclass(frozen=True)
class Header:
    """The fields of a WFDB header used by ecgdl, named as ``wfdb.Record`` names them."""

    record_name: str
    n_sig: int
    fs: float
    sig_len: int | None
    base_time: str | None
    base_date: str | None
    file_name: list[str]
    fmt: list[str]
    samps_per_frame: list[int]
    skew: list[int]
    byte_offset: list[int]
    adc_gain: list[float]
    baseline: list[int]
    units: list[str]
    sig_name: list[str | None]
    multi_segment: bool = False

    @property
    def lean(self) -> bool:
        """True when :func:`read_signal` can decode this record (else use wfdb)."""
        return (not self.multi_segment and self.n_sig > 0 and all(f in LEAN_FORMATS for f in self.fmt)
                and all(s == 1 for s in self.samps_per_frame) and not any(self.skew)
                and all(g != 0 for g in self.adc_gain))


def read_header(hea: Path) -> Header:
    """Parse a ``.hea`` file; ``ValueError`` naming the line when it does not parse."""
    lines = [ln.split("#", 1)[0].strip() for ln in hea.read_text(encoding="latin-1").splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        raise ValueError("empty header")
    rec = lines[0].split()
    if len(rec) < 2:
        raise ValueError(f"record line {lines[0]!r} needs a name and a signal count")
    name, n_sig = rec[0], int(rec[1])
    fs = float(rec[2].split("/")[0].split("(")[0]) if len(rec) > 2 else _DEFAULT_FS
    sig_len = int(rec[3]) if len(rec) > 3 else None
    multi = "/" in name
    cols: dict[str, list] = {k: [] for k in ("file_name", "fmt", "samps_per_frame", "skew", "byte_offset",
                                             "adc_gain", "baseline", "units", "sig_name")}
    for line in lines[1:1 + (0 if multi else n_sig)]:
        _parse_signal_line(line, cols)
    if not multi and len(cols["fmt"]) != n_sig:
        raise ValueError(f"header declares {n_sig} signals but describes {len(cols['fmt'])}")
    return Header(record_name=name, n_sig=n_sig, fs=fs, sig_len=sig_len,
                  base_time=rec[4] if len(rec) > 4 else None, base_date=rec[5] if len(rec) > 5 else None,
                  multi_segment=multi, **cols)


def _parse_signal_line(line: str, cols: dict[str, list]) -> None:
    parts = line.split(None, 8)
    if len(parts) < 2:
        raise ValueError(f"signal line {line!r} needs a file name and a format")
    m = _FMT.match(parts[1])
    if not m:
        raise ValueError(f"signal line {line!r}: format {parts[1]!r} does not parse")
    gain, baseline, units = 200.0, None, "mV"
    if len(parts) > 2:
        g = _GAIN.match(parts[2])
        if not g:
            raise ValueError(f"signal line {line!r}: gain {parts[2]!r} does not parse")
        gain = float(g["gain"])
        baseline = int(g["baseline"]) if g["baseline"] is not None else None
        units = g["units"] or "mV"
    adc_zero = int(parts[4]) if len(parts) > 4 else 0
    cols["file_name"].append(parts[0])
    cols["fmt"].append(m["fmt"])
    cols["samps_per_frame"].append(int(m["spf"] or 1))
    cols["skew"].append(int(m["skew"] or 0))
    cols["byte_offset"].append(int(m["offset"] or 0))
    cols["adc_gain"].append(gain)
    cols["baseline"].append(adc_zero if baseline is None else baseline)
    cols["units"].append(units)
    cols["sig_name"].append(parts[8].strip() if len(parts) > 8 else None)


def read_signal(base: Path, hdr: Header) -> np.ndarray:
    """``(sig_len, n_sig)`` float32 physical signal (header units; missing samples NaN).

    Equal to ``wfdb.rdrecord(base, physical=True, return_res=32).p_signal``: ``(d - baseline) / gain``
    computed in float64 and stored as float32, WFDB's digital NaN value mapped to NaN.
    """
    if not hdr.lean:
        raise ValueError(f"{base}: not a record the lean reader decodes (use wfdb)")
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(hdr.file_name):
        groups.setdefault(f, []).append(i)
    n = hdr.sig_len if hdr.sig_len is not None else _frames_in_files(base, hdr, groups)
    out = np.empty((n, hdr.n_sig), np.float32)
    for fname, chans in groups.items():
        _read_file_into(base.with_name(fname), hdr, chans, n, out)
    return out


def _frames_in_files(base: Path, hdr: Header, groups: dict[str, list[int]]) -> int:
    """Frames in the shortest signal file (a header without a sample count)."""
    counts = []
    for fname, chans in groups.items():
        size = base.with_name(fname).stat().st_size - hdr.byte_offset[chans[0]]
        counts.append(int(size * 8 // LEAN_FORMATS[hdr.fmt[chans[0]]]) // len(chans))
    return min(counts)


def _read_file_into(path: Path, hdr: Header, chans: list[int], n_frames: int, out: np.ndarray) -> None:
    """Decode one signal file (its channels interleaved by frame) into ``out[:, chans]``, a chunk of
    frames at a time: the digital samples of the whole record are never held at once."""
    fmt, n_chan = hdr.fmt[chans[0]], len(chans)
    keys = {(float(hdr.adc_gain[ch]), int(hdr.baseline[ch]), _DIGITAL_NAN[fmt]) for ch in chans}
    same = next(iter(keys)) if len(keys) == 1 else None
    with open(path, "rb") as fh:
        fh.seek(hdr.byte_offset[chans[0]])
        for a in range(0, n_frames, _CHUNK):  # _CHUNK is even: every chunk starts on a 212 byte triple
            f = min(_CHUNK, n_frames - a)
            digital = _read_samples(fh, fmt, f * n_chan, path).reshape(f, n_chan)
            if same and chans == list(range(chans[0], chans[0] + n_chan)):    # one table, adjacent columns
                out[a:a + f, chans[0]:chans[0] + n_chan] = _physical_table(*same)[digital.view(np.uint16)]
                continue
            for k, ch in enumerate(chans):
                _to_physical(digital[:, k], hdr.adc_gain[ch], hdr.baseline[ch], _DIGITAL_NAN[fmt], out[a:a + f, ch])


def _read_samples(fh, fmt: str, count: int, path: Path) -> np.ndarray:
    """The next ``count`` digital samples of an open signal file, int16."""
    if fmt == "16":
        data = np.fromfile(fh, dtype="<i2", count=count)
    else:
        data = _unpack_212(np.fromfile(fh, dtype=np.uint8, count=(3 * count + 1) // 2), count)
    if data.size < count:
        raise ValueError(f"{path}: the file ends before the header's sample count")
    return data


def _unpack_212(raw: np.ndarray, n: int) -> np.ndarray:
    """Format 212: two 12-bit two's-complement samples in three bytes (the middle byte holds both high
    nibbles). Each sample is assembled in the top 12 bits of a 16-bit word, then shifted down with sign."""
    if raw.size % 3:
        raw = np.concatenate([raw, np.zeros(3 - raw.size % 3, np.uint8)])
    tri = raw.reshape(-1, 3)
    mid = tri[:, 1].astype(np.uint16)
    u = np.empty((tri.shape[0], 2), np.uint16)
    u[:, 0] = tri[:, 0]
    u[:, 0] <<= 4
    u[:, 0] |= (mid & 0x0F) << 12
    u[:, 1] = tri[:, 2]
    u[:, 1] <<= 4
    u[:, 1] |= (mid & 0xF0) << 8
    return (u.view(np.int16) >> 4).reshape(-1)[:n]


def _to_physical(d: np.ndarray, gain: float, baseline: int, digital_nan: int, out: np.ndarray) -> None:
    """``out[:] = float32((d - baseline) / gain)`` as wfdb computes it (float64, then float32), NaN where
    ``d == digital_nan``: a look-up in the table of all 65,536 int16 values, each computed that way."""
    out[:] = _physical_table(float(gain), int(baseline), int(digital_nan))[d.view(np.uint16)]


@lru_cache(maxsize=32)
def _physical_table(gain: float, baseline: int, digital_nan: int) -> np.ndarray:
    """``(65536,)`` float32: the physical value of each int16 digital value, indexed by its uint16 bits."""
    d = np.arange(65536, dtype=np.uint16).view(np.int16)
    table = ((d.astype(np.float64) - baseline) / gain).astype(np.float32)
    table[d == digital_nan] = np.nan
    return table


# ----------------------------------------------------------------------------- annotations

#: MIT annotation codes (``label_store``) and their symbols: WFDB's standard table, as ``wfdb.rdann`` maps them.
ANN_SYMBOLS: dict[int, str] = {
    0: " ", 1: "N", 2: "L", 3: "R", 4: "a", 5: "V", 6: "F", 7: "J", 8: "A", 9: "S", 10: "E", 11: "j", 12: "/",
    13: "Q", 14: "~", 16: "|", 18: "s", 19: "T", 20: "*", 21: "D", 22: '"', 23: "=", 24: "p", 25: "B", 26: "^",
    27: "t", 28: "+", 29: "u", 30: "?", 31: "!", 32: "[", 33: "]", 34: "e", 35: "n", 36: "@", 37: "x", 38: "f",
    39: "(", 40: ")", 41: "r",
}
_SKIP, _NUM, _SUB, _CHN, _AUX, _NOTE = 59, 60, 61, 62, 63, 22


def read_annotations(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """``(sample int64, symbol object array, aux_note list)`` of an MIT-format annotation file, as
    ``wfdb.rdann`` returns them; ``None`` when the file defines custom labels or uses codes outside
    :data:`ANN_SYMBOLS` (use wfdb then). ``ValueError`` when the file is cut short."""
    words = path.read_bytes()
    if len(words) % 2:
        words += b"\0"
    pairs = np.frombuffer(words, np.uint8).reshape(-1, 2)
    lo, code = pairs[:, 0].astype(np.int64).tolist(), (pairs[:, 1] >> 2).tolist()
    hi2 = (pairs[:, 1] & 3).astype(np.int64).tolist()
    samples, codes, aux = [], [], []
    t, i, n = 0, 0, len(code) - 1
    while i < n:
        while code[i] == _SKIP:
            skip = (lo[i + 1] << 16) + (int(pairs[i + 1, 1]) << 24) + lo[i + 2] + (int(pairs[i + 2, 1]) << 8)
            t += skip - (1 << 32) if skip > 0x7FFFFFFF else skip
            i += 3
        t += lo[i] + 256 * hi2[i]
        samples.append(t)
        codes.append(code[i])
        i += 1
        note = ""
        while i < len(code) and code[i] > _SKIP:
            if code[i] == _AUX:
                length = lo[i]
                note = bytes(pairs[i + 1:i + 1 + (length + 1) // 2].reshape(-1)[:length]).decode("latin-1")
                i += 1 + (length + 1) // 2
            else:  # NUM, SUB, CHN: one pair each, not used by ecgdl
                i += 1
        aux.append(note)
    if any(s == 0 and c == _NOTE for s, c in zip(samples, codes)) or any(c not in ANN_SYMBOLS for c in codes):
        return None
    keep = [k for k, c in enumerate(codes) if c != 0]
    return (np.array([samples[k] for k in keep], np.int64),
            np.array([ANN_SYMBOLS[codes[k]] for k in keep], dtype=object), [aux[k] for k in keep])
