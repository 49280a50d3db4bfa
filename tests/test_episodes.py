"""Rhythm episodes on synthetic ECGs with known episodes, the CSV contract, and real MIT-BIH records."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from ecgdl.episodes import (CSV_COLUMNS, RHYTHMS, Episode, EpisodeConfig, detect_episodes, episode_summary,
                            episodes_csv)
from ecgdl.rhythm import pauses as find_pauses

FS = 360.0


def _bump(t: np.ndarray, at: np.ndarray, amp: float, width_s: float) -> np.ndarray:
    """Sum of Gaussian bumps of ``amp`` centred at times ``at`` (seconds)."""
    out = np.zeros_like(t)
    half = int(4 * width_s * FS)
    for c in at:
        i = int(c * FS)
        sl = slice(max(0, i - half), min(len(t), i + half))
        out[sl] += amp * np.exp(-0.5 * ((t[sl] - c) / width_s) ** 2)
    return out


GAPS = ((450.0, 2.9), (480.0, 3.1))  # (at the first beat after this time, an RR of this length): the pauses


def synthetic_record(seed: int = 0):
    """10 minutes: sinus (P waves, 75 bpm), AF 200-320 s (irregular RR, f waves, no P), sinus again with a
    VT run of exactly 3 beats at 400 s (150 bpm), a 2.9-s pause at 450 s and a 3.1-s pause at 480 s.

    Returns ``(sample, label, signal, truth)``; truth maps rhythm -> (start_s, end_s).
    """
    rng = np.random.default_rng(seed)
    t_r, lab, pending = [1.0], ["N"], list(GAPS)

    def beat(rr: float, kind: str = "N") -> None:
        t_r.append(t_r[-1] + rr)
        lab.append(kind)

    while t_r[-1] < 600.0:
        t = t_r[-1]
        if 200.0 <= t < 320.0:
            beat(rng.uniform(0.4, 1.0))
        elif t >= 400.0 and "V" not in lab:
            for _ in range(3):
                beat(0.4, "V")                   # exactly 3 V beats at 150 bpm
            beat(1.2)                            # compensatory pause
        elif pending and t >= pending[0][0]:
            beat(pending.pop(0)[1])
        else:
            beat(0.8 * (1 + 0.02 * np.sin(2 * np.pi * t / 4.0)))
    t_r, lab = np.array(t_r), np.array(lab)
    tt = np.arange(int(602 * FS)) / FS
    sinus = (t_r < 200.0) | (t_r >= 320.0)
    sig = _bump(tt, t_r, 1.0, 0.012) + _bump(tt, t_r + 0.28, 0.25, 0.04)
    sig += _bump(tt, t_r[sinus & (lab == "N")] - 0.16, 0.15, 0.02)
    af = (tt >= 200.0) & (tt < 320.0)
    sig[af] += 0.05 * np.sin(2 * np.pi * 6.0 * tt[af] + np.cumsum(rng.normal(0, 0.05, af.sum())))
    sig += rng.normal(0, 0.005, len(tt))
    sample = np.round(t_r * FS).astype(np.int64)
    truth = {"AFIB": (200.0, 320.0), "VT": (t_r[lab == "V"][0], t_r[lab == "V"][-1])}
    return sample, lab, sig.astype(np.float32), truth


@pytest.fixture(scope="module")
def synthetic():
    sample, lab, sig, truth = synthetic_record()
    pauses = find_pauses(sample, FS, pause_s=2.0)
    eps = detect_episodes(sample, lab, FS, signal=sig, pauses=pauses)
    return sample, lab, truth, pauses, eps


def test_synthetic_record_gives_exactly_its_episodes(synthetic):
    sample, lab, truth, pauses, eps = synthetic
    assert [round(p["duration_s"], 1) for p in pauses] == [2.9, 3.1]  # the detector's pause list has both
    assert sorted(e.rhythm for e in eps) == ["AFIB", "PAUSE", "VT"]
    by = {e.rhythm: e for e in eps}
    af = by["AFIB"]
    assert af.start_s == pytest.approx(truth["AFIB"][0], abs=8.0)
    assert af.end_s == pytest.approx(truth["AFIB"][1], abs=8.0)
    vt = by["VT"]
    assert vt.beats == 3 and (vt.start_s, vt.end_s) == pytest.approx(truth["VT"], abs=0.01)
    assert vt.mean_hr_bpm == pytest.approx(150.0, abs=1.0)
    assert by["PAUSE"].duration_s == pytest.approx(3.1, abs=0.01)  # 2.9 s stays below the 3-s convention


def test_af_needs_absent_p_waves():
    """The same irregular RR with P waves before every beat is not AF (frequent premature beats, sinus)."""
    sample, lab, _, _ = synthetic_record()
    tt = np.arange(int(602 * FS)) / FS
    t_r = sample / FS
    sig = _bump(tt, t_r, 1.0, 0.012) + _bump(tt, t_r - 0.16, 0.15, 0.02) + _bump(tt, t_r + 0.28, 0.25, 0.04)
    eps = detect_episodes(sample, lab, FS, signal=sig.astype(np.float32))
    assert "AFIB" not in {e.rhythm for e in eps}


@pytest.mark.parametrize("text, rr_s, bridge, expected", [
    ("NNNNNVVVNNNNN", 0.4, "", [("VT", 3)]),        # exactly 3 V at 150 bpm
    ("NNNNNVVNNNNNN", 0.4, "", []),                 # a couplet is not a run
    ("NNNNNVVVNNNNN", 0.8, "", []),                 # 3 V at 75 bpm: shorter than ivr_min_beats (5, round 8)
    ("NNNNVVVVVNNNN", 0.8, "", [("IVR", 5)]),       # 5 V at 75 bpm: idioventricular
    ("NNNNNSSSSNNNN", 0.45, "", [("SVTA", 4)]),     # 4 S at 133 bpm
    ("NNNNNVSVNNNNN", 0.4, "", []),                 # vt_bridge="": no S/F beat bridged
    ("NNNNNVSVNNNNN", 0.4, "SF", [("VT", 3)]),      # vt_bridge="SF": one beat called S inside a fast V run
    ("NNNNNVFVVNNNN", 0.4, "SF", [("VT", 4)]),      # ... or F
    ("NNNNNVNVNNNNN", 0.4, "SF", []),               # not N: a fast bigeminy-like V N V is no run
    ("NNNNNVSSVNNNN", 0.4, "SF", []),               # at most one bridged beat
])
def test_ectopic_runs(text, rr_s, bridge, expected):
    lab = np.array(list(text))
    rr = np.where(np.r_[False, lab[1:] != "N"], rr_s, 0.8)
    sample = np.round(np.cumsum(rr) * FS).astype(np.int64)
    eps = detect_episodes(sample, lab, FS, af_model=None, cfg=EpisodeConfig(vt_bridge=bridge))
    assert [(e.rhythm, e.beats) for e in eps] == expected


def test_weak_v_beats_do_not_make_a_run():
    """A run needs 2 V beats with V probability >= vt_min_pv; a weak V between two strong ones is taken in."""
    lab = np.array(list("NNNNNVVVNNNNN"))
    rr = np.where(np.r_[False, lab[1:] != "N"], 0.4, 0.8)
    sample = np.round(np.cumsum(rr) * FS).astype(np.int64)
    proba = np.tile([1.0, 0.0, 0.0, 0.0, 0.0], (len(lab), 1))
    classes = ("N", "S", "V", "F", "Q")

    def runs(p_v):
        proba[5:8] = [[1 - v, 0, v, 0, 0] for v in p_v]
        return [(e.rhythm, e.beats) for e in detect_episodes(sample, lab, FS, proba=proba, classes=classes,
                                                             af_model=None)]

    assert runs([0.9, 0.4, 0.9]) == [("VT", 3)]
    assert runs([0.4, 0.9, 0.9]) == []           # only 2 beats from the first strong V on
    assert runs([0.4, 0.9, 0.4]) == []
    proba[5:8] = [[0.6, 0, 0.4, 0, 0]] * 3        # weak in proba, strong in the p_v the VT rule is given
    eps = detect_episodes(sample, lab, FS, proba=proba, classes=classes, af_model=None, p_v=np.full(len(lab), 0.9))
    assert [(e.rhythm, e.beats) for e in eps] == [("VT", 3)]


def test_inductive_p_v_joins_a_run_the_adaptive_labels_split():
    """With ``vt_ind_pv`` set, a beat whose pre-adaptation p(V) reaches it is a strong V beat whatever its label."""
    lab = np.array(list("NNNNNVNVNNNNN"))                  # the adaptive step relabelled the middle beat N
    rr = np.full(13, 0.8)
    rr[6:8] = 0.4                                          # beats 5-7 at 150 bpm
    sample = np.round(np.cumsum(rr) * FS).astype(np.int64)
    p_ind = np.where(np.arange(13) == 6, 0.95, 0.0)
    p_ind[[5, 7]] = 0.9

    def runs(cfg, p=p_ind):
        return [(e.rhythm, e.beats) for e in detect_episodes(sample, lab, FS, af_model=None, cfg=cfg, p_v_ind=p)]

    assert runs(EpisodeConfig(vt_ind_pv=None)) == []                    # off: the labels only
    assert runs(EpisodeConfig(vt_ind_pv=0.9)) == [("VT", 3)]
    assert runs(EpisodeConfig(vt_ind_pv=0.96)) == []                    # 0.95 < 0.96: the N beat stays N
    assert runs(EpisodeConfig(vt_ind_pv=0.9), None) == []               # no inductive p(V) given: labels only


def test_af_features_do_not_read_s_labels():
    """AF evidence is the same whatever the classifier calls S or N (the adaptive step moves AF beats to S)."""
    from ecgdl.af import af_features

    sample, lab, sig, _ = synthetic_record()
    relabelled = np.where(np.arange(len(lab)) % 3 == 0, np.where(lab == "N", "S", lab), lab)
    np.testing.assert_array_equal(af_features(sample, lab, FS, sig), af_features(sample, relabelled, FS, sig))


def test_bigeminy_and_trigeminy():
    lab = np.array(list("NN" + "NV" * 5 + "NNN" + "NNV" * 4 + "NN"))
    sample = (np.arange(len(lab)) * 0.8 * FS).astype(np.int64)
    eps = detect_episodes(sample, lab, FS, af_model=None)
    assert [(e.rhythm, e.first_beat, e.last_beat) for e in eps] == [("B", 2, 11), ("T", 15, 26)]


def test_second_degree_block_and_bradycardia():
    """2:1 conduction: RR doubles from 0.8 s to 1.6 s for 40 beats, then returns."""
    rr = np.r_[np.full(60, 0.8), np.full(40, 1.6), np.full(60, 0.8)]
    sample = np.round(np.cumsum(rr) * FS).astype(np.int64)
    eps = detect_episodes(sample, np.full(len(rr), "N"), FS, af_model=None)
    bii = [e for e in eps if e.rhythm == "BII"]
    assert len(bii) == 1 and bii[0].beats >= 38
    short = np.round(np.cumsum(np.r_[np.full(60, 0.8), np.full(10, 1.6), np.full(60, 0.8)]) * FS).astype(np.int64)
    assert "BII" not in {e.rhythm for e in detect_episodes(short, np.full(130, "N"), FS, af_model=None)}  # 16 s < 20 s
    slow = np.round(np.cumsum(np.full(80, 1.3)) * FS).astype(np.int64)  # 46 bpm, P waves unknown
    assert {e.rhythm for e in detect_episodes(slow, np.full(80, "N"), FS, af_model=None)} == {"SBR"}


def test_sbr_from_the_mean_rate_counts_the_pauses():
    """Sinus at 60 bpm with a 4-s pause every 4 beats: the median rate stays 60, the mean rate is 34.3 bpm."""
    rr = np.tile([1.0, 1.0, 1.0, 4.0], 30)                               # 120 s, mean RR 1.75 s
    sample = np.round(np.cumsum(rr) * FS).astype(np.int64)
    lab = np.full(len(rr), "N")
    off = EpisodeConfig(sbr_mean_bpm=None)                              # the median rule alone
    assert "SBR" not in {e.rhythm for e in detect_episodes(sample, lab, FS, af_model=None, cfg=off)}
    eps = detect_episodes(sample, lab, FS, af_model=None)              # shipped: mean rate < 40 bpm
    assert [e.rhythm for e in eps if e.rhythm == "SBR"] == ["SBR"]
    assert not [e for e in detect_episodes(sample, lab, FS, af_model=None, cfg=EpisodeConfig(sbr_mean_bpm=30.0))
                if e.rhythm == "SBR"]


def test_af_hysteresis_holds_a_run_through_lower_probabilities():
    """``af_hold``: a run of beats >= the hold level that reaches the threshold somewhere is AF end to end."""
    from ecgdl.episodes import held

    p = np.r_[np.full(10, 0.2), np.full(40, 0.8), [0.95], np.full(40, 0.8), np.full(10, 0.2)]
    np.testing.assert_array_equal(held(p, 0.9, None), p >= 0.9)
    np.testing.assert_array_equal(held(p, 0.9, 0.7), (p >= 0.7))
    np.testing.assert_array_equal(held(np.full(5, 0.8), 0.9, 0.7), np.zeros(5, bool))   # never reaches 0.9


def test_vf_stretches_become_vfl_episodes():
    sample = (np.arange(100) * 0.8 * FS).astype(np.int64)
    eps = detect_episodes(sample, np.full(100, "N"), FS, vf=[(20.0, 31.5)], af_model=None)
    assert [(e.rhythm, e.start_s, e.end_s) for e in eps] == [("VFL", 20.0, 31.5)]


def test_csv_contract(synthetic):
    *_, eps = synthetic
    text = episodes_csv(eps)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert {"rhythm", "start_s", "end_s", "beats", "mean_hr_bpm", "confidence"} <= set(CSV_COLUMNS)
    assert len(rows) == len(eps)
    for row, e in zip(rows, eps):
        assert row["rhythm"] in RHYTHMS and not row["rhythm"].startswith("(")
        assert float(row["start_s"]) == pytest.approx(e.start_s) and float(row["end_s"]) >= float(row["start_s"])
        assert int(row["beats"]) == e.beats and 0.0 <= float(row["confidence"]) <= 1.0
    assert episodes_csv([]) == ",".join(CSV_COLUMNS) + "\n"  # an empty record still has the header


def test_episode_summary_burden_and_longest():
    eps = [Episode("AFIB", 0.0, 60.0, 70, 90.0, 0.9), Episode("AFIB", 100.0, 130.0, 40, 95.0, 0.9),
           Episode("VT", 200.0, 201.0, 3, 150.0, 1.0)]
    s = episode_summary(eps, duration_s=600.0)
    assert s["af_burden_pct"] == pytest.approx(15.0)
    assert s["counts"]["AFIB"] == 2 and s["counts"]["VT"] == 1 and s["counts"]["SBR"] == 0
    assert s["longest"]["AFIB"]["duration_s"] == pytest.approx(60.0)
    assert s["config"]["pause_min_s"] == EpisodeConfig().pause_min_s


def test_batch_writes_the_episode_contract(mitdb_dir, tmp_path):
    """``ecgdl score`` writes ``<record>.episodes.csv``; summary JSON and run table carry the episode figures."""
    import json

    from ecgdl.cli import main

    assert main(["score", str(mitdb_dir / "203"), "--out", str(tmp_path), "--quiet"]) == 0
    rows = list(csv.DictReader((tmp_path / "203.episodes.csv").open()))
    assert rows and tuple(rows[0]) == CSV_COLUMNS
    assert {r["rhythm"] for r in rows} <= set(RHYTHMS) and "AFIB" in {r["rhythm"] for r in rows}
    summary = json.loads((tmp_path / "203.summary.json").read_text())
    ep = summary["episodes"]
    assert ep["af_burden_pct"] > 50.0 and ep["counts"]["AFIB"] >= 1 and "AFIB" in ep["longest"]
    assert {"sdnn_ms", "rmssd_ms", "pnn50_pct", "sdann_ms", "hti", "lf_hf"} <= set(summary["hrv"])
    table = list(csv.DictReader((tmp_path / "summary.csv").open()))[0]
    assert float(table["af_burden_pct"]) == pytest.approx(ep["af_burden_pct"])
    assert int(table["VT_episodes"]) == ep["counts"]["VT"]


def test_record_207_ventricular_flutter_is_found(mitdb_dir):
    """DS1 record 207: the detector's VF stretches become VFL episodes covering the reference ``(VFL`` time."""
    import wfdb

    from ecgdl.infer import BeatClassifier, score_record

    res = score_record(mitdb_dir / "207", BeatClassifier(device="cpu"), compare=False)
    vfl = [(e.start_s, e.end_s) for e in res.episodes if e.rhythm == "VFL"]
    ann = wfdb.rdann(str(mitdb_dir / "207"), "atr")
    marks = [(s / ann.fs, x.strip("\x00")) for s, sym, x in zip(ann.sample, ann.symbol, ann.aux_note) if sym == "+"]
    ref = [(t, marks[i + 1][0]) for i, (t, x) in enumerate(marks[:-1]) if x == "(VFL"]
    overlap = sum(max(0.0, min(b, d) - max(a, c)) for a, b in ref for c, d in vfl)
    assert ref and overlap / sum(b - a for a, b in ref) > 0.8      # duration Se (measured: 91.9 %)
    assert overlap / sum(d - c for c, d in vfl) > 0.8              # duration +P (measured: 95.2 %)


