"""Reading ECG records into one ``Record`` type, with input validation.

Every way a file can be wrong raises :class:`RecordError`, whose message names the file and the
problem. Supported inputs: WFDB (``.hea`` + signal files, ``.atr`` annotations optional), EDF,
and CSV with the sampling rate given. Signals come out in millivolts, resampled to ``target_fs``
(the models' 360 Hz) unless ``target_fs=None``.

Lead selection is by name: :data:`PRIMARY_LEADS` lists the names accepted as the primary lead in
order of preference (MLII first). A record with none of them uses its first channel as primary
and says so in ``Record.notes`` (MIT-BIH 102 and 104 have V5/V2 only).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecgdl.signal import resample

#: Sampling rates we accept (Hz). Below 100 Hz the QRS complex is not resolved.
MIN_FS, MAX_FS = 100.0, 2000.0
#: The models' sampling rate.
MODEL_FS = 360.0
#: Primary-lead names in order of preference.
PRIMARY_LEADS: tuple[str, ...] = ("MLII", "II", "ML2", "LEAD II", "ECG", "ECG1")
#: WFDB storage formats we read, with bits per stored sample.
WFDB_FORMAT_BITS: dict[str, float] = {
    "8": 8, "16": 16, "24": 24, "32": 32, "61": 16, "80": 8, "160": 16, "212": 12, "310": 32 / 3, "311": 32 / 3,
}
_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3, "nu": 1.0, "": 1.0}


class RecordError(ValueError):
    """A record that cannot be used; ``str()`` names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class Annotations:
    """Reference annotations: ``sample`` (int64, at ``Record.fs``) and ``symbol`` (str)."""

    sample: np.ndarray
    symbol: np.ndarray

    def __len__(self) -> int:
        return len(self.sample)


@dataclass(frozen=True)
class Record:
    """One ECG recording.

    signal: ``(n_samples, n_leads)`` float32 in mV at ``fs``.
    source_fs: the file's own sampling rate (``sample * source_fs / fs`` maps back).
    gaps: ``[start, stop)`` sample ranges (at ``fs``) that were NaN in the file and were filled.
    """

    name: str
    signal: np.ndarray
    fs: float
    leads: tuple[str, ...]
    source_fs: float
    annotations: Annotations | None = None
    gaps: tuple[tuple[int, int], ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def duration_s(self) -> float:
        return self.signal.shape[0] / self.fs

    def lead_index(self, name: str) -> int:
        """Index of the lead called ``name`` (case-insensitive); KeyError when absent."""
        names = [n.upper() for n in self.leads]
        if name.upper() not in names:
            raise KeyError(f"{self.name}: no lead {name!r} (leads: {', '.join(self.leads)})")
        return names.index(name.upper())

    def primary_lead(self) -> int:
        """Index of the primary lead: the first of :data:`PRIMARY_LEADS` present, else channel 0."""
        upper = [n.upper() for n in self.leads]
        for name in PRIMARY_LEADS:
            if name in upper:
                return upper.index(name)
        return 0

    def lead_pair(self) -> tuple[int, int]:
        """(primary, secondary) lead indices; a one-lead record returns the primary twice."""
        primary = self.primary_lead()
        others = [i for i in range(len(self.leads)) if i != primary]
        return primary, (others[0] if others else primary)

    def to_source_samples(self, samples: np.ndarray) -> np.ndarray:
        """Map sample indices at ``fs`` back to the file's own sampling rate."""
        return np.round(np.asarray(samples) * (self.source_fs / self.fs)).astype(np.int64)


def read_record(path: str | os.PathLike, *, target_fs: float | None = MODEL_FS, annotator: str | None = "atr",
                on_gaps: str = "raise", max_gap_fraction: float = 0.5) -> Record:
    """Read a record by path (``.hea``, ``.edf``, ``.csv`` or a WFDB record path without extension).

    on_gaps: ``"raise"`` rejects any NaN sample; ``"fill"`` interpolates NaN stretches, reports them in
    ``Record.gaps`` and rejects a record whose primary lead is more than ``max_gap_fraction`` NaN.
    CSV needs a sampling rate: use :func:`read_csv`.

    >>> rec = read_record("../shared/data/mitdb/100")      # doctest: +SKIP
    >>> rec.signal.shape, rec.fs, rec.leads                 # doctest: +SKIP
    ((650000, 2), 360.0, ('MLII', 'V5'))
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".edf":
        name, signal, fs, leads, ann = _read_edf(path)
    elif suffix == ".csv":
        raise RecordError(path, "a CSV file has no sampling rate: use read_csv(path, fs=...)")
    else:
        base = path.with_suffix("") if suffix in (".hea", ".dat", ".atr") else path
        name, signal, fs, leads, ann = _read_wfdb(base, annotator)
    return finish_record(path, name, signal, fs, leads, ann, target_fs=target_fs, on_gaps=on_gaps,
                         max_gap_fraction=max_gap_fraction)


def read_csv(path: str | os.PathLike, fs: float, *, target_fs: float | None = MODEL_FS, on_gaps: str = "raise",
             units: str = "mV") -> Record:
    """Read a CSV export: one column per lead (a header row with lead names is optional; a column
    named ``time``/``sample``/``t`` is dropped), values in ``units`` (mV, uV or V), sampled at ``fs`` Hz."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig") as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(path, f"cannot read CSV: {exc}") from None
    delim = ";" if first.count(";") > first.count(",") else ","
    cells = [c.strip().strip('"') for c in first.strip().split(delim)]
    has_header = any(_not_number(c) for c in cells)
    names = cells if has_header else [f"lead{i + 1}" for i in range(len(cells))]
    try:
        data = np.loadtxt(path, delimiter=delim, skiprows=1 if has_header else 0, dtype=np.float64, ndmin=2,
                          encoding="utf-8-sig")
    except ValueError as exc:
        raise RecordError(path, f"CSV does not parse as numbers: {exc}") from None
    keep = [i for i, n in enumerate(names) if n.lower() not in ("time", "sample", "t", "index", "time_s")]
    if data.shape[1] != len(names) or not keep:
        raise RecordError(path, f"CSV has {data.shape[1]} columns but the header names {len(names)}")
    scale = _UNIT_TO_MV.get(units.lower())
    if scale is None:
        raise RecordError(path, f"unknown units {units!r}; use mV, uV or V")
    signal = data[:, keep] * scale
    return finish_record(path, path.stem, signal, float(fs), tuple(names[i] for i in keep), None,
                         target_fs=target_fs, on_gaps=on_gaps)


