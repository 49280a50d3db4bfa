"""ecgdl.uploads: uploaded files -> Record, and every way an upload can be wrong."""

from __future__ import annotations

import io
import stat
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ecgdl.io import RecordError, read_record
from ecgdl.uploads import UploadLimits, UploadOptions, record_from_upload

REC = "100"


def _leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("ecgdl-upload-*")}


@pytest.fixture(scope="module")
def wfdb_files(mitdb_dir) -> dict[str, bytes]:
    """Record 100 as uploaded bytes: {'100.hea': ..., '100.dat': ..., '100.atr': ...}."""
    return {p.name: p.read_bytes() for p in sorted(mitdb_dir.glob(f"{REC}.*")) if p.suffix in (".hea", ".dat", ".atr")}


@pytest.fixture(scope="module")
def reference(mitdb_dir):
    return read_record(mitdb_dir / REC)


def _zip(members: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def _expect_error(files, match: str, **kw) -> RecordError:
    before = _leftovers()
    with pytest.raises(RecordError, match=match) as err:
        record_from_upload(files, **kw)
    assert _leftovers() <= before, "temporary upload folder left on disk"
    assert "ecgdl-upload-" not in str(err.value), "server path leaked into the message"
    return err.value


@pytest.mark.parametrize("with_atr", [True, False])
def test_wfdb_files_read_like_the_library(wfdb_files, reference, with_atr):
    files = [(n, b) for n, b in wfdb_files.items() if with_atr or not n.endswith(".atr")]
    before = _leftovers()
    rec = record_from_upload(files)
    assert _leftovers() <= before
    assert (rec.name, rec.fs, rec.leads) == (REC, 360.0, ("MLII", "V5"))
    np.testing.assert_array_equal(rec.signal, reference.signal)
    assert (rec.annotations is not None) == with_atr


@pytest.mark.parametrize("prefix", ["", "mitdb/100/"])
def test_zip_flat_or_in_a_folder(wfdb_files, reference, prefix):
    data = _zip({prefix + n: b for n, b in wfdb_files.items()} | {prefix + "README.txt": b"hello"})
    rec = record_from_upload([("record.zip", data)])
    np.testing.assert_array_equal(rec.signal, reference.signal)
    assert len(rec.annotations) == len(reference.annotations)


def test_edf_upload(mitdb_dir, tmp_path):
    from wfdb.io.convert.edf import wfdb_to_edf

    out = tmp_path / "x100.edf"
    wfdb_to_edf(str(mitdb_dir / REC), sampto=360 * 60, output_filename=str(out))
    rec = record_from_upload([("x100.edf", out.read_bytes())])
    assert rec.fs == 360.0 and rec.leads == ("MLII", "V5") and rec.duration_s >= 60


def test_csv_upload_is_resampled_from_the_given_rate(reference):
    sig = reference.signal[: 360 * 20: 3]        # 120 Hz, 20 s (a plain decimation is fine for a reader test)
    text = "time,MLII,V5\n" + "\n".join(f"{i / 120:.4f},{a:.3f},{b:.3f}" for i, (a, b) in enumerate(sig))
    rec = record_from_upload([("export.csv", text.encode())], UploadOptions(csv_fs=120.0))
    assert rec.source_fs == 120.0 and rec.fs == 360.0 and rec.leads == ("MLII", "V5")
    assert abs(rec.duration_s - 20.0) < 0.05
    assert any("resampled" in n for n in rec.notes)


def test_csv_without_rate_is_refused():
    _expect_error([("export.csv", b"1,2\n3,4\n")], "needs its sampling rate")


def _header(wfdb_files, old: str, new: str) -> bytes:
    text = wfdb_files[f"{REC}.hea"].decode()
    assert old in text
    return text.replace(old, new, 1).encode()


@pytest.mark.parametrize("case, match", [
    ("truncated_dat", r"100\.dat: truncated"),
    ("header_longer_than_data", r"100\.dat: truncated"),
    ("header_names_other_file", "names signal file '101.dat', which was not uploaded"),
    ("header_escapes", "outside the upload"),
    ("rate_too_low", "sampling rate 50 Hz is not supported"),
    ("rate_too_high", "sampling rate 5000 Hz is not supported"),
    ("dat_without_header", "needs its header"),
    ("garbage_header", "100.hea"),
])
def test_bad_wfdb_uploads(wfdb_files, case, match):
    files = dict(wfdb_files)
    if case == "truncated_dat":
        files["100.dat"] = files["100.dat"][: len(files["100.dat"]) // 2]
    elif case == "header_longer_than_data":
        files["100.hea"] = _header(wfdb_files, "360 650000", "360 900000")
    elif case == "header_names_other_file":
        files["100.hea"] = _header(wfdb_files, "100.dat", "101.dat")
    elif case == "header_escapes":
        files["100.hea"] = _header(wfdb_files, "100.dat", "../../etc/passwd")
    elif case == "rate_too_low":
        files["100.hea"] = _header(wfdb_files, " 360 ", " 50 ")
    elif case == "rate_too_high":
        files["100.hea"] = _header(wfdb_files, " 360 ", " 5000 ")
    elif case == "dat_without_header":
        del files["100.hea"]
    elif case == "garbage_header":
        files["100.hea"] = b"100 two 360 abc\n\x00\x01\x02 nonsense\n"
    _expect_error(list(files.items()), match)


@pytest.mark.parametrize("name", ["../100.hea", "/etc/100.hea", "C:\\x\\100.hea", "sub/100.hea", "100.exe",
                                  "bad name;rm.hea", ""])
def test_unsafe_or_unsupported_names(wfdb_files, name):
    _expect_error([(name, wfdb_files["100.hea"]), ("100.dat", wfdb_files["100.dat"])],
                  "path|unsupported|invalid name")


@pytest.mark.parametrize("member", ["../100.hea", "/abs/100.hea", "a/../../100.hea", "..\\..\\100.hea"])
def test_zip_with_escaping_paths(wfdb_files, member):
    _expect_error([("r.zip", _zip({member: wfdb_files["100.hea"], "100.dat": wfdb_files["100.dat"]}))],
                  "leaves the archive")


def test_zip_with_symlink(wfdb_files):
    _expect_error([("r.zip", _zip(dict(wfdb_files), symlink="evil.atr"))], "symbolic link")


def test_zip_bomb_refused_by_declared_size():
    bomb = _zip({"100.dat": bytes(3 * 1024 * 1024), "100.hea": b"100 1 360 1000\n"})
    assert len(bomb) < 20_000
    _expect_error([("bomb.zip", bomb)], "unpacks to", limits=UploadLimits(max_uncompressed_bytes=2 * 1024 * 1024))


def test_zip_bomb_refused_by_ratio():
    bomb = _zip({"100.dat": bytes(8 * 1024 * 1024), "100.hea": b"100 1 360 1000\n"})
    _expect_error([("bomb.zip", bomb)], "zip bomb")


@pytest.mark.parametrize("case, match", [
    ("too_many", "too many files"), ("too_large", "too large"), ("zip_plus_files", "on its own"),
    ("two_records", "more than one record"), ("not_a_zip", "not a readable zip"), ("empty", "no files"),
    ("duplicate", "uploaded twice"), ("zip_of_nothing", "holds no record files"),
])
def test_bad_upload_shapes(wfdb_files, case, match):
    limits = UploadLimits()
    files = list(wfdb_files.items())
    if case == "too_many":
        files = [(f"f{i}.atr", b"") for i in range(limits.max_files + 1)]
    elif case == "too_large":
        limits = UploadLimits(max_upload_bytes=1024 * 1024)
    elif case == "zip_plus_files":
        files.append(("r.zip", _zip({"a.txt": b"x"})))
    elif case == "two_records":
        files += [("101.hea", wfdb_files["100.hea"])]
    elif case == "not_a_zip":
        files = [("r.zip", b"PK\x03\x04 this is not a zip")]
    elif case == "empty":
        files = []
    elif case == "duplicate":
        files.append(("100.HEA", wfdb_files["100.hea"]))
    elif case == "zip_of_nothing":
        files = [("r.zip", _zip({"notes.txt": b"x"}))]
    _expect_error(files, match, limits=limits)