def test_record_203_vt_run_the_adaptive_step_relabels_is_still_found(mitdb_dir):
    """DS1 record 203: the adaptive step calls the beats of the reference ``(VT`` run at 303.6-307.5 s N
    (p(V) ~0.01); the classifier alone gives them a high p(V), and the VT rule (``vt_ind_pv``) still finds it."""
    from ecgdl.infer import BeatClassifier, score_record

    res = score_record(mitdb_dir / "203", BeatClassifier(device="cpu"), compare=False)
    assert res.summary["adapt"]["applied"] and res.p_v_inductive is not None

    def vt_over(eps, a=303.59, b=307.53):
        return [e for e in eps if e.rhythm == "VT" and e.start_s < b and e.end_s > a]

    found = vt_over(res.episodes)
    assert found, "the reference VT run at 303.6 s was not found"
    run = slice(found[0].first_beat, found[0].last_beat + 1)
    assert (res.label[run] == "N").sum() >= 3 and (res.p_v_inductive[run] >= EpisodeConfig().vt_ind_pv).all()
    labels_only = detect_episodes(res.sample, res.label, res.record.fs, proba=res.proba, classes=res.classes,
                                  signal=res.conditioned[:, 0], pauses=res.summary["pauses"],
                                  vf=res.summary.get("vf", ()), cfg=EpisodeConfig(vt_ind_pv=None))
    assert not vt_over(labels_only)                   # the adaptive labels alone lose it


