"""Screenshots of the viewer for docs/screenshots/ (real server, real Chromium).

    python app/screenshots.py

1. The browser tests run with ``ECGDL_SCREENSHOTS=docs/screenshots``: layout_<size>.png and event_<size>.png
   at 1024x768, 1366x768 and 1920x1080 (on load, and after an event click), corrections.png (record 233
   after a group relabel).
2. Then, at 1366x768: overview.png (the page on load), strip.png (a V run, shaded), strip_mismatch.png (beats
   that differ from the reference, ringed), summary.png, agreement.png, model.png, bad_upload.png.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from server import REPO_ROOT, chromium_page, running_app, upload, wait_idle

OUT = REPO_ROOT / "docs" / "screenshots"


def _settle(page) -> None:
    """Wait until the script run is over and the charts are drawn."""
    wait_idle(page)
    page.wait_for_timeout(1200)


def _shot(locator, path: Path, tries: int = 4) -> None:
    """Element screenshot, retried while a rerun replaces the element under us."""
    for k in range(tries):
        try:
            locator.screenshot(path=str(path), timeout=30_000)
            return
        except Exception:
            if k == tries - 1:
                raise
            locator.page.wait_for_timeout(1500)


def browser_test_shots() -> int:
    env = {**os.environ, "ECGDL_SCREENSHOTS": str(OUT)}
    return subprocess.call([sys.executable, "-m", "pytest", "-q", "-m", "browser", "tests/test_app_browser.py"],
                           cwd=REPO_ROOT, env=env)


def tab_shots() -> None:
    with running_app() as url, chromium_page(1366, 768) as page:
        page.goto(url)
        page.locator(".st-key-strip_box .main-svg").first.wait_for(timeout=120_000)
        _settle(page)
        page.screenshot(path=str(OUT / "overview.png"))
        page.get_by_role("button", name="event ▶").first.click()
        _settle(page)
        _shot(page.locator(".st-key-strip_box"), OUT / "strip.png")
        page.locator(".st-key-step_by").click()
        page.get_by_role("option", name="mismatch").click()
        _settle(page)
        page.locator(".st-key-next_beat button").first.click()
        _settle(page)
        _shot(page.locator(".st-key-strip_box"), OUT / "strip_mismatch.png")
        tabs = page.locator("[data-testid='stTabs']").first
        for tab, name in (("Summary", "summary"), ("Agreement with reference", "agreement"), ("Model", "model")):
            page.get_by_role("tab", name=tab).click()
            _settle(page)
            _shot(tabs, OUT / f"{name}.png")
        with tempfile.TemporaryDirectory() as tmp:
            bad = Path(tmp) / "233.dat"
            bad.write_bytes(b"\0" * 1000)
            upload(page, [bad])
            page.get_by_text("This upload cannot be used", exact=False).first.wait_for(timeout=60_000)
            _settle(page)
            page.screenshot(path=str(OUT / "bad_upload.png"))


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    rc = 0 if "--tabs-only" in sys.argv else browser_test_shots()
    tab_shots()
    print("\n".join(str(p.relative_to(REPO_ROOT)) for p in sorted(OUT.glob("*.png"))))
    return rc


if __name__ == "__main__":
    sys.exit(main())
