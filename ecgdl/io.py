"""Reading ECG records into one ``Record`` type, with input validation.

Every way a file can be wrong raises :class:`RecordError`, whose message names the file and the
problem. Supported inputs: WFDB (``.hea`` + signal files, ``.atr`` annotations optional), EDF,
and CSV with the sampling rate given. Signals come out in millivolts, resampled to ``target_fs``
(the models' 360 Hz) unless ``target_fs=None``.

Lead selection is by name: :data:`PRIMARY_LEADS` lists the names that identify MLII, in order of
preference. A record with none of them uses its first channel as primary and says so in
``Record.notes`` (MIT-BIH 102 and 104 have V5/V2 only) until scoring decides from the names and the
signal (:mod:`ecgdl.leads`, stored in ``Record.lead_order`` / ``Record.lead_invert``).
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ecgdl.errors import RecordError
from ecgdl.metrics import percent
from ecgdl.signal import resample
from ecgdl.wfdb_header import UNIT_TO_MV as _UNIT_TO_MV
from ecgdl.wfdb_header import WFDB_FORMAT_BITS  # noqa: F401 (re-exported)

#: Sampling rates we accept (Hz). Below 100 Hz the QRS complex is not resolved.
MIN_FS, MAX_FS = 100.0, 2000.0
#: The models' sampling rate.
MODEL_FS = 360.0
#: Names that identify MLII (a limb lead II), in order of preference. ``ECG``/``ECG1`` say nothing of the
#: placement: :mod:`ecgdl.leads` decides those from the signal.
PRIMARY_LEADS: tuple[str, ...] = ("MLII", "II", "ML2", "LEAD II")


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
    notes: how the record was read (resampled, lead chosen). warnings: what makes its result less
    trustworthy (odd amplitude, annotations ignored, extra bytes): shown loudly wherever it is reported.
    lead_order: (primary, secondary) channel indices decided by :func:`ecgdl.leads.choose_leads`, None
    before (then by name); lead_invert: whether each of that pair is read upside down.
    """

    name: str
    signal: np.ndarray
    fs: float
    leads: tuple[str, ...]
    source_fs: float
    annotations: Annotations | None = None
    gaps: tuple[tuple[int, int], ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    warnings: tuple[str, ...] = field(default_factory=tuple)
    start_clock_s: float | None = None  # clock time of the first sample, s after midnight (header base time)
    lead_order: tuple[int, int] | None = None
    lead_invert: tuple[bool, bool] = (False, False)

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
        """Index of the primary lead: the decided one (``lead_order``), else the first of :data:`PRIMARY_LEADS`
        present, else channel 0."""
        if self.lead_order is not None:
            return self.lead_order[0]
        upper = [n.upper() for n in self.leads]
        for name in PRIMARY_LEADS:
            if name in upper:
                return upper.index(name)
        return 0

    def lead_pair(self) -> tuple[int, int]:
        """(primary, secondary) lead indices; a one-lead record returns the primary twice."""
        if self.lead_order is not None:
            return self.lead_order
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
    CSV needs a sampling rate: use :func:`read_csv`. Library warnings raised while reading become
    ``Record.warnings`` (they never reach a log: file names are patient data).

    >>> rec = read_record("../shared/data/mitdb/100")      # doctest: +SKIP
    >>> rec.signal.shape, rec.fs, rec.leads                 # doctest: +SKIP
    ((650000, 2), 360.0, ('MLII', 'V5'))
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raise RecordError(path, "a CSV file has no sampling rate: use read_csv(path, fs=...)")
    with _captured(path) as caught:
        if suffix == ".edf":
            name, signal, fs, leads, ann, found = _read_edf(path)
        else:
            base = path.with_suffix("") if suffix in (".hea", ".dat", ".atr") else path
            name, signal, fs, leads, ann, found = _read_wfdb(base, annotator)
    rec = finish_record(path, name, signal, fs, leads, ann, target_fs=target_fs, on_gaps=on_gaps,
                        max_gap_fraction=max_gap_fraction, warnings=[*found, *caught])
    clock = _start_clock_s(path, suffix)
    return rec if clock is None else Record(**{**rec.__dict__, "start_clock_s": clock})


def _start_clock_s(path: Path, suffix: str) -> float | None:
    """The header's base time (WFDB ``.hea`` or EDF start time) as seconds after midnight; None when absent."""
    try:
        if suffix == ".edf":
            from wfdb.io.convert.edf import read_edf

            base = read_edf(str(path), header_only=True)["base_time"]
            return base.hour * 3600.0 + base.minute * 60.0 + base.second
        from ecgdl.wfdb_reader import read_header

        stem = path.with_suffix("") if suffix in (".hea", ".dat", ".atr") else path
        text = read_header(stem.with_name(stem.name + ".hea")).base_time
        if not text:
            return None
        parts = [float(p) for p in text.split(":")]          # [HH:]MM:SS[.sss]
        return sum(v * 60.0 ** k for k, v in enumerate(reversed(parts))) % 86_400
    except Exception:  # the signal was read already; a missing clock only means times start at 00:00:00
        return None


def read_csv(path: str | os.PathLike, fs: float, *, target_fs: float | None = MODEL_FS, on_gaps: str = "raise",
             units: str = "mV") -> Record:
    """Read a CSV export: one column per lead (a header row with lead names is optional; a column
    named ``time``/``sample``/``t`` is dropped), values in ``units`` (mV, uV or V), sampled at ``fs`` Hz."""
    path = Path(path)
    scale = _UNIT_TO_MV.get(str(units).lower())
    if scale is None or str(units).lower() == "nu":
        raise RecordError(path, f"unknown units {units!r}; use mV, uV or V")
    try:
        with open(path, encoding="utf-8-sig") as fh:
            first = fh.readline()
    except (OSError, UnicodeError) as exc:
        raise RecordError(path, f"cannot read CSV ({type(exc).__name__}: the file is not UTF-8 text or not readable)") \
            from None
    delim = ";" if first.count(";") > first.count(",") else ","
    cells = [c.strip().strip('"') for c in first.strip().split(delim)]
    has_header = any(_not_number(c) for c in cells)
    names = cells if has_header else [f"lead{i + 1}" for i in range(len(cells))]
    data = _csv_numbers(path, delim, has_header)
    keep = [i for i, n in enumerate(names) if n.lower() not in ("time", "sample", "t", "index", "time_s")]
    if data.shape[1] != len(names) or not keep:
        raise RecordError(path, f"CSV has {data.shape[1]} columns but the header names {len(names)}")
    signal = data[:, keep] * scale
    return finish_record(path, path.stem, signal, float(fs), tuple(names[i] for i in keep), None,
                         target_fs=target_fs, on_gaps=on_gaps)


def _csv_numbers(path: Path, delim: str, has_header: bool) -> np.ndarray:
    """The CSV's numbers ``(n, columns)`` float64; RecordError when there are none or they do not parse."""
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")  # numpy's "input contained no data" names the file: never log it
        try:
            data = np.loadtxt(path, delimiter=delim, skiprows=1 if has_header else 0, dtype=np.float64, ndmin=2,
                              encoding="utf-8-sig")
        except (ValueError, UnicodeError) as exc:
            raise RecordError(path, f"CSV does not parse as numbers: {_first_line(exc)}") from None
    if data.size == 0:
        raise RecordError(path, "CSV has no data rows (only a header, or empty)")
    return data


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


_LIBRARY_UPKEEP = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ImportWarning)


