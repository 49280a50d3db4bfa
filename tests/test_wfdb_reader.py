"""The lean WFDB reader equals wfdb sample for sample (all 48 MIT-BIH records), and falls back where it should."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import wfdb

from ecgdl.splits import ALL_RECORDS
from ecgdl.wfdb_reader import ANN_SYMBOLS, read_annotations, read_header, read_signal


#: A few records in the default run (both lead pairs, paced, VF); all 48 under -m slow.
DEFAULT = ("100", "102", "207", "232")


@pytest.mark.parametrize("record", [r if r in DEFAULT else pytest.param(r, marks=pytest.mark.slow)
                                    for r in ALL_RECORDS])
def test_equal_to_wfdb_on_mitdb(mitdb_dir, record):
    base = mitdb_dir / record
    hdr = read_header(base.with_suffix(".hea"))
    ref = wfdb.rdrecord(str(base), physical=True, return_res=32)
    assert hdr.lean
    assert (hdr.fs, hdr.sig_name, hdr.units, hdr.n_sig) == (ref.fs, ref.sig_name, ref.units, ref.n_sig)
    x = read_signal(base, hdr)
    assert x.dtype == ref.p_signal.dtype and np.array_equal(x, ref.p_signal, equal_nan=True)
    ann = wfdb.rdann(str(base), "atr")
    sample, symbol, aux = read_annotations(base.with_suffix(".atr"))
    assert np.array_equal(sample, ann.sample) and list(symbol) == list(ann.symbol)
    assert aux == [a or "" for a in ann.aux_note]


def test_symbol_table_is_wfdb_standard_table():
    from wfdb.io.annotation import ann_label_table

    assert ANN_SYMBOLS == dict(zip(ann_label_table.label_store.tolist(), ann_label_table.symbol.tolist()))


def test_format16_separate_files_offset_and_missing_samples(tmp_path):
    """Format 16, one file per signal, a byte offset, WFDB's missing-sample value: equal to wfdb, NaN kept."""
    rng = np.random.default_rng(0)
    d = rng.integers(-3000, 3000, size=(4000, 2)).astype(np.int16)
    d[100:120, 0] = -32768  # WFDB's "no sample" value in format 16
    for k in range(2):
        (tmp_path / f"r{k}.dat").write_bytes(b"\0" * 16 + d[:, k].astype("<i2").tobytes())
    (tmp_path / "r.hea").write_text("r 2 250 4000 10:20:30 01/02/2003\n"
                                    "r0.dat 16+16 400(-5)/uV 16 0 0 0 0 II\n"
                                    "r1.dat 16+16 123.4/mV 16 7 0 0 0 V1\n")
    hdr = read_header(tmp_path / "r.hea")
    ref = wfdb.rdrecord(str(tmp_path / "r"), physical=True, return_res=32)
    x = read_signal(tmp_path / "r", hdr)
    assert hdr.base_time == "10:20:30" and hdr.units == ["uV", "mV"]
    assert np.array_equal(x, ref.p_signal, equal_nan=True) and np.isnan(x[100:120, 0]).all()


def test_other_formats_are_left_to_wfdb(tmp_path):
    """A format the lean reader does not decode (24) is marked not lean, and read_record still reads it."""
    from ecgdl.io import read_record

    sig = (np.sin(np.arange(3600) / 20)[:, None] * 500).astype(np.int64)
    wfdb.wrsamp("r", fs=360, units=["mV"], sig_name=["MLII"], d_signal=sig, fmt=["24"], adc_gain=[200.0],
                baseline=[0], write_dir=str(tmp_path))
    assert not read_header(tmp_path / "r.hea").lean
    rec = read_record(tmp_path / "r")
    assert rec.signal.shape == (3600, 1) and np.allclose(rec.signal[:, 0], sig[:, 0] / 200.0, atol=1e-6)


def test_scoring_a_wfdb_record_does_not_import_wfdb_or_pandas(mitdb_dir, tmp_path):
    """The start-up budget: ``read_record`` of a 212 record with its .atr imports neither wfdb nor pandas."""
    code = (f"import sys; from ecgdl.io import read_record; r = read_record({str(mitdb_dir / '100')!r}); "
            "assert r.annotations is not None; print(sorted(m for m in ('wfdb', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
