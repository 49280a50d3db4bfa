"""ecgdl.pdf_report: the PDF opens (poppler's pdftoppm renders every page) and holds the named sections."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess

import pytest

from ecgdl import corrections as corr

pytest.importorskip("fpdf")


@pytest.fixture(scope="module")
def scored233(mitdb_dir):
    from ecgdl.infer import BeatClassifier, score_record

    try:
        clf = BeatClassifier()
    except (FileNotFoundError, KeyError) as exc:
        pytest.skip(f"no shipped beat classifier: {exc!r}")
    return score_record(mitdb_dir / "233", clf), clf


def test_pdf_renders_every_page_and_holds_the_sections(scored233, tmp_path):
    if not shutil.which("pdftoppm"):
        pytest.skip("poppler-utils is not installed (apt-get install poppler-utils)")
    from ecgdl.pdf_report import SECTIONS, render_pdf

    result, clf = scored233
    edit = corr.group_relabel(result, corr.morphology_groups(result), 4, "N", who="Dr C")
    fixed = corr.apply(result, [edit])
    from ecgdl.episodes import Episode as RhythmEpisode

    summary = {**fixed.summary, "hrv": {"sdnn_ms": 61.2, "rmssd_ms": 40.5},   # + 2 beats the noise gate made Q
               "adapt": {**fixed.summary.get("adapt", {}), "noise_gated": 2}}
    af = RhythmEpisode("AFIB", 300.0, 420.0, beats=200, mean_hr_bpm=100.0, confidence=0.9)
    pdf = render_pdf(dataclasses.replace(fixed, summary=summary, episodes=[af]), clf.meta,
                     patient={"Patient name": "Test Person"},
                     corrections=[edit], reviewer="Dr C", review_date="2026-12-01")
    path = tmp_path / "233.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(path), str(tmp_path / "page")], check=True)
    assert pages >= 2 and len(list(tmp_path.glob("page*.png"))) == pages
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    for section in SECTIONS:
        assert section in text, section
    for expected in ("Test Person", "Dr C", "MLII", "lead MLII", "Atrial fibrillation", "sdnn ms", "relabelled N",
                     f"{fixed.summary['counts']['N']:,}", "check: ", "2 looked ventricular"):
        assert expected in text, expected


def test_pdf_without_optional_sections(scored233):
    from ecgdl.pdf_report import render_pdf

    result, clf = scored233
    pdf = render_pdf(result, clf.meta)
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-64:]