@contextlib.contextmanager
def _captured(path: Path):
    """Collect library warnings raised while reading ``path`` as texts (the file's folder left out)."""
    texts: list[str] = []
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        yield texts
    folder = str(path.parent) + os.sep
    for w in caught:
        if issubclass(w.category, _LIBRARY_UPKEEP):
            continue  # a library's note about itself (deprecations), not about this record
        texts.append(f"reader: {str(w.message).replace(folder, '')[:200]}")
    texts[:] = list(dict.fromkeys(texts))


def finish_record(path: Path, name: str, signal: np.ndarray, fs: float, leads: tuple[str, ...],
                  ann: Annotations | None, *, target_fs: float | None, on_gaps: str,
                  max_gap_fraction: float = 0.5, warnings: list[str] | None = None) -> Record:
    """Validate a decoded signal (rate, finite values, flat line, amplitude) and resample it; shared by every
    reader. ``warnings``: the reader's own, kept in ``Record.warnings`` with the amplitude checks' ones."""
    if not (isinstance(fs, (int, float)) and math.isfinite(fs)) or not MIN_FS <= fs <= MAX_FS:
        raise RecordError(path, f"sampling rate {fs:g} Hz is not supported (supported: {MIN_FS:g}-{MAX_FS:g} Hz)")
    if signal.ndim != 2 or signal.shape[0] < 2 * fs or signal.shape[1] < 1:
        raise RecordError(path, f"signal too short: {signal.shape[0]} samples at {fs:g} Hz (need >= 2 s)")
    if len(leads) != signal.shape[1]:
        raise RecordError(path, f"{signal.shape[1]} signal columns but {len(leads)} lead names")
    signal, gaps = _check_values(path, _as_float32(path, signal), leads, on_gaps, max_gap_fraction)
    found = list(warnings or []) + _amplitude_warnings(path, signal, fs, tuple(leads))
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
        notes.append(f"no MLII lead named (leads: {', '.join(rec.leads)})")
    return Record(**{**rec.__dict__, "notes": tuple(notes), "warnings": tuple(dict.fromkeys(found))})


