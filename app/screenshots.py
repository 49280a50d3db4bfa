"""Screenshots of the viewer's main views for docs/screenshots/ (real server, real Chromium).

    python app/screenshots.py            # writes docs/screenshots/{overview,strip,summary,bad_upload}.png
"""

from __future__ import annotations

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


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with running_app() as url, chromium_page(1500, 1100) as page:
        page.goto(url)
        page.get_by_text("Record 200", exact=False).first.wait_for(timeout=120_000)
        page.locator("[data-testid='stPlotlyChart'] .main-svg").nth(1).wait_for(timeout=120_000)
        page.locator("[data-testid='stMetric']").first.wait_for(timeout=60_000)
        _settle(page)
        page.screenshot(path=str(OUT / "overview.png"))
        page.get_by_role("button", name="V beat ▶").first.click()
        _settle(page)
        page.get_by_role("button", name="V beat ▶").first.click()
        _settle(page)
        _shot(page.locator("[data-testid='stPlotlyChart']").nth(1), OUT / "strip.png")
        page.get_by_role("button", name="mismatch ▶").first.click()
        _settle(page)
        _shot(page.locator("[data-testid='stPlotlyChart']").nth(1), OUT / "strip_mismatch.png")
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
    print("\n".join(str(p.relative_to(REPO_ROOT)) for p in sorted(OUT.glob("*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
