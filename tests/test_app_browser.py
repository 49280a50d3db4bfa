"""End to end in a real browser: ``streamlit run`` on a free localhost port, Playwright driving Debian's
Chromium (one server and one browser page for the whole module, resized between screen sizes).

* the layout at 1024x768, 1366x768 and 1920x1080: no tile or control text truncated, the strip above the
  fold, and the strip in the viewport (and the event shaded) after an event is clicked in the list below;
* a WFDB upload of record 233 shows the counts ``ecgdl score`` prints;
* the review: relabel one morphology group, export the corrected annotations, read the file with
  ``wfdb.rdann``: its labels are the corrections; the PDF report downloads and poppler renders every page.

Screenshots go to ``$ECGDL_SCREENSHOTS`` when set (``app/screenshots.py`` sets it to docs/screenshots).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgdl.paths import REPO_ROOT

pytestmark = pytest.mark.browser
pytest.importorskip("playwright")
sys.path.insert(0, str(REPO_ROOT / "app"))
from server import (CHROMIUM, chromium_page, in_viewport, metric_values, running_app, truncated_texts,  # noqa: E402
                    upload, wait_idle)

RECORD = "233"
SIZES = [(1024, 768), (1366, 768), (1920, 1080)]
STRIP = ".st-key-strip_box"


@pytest.fixture(scope="module")
def model_args() -> list[str]:
    """``--model`` for the CLI when the app runs a non-default model (``$ECGDL_MODEL``); skip without any model."""
    from ecgdl.infer import BeatClassifier, default_model_path

    if os.environ.get("ECGDL_MODEL"):
        return ["--model", os.environ["ECGDL_MODEL"]]
    try:
        BeatClassifier(default_model_path())
    except (FileNotFoundError, KeyError) as exc:      # KeyError: no shipped classifier yet
        pytest.skip(f"no shipped beat classifier: {exc!r}")
    return []


@pytest.fixture(scope="module")
def page(model_args, mitdb_dir):
    """One app server and one Chromium page for every test here (the slow parts start once)."""
    if not Path(CHROMIUM).is_file() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with running_app() as url, chromium_page(1366, 768) as pg:
        pg.app_url = url
        yield pg


def _shots(name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("ECGDL_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def _open_example(page) -> None:
    """The page showing the example (loaded once: later sizes only resize the same page)."""
    if page.url.startswith(page.app_url) and page.locator(".ecg-tile").count() and \
            "(example)" in page.locator("h3").first.inner_text():
        page.wait_for_timeout(500)                     # the resize's layout pass
        return
    page.goto(page.app_url)
    page.locator(".ecg-tile").first.wait_for(timeout=120_000)
    page.locator(f"{STRIP} .main-svg").first.wait_for(timeout=120_000)
    wait_idle(page)
    page.wait_for_timeout(400)                         # the charts' last layout pass


def _settle(page) -> None:
    wait_idle(page)
    page.wait_for_timeout(600)


@pytest.mark.parametrize("width, height", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_layout_at_common_screen_sizes(page, width, height, tmp_path):
    page.set_viewport_size({"width": width, "height": height})
    _open_example(page)
    assert truncated_texts(page, ".ecg-tiles, .st-key-nav") == []
    assert page.locator(".ecg-tile").count() == 7
    assert in_viewport(page, STRIP), "the strip is not above the fold"
    page.screenshot(path=str(_shots(f"layout_{width}x{height}.png", tmp_path)))
    page.get_by_role("tab", name="Events").click()
    _settle(page)
    page.locator(".st-key-ev_2 button").scroll_into_view_if_needed()
    page.locator(".st-key-ev_2 button").click()
    page.get_by_text("Event 3 of", exact=False).first.wait_for(timeout=60_000)
    _settle(page)
    # the page scrolls the strip back for 4 s after the click (late layout passes on a loaded machine)
    assert in_viewport(page, STRIP, within_ms=8000), "the strip left the viewport after the event click"
    assert page.locator(f"{STRIP} .shapelayer path").count() >= 1          # the event is shaded
    page.screenshot(path=str(_shots(f"event_{width}x{height}.png", tmp_path)))
    if (width, height) == (1366, 768):                 # keyboard: N is the next event
        page.locator("h3").first.click()
        page.keyboard.press("n")
        page.get_by_text("Event 4 of", exact=False).first.wait_for(timeout=60_000)
        assert in_viewport(page, STRIP, within_ms=8000)


def _upload_233(page, mitdb_dir) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})
    if page.locator(".ecg-tile").count() and f"Record {RECORD}" in page.locator("h3").first.inner_text():
        return                                         # already shown by the previous test
    _open_example(page)
    upload(page, [mitdb_dir / f"{RECORD}{ext}" for ext in (".hea", ".dat", ".atr")])
    page.get_by_text(f"Record {RECORD}", exact=False).first.wait_for(timeout=120_000)
    page.locator(f"{STRIP} .main-svg").first.wait_for(timeout=60_000)
    _settle(page)
    assert "This upload cannot be used" not in page.content()


def test_upload_in_chromium_shows_the_cli_counts(page, mitdb_dir, tmp_path, model_args):
    from ecgdl.cli import main as ecgdl_main

    out = tmp_path / "scores"
    assert ecgdl_main(["score", str(mitdb_dir / f"{RECORD}.hea"), "--out", str(out), "--quiet", *model_args]) == 0
    expected = json.loads((out / f"{RECORD}.summary.json").read_text())["counts"]
    _upload_233(page, mitdb_dir)
    counts = {label.split()[0]: int(value.replace(",", "")) for label, value in metric_values(page).items()
              if len(label.split()[0]) == 1}
    assert counts == expected


@pytest.fixture(scope="module")
def scored233(mitdb_dir):
    from ecgdl.infer import BeatClassifier, score_record

    return score_record(mitdb_dir / RECORD, BeatClassifier(os.environ.get("ECGDL_MODEL") or None))


def _group_to_fix(labels: np.ndarray, groups: np.ndarray) -> tuple[int, str]:
    """The morphology group with the most beats off its own majority label, and that label (what a reader
    would fix first)."""
    best = (-1, 0, "N")
    for g in range(int(groups.max()) + 1):
        lab, cnt = np.unique(labels[groups == g], return_counts=True)
        off = int(cnt.sum() - cnt.max())
        if off > best[0]:
            best = (off, g, str(lab[cnt.argmax()]))
    return best[1], best[2]


def _choose(page, key: str, option_text: str) -> None:
    """Pick the option of the selectbox ``key`` whose text starts with ``option_text``."""
    import re

    box = page.locator(f".st-key-{key} input").first
    box.click()
    box.fill(option_text)                              # the selectbox filters its options as one types
    opt = page.get_by_role("option").filter(has_text=re.compile("^" + re.escape(option_text))).first
    opt.wait_for(timeout=30_000)                       # click the option itself: Enter before the filter settles
    opt.click()                                        # picked whichever option was first (a flaky CI run)
    _settle(page)


def test_review_relabel_a_group_and_export(page, mitdb_dir, scored233, tmp_path):
    """Upload 233, sign as reader, relabel the morphology group with the most beats off its shape's majority
    label, download the WFDB annotations: rdann reads exactly the corrected labels; then the PDF report
    renders on every page."""
    import wfdb

    from ecgdl.corrections import morphology_groups
    from ecgdl.view import class_label

    labels = np.asarray(scored233.label).astype(str)
    groups = morphology_groups(scored233)
    group, new = _group_to_fix(labels, groups)
    _upload_233(page, mitdb_dir)
    page.get_by_text("Patient, recording and reader").click()
    page.get_by_label("Reader (who reviews and corrects)").fill("Dr Test")
    page.get_by_label("Reader (who reviews and corrects)").press("Enter")
    _settle(page)
    page.get_by_role("tab", name="Corrections").click()
    page.get_by_role("button", name="Relabel group").wait_for(timeout=120_000)
    _settle(page)
    _choose(page, "grp_pick", f"Group {group + 1} ·")
    _choose(page, "grp_new", class_label(new))
    page.get_by_role("button", name="Relabel group").click()
    page.get_by_text("1 correction(s)", exact=False).first.wait_for(timeout=60_000)
    _settle(page)
    page.screenshot(path=str(_shots("corrections.png", tmp_path)), full_page=True)
    with page.expect_download(timeout=60_000) as got:
        page.get_by_role("button", name="Corrected annotations (WFDB .cor)").first.click()
    got.value.save_as(tmp_path / f"{RECORD}.cor")

    expected = labels.copy()
    expected[groups == group] = new
    ann = wfdb.rdann(str(tmp_path / RECORD), "cor")
    assert np.array_equal(np.asarray(ann.symbol), expected)
    assert np.array_equal(ann.sample, scored233.source_sample)
    changed = expected != labels
    notes = [a for a, c in zip(ann.aux_note, changed) if c]
    assert all("by Dr Test" in a for a in notes), notes[:2]
    assert len([a for a in ann.aux_note if a]) == changed.sum()
    shown = {label.split()[0]: int(value.replace(",", "")) for label, value in metric_values(page).items()
             if len(label.split()[0]) == 1}
    assert shown[new] == int((expected == new).sum())

    page.get_by_role("tab", name="Downloads").click()
    _settle(page)
    with page.expect_download(timeout=60_000) as got:
        page.get_by_role("button", name="PDF report").click()
    pdf = tmp_path / "report.pdf"
    got.value.save_as(pdf)
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "20", "-png", str(pdf), str(tmp_path / "page")], check=True)
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        assert f"Pages:           {len(list(tmp_path.glob('page*.png')))}" in info
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout \
        if shutil.which("pdftotext") else ""
    assert pdf.read_bytes().startswith(b"%PDF-") and (not text or ("Dr Test" in text and "relabelled N" in text))
