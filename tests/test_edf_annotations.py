"""EDF+ with an ``EDF Annotations`` signal: the annotations are read (MIT-BIH beat symbols as their text)
and the annotation signal is not taken for a lead."""

from __future__ import annotations

import numpy as np
import wfdb

from ecgdl.edf_annotations import read_edf_plus
from ecgdl.io import read_record

SECONDS = 60


def _field(values, width: int) -> bytes:
    return b"".join(str(v).ljust(width)[:width].encode("latin-1") for v in values)


def write_edf_plus(path, signal_uv: np.ndarray, fs: int, names: list[str], ann: list[tuple[float, str]]) -> None:
    """A minimal EDF+C file: 1-s data records, int16 microvolts, one ``EDF Annotations`` signal of TALs."""
    n_rec, n_lead, ann_spr = signal_uv.shape[0] // fs, len(names), 64
    labels, ns = [*names, "EDF Annotations"], n_lead + 1
    head = (_field(["0"], 8) + _field(["X X X X"], 80) + _field(["Startdate 01-JAN-2000 X X X"], 80)
            + _field(["01.01.00"], 8) + _field(["10.20.30"], 8) + _field([256 * (ns + 1)], 8)
            + _field(["EDF+C"], 44) + _field([n_rec], 8) + _field([1], 8) + _field([ns], 4))
    head += (_field(labels, 16) + _field([""] * ns, 80) + _field(["uV"] * n_lead + [""], 8)
             + _field([-32768] * n_lead + [-1], 8) + _field([32767] * n_lead + [1], 8)
             + _field([-32768] * ns, 8) + _field([32767] * ns, 8) + _field([""] * ns, 80)
             + _field([fs] * n_lead + [ann_spr], 8) + _field([""] * ns, 32))
    body = bytearray()
    for k in range(n_rec):
        for j in range(n_lead):
            body += signal_uv[k * fs:(k + 1) * fs, j].astype("<i2").tobytes()
        tal = f"+{k}\x14\x14\x00".encode() + b"".join(f"+{t:.6f}\x14{s}\x14\x00".encode()
                                                       for t, s in ann if k <= t < k + 1)
        body += tal.ljust(2 * ann_spr, b"\x00")
    path.write_bytes(head + bytes(body))


def test_edf_plus_annotations_are_read_and_not_a_lead(mitdb_dir, tmp_path):
    fs = 360
    rec = wfdb.rdrecord(str(mitdb_dir / "100"), sampto=SECONDS * fs)
    uv = np.round(rec.p_signal * 1000).astype(np.int16)
    atr = wfdb.rdann(str(mitdb_dir / "100"), "atr", sampto=SECONDS * fs - 1)
    ann = [(s / fs, y) for s, y in zip(atr.sample, atr.symbol)]
    path = tmp_path / "100.edf"
    write_edf_plus(path, uv, fs, ["MLII", "V5"], ann)

    edf = read_edf_plus(path)
    assert edf.names == ["MLII", "V5"] and edf.fs == 360.0 and [y for _, y in edf.tals] == list(atr.symbol)
    got = read_record(path, target_fs=None)
    assert got.leads == ("MLII", "V5")
    assert np.array_equal(got.annotations.sample, atr.sample) and list(got.annotations.symbol) == list(atr.symbol)
    assert np.allclose(got.signal, uv / 1000.0, atol=2e-3)


def test_plain_edf_goes_to_wfdb(tmp_path):
    """An EDF without an annotation signal is not EDF+ here (None: wfdb reads it)."""
    path = tmp_path / "plain.edf"
    write_edf_plus(path, np.zeros((720, 1), np.int16), 360, ["II"], [])
    raw = bytearray(path.read_bytes())
    raw[252:256] = b"1   "                      # one signal declared: the lead's header only
    head = raw[:256] + bytes(raw[256:]).replace(b"EDF Annotations ", b"II              ", 1)
    path.write_bytes(bytes(head))
    assert read_edf_plus(path) is None
