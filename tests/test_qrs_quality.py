"""Tests for VF/VFL stretches (ecgdl.vf), quality and undetected gaps (ecgdl.quality), and pauses that are real."""
from __future__ import annotations

import numpy as np
import pytest

from ecgdl.quality import segment_quality, undetected_gaps
from ecgdl.qrs import detect_r_peaks
from ecgdl.qrs_config import QRSConfig, VFConfig
from ecgdl.rhythm import summarise
from ecgdl.vf import vf_stretches
from test_qrs import _synthetic_ecg


@pytest.mark.parametrize("fs", [128.0, 250.0, 360.0])
def test_flutter_inside_sinus_rhythm_is_a_vf_stretch_without_beats(fs):
    """30 s of 4 Hz (240 /min) sine-like flutter spliced into a synthetic ECG: one VF stretch, no beats in it."""
    x, truth = _synthetic_ecg(fs, 120.0, seed=3)
    t = np.arange(x.size) / fs
    a, b = int(40 * fs), int(70 * fs)
    rng = np.random.default_rng(1)
    x[a:b] = 0.8 * np.sin(2 * np.pi * 4.0 * t[a:b] + 0.3 * np.sin(2 * np.pi * 0.2 * t[a:b])) \
        + 0.01 * rng.standard_normal(b - a)
    res = detect_r_peaks(x, fs)
    assert len(res.vf) == 1, res.vf
    s, e = res.vf[0]
    assert abs(s - a) < 5 * fs and abs(e - b) < 5 * fs
    assert not np.any((res.peaks >= s) & (res.peaks < e))
    outside = truth[(truth < a - 2 * fs) | (truth > b + 2 * fs)]
    assert (np.min(np.abs(outside[:, None] - res.peaks[None]), axis=1) <= 2).mean() > 0.99
    assert not any(g[0] < e and s < g[1] for g in res.undetected)


@pytest.mark.parametrize("fs", [128.0, 250.0, 360.0])
def test_short_flutter_is_found_by_the_short_windows(fs):
    """A 4.5-s flutter burst (as 207's 4.3-s one at 242 s): the 4-s windows hold QRS at their edges and
    miss it; the 2-s pass finds it, onset and offset within 2 s, no beat inside."""
    x, _ = _synthetic_ecg(fs, 120.0, seed=3)
    t = np.arange(x.size) / fs
    a, b = int(40 * fs), int(44.5 * fs)
    x[a:b] = 0.8 * np.sin(2 * np.pi * 4.0 * t[a:b] + 0.3 * np.sin(2 * np.pi * 0.2 * t[a:b])) \
        + 0.01 * np.random.default_rng(1).standard_normal(b - a)
    long_only = detect_r_peaks(x, fs, QRSConfig(vf=VFConfig(short_min_s=0.0)))
    assert long_only.vf == ()                               # measured: missed by the 4-s pass alone
    res = detect_r_peaks(x, fs)
    assert len(res.vf) == 1, res.vf
    s, e = res.vf[0]
    assert abs(s - a) < 2 * fs and abs(e - b) < 2 * fs      # measured 0.7-0.9 s late, 0.4-0.5 s early
    assert not np.any((res.peaks >= s) & (res.peaks < e))


@pytest.mark.parametrize("fs", [128.0, 360.0])
def test_sinus_rhythm_has_no_vf(fs):
    x, _ = _synthetic_ecg(fs, 120.0, seed=5)
    assert vf_stretches(x, fs) == ()


def test_gap_with_beats_is_undetected_flat_gap_is_a_pause():
    """A 4-s gap over real beats is 'undetected'; a 4-s flat stretch (asystole) is a pause, in the summary."""
    fs = 250.0
    x, truth = _synthetic_ecg(fs, 60.0, seed=7)
    gap = (truth > 20 * fs) & (truth < 24 * fs)           # pretend these beats were not found
    peaks = truth[~gap]
    und = undetected_gaps(x, fs, peaks)
    assert len(und) == 1 and und[0][0] < 20 * fs < 24 * fs < und[0][1]
    # asystole: flatten 30-34 s (baseline only) and drop its beats
    y = x.copy()
    a, b = int(30 * fs), int(34 * fs)
    y[a:b] = np.linspace(y[a], y[b], b - a)
    pk = truth[(truth < a - 0.3 * fs) | (truth > b + 0.1 * fs)]
    assert undetected_gaps(y, fs, pk) == ()
    s = summarise(["N"] * peaks.size, peaks, fs, undetected=und)
    assert s["pauses"] == [] and len(s["undetected"]) == 1
    s2 = summarise(["N"] * pk.size, pk, fs, undetected=undetected_gaps(y, fs, pk))
    assert len(s2["pauses"]) == 1 and s2["undetected"] == []


def test_vf_stretch_is_never_a_pause():
    fs = 360.0
    peaks = np.array([0, 360, 720, 720 + 10 * 360, 720 + 11 * 360])
    s = summarise(["N"] * 5, peaks, fs, vf=((800, 720 + 10 * 360 - 100),))
    assert s["pauses"] == [] and s["vf"][0]["start_s"] == round(800 / fs, 3)


def test_segment_quality_flags_noise():
    """Beats that do not look alike (noise detections) make a segment unreadable; a clean ECG does not."""
    fs = 250.0
    x, truth = _synthetic_ecg(fs, 60.0, seed=9)
    q = segment_quality(x, fs, truth)
    assert q.unreadable == () and np.nanmin(q.index) > 0.9
    rng = np.random.default_rng(0)
    noisy = x + np.where((np.arange(x.size) > 20 * fs) & (np.arange(x.size) < 40 * fs),
                         1.5 * rng.standard_normal(x.size), 0.0)
    fake = np.sort(np.r_[truth, rng.integers(int(20 * fs), int(40 * fs), 40)])
    q2 = segment_quality(noisy, fs, fake)
    assert q2.unreadable and q2.unreadable[0][0] >= 20 * fs - 1 and q2.unreadable[-1][1] <= 40 * fs + 1


def test_unnamed_leads_choose_the_readable_one(mitdb_dir):
    """101 with its leads swapped (a noisy V1 first, as an unknown recorder's ECG1/ECG2 may be):
    choose_lead finds the beats the first lead hides; with MLII first it changes nothing."""
    from test_qrs import _record, _se_ppv

    x, fs, ref, _ = _record(mitdb_dir, "101", 10)
    swapped = np.ascontiguousarray(x[:, ::-1])
    blind = _se_ppv(ref, detect_r_peaks(swapped, fs).peaks, fs)
    chosen = _se_ppv(ref, detect_r_peaks(swapped, fs, choose_lead=True).peaks, fs)
    assert blind[0] < 80.0                                   # measured 60.4 / 97.5
    assert chosen[0] >= 99.5 and chosen[1] >= 99.0, chosen    # measured 99.69 / 99.38
    same = detect_r_peaks(x, fs, choose_lead=True).peaks
    assert np.array_equal(same, detect_r_peaks(x, fs).peaks)
