"""ecgdl.review: the event list in order of importance, per-class reliability, the heart-rate trend axis,
and the header's base time as clock time (real MIT-BIH records, the shipped model)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgdl.review import class_reliability, event_window, hr_trend, review_events, trend_range


@pytest.fixture(scope="module")
def clf():
    from ecgdl.infer import BeatClassifier

    try:
        return BeatClassifier()
    except (FileNotFoundError, KeyError) as exc:
        pytest.skip(f"no shipped beat classifier: {exc!r}")


@pytest.fixture(scope="module")
def scored233(mitdb_dir, clf):
    from ecgdl.infer import score_record

    return score_record(mitdb_dir / "233", clf, adapt=False)  # inductive: 233's F over-call is the case to flag


def test_events_come_most_important_first(scored233):
    events = review_events(scored233)
    ranks = [e.rank for e in events]
    assert ranks == sorted(ranks)
    assert events[0].title == "Ventricular run"
    low = [e for e in events if e.kind == "lowconf"]
    assert len(low) == 20 and events[-1].kind == "lowconf"
    assert np.min(np.diff(sorted(e.start_s for e in low))) >= 10.0


def test_rhythm_episodes_join_the_list_when_the_summary_has_them(scored233):
    import dataclasses

    from ecgdl.episodes import Episode as RhythmEpisode

    af = RhythmEpisode("AFIB", 100.0, 160.0, beats=80, mean_hr_bpm=110.0, confidence=0.9)
    events = review_events(dataclasses.replace(scored233, episodes=[af]))
    af = [e for e in events if e.kind == "rhythm"]
    assert [e.title for e in af] == ["Atrial fibrillation"]
    assert events.index(af[0]) < next(i for i, e in enumerate(events) if e.kind == "couplet")


def test_event_window_centres_short_events_and_starts_long_ones():
    from ecgdl.view import Episode

    a, b = event_window(Episode("couplet", "V", 100.0, 101.0, ""), 10.0, 1800.0)
    assert (a, b) == pytest.approx((95.5, 105.5))
    a, b = event_window(Episode("run", "V", 100.0, 140.0, ""), 10.0, 1800.0)
    assert a == pytest.approx(99.0)


def test_reliability_marks_the_classes_to_check(scored233, clf):
    """A class whose validated +P is under 80 % (the shipped model: F, 46 %) is marked wherever it is called."""
    from ecgdl.clinical_report import ds2_metrics

    rel = class_reliability(scored233, ds2_metrics(clf.meta))
    validated_ppv = ds2_metrics(clf.meta)["F"]["ppv"]
    if validated_ppv < 0.8 and scored233.summary["counts"]["F"]:
        assert rel["F"].needs_look and "+P" in rel["F"].reason
    assert not rel["N"].needs_look and rel["N"].mean_confidence > 0.8
    assert not rel["Q"].needs_look                                   # no Q beats: nothing to check


def test_trend_is_clipped_to_the_record_and_has_points_for_short_records(scored233):
    rec = scored233.record
    trend = hr_trend(scored233.sample, rec.fs, rec.duration_s, scored233.summary["rhythm_config"])
    assert len(trend) >= 12 and trend[-1]["end_s"] <= rec.duration_s
    short = scored233.sample[scored233.sample < 120 * rec.fs]
    assert len(hr_trend(short, rec.fs, 120.0)) >= 10                 # a 2-min record: not a one-dot trend


@pytest.mark.parametrize("bpm", [[100.5, 104.0], [60.0], [], [40.0, 180.0]])
def test_trend_axis_spans_at_least_40_bpm(bpm):
    lo, hi = trend_range(bpm)
    assert hi - lo >= 40 and lo >= 0 and all(lo <= v <= hi for v in bpm)


def test_header_base_time_gives_clock_times(mitdb_dir, tmp_path):
    """A WFDB header with a base time (08:15:30) starts the clock there; MIT-BIH headers have none."""
    import shutil

    from ecgdl.clock import format_time
    from ecgdl.io import read_record

    hea = (mitdb_dir / "100.hea").read_bytes().split(b"\n")
    hea[0] = hea[0].rstrip(b"\r") + b" 08:15:30" + (b"\r" if hea[0].endswith(b"\r") else b"")
    (tmp_path / "100.hea").write_bytes(b"\n".join(hea))
    shutil.copy(mitdb_dir / "100.dat", tmp_path / "100.dat")
    rec = read_record(tmp_path / "100")
    assert rec.start_clock_s == 8 * 3600 + 15 * 60 + 30
    assert format_time(60.0, rec.start_clock_s) == "08:16:30"
    assert read_record(mitdb_dir / "100").start_clock_s is None


def test_rhythm_episodes_from_the_episode_rules(mitdb_dir, clf):
    """Record 201 holds atrial fibrillation: ecgdl.episodes finds it on the model's beats; it joins the list
    right after the V runs, and the HRV of the N-N intervals is there for the report."""
    from ecgdl.infer import score_record
    from ecgdl.review import record_hrv, rhythm_episodes

    r = score_record(mitdb_dir / "201", clf)
    names = {e.title for e in rhythm_episodes(r)}
    assert "Atrial fibrillation" in names and "Ventricular bigeminy" not in names    # B/T are listed as patterns
    events = review_events(r)
    af = next(i for i, e in enumerate(events) if e.title == "Atrial fibrillation")
    assert all(e.rank <= 1 for e in events[:af])
    assert record_hrv(r)["sdnn_ms"] > 0


def test_vf_and_undetected_stretches_are_events(mitdb_dir, clf):
    """Record 207: the detector's VF/VFL stretches lead the list. Record 203 (AF with flutter): every undetected
    stretch of its summary is an event of kind "undetected" (207's were all found by the noisy-stretch stage)."""
    from ecgdl.infer import score_record

    r = score_record(mitdb_dir / "207", clf)
    events = review_events(r)
    assert events[0].title == "Ventricular flutter / fibrillation"
    assert len([e for e in events if e.kind == "undetected"]) == len(r.summary["undetected"])
    r = score_record(mitdb_dir / "203", clf)
    undetected = [e for e in review_events(r) if e.kind == "undetected"]
    assert r.summary["undetected"] and len(undetected) == len(r.summary["undetected"])


def test_rhythm_episodes_are_bands_on_the_overview_and_the_trend(scored233):
    """Every rhythm episode of 233 (pauses aside) is a named band on the overview and shaded on the HR trend."""
    from dataclasses import asdict, is_dataclass

    from ecgdl import view
    from ecgdl.app.ecg_figures import overview_figure, trend_figure
    from ecgdl.review import episode_bands

    result = scored233
    eps = [asdict(e) if is_dataclass(e) else e for e in result.episodes]
    expected = sorted((float(e["start_s"]), float(e["end_s"])) for e in eps if e["rhythm"] != "PAUSE")
    bands = episode_bands(result)
    assert expected and [(a, b) for a, b, _, _ in bands] == expected
    rec = result.record
    tr = view.trace(result.conditioned[:, 0], rec.fs, 0, rec.duration_s, 3000)
    fig = overview_figure(tr, {}, window=(0, 10), duration_s=rec.duration_s, bands=bands)
    shapes = {(sh.x0, sh.x1) for sh in fig.layout.shapes}
    assert set(expected) <= shapes
    long_ones = {code for a, b, code, _ in bands if b - a >= rec.duration_s / 40}
    names = [a.text for a in fig.layout.annotations]
    assert long_ones and long_ones <= set(names)
    assert len(names) == sum(b - a >= rec.duration_s / 40 for a, b, _, _ in bands)   # no "new text" names
    trend = hr_trend(result.sample, rec.fs, rec.duration_s)
    assert set(expected) <= {(sh.x0, sh.x1) for sh in trend_figure(trend, rec.duration_s, bands=bands).layout.shapes}


def test_an_adapted_record_is_shown_the_adaptive_figures(mitdb_dir, scored233, clf):
    """The class tiles and the PDF read the validated figures of the way the record was scored: the adaptive
    step's DS2 figures for an adapted record (the inductive model's are not its own), the model's otherwise."""
    from ecgdl.clinical_report import ds2_metrics, validated_metrics
    from ecgdl.infer import score_record

    adapted = score_record(mitdb_dir / "233", clf)  # the default: adaptive step on
    assert adapted.summary["adapt"]["applied"] and not scored233.summary["adapt"]["applied"]
    adaptive = clf.meta["metrics"]["ds2_adaptive"]["per_class"]
    assert validated_metrics(adapted, clf.meta) == adaptive
    assert class_reliability(adapted, validated_metrics(adapted, clf.meta))["F"].se == adaptive["F"]["se"]
    assert validated_metrics(scored233, clf.meta) == ds2_metrics(clf.meta) != adaptive
    assert ds2_metrics({"metrics": {"ds2": clf.meta["metrics"]["ds2"]}}, adaptive=True) == {}   # none: not validated


def test_uncertain_labels_are_events_and_marked_in_both_reports(mitdb_dir, clf, scored233, tmp_path):
    """230 (the shipped seed's check flags its S count, docs/episodes.md round 24): the stretches whose labels another
    clustering changes are events, their strips are in both printable reports, and those beats carry a "?"."""
    import re
    import shutil
    import subprocess

    from ecgdl.clinical_report import UNCERTAIN_NOTE, render_report
    from ecgdl.infer import score_record
    from ecgdl.review import UNCERTAIN_MIN_BEATS, uncertain, uncertain_stretches

    res = score_record(mitdb_dir / "230", clf)
    flags = uncertain(res)
    assert flags.sum() == int((np.asarray(res.agreement) < 1).sum()) > 0
    stretches = uncertain_stretches(res)
    assert stretches and [e.kind for e in review_events(res)].count("uncertain") == len(stretches)
    t = res.sample / res.record.fs
    for e in stretches:                                       # each holds >= 3 flagged beats within 10 s
        inside = flags & (t >= e.start_s - 1e-6) & (t <= e.end_s + 1e-6)
        assert inside.sum() >= UNCERTAIN_MIN_BEATS and e.end_s - e.start_s <= 10.0
        assert f"{int(inside.sum())} beats whose label another reading" in e.detail
    html = render_report(res, clf.meta)
    assert "Uncertain labels" in html and "another reading of the patient-adaptive" in html
    assert len(re.findall(r">[NSVFQ]\?</text>", html)) >= sum(int(flags[(t >= e.start_s) & (t <= e.end_s)].sum())
                                                              for e in stretches)
    plain = render_report(scored233, clf.meta)               # inductive: no check, nothing uncertain
    assert not uncertain(scored233).any() and "another reading of the patient-adaptive" not in plain and not re.search(r"\?</text>", plain)
    if shutil.which("pdftotext"):
        from ecgdl.pdf_report import render_pdf

        (tmp_path / "230.pdf").write_bytes(render_pdf(res, clf.meta))
        text = subprocess.run(["pdftotext", str(tmp_path / "230.pdf"), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "Uncertain labels at" in text and UNCERTAIN_NOTE.split(":")[0][:40] in " ".join(text.split())
        assert re.search(r"\b[NSVFQ]\?", text)