def _wide_run_record(shapes):
    """40 narrow N beats at 75 bpm, then three beats at 150 bpm whose QRS are drawn by ``shapes`` (functions of
    time from the R peak, s), then narrow beats again; every beat labelled N. Returns ``(sample, label, leads)``."""
    t_r = np.r_[np.arange(40) * 0.8 + 1.0, 32.6 + np.arange(3) * 0.4, 34.6 + np.arange(20) * 0.8]
    tt = np.arange(int(52 * FS)) / FS
    sig = _bump(tt, t_r, 1.0, 0.012) + _bump(tt, t_r + 0.28, 0.25, 0.04)
    for k, shape in zip(range(40, 43), shapes):
        sl = slice(int((t_r[k] - 0.2) * FS), int((t_r[k] + 0.2) * FS))
        sig[sl] = shape(tt[sl] - t_r[k])
    sig += np.random.default_rng(0).normal(0, 0.005, len(tt))
    x = np.stack([sig, 0.6 * sig], axis=1).astype(np.float32)
    return np.round(t_r * FS).astype(np.int64), np.array(["N"] * len(t_r)), x


def test_wide_qrs_unlike_the_dominant_makes_a_vt_run_of_n_labelled_beats():
    """Round 7: three beats at 150 bpm labelled N but with a wide QRS unlike the record's narrow one are VT
    (``ecgdl.wide_qrs``); not without the leads, not when off, and not when the wide beats resemble none
    of their neighbours (the noise guard)."""
    wide = lambda d: -1.2 * np.exp(-0.5 * (d / 0.04) ** 2)
    sample, lab, x = _wide_run_record([wide] * 3)

    def runs(cfg=EpisodeConfig(), leads=x):
        return [(e.rhythm, e.first_beat, e.beats) for e in detect_episodes(sample, lab, FS, af_model=None, cfg=cfg,
                                                                            qrs_signal=leads)
                if e.rhythm in ("VT", "IVR")]

    assert runs() == [("VT", 40, 3)]
    assert runs(leads=None) == []                                    # no leads: the labels only
    assert runs(EpisodeConfig(vt_wide_corr=None)) == []              # off
    noise = [lambda d: 1.2 * (d / 0.03) * np.exp(-0.5 * (d / 0.03) ** 2), wide,
             lambda d: 0.8 * np.sin(2 * np.pi * 9 * d) * (np.abs(d) < 0.09)]
    sample, lab, x = _wide_run_record(noise)
    assert runs(leads=x) == []                                       # unlike each other: not ventricular
    assert runs(EpisodeConfig(vt_wide_twin=None), leads=x) == [("VT", 40, 3)]   # without the guard they would be


