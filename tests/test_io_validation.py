"""Issue 11, reading edge: each bad input is the project's own error naming the problem, or a loud warning.

Items 1, 2, 9, 12, 13, 14, 15 of the issue, each by its scenario, on real MIT-BIH record 100.
"""

from __future__ import annotations

import io
import shutil
import tomllib
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ecgdl.io import RecordError, read_csv, read_record
from ecgdl.uploads import UploadOptions, record_from_upload

HEADER_100 = ("100 2 360 650000\n100.dat 212 200 11 1024 995 -22131 0 MLII\n"
              "100.dat 212 200 11 1024 1011 20052 0 V5\n")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rec100(mitdb_dir):
    return read_record(mitdb_dir / "100")


@pytest.fixture
def copy100(mitdb_dir, tmp_path):
    """A writable copy of record 100 (header, signal, annotations) in ``tmp_path``; returns its record path."""
    for suffix in (".hea", ".dat", ".atr"):
        shutil.copy(mitdb_dir / f"100{suffix}", tmp_path / f"100{suffix}")
    return tmp_path / "100"


def _csv(path: Path, x: np.ndarray, fmt: str = "%.6g") -> Path:
    np.savetxt(path, x, delimiter=",", header="MLII,V5", comments="", fmt=fmt)
    return path


# ----------------------------------------------------------------------------- 1. amplitude plausibility


def test_item1_csv_in_microvolts_read_as_millivolts_is_refused(rec100, tmp_path):
    path = _csv(tmp_path / "100uv.csv", rec100.signal[: 360 * 100] * 1000, "%.1f")
    with pytest.raises(RecordError, match="units look like microvolts"):
        read_csv(path, 360.0, units="mV")
    assert read_csv(path, 360.0, units="uV").warnings == ()  # the right units: read as it should be


@pytest.mark.parametrize("factor, expected", [(1e6, "times too large for millivolts"),
                                              (1e-3, "in volts"), (1e-2, "far too small")])
def test_item1_values_scaled_by_units_are_refused(rec100, tmp_path, factor, expected):
    path = _csv(tmp_path / "scaled.csv", rec100.signal[: 360 * 60] * factor, "%.9g")
    with pytest.raises(RecordError, match=expected):
        read_csv(path, 360.0)


def test_item1_format_8_declared_over_format_212_data_is_refused(copy100):
    copy100.with_suffix(".hea").write_text(HEADER_100.replace(" 212 ", " 8 "))
    with pytest.raises(RecordError, match="fits format 212 exactly"):
        read_record(copy100)
    copy100.with_suffix(".hea").write_text(HEADER_100.replace(" 212 ", " 8 ").replace(" 650000", ""))
    with pytest.raises(RecordError, match="random-walk-like.*wrong format"):  # no length: value statistics
        read_record(copy100)


@pytest.mark.parametrize("fmt", ["16", "61", "310"])
def test_item1_other_wrong_formats_are_refused_by_value_statistics(copy100, fmt):
    copy100.with_suffix(".hea").write_text(HEADER_100.replace(" 212 ", f" {fmt} ").replace(" 650000", ""))
    with pytest.raises(RecordError, match="microvolts|noise-like|wrong format|whole number of frames"):
        read_record(copy100, on_gaps="fill")


# ----------------------------------------------------------------------------- 2. strict sampling rate


def test_item2_header_100_2_minus360_650000_is_refused(copy100):
    copy100.with_suffix(".hea").write_text(HEADER_100.replace("100 2 360 650000", "100 2 -360 650000"))
    with pytest.raises(RecordError, match=r"sampling rate '-360' .* is not a positive number of Hz"):
        read_record(copy100)


@pytest.mark.parametrize("fs", ["nan", "inf", "abc", "+1", "-1", "0", "360x"])
def test_item2_invalid_sampling_rates_are_refused_not_defaulted(copy100, fs):
    copy100.with_suffix(".hea").write_text(HEADER_100.replace(" 360 ", f" {fs} ", 1))
    with pytest.raises(RecordError, match="sampling rate"):
        read_record(copy100)


def test_item2_missing_sampling_rate_is_not_guessed(copy100):
    copy100.with_suffix(".hea").write_text(HEADER_100.replace("100 2 360 650000", "100 2"))
    with pytest.raises(RecordError, match="gives no sampling rate"):
        read_record(copy100)


def test_item2_upload_path_refuses_the_bad_rate(mitdb_dir):
    files = [("100.hea", HEADER_100.replace(" 360 ", " -360 ", 1).encode()),
             ("100.dat", (mitdb_dir / "100.dat").read_bytes())]
    with pytest.raises(RecordError, match="sampling rate '-360'"):
        record_from_upload(files)


# ----------------------------------------------------------------------------- 9. finite values


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_item9_infinite_samples_are_refused_with_their_own_message(rec100, tmp_path, bad):
    x = rec100.signal[: 360 * 30].astype(np.float64)
    x[1000, 0] = bad
    path = _csv(tmp_path / "inf.csv", x)
    for on_gaps in ("raise", "fill"):
        with pytest.raises(RecordError, match=r"infinite values \(\+-inf\): 1 of"):
            read_csv(path, 360.0, on_gaps=on_gaps)


def test_item9_infinite_samples_in_an_upload_are_a_message(rec100, tmp_path):
    x = rec100.signal[: 360 * 30].astype(np.float64)
    x[5, 1] = np.inf
    data = _csv(tmp_path / "u.csv", x).read_bytes()
    with pytest.raises(RecordError, match="infinite"):
        record_from_upload([("u.csv", data)], UploadOptions(csv_fs=360.0))


# ----------------------------------------------------------------------------- 12. nothing about an upload in a log


