"""Is there an ECG here? (ecgdl.ecg_presence): noise, mains and spikes are said to hold no ECG;
real and synthetic ECG, noisy NSTDB included, stay quiet; the warning reaches summary, table and exit code."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ecgdl import ecg_presence
from ecgdl.io import read_record
from ecgdl.qrs import detect_r_peaks
from test_qrs import _synthetic_ecg

FS = 360.0


def _verdict(x: np.ndarray, fs: float = FS) -> ecg_presence.Presence | None:
    return ecg_presence.assess(detect_r_peaks(x, fs).quality)


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    f = np.fft.rfftfreq(n, 1 / FS)
    spec = (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size)) / np.sqrt(np.maximum(f, 0.1))
    return np.fft.irfft(spec, n)


def _negative(kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(120 * FS)
    t = np.arange(n) / FS
    if kind == "white":
        return 0.3 * rng.standard_normal(n)
    if kind == "pink":
        x = _pink(n, rng)
        return x / x.std() * 0.5
    if kind == "mains":                                    # 50-Hz mains only, a trace of noise
        return 0.5 * np.sin(2 * np.pi * 50.0 * t) + 0.005 * rng.standard_normal(n)
    x = 0.002 * rng.standard_normal(n)                     # flat line with 1-sample spikes at ~70 /min
    x[np.cumsum(rng.uniform(0.7, 1.0, 200)).__mul__(FS).astype(int)[:140]] += 1.0
    return x


@pytest.mark.parametrize("kind", ["white", "pink", "mains", "spikes"])
@pytest.mark.parametrize("seed", [0, 1])
def test_noise_mains_and_spikes_hold_no_ecg(kind, seed):
    """White/pink noise and mains: the detector finds next to no beat (said, not read as asystole);
    spikes: beats found, but 1 sample wide."""
    p = _verdict(_negative(kind, seed))
    assert p is not None and p.ecg_found is False, p
    assert ecg_presence.warning(p).startswith("no ECG found")
    assert (p.contrast is None) == (kind != "spikes")


def test_too_short_to_judge_is_no_verdict():
    assert _verdict(np.zeros(int(20 * FS))).ecg_found is None


@pytest.mark.parametrize("fs", [128.0, 250.0, 360.0])
@pytest.mark.parametrize("rate_bpm", [60.0, 200.0])
def test_synthetic_ecg_is_an_ecg(fs, rate_bpm):
    """Seeded synthetic ECG, also at 200 /min (the QRS energy then fills half of each cycle)."""
    x, _ = _synthetic_ecg(fs, 120.0, seed=2)
    if rate_bpm > 100:                                    # time-compress: same waves, 3.3x the rate
        k = 60.0 / rate_bpm / 0.85
        src = np.arange(int(x.size * 1.0)) * k
        x = np.interp(src[src < x.size - 1], np.arange(x.size), x)
        x = np.tile(x, int(np.ceil(120 * fs / x.size)))[: int(120 * fs)]
    p = _verdict(x, fs)
    assert p.ecg_found is True, p
    assert ecg_presence.warning(p) is None


def _excerpt(path, start_s: float, seconds: float) -> tuple[np.ndarray, float]:
    rec = read_record(path, target_fs=FS, on_gaps="fill")
    a = int(start_s * rec.fs)
    return rec.signal[a: a + int(seconds * rec.fs), :2], rec.fs


@pytest.mark.parametrize("record, start_s", [("100", 0.0), ("203", 600.0), ("217", 0.0)])
def test_mitdb_excerpt_is_an_ecg(mitdb_dir, record, start_s):
    p = _verdict(*_excerpt(mitdb_dir / record, start_s, 300.0))
    assert p.ecg_found is True and p.contrast > 2 * ecg_presence.DEFAULT_PRESENCE.min_contrast, p


def test_nstdb_minus_6_db_excerpt_is_an_ecg(nstdb_dir):
    """118e_6, 0-10 min: 5 min clean, then the first 2 min of noise at -6 dB, then clean."""
    p = _verdict(*_excerpt(nstdb_dir / "118e_6", 0.0, 600.0))
    assert p.ecg_found is True, p


@pytest.mark.parametrize("record", ["bw", "em", "ma"])
def test_nstdb_noise_records_hold_no_ecg(nstdb_dir, record):
    """The NSTDB noise records (electrodes where no ECG is visible), 10 min each."""
    p = _verdict(*_excerpt(nstdb_dir / record, 300.0, 600.0))
    assert p.ecg_found is False, p


def test_warning_reaches_summary_table_and_exit_code(nstdb_dir, mitdb_dir, tmp_path, tmp_path_factory):
    """`ecgdl score` on 3 min of NSTDB em: exit 3, the warning in summary.json and summary.csv;
    beats are still written (what the detector found) and MIT-BIH 100 beside it stays quiet."""
    from ecgdl.cli import main
    from infer_fixtures import model_for_tests, write_excerpt

    model = model_for_tests(tmp_path_factory, mitdb_dir)
    folder = tmp_path / "in"
    folder.mkdir()
    import wfdb

    x, fs = _excerpt(nstdb_dir / "em", 300.0, 180.0)        # no .atr: written here without one
    wfdb.wrsamp("em", fs=fs, units=["mV", "mV"], sig_name=["noise1", "noise2"], p_signal=x.astype(np.float64),
                fmt=["16", "16"], adc_gain=[200.0, 200.0], baseline=[0, 0], write_dir=str(folder))
    write_excerpt(mitdb_dir / "100", folder, "100", start_s=60.0, seconds=180.0)
    out = tmp_path / "out"
    assert main(["score", str(folder), "--out", str(out), "--model", str(model), "--device", "cpu",
                 "--quiet"]) == 3
    em = json.loads((out / "em.summary.json").read_text())
    assert any(w.startswith("no ECG found") for w in em["warnings"])
    assert em["quality"]["ecg"]["ecg_found"] is False and em["beats"] > 0
    ok = json.loads((out / "100.summary.json").read_text())
    assert ok["quality"]["ecg"]["ecg_found"] is True
    assert not any(w.startswith("no ECG found") for w in ok["warnings"])
    with open(out / "summary.csv", newline="") as fh:
        rows = {r["record"]: r for r in csv.DictReader(fh)}
    assert "no ECG found" in rows["em"]["warnings"] and "no ECG found" not in rows["100"]["warnings"]
    from ecgdl.clinical_report import render_report
    from ecgdl.infer import BeatClassifier, score_record

    clf = BeatClassifier(model, device="cpu")
    html = render_report(score_record(folder / "em", clf), clf.meta)       # the printable report says it too
    assert "Check this record.</b> no ECG found" in html


@pytest.mark.parametrize("kind", ["noise", "ecg"])
def test_long_record_is_judged_on_chunks_spread_over_it(kind):
    """20 min in 100-s chunks (the shortest: 12 chunks): the contrast is computed in every 2nd chunk only (the cost
    of a 24-h recording stays that of 6 chunks), and the verdict is the same."""
    fs = 250.0
    if kind == "noise":                                     # spikes: beats found, and not QRS complexes
        x = 0.002 * np.random.default_rng(4).standard_normal(int(1200 * fs))
        x[np.arange(int(0.5 * fs), x.size, int(0.85 * fs))] += 1.0
    else:
        x, _ = _synthetic_ecg(fs, 1200.0, seed=4)
    q = detect_r_peaks(x, fs, chunk_s=60.0).quality
    judged = np.isfinite(q.contrast)
    assert 0 < judged.sum() <= 0.5 * judged.size
    assert ecg_presence.assess(q).ecg_found is (kind == "ecg")


def test_flutter_throughout_is_not_no_ecg():
    """2 min of 4-Hz flutter: no discrete QRS, few beats, but a VF/VFL stretch: not 'no ECG'."""
    t = np.arange(int(120 * FS)) / FS
    x = 0.8 * np.sin(2 * np.pi * 4.0 * t + 0.3 * np.sin(2 * np.pi * 0.2 * t)) \
        + 0.01 * np.random.default_rng(1).standard_normal(t.size)
    res = detect_r_peaks(x, FS)
    assert res.vf
    p = ecg_presence.assess(res.quality, vf=res.vf, fs=FS)
    assert p.ecg_found is not False, p