def _as_float32(path: Path, signal: np.ndarray) -> np.ndarray:
    """float32 copy (or view) of the signal; values beyond float32's range are refused, not made infinite."""
    signal = np.asarray(signal)
    if signal.dtype != np.float32:
        with np.errstate(invalid="ignore"):
            big = np.abs(signal) > np.finfo(np.float32).max
        if np.any(big & np.isfinite(signal)):
            raise RecordError(path, "values beyond 3.4e38: not an ECG in mV (wrong format or units?)")
    with np.errstate(over="ignore", invalid="ignore"):
        return np.array(signal, dtype=np.float32, copy=None)


def _amplitude_warnings(path: Path, signal: np.ndarray, fs: float, leads: tuple[str, ...]) -> list[str]:
    """Amplitude plausibility of the leads the models read: an error raises RecordError, warnings are returned."""
    from ecgdl.plausibility import amplitude_findings

    probe = Record(name="", signal=signal[:0], fs=fs, leads=leads, source_fs=fs)
    findings = amplitude_findings(signal, fs, leads, probe.lead_pair())
    for f in findings:
        if f.level == "error":
            raise RecordError(path, f.text)
    return [f.text for f in findings]


def _check_values(path, signal, leads, on_gaps, max_gap_fraction):
    # Column-wise 1-D reductions: numpy's axis-0 reductions over an (n, 2) array are ~50x slower.
    cols = [signal[:, j] for j in range(signal.shape[1])]
    gaps: list[tuple[int, int]] = []
    with np.errstate(all="ignore"):  # inf - inf in the sum is what we are looking for, not a warning
        finite = bool(np.isfinite(signal.sum()))
    if not finite:
        _refuse_infinite(path, signal, leads)
        nan = np.isnan(signal)
        frac = np.array([np.count_nonzero(nan[:, j]) / len(signal) for j in range(signal.shape[1])])
        worst = int(np.argmax(frac))
        if on_gaps == "raise":
            raise RecordError(path, f"lead {leads[worst]} contains NaN (missing) samples: "
                                    f"{np.count_nonzero(nan[:, worst])} of {len(signal)} ({percent(frac[worst], 2, '%')})")
        if frac.max() > max_gap_fraction:
            raise RecordError(path, f"lead {leads[worst]} is {percent(frac[worst], 0, '%')} NaN (missing) samples")
        any_nan = nan.any(axis=1)
        edges = np.flatnonzero(np.diff(np.r_[0, any_nan.astype(np.int8), 0]))
        gaps = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]
        idx = np.arange(len(signal))
        for j, col in enumerate(cols):
            good = ~nan[:, j]
            signal[:, j] = np.interp(idx, idx[good], col[good]) if good.any() else 0.0
    with np.errstate(all="ignore"):
        ptp = np.array([float(c.max()) - float(c.min()) for c in cols])
    if not np.all(np.isfinite(ptp)):
        raise RecordError(path, "the signal's range overflows: values too large to be an ECG in mV")
    if np.all(ptp < 0.01):
        volts = " or the values are in volts (1,000 times too small for mV)" if ptp.max() >= 1e-5 else ""
        raise RecordError(path, f"flat line: every lead varies by less than 0.01 mV (peak-to-peak {ptp.max():.4g} mV)"
                                f"{volts}")
    return signal, gaps


