"""ecgdl.io on real MIT-BIH records, and one test per way a record can be wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecgdl.io import RecordError, read_csv, read_record


def _copy_record(src: Path, dst: Path, name: str = "100") -> Path:
    for ext in ("hea", "dat", "atr"):
        shutil.copy(src / f"{name}.{ext}", dst / f"{name}.{ext}")
    return dst / name


def _write(tmp_path: Path, name: str, sig: np.ndarray, fs: float, fmt: str = "16") -> Path:
    wfdb.wrsamp(name, fs=fs, units=["mV"] * sig.shape[1], sig_name=[f"lead{i}" for i in range(sig.shape[1])],
                p_signal=sig, fmt=[fmt] * sig.shape[1], adc_gain=[200.0] * sig.shape[1],
                baseline=[0] * sig.shape[1], write_dir=str(tmp_path))
    return tmp_path / name


def _ecg_like(fs: float, seconds: float = 20.0) -> np.ndarray:
    t = np.arange(int(fs * seconds)) / fs
    beats = np.exp(-(((t % 0.8) - 0.4) ** 2) / (2 * 0.01**2))  # a 75 bpm spike train, 1 mV
    return np.stack([beats, 0.5 * beats], axis=1)


def test_reads_mitdb_record_in_physical_units(mitdb_dir):
    rec = read_record(mitdb_dir / "100")
    assert rec.signal.shape == (650000, 2) and rec.signal.dtype == np.float32
    assert rec.fs == 360.0 and rec.source_fs == 360.0
    assert rec.leads == ("MLII", "V5") and rec.primary_lead() == 0
    assert 0.3 < np.percentile(np.abs(rec.signal[:, 0]), 99.9) < 5.0  # millivolts, not ADC units
    beats = np.isin(rec.annotations.symbol, ["N", "A", "V"])
    assert beats.sum() == 2273  # 2,239 N + 33 A + 1 V


def test_lead_chosen_by_name_not_position(mitdb_dir):
    rec = read_record(mitdb_dir / "114")
    assert rec.leads == ("V5", "MLII")
    assert rec.lead_pair() == (1, 0)


def test_record_without_mlii_falls_back_to_first_lead_and_says_so(mitdb_dir):
    rec = read_record(mitdb_dir / "102")
    assert rec.primary_lead() == 0 and rec.leads[0] == "V5"
    assert any("no MLII" in n for n in rec.notes)


def test_accepts_header_path_and_extensionless_path(mitdb_dir):
    a = read_record(mitdb_dir / "100.hea", annotator=None)
    b = read_record(str(mitdb_dir / "100"), annotator=None)
    assert np.array_equal(a.signal, b.signal) and a.annotations is None


def test_missing_header(tmp_path):
    with pytest.raises(RecordError, match="header file not found"):
        read_record(tmp_path / "nothing")


def test_missing_dat(mitdb_dir, tmp_path):
    base = _copy_record(mitdb_dir, tmp_path)
    (tmp_path / "100.dat").unlink()
    with pytest.raises(RecordError, match=r"100\.dat: signal file not found"):
        read_record(base)


def test_truncated_dat(mitdb_dir, tmp_path):
    base = _copy_record(mitdb_dir, tmp_path)
    data = (tmp_path / "100.dat").read_bytes()
    (tmp_path / "100.dat").write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordError, match=r"truncated: 975000 bytes.*650000 samples.*need 1950000 bytes"):
        read_record(base)


def test_header_that_lies_about_its_length(mitdb_dir, tmp_path):
    base = _copy_record(mitdb_dir, tmp_path)
    hea = tmp_path / "100.hea"
    hea.write_text(hea.read_text().replace("100 2 360 650000", "100 2 360 900000", 1))
    with pytest.raises(RecordError, match="truncated"):
        read_record(base)


def test_header_that_does_not_parse(tmp_path):
    (tmp_path / "bad.hea").write_text("this is not a header\n\x00\x01 garbage line\n")
    (tmp_path / "bad.dat").write_bytes(b"\x00" * 100)
    with pytest.raises(RecordError, match="number of signals 'is' in the header's first line is not a whole number"):
        read_record(tmp_path / "bad")


def test_unsupported_format(mitdb_dir, tmp_path):
    base = _copy_record(mitdb_dir, tmp_path)
    hea = tmp_path / "100.hea"
    hea.write_text(hea.read_text().replace(" 212 ", " 508 "))
    with pytest.raises(RecordError, match="unsupported WFDB signal format 508"):
        read_record(base)


def test_nan_samples(tmp_path):
    sig = _ecg_like(360.0)
    sig[1000:1500, 0] = np.nan
    base = _write(tmp_path, "gap", sig, 360.0)
    with pytest.raises(RecordError, match="lead0 contains NaN"):
        read_record(base)
    rec = read_record(base, on_gaps="fill")
    assert rec.gaps == ((1000, 1500),) and not np.isnan(rec.signal).any()


def test_mostly_nan_is_rejected_even_when_filling(tmp_path):
    sig = _ecg_like(360.0)
    sig[: int(0.8 * len(sig)), 0] = np.nan
    with pytest.raises(RecordError, match="80% NaN"):
        read_record(_write(tmp_path, "nan80", sig, 360.0), on_gaps="fill")


def test_flat_line(tmp_path):
    base = _write(tmp_path, "flat", np.zeros((7200, 2)), 360.0)
    with pytest.raises(RecordError, match="flat line"):
        read_record(base)


@pytest.mark.parametrize("fs", [50.0, 4000.0])
def test_unsupported_sampling_rate(tmp_path, fs):
    base = _write(tmp_path, "rate", _ecg_like(fs), fs)
    with pytest.raises(RecordError, match=f"sampling rate {fs:g} Hz is not supported"):
        read_record(base)


def test_250_hz_is_resampled_to_the_model_rate(tmp_path):
    sig = _ecg_like(250.0, seconds=20.0)
    base = _write(tmp_path, "r250", sig, 250.0)
    wfdb.wrann("r250", "atr", np.array([100, 300, 4900]), np.array(["N", "V", "N"]), write_dir=str(tmp_path))
    rec = read_record(base)
    assert rec.fs == 360.0 and rec.source_fs == 250.0 and rec.signal.shape[0] == 7200
    assert rec.annotations.sample.tolist() == [144, 432, 7056]
    assert rec.to_source_samples(rec.annotations.sample).tolist() == [100, 300, 4900]
    assert any("resampled from 250 Hz" in n for n in rec.notes)


def test_csv_with_header_and_units(tmp_path):
    sig = _ecg_like(500.0, seconds=10.0)
    path = tmp_path / "export.csv"
    rows = ["time,II,V1"] + [f"{i / 500:.4f},{a * 1000:.3f},{b * 1000:.3f}" for i, (a, b) in enumerate(sig)]
    path.write_text("\n".join(rows))
    rec = read_csv(path, fs=500.0, units="uV")
    assert rec.leads == ("II", "V1") and rec.fs == 360.0 and rec.signal.shape == (3600, 2)
    assert rec.primary_lead() == 0
    assert abs(float(rec.signal[:, 0].max()) - 1.0) < 0.05


def test_csv_needs_a_sampling_rate(tmp_path):
    (tmp_path / "x.csv").write_text("1,2\n3,4\n")
    with pytest.raises(RecordError, match="no sampling rate"):
        read_record(tmp_path / "x.csv")


def test_csv_that_is_not_numbers(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\nfoo,bar\n")
    with pytest.raises(RecordError, match="does not parse"):
        read_csv(path, fs=360.0)