def finish_record(path: Path, name: str, signal: np.ndarray, fs: float, leads: tuple[str, ...],
                  ann: Annotations | None, *, target_fs: float | None, on_gaps: str,
                  max_gap_fraction: float = 0.5) -> Record:
    """Validate a decoded signal (rate, NaN, flat line) and resample it; shared by every reader."""
    if not (isinstance(fs, (int, float)) and math.isfinite(fs)) or not MIN_FS <= fs <= MAX_FS:
        raise RecordError(path, f"sampling rate {fs:g} Hz is not supported (supported: {MIN_FS:g}-{MAX_FS:g} Hz)")
    if signal.ndim != 2 or signal.shape[0] < 2 * fs:
        raise RecordError(path, f"signal too short: {signal.shape[0]} samples at {fs:g} Hz (need >= 2 s)")
    signal, gaps = _check_values(path, np.array(signal, dtype=np.float32, copy=None), leads, on_gaps,
                                  max_gap_fraction)
    notes: list[str] = []
    source_fs = float(fs)
    out_fs = float(fs)
    if target_fs is not None and abs(fs - target_fs) > 1e-6:
        signal = resample(signal, fs, target_fs)
        factor = target_fs / fs
        gaps = [(int(a * factor), int(math.ceil(b * factor))) for a, b in gaps]
        if ann is not None:
            ann = Annotations(np.round(ann.sample * factor).astype(np.int64), ann.symbol)
        notes.append(f"resampled from {fs:g} Hz to {target_fs:g} Hz")
        out_fs = float(target_fs)
    rec = Record(name=name, signal=np.ascontiguousarray(signal, dtype=np.float32), fs=out_fs, leads=tuple(leads),
                 source_fs=source_fs, annotations=ann, gaps=tuple(gaps))
    if rec.leads[rec.primary_lead()].upper() not in PRIMARY_LEADS:
        notes.append(f"no MLII lead: using {rec.leads[0]!r} as the primary lead")
    return Record(**{**rec.__dict__, "notes": tuple(notes)})


def _check_values(path, signal, leads, on_gaps, max_gap_fraction):
    # Column-wise 1-D reductions: numpy's axis-0 reductions over an (n, 2) array are ~50x slower.
    cols = [signal[:, j] for j in range(signal.shape[1])]
    gaps: list[tuple[int, int]] = []
    if not np.isfinite(signal.sum()):
        nan = np.isnan(signal)
        frac = np.array([np.count_nonzero(nan[:, j]) / len(signal) for j in range(signal.shape[1])])
        worst = int(np.argmax(frac))
        if on_gaps == "raise":
            raise RecordError(path, f"lead {leads[worst]} contains NaN (missing) samples: "
                                    f"{np.count_nonzero(nan[:, worst])} of {len(signal)} ({100 * frac[worst]:.2f}%)")
        if frac.max() > max_gap_fraction:
            raise RecordError(path, f"lead {leads[worst]} is {100 * frac[worst]:.0f}% NaN (missing) samples")
        any_nan = nan.any(axis=1)
        edges = np.flatnonzero(np.diff(np.r_[0, any_nan.astype(np.int8), 0]))
        gaps = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]
        idx = np.arange(len(signal))
        for j, col in enumerate(cols):
            good = ~nan[:, j]
            signal[:, j] = np.interp(idx, idx[good], col[good]) if good.any() else 0.0
    ptp = np.array([float(c.max()) - float(c.min()) for c in cols])
    if np.all(ptp < 0.01):
        raise RecordError(path, f"flat line: every lead varies by less than 0.01 mV (peak-to-peak {ptp.max():.4g} mV)")
    return signal, gaps