def test_item12_header_only_csv_raises_no_library_warning(tmp_path):
    (tmp_path / "patient_jane_doe.csv").write_text("MLII,V5\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RecordError, match="no data rows"):
            record_from_upload([("patient_jane_doe.csv", b"MLII,V5\n")], UploadOptions(csv_fs=360.0))
        with pytest.raises(RecordError, match="no data rows"):
            read_csv(tmp_path / "patient_jane_doe.csv", 360.0)
    assert [str(w.message) for w in caught if "jane" in str(w.message)] == []


# ----------------------------------------------------------------------------- 13. corrupt zips, missing signal lines


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_item13_corrupt_zip_member_is_the_projects_error(mitdb_dir):
    data = bytearray(_zip({"100.hea": HEADER_100.encode(), "100.dat": (mitdb_dir / "100.dat").read_bytes()}))
    start = data.index(b"100.dat") + 40  # inside the deflated stream of the signal file
    data[start:start + 64] = bytes(64)
    with pytest.raises(RecordError, match="could not be extracted: the zip is damaged"):
        record_from_upload([("rec.zip", bytes(data))])


def test_item13_negative_seek_in_a_zip_is_the_projects_error():
    data = bytearray(_zip({"100.hea": HEADER_100.encode()}))
    end = data.rindex(b"PK\x05\x06")
    data[end + 16:end + 20] = (2**32 - 5).to_bytes(4, "little")  # central directory offset beyond the file
    with pytest.raises(RecordError, match="not a readable zip file|damaged"):
        record_from_upload([("rec.zip", bytes(data))])


def test_item13_zip_member_with_an_empty_name_is_the_projects_error():
    """Found by the long fuzz run (1 case in 20,000): zipfile's ZipInfo.is_dir() raised IndexError."""
    data = bytearray(_zip({"x": b"data"}))
    cd = data.rindex(b"PK\x01\x02")
    data[cd + 28:cd + 30] = (0).to_bytes(2, "little")  # the central directory's name length
    del data[cd + 46]                                  # and the name itself
    end = data.rindex(b"PK\x05\x06")
    size = int.from_bytes(data[end + 12:end + 16], "little")
    data[end + 12:end + 16] = (size - 1).to_bytes(4, "little")
    with pytest.raises(RecordError, match="empty name"):
        record_from_upload([("rec.zip", bytes(data))])


def test_item13_signals_declared_without_signal_lines(copy100):
    copy100.with_suffix(".hea").write_text("100 2 360 650000\n")
    with pytest.raises(RecordError, match=r"declares 2 signal\(s\) but describes 0"):
        read_record(copy100)


# ----------------------------------------------------------------------------- 14. messages that say what is wrong


@pytest.mark.parametrize("header, expected", [
    ("100\n", "must give the record name and the number of signals"),
    ("100 2 360 650000\n100.dat\n100.dat 212\n", "signal line 1 must give at least the signal file and its format"),
    ("100 2 360 650000\n100.dat 212 abc 11\n100.dat 212\n", "gain 'abc' does not parse"),
    ("100 2 360 65x\n100.dat 212\n100.dat 212\n", "number of samples '65x'"),
    ("100 2 360 650000\n100.dat 999\n100.dat 999\n", "unsupported WFDB signal format 999"),
])
def test_item14_header_faults_are_named(copy100, header, expected):
    copy100.with_suffix(".hea").write_text(header)
    with pytest.raises(RecordError, match=expected):
        read_record(copy100)


def test_item14_file_not_a_whole_number_of_frames(copy100):
    copy100.with_suffix(".hea").write_text(HEADER_100.replace(" 650000", ""))
    dat = copy100.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:143747])
    with pytest.raises(RecordError, match="not a whole number of frames"):
        read_record(copy100)


# ----------------------------------------------------------------------------- 15. reference annotations


def test_item15_random_bytes_as_atr_are_ignored_loudly(copy100):
    copy100.with_suffix(".atr").write_bytes(np.random.default_rng(15).bytes(3000))
    rec = read_record(copy100)
    assert rec.annotations is None
    assert any("reference annotations ignored" in w or "do not parse" in w for w in rec.warnings)


def test_item15_truncated_optional_atr_does_not_fail_the_record(copy100):
    atr = copy100.with_suffix(".atr")
    atr.write_bytes(atr.read_bytes()[:3001])
    rec = read_record(copy100)
    assert rec.signal.shape[0] == 650000
    assert rec.annotations is None or len(rec.annotations) < 2274
    if rec.annotations is None:
        assert any("annotations" in w for w in rec.warnings)


def test_item15_sparse_beat_labels_are_not_reference_beats(copy100):
    import wfdb

    wfdb.wrann("100", "atr", np.array([100, 2000, 9000, 20000, 40000, 80000, 600000]), np.array(["N"] * 7),
               write_dir=str(copy100.parent))
    rec = read_record(copy100)
    assert rec.annotations is None
    assert any("7 beat labels in 30 min" in w for w in rec.warnings)


# ----------------------------------------------------------------------------- the real records stay clean


def test_real_records_read_without_warnings(mitdb_dir):
    for name in ("100", "114", "203", "232"):
        rec = read_record(mitdb_dir / name, on_gaps="fill")
        assert rec.warnings == (), name


# ----------------------------------------------------------------------------- 10. the viewer binds to this machine


def test_item10_viewer_config_binds_localhost():
    from ecgdl.app.launch import streamlit_command

    config = tomllib.loads((REPO / "ecgdl" / "app" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["server"]["enableXsrfProtection"] is True
    cmd = streamlit_command()
    assert cmd[cmd.index("--server.address", cmd.index("--server.port")) + 1] == "127.0.0.1"  # the last one wins
