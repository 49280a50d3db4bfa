"""A WFDB header (``.hea``) read strictly, before the wfdb library decodes anything.

The wfdb library parses headers with lenient regular expressions: a sampling rate it cannot read
(``-360``, ``nan``, ``abc``) silently becomes its default of 250 Hz, and a header that declares more
signals than it describes fails later with a ``TypeError``. Here every field the scoring path relies
on is checked and each problem raises :class:`~ecgdl.io.RecordError` with a message naming the field,
its value and what is expected. :func:`check_signal_files` then compares each signal file's size with
what the header's format, sample count and signal count imply.

Header grammar (PhysioNet ``header(5)``)::

    record[/segments] n_sig fs[/counter_freq[(base_counter)]] [sig_len [base_time [base_date]]]
    file fmt[xspf][:skew][+offset] [gain[(baseline)][/units] [adc_res [adc_zero [init [checksum [block [name]]]]]]]
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from ecgdl.errors import RecordError

#: WFDB storage formats we read, with bits per stored sample.
WFDB_FORMAT_BITS: dict[str, float] = {
    "8": 8, "16": 16, "24": 24, "32": 32, "61": 16, "80": 8, "160": 16, "212": 12, "310": 32 / 3, "311": 32 / 3,
}
#: Physical units we convert to millivolts (lower case; "" = not given, WFDB's default mV).
UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3, "nu": 1.0, "": 1.0}

_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_FS = re.compile(rf"^(?P<fs>{_NUMBER})(?:/{_NUMBER}(?:\(-?{_NUMBER}\))?)?$")
_FMT = re.compile(r"^(?P<fmt>\d+)(?:x(?P<spf>\d+))?(?::(?P<skew>\d+))?(?:\+(?P<offset>\d+))?$")
_GAIN = re.compile(rf"^(?P<gain>[-+]?{_NUMBER})(?:\((?P<baseline>[-+]?\d+)\))?(?:/(?P<units>\S*))?$")
_EXAMPLE = "e.g. '100 2 360 650000'"


@dataclass(frozen=True)
class SignalSpec:
    """One signal line. ``gain`` in ADC units per physical unit (None: not given); ``units`` as written."""

    file_name: str
    fmt: str
    samps_per_frame: int
    byte_offset: int
    gain: float | None
    units: str


@dataclass(frozen=True)
class HeaderSpec:
    """The record line and the signal lines of a single-segment header."""

    record_name: str
    n_sig: int
    fs: float
    sig_len: int | None
    signals: tuple[SignalSpec, ...]


def parse_header(hea: Path) -> HeaderSpec:
    """Parse ``hea`` strictly; raises RecordError naming the field that is missing or wrong.

    >>> parse_header(Path("../shared/data/mitdb/100.hea")).fs     # doctest: +SKIP
    360.0
    """
    try:
        text = hea.read_bytes().decode("latin-1")
    except OSError as exc:
        raise RecordError(hea, f"header cannot be read ({exc.strerror or exc})") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise RecordError(hea, f"header is empty (its first line must give the record name, the number of "
                               f"signals and the sampling rate, {_EXAMPLE})")
    name, n_sig, fs, sig_len = _record_line(hea, lines[0].split())
    body = lines[1:]
    if len(body) < n_sig:
        raise RecordError(hea, f"header declares {n_sig} signal(s) but describes {len(body)} "
                               f"(one line per signal must follow the first line)")
    signals = tuple(_signal_line(hea, i + 1, body[i].split()) for i in range(n_sig))
    return HeaderSpec(name, n_sig, fs, sig_len, signals)


def _record_line(hea: Path, tokens: list[str]) -> tuple[str, int, float, int | None]:
    if len(tokens) < 2:
        raise RecordError(hea, f"header's first line must give the record name and the number of signals ({_EXAMPLE})")
    if "/" in tokens[0]:
        raise RecordError(hea, "multi-segment records are not supported; convert it to a single-segment record")
    if not tokens[1].isdigit() or not tokens[1].isascii():
        raise RecordError(hea, f"number of signals {tokens[1][:20]!r} in the header's first line is not a whole number")
    n_sig = int(tokens[1])
    if n_sig == 0:
        raise RecordError(hea, "header declares no signals")
    if len(tokens) < 3:
        raise RecordError(hea, "header gives no sampling rate (the third field of its first line, "
                               f"{_EXAMPLE}); it is not guessed")
    m = _FS.match(tokens[2])
    fs = float(m["fs"]) if m else math.nan
    if not (m and math.isfinite(fs) and fs > 0):
        raise RecordError(hea, f"sampling rate {tokens[2][:20]!r} in the header's first line is not a positive "
                               f"number of Hz ({_EXAMPLE})")
    sig_len = None
    if len(tokens) > 3:
        if not tokens[3].isdigit() or not tokens[3].isascii():
            raise RecordError(hea, f"number of samples {tokens[3][:20]!r} in the header's first line is not a "
                                   "whole number")
        sig_len = int(tokens[3])
    return tokens[0], n_sig, fs, sig_len


def _signal_line(hea: Path, line_no: int, tokens: list[str]) -> SignalSpec:
    where = f"signal line {line_no}"
    if len(tokens) < 2:
        raise RecordError(hea, f"{where} must give at least the signal file and its format (e.g. '100.dat 212')")
    m = _FMT.match(tokens[1])
    if not m:
        raise RecordError(hea, f"{where}: format {tokens[1][:20]!r} does not parse (e.g. '212' or '16+24')")
    if m["fmt"] not in WFDB_FORMAT_BITS:
        raise RecordError(hea, f"{where}: unsupported WFDB signal format {m['fmt']} "
                               f"(supported: {', '.join(WFDB_FORMAT_BITS)})")
    gain, units = None, ""
    if len(tokens) > 2:
        g = _GAIN.match(tokens[2])
        if not g or not math.isfinite(float(g["gain"])):
            raise RecordError(hea, f"{where}: gain {tokens[2][:20]!r} does not parse (ADC units per mV, "
                                   "e.g. '200' or '200(1024)/mV')")
        gain, units = float(g["gain"]), g["units"] or ""
    spf = int(m["spf"] or 1)
    if spf < 1:
        raise RecordError(hea, f"{where}: samples per frame must be at least 1")
    return SignalSpec(tokens[0], m["fmt"], spf, int(m["offset"] or 0), gain, units)


def header_warnings(spec: HeaderSpec, leads: tuple[str, ...]) -> list[str]:
    """Loud notes about fields that are legal but make the amplitude uncertain."""
    out = []
    for sig, lead in zip(spec.signals, leads):
        if sig.gain == 0:
            out.append(f"lead {lead}: gain 0 (uncalibrated) in the header; WFDB assumes 200 ADC units per mV")
        if sig.units.lower() not in UNIT_TO_MV:
            out.append(f"lead {lead}: units {sig.units[:20]!r} are not a voltage; values read as mV")
    return out


def check_signal_files(base: Path, spec: HeaderSpec) -> list[str]:
    """Missing, truncated or wrongly formatted signal files, checked before decoding; returns warnings."""
    per_file: dict[str, list[SignalSpec]] = {}
    for sig in spec.signals:
        per_file.setdefault(sig.file_name, []).append(sig)
    warnings = []
    for fname, sigs in per_file.items():
        if len({s.fmt for s in sigs}) > 1:
            raise RecordError(base.with_name(base.name + ".hea"),
                              f"signals stored together in {fname} declare different formats")
        dat = base.with_name(fname)
        if not dat.is_file():
            raise RecordError(dat, "signal file not found (the header names it)")
        have = dat.stat().st_size - sigs[0].byte_offset
        frame = sum(s.samps_per_frame for s in sigs)
        bits = WFDB_FORMAT_BITS[sigs[0].fmt]
        if spec.sig_len is None:
            _check_whole_frames(dat, have, frame, bits, sigs[0].fmt, len(sigs))
            continue
        need = _bytes(spec.sig_len, frame, bits)
        what = f"the header's {spec.sig_len} samples x {len(sigs)} signal(s) in format {sigs[0].fmt}"
        if have < need:
            raise RecordError(dat, f"truncated: {max(have, 0)} bytes, but {what} need {need} bytes")
        if have > need:
            fits = [f for f, b in WFDB_FORMAT_BITS.items() if _bytes(spec.sig_len, frame, b) == have and b != bits]
            if fits:
                raise RecordError(dat, f"{have} bytes, but {what} need {need}: the size fits format "
                                       f"{' or '.join(fits)} exactly; the header's format is probably wrong")
            warnings.append(f"{dat.name}: {have - need} bytes beyond the {spec.sig_len} samples the header "
                            "declares (ignored)")
    return warnings


def _bytes(n_frames: int, frame: int, bits: float) -> int:
    return math.ceil(n_frames * frame * bits / 8)


def _check_whole_frames(dat: Path, have: int, frame: int, bits: float, fmt: str, n_sig: int) -> None:
    """Without a sample count in the header, the file must hold a whole number of frames."""
    n = int(have * 8 // (frame * bits)) if have > 0 else 0
    if n < 1 or all(_bytes(k, frame, bits) != have for k in (n, n + 1)):
        raise RecordError(dat, f"{have} bytes is not a whole number of frames of {n_sig} signal(s) in format {fmt}: "
                               "the header's format or number of signals does not match the file")