def test_sinus_bradycardia_among_atrial_ectopics_reads_the_cycles_ending_in_n_beats():
    """Round 9 (``paused_sinus``): each sinus beat (P wave 0.2 s before R) is followed by two APCs (0.6 s apart,
    their own P wave 0.15 s before R: ``p_corr`` ~0.7, under the 0.8 "P waves present", as in 232) and a 2.1-s
    pause (28.6 bpm) before the next sinus beat: the median rate (100 bpm), the mean rate (55 bpm) and the N-N
    cycles (none) miss the bradycardia; the RR ending in N beats find it, with the record's P wave located."""
    t_r, lab = [], []
    for k in range(30):
        t_r += [1.0 + 3.3 * k, 1.6 + 3.3 * k, 2.2 + 3.3 * k]
        lab += ["N", "S", "S"]
    t_r, lab = np.array(t_r), np.array(lab)
    tt = np.arange(int((t_r[-1] + 2) * FS)) / FS
    sig = _bump(tt, t_r, 1.0, 0.012) + _bump(tt, t_r + 0.28, 0.25, 0.04) + _bump(tt, t_r[lab == "N"] - 0.2, 0.15, 0.02)
    sig += _bump(tt, t_r[lab == "S"] - 0.15, 0.12, 0.02)
    sig = (sig + np.random.default_rng(0).normal(0, 0.005, len(tt))).astype(np.float32)
    sample = np.round(t_r * FS).astype(np.int64)

    def sbr(cfg=EpisodeConfig()):
        return [(e.rhythm, e.beats) for e in detect_episodes(sample, lab, FS, af_model=None, signal=sig, cfg=cfg)
                if e.rhythm == "SBR"]

    found = sbr()
    assert len(found) == 1 and found[0][1] >= 70                 # of the 90 beats (the rate window's edges)
    assert sbr(EpisodeConfig(sbr_pause_bpm=None)) == []          # off: the other SBR conditions miss it
    assert sbr(EpisodeConfig(sbr_pause_bpm=25.0)) == []          # 28.6 bpm is not below 25
