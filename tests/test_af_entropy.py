"""Zhou's heart-rate word entropy (``ecgdl.af_entropy``): the vectorised windows against a plain loop, the
published threshold on synthetic rhythms, the P-wave complement, and the scorer as an ``af_model`` (off by default)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecgdl.af_entropy import (ZHOU_THRESHOLD, EntropyAF, heart_rate_entropy, heart_rate_words, window_entropy,
                              zhou_af_score)
from ecgdl.episodes import detect_episodes
from test_episodes import FS, synthetic_record


def _entropy_loop(words: np.ndarray, i: int, n_win: int = 127) -> float:
    w = min(n_win, len(words))
    s = min(max(i - w // 2, 0), len(words) - w)
    _, c = np.unique(words[s:s + w], return_counts=True)
    p = c / w
    return float(-(len(c) / (w * math.log2(w))) * (p * np.log2(p)).sum())


@pytest.mark.parametrize("n, chunk", [(1000, 16384), (700, 100), (50, 16384)])
def test_window_entropy_equals_a_plain_loop(n, chunk):
    words = np.random.default_rng(n).integers(0, 40, n)
    got = window_entropy(words, chunk=chunk)
    assert np.allclose(got, [_entropy_loop(words, i) for i in range(n)], atol=1e-12)


def test_words_are_three_5_bpm_symbols_capped_at_63():
    sample = np.round(np.cumsum([1.0, 1.0, 0.5, 0.1]) * FS).astype(int)       # RR 1.0, 0.5, 0.1 s
    w = heart_rate_words(sample, FS)                                            # 60, 120, 600 bpm: 12, 24, 63
    assert w.tolist() == [(12 * 64 + 12) * 64 + 12] * 2 + [(12 * 64 + 12) * 64 + 24, (12 * 64 + 24) * 64 + 63]


def test_published_threshold_separates_irregular_from_regular_rhythm():
    rng = np.random.default_rng(0)
    irregular = np.round(np.cumsum(rng.uniform(0.4, 1.0, 600)) * FS).astype(int)
    sinus = np.round(np.cumsum(0.8 * (1 + 0.02 * np.sin(np.arange(600) / 3.0))) * FS).astype(int)
    assert heart_rate_entropy(irregular, FS).min() >= ZHOU_THRESHOLD
    assert heart_rate_entropy(sinus, FS).max() < 0.2


def test_repeating_p_waves_veto_the_entropy():
    rng = np.random.default_rng(1)
    sample = np.round(np.cumsum(rng.uniform(0.4, 1.0, 300)) * FS).astype(int)
    p_corr = np.where(np.arange(300) < 150, 0.95, 0.3)                           # P waves in the first half only
    s = zhou_af_score(sample, FS, p_corr, 0.8)
    assert (s[:150] == 0).all() and (s[150:] >= ZHOU_THRESHOLD).all()


def test_entropy_scorer_finds_the_synthetic_af_within_its_window():
    """As ``af_model``: the AF of the synthetic record is found, its edges within the 127-beat window's reach
    (about half a window of AF beats must be in it: onset ~19 s late, end ~16 s early on this record)."""
    sample, lab, sig, truth = synthetic_record()
    eps = [e for e in detect_episodes(sample, lab, FS, signal=sig, af_model=EntropyAF()) if e.rhythm == "AFIB"]
    assert len(eps) == 1
    assert 0.0 <= eps[0].start_s - truth["AFIB"][0] <= 25.0 and 0.0 <= truth["AFIB"][1] - eps[0].end_s <= 25.0
    no_p = [e for e in detect_episodes(sample, lab, FS, signal=sig, af_model=EntropyAF(p_present=None))
            if e.rhythm == "AFIB"]
    assert len(no_p) == 1


def test_two_rhythms_starting_at_one_beat_become_annotations():
    """The union AF scorer can start AFIB at the beat a bigeminy starts (record 200 did): both are written."""
    from ecgdl.annotations import rhythm_changes
    from ecgdl.episodes import Episode

    eps = [Episode("B", 10.0, 20.0, 12, 80.0, 1.0, 10, 21), Episode("AFIB", 10.0, 50.0, 50, 90.0, 1.0, 10, 59)]
    got = rhythm_changes(eps, np.arange(100) * 360, 360.0)
    assert [a for _, a in got][:2] == ["(AFIB", "(B"]


def test_intervals_into_and_out_of_v_f_q_beats_are_left_out():
    from ecgdl.af_entropy import ectopic_kept

    assert ectopic_kept(np.array(list("NNVNNFNQNN"))).tolist() == [False, True, False, False, True, False, False,
                                                                    False, False, True]
    assert ectopic_kept(np.array(list("NVN")), exclude="").tolist() == [False, True, True]


def _sinus_with_pvcs(n: int = 600, share: float = 0.3, seed: int = 2):
    """Sinus at 75 bpm with premature V beats of varying coupling and compensatory pauses (labels per beat)."""
    rng = np.random.default_rng(seed)
    rr, lab = [], []
    while len(rr) < n:
        if rng.random() < share and lab[-1:] != ["V"]:
            rr += [rng.uniform(0.35, 0.6), rng.uniform(0.9, 1.4)]
            lab += ["V", "N"]
        else:
            rr.append(0.8)
            lab.append("N")
    return np.round(np.cumsum(rr[:n]) * FS).astype(int), np.array(lab[:n])


def test_filtered_entropy_does_not_read_ventricular_ectopy_but_still_reads_af():
    """Round 13: the short-long pairs of frequent PVCs raise the entropy of every RR; without the intervals next to
    V beats the sinus rhythm is regular again. AF with a few V beats stays above the threshold."""
    from ecgdl.af_entropy import filtered_entropy

    sample, lab = _sinus_with_pvcs()
    assert np.median(heart_rate_entropy(sample, FS)) > 0.3
    assert filtered_entropy(sample, FS, lab).max() < 0.05
    rng = np.random.default_rng(3)
    af = np.round(np.cumsum(rng.uniform(0.4, 1.0, 600)) * FS).astype(int)
    assert filtered_entropy(af, FS, np.where(rng.random(600) < 0.1, "V", "N")).min() >= ZHOU_THRESHOLD
    with pytest.raises(ValueError, match="needs the beat labels"):
        EntropyAF(exclude="VFQ").predict_beats(af, FS, np.zeros((600, 6)), 5)


def test_kept_coverage_is_the_share_of_kept_rr_in_the_centred_window():
    from ecgdl.af_entropy import kept_coverage

    keep = np.random.default_rng(4).random(300) < 0.6
    got = kept_coverage(keep)
    for i in (0, 10, 63, 150, 299):                                  # the window window_entropy reads, clipped
        s = min(max(i - 63, 0), 300 - 127)
        assert got[i] == pytest.approx(keep[s:s + 127].mean())
    assert kept_coverage(keep[:50], 127).tolist() == [pytest.approx(keep[:50].mean())] * 50


def test_thin_rr_evidence_silences_the_entropy_vote():
    """Round 14: AF-like RR where 70 % of the beats' intervals touch a V beat: the entropy of the few kept intervals
    votes AF without the coverage rule and is silenced by it; AF with a few V beats still votes (coverage ~0.8)."""
    rng = np.random.default_rng(5)
    af = np.round(np.cumsum(rng.uniform(0.4, 1.0, 600)) * FS).astype(int)
    dense = np.where(rng.random(600) < 0.45, "V", "N")
    assert zhou_af_score(af, FS, label=dense, exclude="VFQ").max() >= ZHOU_THRESHOLD
    assert (zhou_af_score(af, FS, label=dense, exclude="VFQ", min_coverage=0.5) == 0).all()
    few = np.where(rng.random(600) < 0.1, "V", "N")
    scorer = EntropyAF(p_present=None, exclude="VFQ", min_coverage=0.5)
    assert scorer.predict_beats(af, FS, np.zeros((600, 6)), 5, label=few).min() >= ZHOU_THRESHOLD


def test_contiguous_words_never_join_intervals_across_a_removed_one():
    """Round 25: sinus stretches of 5 beats whose rate steps between 60 and 95 bpm at each PVC (the sinus rate moving
    around an ectopic beat). Concatenating the kept intervals builds words that join the two rates, which read as
    disorder; words of three consecutive kept intervals see each stretch's one rate. Real AF stays AF either way."""
    rr, lab = [], []
    for k in range(120):
        rr += [60 / (60 if k % 2 else 95)] * 5 + [0.45, 1.3]           # 5 sinus intervals, a PVC, its pause
        lab += ["N"] * 5 + ["V", "N"]
    sample = np.round(np.cumsum(rr) * FS).astype(int)
    lab = np.array(lab)
    concat = zhou_af_score(sample, FS, label=lab, exclude="VFQ")
    contig = zhou_af_score(sample, FS, label=lab, exclude="VFQ", contiguous=True)
    assert np.median(concat) > 2 * np.median(contig) and contig.max() < ZHOU_THRESHOLD
    rng = np.random.default_rng(7)
    af = np.round(np.cumsum(rng.uniform(0.4, 1.0, 600)) * FS).astype(int)
    few = np.where(rng.random(600) < 0.05, "V", "N")
    assert np.median(zhou_af_score(af, FS, label=few, exclude="VFQ", min_coverage=0.5, contiguous=True)) >= ZHOU_THRESHOLD
