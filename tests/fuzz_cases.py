"""Hypothesis strategies of bad inputs (headers, signal files, annotation files, zips, CSVs) and the one
property they are held to: reading (and scoring) ends in a result or the project's own ``RecordError``.

Used by ``tests/test_fuzz_inputs.py`` (seeded, bounded, in the suite) and ``tests/fuzz/run_fuzz.py``
(the long run, >= 20,000 cases, counting outcomes). Seeds are 10-s slices of MIT-BIH record 100.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from ecgdl.io import RecordError
from ecgdl.uploads import UploadOptions, record_from_upload

SECONDS = 10
NASTY_TOKENS = ["-360", "nan", "inf", "-inf", "abc", "+1", "-1", "0", "1e400", "360/0", "360(abc)", "", "x",
                "99999999999999999999", "2.5e-3", "0x10", "٣٦٠", "360.0.0", "212x0", "16+-4", "8", "999", "-0",
                "200(abc)/mV", "200/µV", "0/mV", "nan/mV", "/", "#", "~", "../etc/passwd", "100.dat", "100.dat\x00"]


@dataclass(frozen=True)
class Seed:
    """A small valid record: header text, format-212 signal bytes, annotation bytes, a CSV."""

    header: str
    dat: bytes
    atr: bytes
    csv: bytes


def make_seed(mitdb: Path) -> Seed:
    """The first ``SECONDS`` of MIT-BIH 100 as a valid WFDB record (+ .atr) and as a CSV in mV."""
    import tempfile

    import wfdb

    n = 360 * SECONDS
    dat = (mitdb / "100.dat").read_bytes()[: n * 3]
    header = (f"100 2 360 {n}\n100.dat 212 200 11 1024 995 0 0 MLII\n100.dat 212 200 11 1024 1011 0 0 V5\n")
    ann = wfdb.rdann(str(mitdb / "100"), "atr", sampto=n)
    with tempfile.TemporaryDirectory() as tmp:
        wfdb.wrann("100", "atr", ann.sample, np.asarray(ann.symbol), write_dir=tmp)
        atr = (Path(tmp) / "100.atr").read_bytes()
    sig = wfdb.rdrecord(str(mitdb / "100"), sampto=n).p_signal
    buf = io.StringIO()
    np.savetxt(buf, sig, delimiter=",", header="MLII,V5", comments="", fmt="%.3f")
    return Seed(header, dat, atr, buf.getvalue().encode())


# ----------------------------------------------------------------------------- mutations


@st.composite
def mutated_header(draw, header: str) -> str:
    """The seed header with tokens replaced, lines dropped/duplicated, or the text cut."""
    lines = [ln.split(" ") for ln in header.splitlines()]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["token", "token", "token", "drop", "dup", "cut", "text"]))
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if op == "token" and lines and lines[i]:
            j = draw(st.integers(0, len(lines[i]) - 1))
            lines[i][j] = draw(st.sampled_from(NASTY_TOKENS) | st.text(max_size=8))
        elif op == "drop" and lines:
            lines.pop(i)
        elif op == "dup" and lines:
            lines.insert(i, list(lines[i]))
        elif op == "text":
            lines.insert(i, draw(st.text(max_size=30)).split(" "))
    text = "\n".join(" ".join(ln) for ln in lines) + "\n"
    if draw(st.booleans()) and draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text


@st.composite
def mutated_bytes(draw, data: bytes, max_flips: int = 16) -> bytes:
    """``data`` truncated, extended, with bytes overwritten, or replaced by random bytes."""
    op = draw(st.sampled_from(["flip", "flip", "cut", "extend", "random", "empty"]))
    out = bytearray(data)
    if op == "flip" and out:
        for _ in range(draw(st.integers(1, max_flips))):
            out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
    elif op == "cut":
        out = out[: draw(st.integers(0, len(out)))]
    elif op == "extend":
        out += draw(st.binary(min_size=1, max_size=64))
    elif op == "random":
        out = bytearray(draw(st.binary(max_size=4096)))
    elif op == "empty":
        out = bytearray()
    return bytes(out)


@st.composite
def mutated_csv(draw, csv: bytes) -> bytes:
    """The seed CSV with cells replaced by odd values, rows cut, or delimiters changed."""
    rows = csv.decode().splitlines()
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(rows) - 1))
        cells = rows[i].split(",")
        j = draw(st.integers(0, len(cells) - 1))
        cells[j] = draw(st.sampled_from(["inf", "-inf", "nan", "", "1e308", "1e39", "abc", "1,2", '"', "1;2",
                                          "0x1", "--1", "١"]) | st.text(max_size=6))
        rows[i] = ",".join(cells)
    if draw(st.booleans()):
        rows = rows[: draw(st.integers(0, len(rows)))]
    scale = draw(st.sampled_from([1.0, 1.0, 1e3, 1e6, 1e-3]))
    if scale != 1.0:
        rows = rows[:1] + [",".join(_scaled(c, scale) for c in r.split(",")) for r in rows[1:]]
    return ("\n".join(rows) + "\n").encode("utf-8", "surrogatepass")


def _scaled(cell: str, scale: float) -> str:
    try:
        return repr(float(cell) * scale)
    except ValueError:
        return cell


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def upload_cases(seed: Seed) -> st.SearchStrategy:
    """Uploads ``[(name, bytes)]`` of every kind, each with one or more parts mutated."""
    wfdb_files = st.tuples(mutated_header(seed.header) | st.just(seed.header),
                           mutated_bytes(seed.dat) | st.just(seed.dat),
                           st.none() | mutated_bytes(seed.atr) | st.just(seed.atr))

    def as_files(parts) -> list[tuple[str, bytes]]:
        hea, dat, atr = parts
        files = [("100.hea", hea.encode("utf-8", "surrogatepass")), ("100.dat", dat)]
        return files + ([("100.atr", atr)] if atr is not None else [])

    plain = wfdb_files.map(as_files)
    zipped_ok = plain.map(lambda files: [("rec.zip", zip_of(dict(files)))])
    zipped_bad = plain.flatmap(lambda files: mutated_bytes(zip_of(dict(files)), 8)).map(lambda z: [("rec.zip", z)])
    csv = mutated_csv(seed.csv).map(lambda data: [("rec.csv", data)])
    return st.one_of(plain, zipped_ok, zipped_bad, csv)


# ----------------------------------------------------------------------------- the property


def outcome(files: list[tuple[str, bytes]], score: Callable | None = None) -> str:
    """``"record"``, ``"record_error"`` or ``"other:<Type>: <message>"`` for reading (and scoring) an upload."""
    try:
        rec = record_from_upload(files, UploadOptions(csv_fs=360.0))
        if score is not None:
            score(rec)
        return "record"
    except RecordError as exc:
        if "could not be read (" in exc.problem:  # uploads._guarded caught a reader's own failure: a bug
            return f"other:guarded: {exc.problem[:120]}"
        return "record_error"
    except Exception as exc:  # noqa: BLE001 - counting exactly these is the point
        return f"other:{type(exc).__name__}: {str(exc)[:120]}"
