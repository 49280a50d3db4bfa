"""Start the viewer with ``streamlit run`` on a free localhost port and drive it with Playwright.

Used by the browser test, the benchmark and the screenshot script; the server process is always
terminated (then killed if it does not stop) when the ``with`` block ends.

>>> with running_app() as url, chromium_page() as page:   # doctest: +SKIP
...     page.goto(url)
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from ecgdl.app.launch import streamlit_command

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


def free_port() -> int:
    """A TCP port free on localhost right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(timeout_s: float = 90.0) -> Iterator[str]:
    """Run the app on ``127.0.0.1:<free port>``; yield its URL once ``/_stcore/health`` answers."""
    port = free_port()
    cmd = streamlit_command(port, "127.0.0.1")
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            _wait_healthy(port, proc, timeout_s, log)
            yield f"http://127.0.0.1:{port}/"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def _wait_healthy(port: int, proc: subprocess.Popen, timeout_s: float, log) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer on port {port} within {timeout_s:.0f} s")


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 1000):
    """A Playwright page in Debian's Chromium (no ``playwright install`` needed)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def upload(page, paths: list[Path]) -> None:
    """Put files into the sidebar's uploader (the hidden ``<input type=file>`` of st.file_uploader)."""
    page.locator("[data-testid='stFileUploader'] input[type='file']").first.set_input_files([str(p) for p in paths])


def metric_values(page) -> dict[str, str]:
    """The page's header tiles as ``{label: value}`` (label without its "check" flag)."""
    out = {}
    for tile in page.locator(".ecg-tile").all():
        label = tile.locator(".l").inner_text().replace("⚑ check", "").strip()
        out[label] = tile.locator(".v").inner_text().strip()
    return out


def truncated_texts(page, selector: str) -> list[str]:
    """Texts of the elements under ``selector`` (and their descendants) whose content overflows their box
    (cut off or ellipsised): empty when nothing is truncated."""
    return page.evaluate("""(sel) => {
        const out = [];
        for (const root of document.querySelectorAll(sel)) {
            for (const el of [root, ...root.querySelectorAll('*')]) {
                if (el.offsetParent === null || !el.innerText || !el.innerText.trim()) continue;
                if (el.scrollWidth > el.clientWidth + 1) out.push(el.innerText.trim().slice(0, 60));
            }
        }
        return out;
    }""", selector)


def in_viewport(page, selector: str, within_ms: int = 0) -> bool:
    """Whether the first element matching ``selector`` lies wholly inside the browser's viewport (or comes to
    within ``within_ms``)."""
    if within_ms:
        try:
            page.wait_for_function(f"() => ({_IN_VIEW})({json.dumps(selector)})", timeout=within_ms)
            return True
        except Exception:
            return False
    return page.evaluate(_IN_VIEW, selector)


_IN_VIEW = """(sel) => {
        const el = document.querySelector(sel);
        if (!el) return false;
        const r = el.getBoundingClientRect();
        return r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight + 1 && r.right <= window.innerWidth + 1
               && r.height > 0;
    }"""


def wait_idle(page, timeout_ms: int = 120_000) -> None:
    """Wait until Streamlit's "running" indicator is gone (the script run is over and drawn)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)
