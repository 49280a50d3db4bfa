"""Issue 11, item 10: the viewer listens on this machine only and holds a capped, expiring memory of results.

The store is exercised directly (a settable clock, real numpy results); the app is exercised through
``streamlit.testing`` (an upload leaves exactly one held result for its session, warnings on the page).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ecgdl.app.launch import page_path, streamlit_command
from ecgdl.result_store import ResultStore, result_nbytes

REPO = Path(__file__).resolve().parent.parent


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_config_and_launcher_bind_localhost():
    config = tomllib.loads((REPO / "ecgdl" / "app" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    cmd = streamlit_command()
    assert [cmd[i + 1] for i, c in enumerate(cmd) if c == "--server.address"][-1] == "127.0.0.1"


def test_store_caps_the_total_and_drops_the_least_recently_used():
    clock = Clock()
    store = ResultStore(max_bytes=1000, max_idle_s=600, clock=clock)
    for i, session in enumerate("abc"):
        clock.now = i
        assert store.put(session, "k", session.upper(), nbytes=400)
    assert store.total_bytes() <= 1000 and store.get("a", "k") is None  # a was the oldest
    assert store.get("b", "k") == "B" and store.get("c", "k") == "C"


def test_store_refuses_one_result_larger_than_the_cap_and_keeps_one_per_session():
    store = ResultStore(max_bytes=1000, max_idle_s=600, clock=Clock())
    assert store.put("a", "k1", "one", nbytes=10)
    assert store.put("a", "k2", "two", nbytes=10)  # the session's new upload replaces its old result
    assert store.get("a", "k1") is None and store.get("a", "k2") == "two" and store.total_bytes() == 10
    assert not store.put("b", "k", "huge", nbytes=1001) and store.get("b", "k") is None


def test_store_drops_idle_sessions():
    clock = Clock()
    store = ResultStore(max_bytes=1000, max_idle_s=60, clock=clock)
    store.put("a", "k", "A", nbytes=1)
    clock.now = 59
    assert store.get("a", "k") == "A"  # reading it counts as use
    clock.now = 59 + 61
    assert store.get("a", "k") is None and store.sessions() == []


def test_result_nbytes_counts_the_arrays_of_a_scored_record(mitdb_dir, tmp_path):
    from ecgdl.infer import BeatClassifier, score_record
    from infer_fixtures import write_excerpt

    res = score_record(write_excerpt(mitdb_dir / "100", tmp_path, "x", seconds=120.0), BeatClassifier(device="cpu"))
    assert result_nbytes(res) >= res.record.signal.nbytes + res.conditioned.nbytes + res.proba.nbytes
    assert res.record.signal.nbytes == 120 * 360 * 2 * 4


def test_app_keeps_no_result_in_session_state_and_shows_record_warnings(mitdb_dir, tmp_path):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    from infer_fixtures import write_excerpt

    rec = write_excerpt(mitdb_dir / "100", tmp_path, "x100", seconds=60.0)
    hea = rec.with_suffix(".hea").read_text().splitlines()
    hea[2] = hea[2].replace(" 200.0(", " 4000.0(", 1)  # the second lead 20x too small: a loud warning
    files = [("x100.hea", ("\n".join(hea) + "\n").encode()), ("x100.dat", rec.with_suffix(".dat").read_bytes())]
    at = AppTest.from_file(str(page_path()), default_timeout=120).run()
    at.sidebar.file_uploader(key="upload").set_value([(n, b, "application/octet-stream") for n, b in files])
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("QRS amplitude" in w.value for w in at.warning)
    held = [k for k in at.session_state if "memo" in k or "result" in k]
    assert held == []  # the result lives in the capped process-wide store, not in the session's state
