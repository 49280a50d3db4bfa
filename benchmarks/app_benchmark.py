"""Time from upload to the full view of a 30-minute record in the viewer (goal: <= 3 s on 2 cores).

Two measurements, each repeated, medians reported:

* ``server``: streamlit.testing AppTest. The app has already shown its example (model loaded, as on
  a running server); the timer covers one script run after the files are handed to the uploader:
  reading the upload (temp folder, validation, resampling), QRS detection, classification,
  rhythm summary, agreement with the reference, and building every element of the page
  (header tiles, overview, labelled strip, the open tab: burden, heart-rate trend, episodes).
  Wall seconds, and the CPU seconds the process spent in that run (what it costs with a free core).
* ``browser``: a real ``streamlit run`` on localhost driven by Playwright in Debian's Chromium.
  The timer starts when the files are set on the page's file input and stops when the page shows
  the uploaded record's header and the rendered strip chart and Streamlit's "running" indicator is
  gone: upload transfer, the script run, websocket round trips and Chromium's rendering included.
  Also the seconds the page's renderer was busy in that time (Chrome DevTools ``TaskDuration``).

* ``day``: a 24-hour two-lead record (the 48 MIT-BIH records end to end, written as one WFDB record
  with ``wfdb.wrsamp``, format 212, 94 MB) uploaded in Chromium: seconds to its overview (drawn as
  soon as the record is read) and to the full view (every beat scored, strip drawn).

Each repeat uses a fresh session, so nothing of the previous upload is reused; only the model
(st.cache_resource, loaded once per server) is warm.

    python benchmarks/app_benchmark.py                 # server and browser, record 233 (30 min 5 s), 5 repeats
    python benchmarks/app_benchmark.py --only server --repeats 3
    python benchmarks/app_benchmark.py --only day --repeats 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "app"))
from ecgdl.app.launch import page_path  # noqa: E402


def record_files(record: str) -> list[Path]:
    from ecgdl.paths import database_dir

    folder = database_dir("mitdb")
    return [folder / f"{record}{ext}" for ext in (".hea", ".dat", ".atr")]


def time_server(record: str, repeats: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds (this process, all threads) per AppTest script run that processes a fresh upload
    of ``record``. CPU seconds say what the run costs when it has a core to itself (the box is shared)."""
    from streamlit.testing.v1 import AppTest

    files = [(p.name, p.read_bytes(), "application/octet-stream") for p in record_files(record)]
    wall, cpu = [], []
    for _ in range(repeats):
        at = AppTest.from_file(str(page_path()), default_timeout=120).run()
        at.sidebar.file_uploader(key="upload").set_value(files)
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        assert not at.exception and not at.error, "the upload did not render"
        assert f"Record {record}" in at.subheader[0].value
    return wall, cpu


def time_browser(record: str, repeats: int) -> tuple[list[float], list[float]]:
    """Wall seconds from setting the files on the page to the uploaded record's full view in Chromium, and the
    seconds the page's renderer was busy meanwhile (Chrome's ``TaskDuration``: script, style, layout, paint)."""
    from server import chromium_page, running_app, upload, wait_idle

    wall, busy = [], []
    with running_app() as url, chromium_page() as page:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        for _ in range(repeats):
            page.goto(url)
            page.get_by_text("Record 200", exact=False).first.wait_for(timeout=120_000)
            page.locator("[data-testid='stPlotlyChart'] .main-svg").nth(1).wait_for(timeout=120_000)
            page.locator("input[type='file']").first.wait_for(state="attached", timeout=60_000)
            wait_idle(page)
            b0 = _task_seconds(cdp)
            t0 = time.perf_counter()
            upload(page, record_files(record))
            page.get_by_text(f"Record {record}", exact=False).first.wait_for(timeout=120_000)
            page.locator(".ecg-tile").first.wait_for(timeout=60_000)
            page.locator(".st-key-strip_box .main-svg").first.wait_for(timeout=60_000)
            wait_idle(page)
            wall.append(time.perf_counter() - t0)
            busy.append(_task_seconds(cdp) - b0)
    return wall, busy


def day_record(folder: Path) -> list[Path]:
    """The 48 MIT-BIH records end to end as one 24-hour WFDB record ``day24`` in ``folder`` (format 212)."""
    import numpy as np
    import wfdb

    from ecgdl.paths import database_dir

    mitdb = database_dir("mitdb")
    parts = [wfdb.rdrecord(str(mitdb / n), physical=False).d_signal[:, :2] for n in
             (mitdb / "RECORDS").read_text().split()]
    wfdb.wrsamp("day24", fs=360, units=["mV", "mV"], sig_name=["MLII", "V1"], d_signal=np.concatenate(parts),
                fmt=["212", "212"], adc_gain=[200.0, 200.0], baseline=[1024, 1024], write_dir=str(folder))
    return [folder / "day24.hea", folder / "day24.dat"]


def time_day(repeats: int) -> tuple[list[float], list[float]]:
    """Seconds from setting a 24-hour record's files on the page to its overview, and to the full view."""
    import tempfile

    from server import chromium_page, running_app, upload, wait_idle

    overview, full = [], []
    with tempfile.TemporaryDirectory() as tmp, running_app() as url, chromium_page() as page:
        files = day_record(Path(tmp))
        for _ in range(repeats):
            page.goto(url)
            page.locator(".st-key-strip_box .main-svg").first.wait_for(timeout=120_000)
            page.locator("input[type='file']").first.wait_for(state="attached", timeout=60_000)
            wait_idle(page)
            t0 = time.perf_counter()
            upload(page, files)
            page.locator(".st-key-preview .main-svg").first.wait_for(timeout=300_000)
            overview.append(time.perf_counter() - t0)
            page.get_by_text("Record day24", exact=False).first.wait_for(timeout=600_000)
            page.locator(".ecg-tile").first.wait_for(timeout=600_000)
            page.locator(".st-key-strip_box .main-svg").first.wait_for(timeout=600_000)
            wait_idle(page, timeout_ms=600_000)
            full.append(time.perf_counter() - t0)
    return overview, full


def _task_seconds(cdp) -> float:
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return float(metrics["TaskDuration"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--record", default="233", help="MIT-BIH record to upload (default 233, 30 min)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--only", choices=["server", "browser", "day"], default=None)
    a = p.parse_args(argv)
    rows = []
    if a.only in (None, "server"):
        wall, cpu = time_server(a.record, a.repeats)
        rows += [("server, wall", wall), ("server, CPU of the run", cpu)]
    if a.only in (None, "browser"):
        wall, busy = time_browser(a.record, a.repeats)
        rows += [("browser (Chromium), wall", wall), ("browser, renderer busy", busy)]
    if a.only == "day":
        overview, full = time_day(a.repeats)
        rows += [("24-h upload -> overview (Chromium), wall", overview), ("24-h upload -> full view, wall", full)]
    load = os.getloadavg()[0]
    print(f"\nupload -> view, record {a.record} (30 min, 2 leads, 360 Hz; goal <= 3 s) "
          "or 24 h (overview goal <= 15 s); "
          f"{os.cpu_count()} cores, load average {load:.1f}")
    print("| measured | median s | min s | max s | runs |\n|---|---:|---:|---:|---:|")
    for kind, t in rows:
        print(f"| {kind} | {statistics.median(t):.2f} | {min(t):.2f} | {max(t):.2f} | {len(t)} |")
        print(f"  {kind}: " + ", ".join(f"{x:.2f}" for x in t), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
