"""End to end in a real browser: ``streamlit run`` on a free localhost port, Playwright driving Debian's
Chromium, a WFDB record uploaded through the page, and the counts shown equal to ``ecgdl score``'s."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from ecgdl.paths import REPO_ROOT

pytestmark = pytest.mark.browser
pytest.importorskip("playwright")
sys.path.insert(0, str(REPO_ROOT / "app"))
from server import CHROMIUM, chromium_page, metric_values, running_app, upload, wait_idle  # noqa: E402

RECORD = "233"


@pytest.fixture(scope="module")
def model_args() -> list[str]:
    """``--model`` for the CLI when the app runs a non-default model (``$ECGDL_MODEL``); skip without any model."""
    from ecgdl.infer import BeatClassifier, default_model_path

    if os.environ.get("ECGDL_MODEL"):
        return ["--model", os.environ["ECGDL_MODEL"]]
    try:
        BeatClassifier(default_model_path())
    except (FileNotFoundError, KeyError) as exc:      # KeyError: ecgdl/shipped/ holds only the denoiser so far
        pytest.skip(f"no shipped beat classifier in ecgdl/shipped/: {exc!r}")
    return []


def test_upload_in_chromium_shows_the_cli_counts(mitdb_dir, tmp_path, model_args):
    if not Path(CHROMIUM).is_file() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from ecgdl.cli import main as ecgdl_main

    out = tmp_path / "scores"
    assert ecgdl_main(["score", str(mitdb_dir / f"{RECORD}.hea"), "--out", str(out), "--quiet", *model_args]) == 0
    expected = json.loads((out / f"{RECORD}.summary.json").read_text())["counts"]

    files = [mitdb_dir / f"{RECORD}{ext}" for ext in (".hea", ".dat", ".atr")]
    with running_app() as url, chromium_page() as page:
        page.goto(url)
        page.get_by_text("Record 200", exact=False).first.wait_for(timeout=90_000)     # the example is shown
        page.locator("input[type='file']").first.wait_for(state="attached", timeout=90_000)
        wait_idle(page)
        upload(page, files)
        page.get_by_text(f"Record {RECORD}", exact=False).first.wait_for(timeout=90_000)
        page.locator("[data-testid='stPlotlyChart'] .main-svg").nth(1).wait_for(timeout=60_000)
        wait_idle(page)
        shown = metric_values(page)
        assert "This upload cannot be used" not in page.content()
    counts = {label.split()[0]: int(value.replace(",", "")) for label, value in shown.items()
              if len(label.split()[0]) == 1}
    assert counts == expected