def _refuse_infinite(path: Path, signal: np.ndarray, leads) -> None:
    """+-inf is never a missing sample to fill: the file is corrupt or was exported wrongly."""
    for j in range(signal.shape[1]):
        n_inf = int(np.count_nonzero(np.isinf(signal[:, j])))
        if n_inf:
            raise RecordError(path, f"lead {leads[j]} contains infinite values (+-inf): {n_inf} of {len(signal)} "
                                    "samples; the file is corrupt or was exported wrongly")


def _not_number(text: str) -> bool:
    try:
        float(text)
        return False
    except ValueError:
        return True


def _read_wfdb(base: Path, annotator: str | None):
    """Header, signal and annotations of a WFDB record. The header is first parsed strictly
    (:mod:`ecgdl.wfdb_header`); format 212/16 records are then decoded by the lean reader
    (:mod:`ecgdl.wfdb_reader`, no ``wfdb`` import), every other record through ``wfdb``."""
    from ecgdl.wfdb_header import check_signal_files, header_warnings, parse_header
    from ecgdl.wfdb_reader import read_header, read_signal

    hea = base.with_name(base.name + ".hea")
    if not hea.is_file():
        raise RecordError(hea, "header file not found")
    spec = parse_header(hea)
    try:
        header = read_header(hea)
    except (ValueError, IndexError, UnicodeDecodeError):
        header = None  # wfdb's parser reports it (or reads what ours does not)
    if header is not None and header.lean:
        _agree(hea, spec, header)
        found = check_signal_files(base, spec)
        try:
            signal = read_signal(base, header)
        except (OSError, ValueError) as exc:
            raise RecordError(hea, f"signal could not be decoded with the header's formats and sizes "
                                   f"({type(exc).__name__}: {_first_line(exc)})") from None
        units, names = header.units, header.sig_name
    else:
        signal, units, names, found = _read_wfdb_signal(base, hea, spec)
    if signal.ndim != 2 or signal.shape[0] == 0:
        raise RecordError(hea, "no samples")
    scale = np.array([_UNIT_TO_MV.get((u or "").strip().lower(), 1.0) for u in units], dtype=np.float32)
    signal = signal if np.all(scale == 1.0) else signal * scale
    leads = tuple(n or f"lead{i + 1}" for i, n in enumerate(names))
    found += header_warnings(spec, leads)
    ann = None
    if annotator and base.with_name(f"{base.name}.{annotator}").is_file():
        ann, problem = _read_annotations(base, annotator, signal.shape[0], spec.fs)
        found += [problem] if problem else []
    return base.name, signal, spec.fs, leads, ann, found