def _not_number(text: str) -> bool:
    try:
        float(text)
        return False
    except ValueError:
        return True


def _read_wfdb(base: Path, annotator: str | None):
    """Header, signal and annotations of a WFDB record: format 212/16 records through the lean reader
    (:mod:`ecgdl.wfdb_reader`, no ``wfdb`` import), every other record through ``wfdb``."""
    from ecgdl.wfdb_reader import read_header, read_signal

    hea = base.with_name(base.name + ".hea")
    if not hea.is_file():
        raise RecordError(hea, "header file not found")
    try:
        header = read_header(hea)
    except (ValueError, IndexError, UnicodeDecodeError):
        header = None  # wfdb's parser reports it (or reads what ours does not)
    if header is not None and header.lean:
        _check_signal_files(base, header)
        try:
            signal = read_signal(base, header)
        except (OSError, ValueError) as exc:
            raise RecordError(hea, f"signal could not be decoded: {exc}") from None
        units, names = header.units, header.sig_name
    else:
        header, signal, units, names = _read_wfdb_signal(base, hea)
    if signal.shape[0] == 0:
        raise RecordError(hea, "no samples")
    scale = np.array([_UNIT_TO_MV.get((u or "").strip().lower(), 1.0) for u in units], dtype=np.float32)
    signal = signal if np.all(scale == 1.0) else signal * scale
    leads = tuple(n or f"lead{i + 1}" for i, n in enumerate(names))
    ann = _read_annotations(base, annotator) if annotator else None
    return base.name, signal, float(header.fs), leads, ann


def _read_wfdb_signal(base: Path, hea: Path):
    """``(header, p_signal, units, names)`` through ``wfdb`` (formats the lean reader does not decode)."""
    import wfdb

    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises many types for a malformed header
        raise RecordError(hea, f"header does not parse: {exc}") from None
    if not header.n_sig:
        raise RecordError(hea, "header declares no signals")
    _check_signal_files(base, header)
    try:
        rec = wfdb.rdrecord(str(base), physical=True, return_res=32)
    except Exception as exc:
        raise RecordError(hea, f"signal could not be decoded: {exc}") from None
    if rec.p_signal is None:
        raise RecordError(hea, "no samples")
    return header, rec.p_signal, rec.units, rec.sig_name


def _read_annotations(base: Path, annotator: str) -> Annotations | None:
    """The record's ``<base>.<annotator>`` file (lean reader, else ``wfdb.rdann``), or None when absent."""
    from ecgdl.wfdb_reader import read_annotations

    path = base.with_name(f"{base.name}.{annotator}")
    if not path.is_file():
        return None
    try:
        lean = read_annotations(path)
        if lean is None:
            import wfdb

            a = wfdb.rdann(str(base), annotator)
            lean = (a.sample, a.symbol, a.aux_note)
    except Exception as exc:
        raise RecordError(path, f"annotations do not parse: {exc}") from None
    return Annotations(np.asarray(lean[0], dtype=np.int64), np.asarray(lean[1], dtype=object))


def _check_signal_files(base: Path, header) -> None:
    """Missing, unsupported-format or truncated signal files, checked before decoding."""
    per_file: dict[str, list[int]] = {}
    for i, fname in enumerate(header.file_name):
        fmt = str(header.fmt[i])
        if fmt not in WFDB_FORMAT_BITS:
            raise RecordError(base.with_name(base.name + ".hea"),
                              f"unsupported WFDB signal format {fmt} (supported: {', '.join(WFDB_FORMAT_BITS)})")
        per_file.setdefault(fname, []).append(i)
    for fname, chans in per_file.items():
        dat = base.with_name(fname)
        if not dat.is_file():
            raise RecordError(dat, "signal file not found (the header names it)")
        if not header.sig_len:
            continue
        spf = [int((header.samps_per_frame or [1] * header.n_sig)[i] or 1) for i in chans]
        bits = WFDB_FORMAT_BITS[str(header.fmt[chans[0]])]
        offset = int((header.byte_offset or [0] * header.n_sig)[chans[0]] or 0)
        need = offset + math.ceil(header.sig_len * sum(spf) * bits / 8)
        have = dat.stat().st_size
        if have < need:
            raise RecordError(dat, f"truncated: {have} bytes, but the header's {header.sig_len} samples x "
                                   f"{len(chans)} signal(s) in format {header.fmt[chans[0]]} need {need} bytes")


def _read_edf(path: Path):
    if not path.is_file():
        raise RecordError(path, "file not found")
    try:
        from wfdb.io.convert.edf import read_edf

        rec = read_edf(str(path))
    except Exception as exc:
        raise RecordError(path, f"EDF does not parse: {exc}") from None
    fs = float(rec.fs)
    scale = np.array([_UNIT_TO_MV.get((u or "").strip().lower(), 1.0) for u in rec.units])
    return path.stem, rec.p_signal * scale, fs, tuple(rec.sig_name), None