def _read_wfdb_signal(base: Path, hea: Path, spec):
    """``(p_signal, units, names, warnings)`` through ``wfdb`` (formats the lean reader does not decode)."""
    import wfdb

    from ecgdl.wfdb_header import check_signal_files

    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # noqa: BLE001 - wfdb raises many types for a malformed header
        raise RecordError(hea, f"header does not parse ({type(exc).__name__}: {_first_line(exc)})") from None
    _agree(hea, spec, header)
    found = check_signal_files(base, spec)
    try:
        rec = wfdb.rdrecord(str(base), physical=True, return_res=32)
    except Exception as exc:  # noqa: BLE001
        raise RecordError(hea, f"signal could not be decoded with the header's formats and sizes "
                               f"({type(exc).__name__}: {_first_line(exc)})") from None
    if rec.p_signal is None:
        raise RecordError(hea, "no samples")
    return rec.p_signal, rec.units, rec.sig_name, found


def _agree(hea: Path, spec, header) -> None:
    """The decoding reader must have read the header as we did (wfdb's lenient parser can read another rate)."""
    files = [str(f) for f in (header.file_name or [])]
    if (header.n_sig != spec.n_sig or header.fs is None or abs(float(header.fs) - spec.fs) > 1e-9
            or files != [s.file_name for s in spec.signals]
            or [str(f) for f in header.fmt] != [s.fmt for s in spec.signals]):
        raise RecordError(hea, "header does not parse consistently (check the first line and the signal lines "
                               "against the WFDB header format)")


def _read_annotations(base: Path, annotator: str, n_samples: int, fs: float):
    """``(Annotations | None, warning | None)``: an unreadable or implausible optional file is ignored, loudly.
    The lean reader first, else ``wfdb.rdann``."""
    from ecgdl.labels import SYMBOL_TO_AAMI
    from ecgdl.plausibility import annotation_finding
    from ecgdl.wfdb_reader import read_annotations

    try:
        lean = read_annotations(base.with_name(f"{base.name}.{annotator}"))
        if lean is None:
            import wfdb

            a = wfdb.rdann(str(base), annotator)
            lean = (a.sample, a.symbol, a.aux_note)
        sample = np.asarray(lean[0], dtype=np.int64)
        symbol = np.asarray(lean[1], dtype=object)
    except Exception as exc:  # noqa: BLE001 - an optional file: the record is still scored
        return None, f"reference annotations (.{annotator}) ignored: they do not parse ({type(exc).__name__})"
    if len(sample) != len(symbol):
        return None, f"reference annotations (.{annotator}) ignored: positions and labels do not pair up"
    n_beats = sum(1 for s in symbol if s in SYMBOL_TO_AAMI)
    finding = annotation_finding(sample, n_beats, n_samples, fs)
    if finding is not None:
        return None, finding.text
    return Annotations(sample, symbol), None


def _read_edf(path: Path):
    if not path.is_file():
        raise RecordError(path, "file not found")
    from ecgdl.edf_annotations import beat_annotations, read_edf_plus
    from ecgdl.wfdb_reader import ANN_SYMBOLS

    try:
        plus = read_edf_plus(path)   # EDF+ with annotations: the annotation "signal" is not a lead
        if plus is None:
            from wfdb.io.convert.edf import read_edf

            rec = read_edf(str(path))
            fs, signal, units, names, tals = float(rec.fs), np.asarray(rec.p_signal), rec.units, rec.sig_name, []
        else:
            fs, signal, units, names, tals = plus.fs, plus.signal, plus.units, plus.names, plus.tals
    except Exception as exc:  # noqa: BLE001 - wfdb's EDF reader raises many types on a malformed file
        raise RecordError(path, f"EDF does not parse ({type(exc).__name__}: {_first_line(exc)})") from None
    if signal.ndim != 2:
        raise RecordError(path, "EDF holds no signal samples")
    scale = np.array([_UNIT_TO_MV.get((u or "").strip().lower(), 1.0) for u in units])
    leads = tuple(str(n) for n in names)
    sample, symbol = beat_annotations(tals, fs, set(ANN_SYMBOLS.values()) - {" "})
    ann = Annotations(sample, symbol) if len(sample) else None
    return path.stem, signal * scale, fs, leads, ann, []
