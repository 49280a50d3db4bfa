"""The Streamlit viewer through streamlit.testing: the example, uploads, every bad upload, navigation, downloads.

The real shipped model and the real scoring path are used; the example record is scored once per
test process (st.cache_resource) and shared by every AppTest here.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ecgdl.app.launch import page_path

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(page_path())
EXAMPLE = "200"            # the record the page opens on (held-out, V runs, couplets, bigeminy, S beats)
UPLOADED = EXAMPLE         # uploaded as files too: the page must then show what the library computes


def _leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("ecgdl-upload-*")}


@pytest.fixture(scope="module")
def clf():
    """The model the app loads: the shipped one (or ``$ECGDL_MODEL``); the app cannot run without one."""
    from ecgdl.infer import BeatClassifier, default_model_path

    chosen = os.environ.get("ECGDL_MODEL")
    try:
        return BeatClassifier(chosen or default_model_path())
    except (FileNotFoundError, KeyError) as exc:      # KeyError: ecgdl/shipped/ holds only the denoiser so far
        pytest.skip(f"no shipped beat classifier in ecgdl/shipped/: {exc!r}")


@pytest.fixture(autouse=True)
def _needs_model_and_data(clf, mitdb_dir):
    """Every test here runs the app, which needs the model and (for its example) the MIT-BIH folder."""


@pytest.fixture(scope="module")
def example_result(clf, mitdb_dir):
    """The example record scored by the library directly (the app must show the same)."""
    from ecgdl.infer import score_record

    return score_record(mitdb_dir / EXAMPLE, clf)


@pytest.fixture(scope="module")
def record_files(mitdb_dir) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(mitdb_dir.glob(f"{UPLOADED}.*"))
            if p.suffix in (".hea", ".dat", ".atr")}


def _app() -> AppTest:
    """A fresh session of the app, run once (it shows the example)."""
    return AppTest.from_file(APP, default_timeout=90).run()


def _upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    at.sidebar.file_uploader(key="upload").set_value([(n, b, "application/octet-stream") for n, b in files])
    return at.run()


def _tiles(at: AppTest) -> str:
    """The header tiles' HTML (one st.markdown block of ``.ecg-tile`` elements)."""
    return next(m.value for m in at.markdown if 'class="ecg-tiles"' in m.value)


def _class_counts(at: AppTest) -> dict[str, int]:
    """Beats per class as the page's tiles show them (``data-tile="V" data-count="841"``)."""
    import re

    return {c: int(n) for c, n in re.findall(r'data-tile="(\w)" data-count="(\d+)"', _tiles(at))}


def _flagged(at: AppTest) -> set[str]:
    """Classes whose tile is marked "check"."""
    import re

    return set(re.findall(r'class="ecg-tile check" data-tile="(\w)"', _tiles(at)))


def _assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="module")
def example_app() -> AppTest:
    at = _app()
    _assert_clean(at)
    return at


def test_example_opens_without_an_upload(example_app, clf, example_result):
    at = example_app
    assert f"Record {EXAMPLE}" in at.subheader[0].value and "(example)" in at.subheader[0].value
    assert sum(_class_counts(at).values()) > 2000
    assert set(_class_counts(at)) == set(clf.classes)
    assert len(at.get("plotly_chart")) >= 2                    # strip, overview
    from ecgdl.clinical_report import validated_metrics
    from ecgdl.review import class_reliability

    rel = class_reliability(example_result, validated_metrics(example_result, clf.meta))  # adapted: adaptive figures
    assert _flagged(at) == {c for c, r in rel.items() if r.needs_look} and "N" not in _flagged(at)
    assert len(_open_panel(at, "Downloads").get("download_button")) == 6
    assert len(_open_panel(at, "Summary").get("plotly_chart")) == 3          # + the heart-rate trend
    gated = example_result.summary["adapt"].get("noise_gated")               # 200: beats the noise gate made Q
    assert not gated or any(f"{gated} looked ventricular" in c.value for c in at.caption)
    _open_panel(at, "Events")
    assert not at.error


def test_model_panel_reads_the_sidecar(example_app, clf):
    at = _open_panel(example_app, "Model")
    text = " ".join(str(t.value) for t in at_tables(at))
    assert clf.meta["name"] in text and clf.meta["onnx"]["sha256"][:12] in text and clf.provider in text
    assert any(clf.meta["intended_use"][:40] in w.value for w in at.warning)
    _open_panel(at, "Summary")


def _open_panel(at: AppTest, name: str) -> AppTest:
    """Open one of the tabs under the strip (only the open one is built)."""
    at.session_state["panel"] = name
    return at.run()


def at_tables(at: AppTest):
    return [*at.table, *at.dataframe]


@pytest.mark.parametrize("what", ["V beat", "S beat"])
def test_next_and_previous_beat_move_the_window(example_result, what):
    from ecgdl.view import class_times

    cls = what[0]
    at = _app()
    t = class_times(example_result.sample, example_result.label, example_result.record.fs, cls)
    assert len(t) >= 2, f"the example should hold {cls} beats"
    at.selectbox(key="step_by").set_value(what).run()
    at.button(key="next_beat").click().run()
    _assert_clean(at)
    first, win = at.session_state["start_s"], at.session_state["win_s"]
    assert np.any((t >= first) & (t < first + win)), f"no {cls} beat in the window after next"
    at.button(key="next_beat").click().run()
    second = at.session_state["start_s"]
    assert second > first and np.any((t >= second) & (t < second + win))
    at.button(key="prev_beat").click().run()
    assert at.session_state["start_s"] == first


def test_event_list_centres_and_shades_the_event(example_app):
    """The Events tab lists the events most important first; a click centres the strip on it and shades it;
    event ▶ and page ▶ move on."""
    import json

    at = _open_panel(example_app, "Events")
    first = at.button(key="ev_0")
    assert "Ventricular run" in first.label                    # record 200 has V runs: they come first
    first.click().run()
    _assert_clean(at)
    lo, hi = at.session_state["highlight"]
    start, win = at.session_state["start_s"], at.session_state["win_s"]
    assert start <= lo and min(hi, lo + 0.8 * win) <= start + win
    strip = json.loads(at.get("plotly_chart")[0].proto.spec)
    shaded = [sh for sh in strip["layout"].get("shapes", []) if sh.get("fillcolor") == "#ffc107"]
    assert len(shaded) == 1 and shaded[0]["x0"] <= lo + 0.01
    at.button(key="next_event").click().run()
    assert at.session_state["event_i"] == 1
    before = at.session_state["start_s"]
    at.button(key="next_page").click().run()
    assert at.session_state["start_s"] == pytest.approx(before + win)


def test_group_relabel_changes_the_counts(example_app, example_result):
    at = _open_panel(example_app, "Corrections")
    _assert_clean(at)
    at.selectbox(key="grp_pick").set_value(0)
    at.selectbox(key="grp_new").set_value("Q")
    at.button(key="grp_apply").click().run()
    _assert_clean(at)
    (edit,) = at.session_state["corrections"]
    counts = _class_counts(at)
    already_q = {int(v) for v in example_result.source_sample[example_result.label == "Q"]}  # e.g. the noise gate's
    assert counts["Q"] == len({int(v) for v in edit.samples} | already_q)
    assert sum(counts.values()) == example_result.summary["beats"]
    at.button(key="undo").click().run()
    assert _class_counts(at) == example_result.summary["counts"]
    _open_panel(at, "Events")


def test_denoised_overlay_when_the_dae_is_shipped(example_app):
    import json

    from ecgdl.paths import MODELS_DIR

    box = example_app.checkbox(key="denoise")
    if not (MODELS_DIR / "dae.onnx").is_file():
        assert box.disabled
        pytest.skip("ecgdl/shipped/dae.onnx is not shipped: the overlay is offered disabled")
    box.check().run()
    _assert_clean(example_app)
    strip = json.loads(example_app.get("plotly_chart")[0].proto.spec)
    assert any("denoised" in (trace.get("name") or "") for trace in strip["data"])
    box.uncheck().run()


def test_wfdb_upload_shows_the_same_counts_as_the_library(record_files, example_result):
    before = _leftovers()
    at = _upload(_app(), list(record_files.items()))
    _assert_clean(at)
    assert not at.error
    assert f"Record {UPLOADED}" in at.subheader[0].value and "(upload)" in at.subheader[0].value
    assert _class_counts(at) == example_result.summary["counts"]
    assert _leftovers() <= before
    _open_panel(at, "Agreement with reference")
    rows = at.table[0].value
    assert list(rows.columns) == ["Se %", "+P %", "reference beats"] and len(rows) == len(example_result.classes)


def test_edf_upload_without_annotations(mitdb_dir, tmp_path):
    from wfdb.io.convert.edf import wfdb_to_edf

    out = tmp_path / "short.edf"
    wfdb_to_edf(str(mitdb_dir / UPLOADED), sampto=360 * 120, output_filename=str(out))
    at = _upload(_app(), [("short.edf", out.read_bytes())])
    _assert_clean(at)
    assert not at.error and "Record short" in at.subheader[0].value
    _open_panel(at, "Agreement with reference")
    assert any("No reference annotations" in c.value for c in at.caption)


def test_csv_upload_at_its_own_rate(mitdb_dir, example_result):
    """A 2-lead CSV export at 180 Hz (record 200's first minute, flat from 3 to 8 s as if the electrodes came
    off): read at the rate the user gives, resampled; the flat stretch is greyed out on the strip."""
    import json

    x = example_result.record.signal[: 60 * 360: 2].copy()
    x[3 * 180: 8 * 180] = 0.0
    text = "MLII,V1\n" + "\n".join(f"{a:.3f},{b:.3f}" for a, b in x)
    at = _app()
    at.sidebar.number_input(key="csv_fs").set_value(180.0)
    at = _upload(at, [("export200.csv", text.encode())])
    _assert_clean(at)
    assert not at.error and "Record export200" in at.subheader[0].value and "180 Hz" in at.subheader[0].value
    assert any("resampled from 180 Hz" in c.value for c in at.caption)
    assert sum(_class_counts(at).values()) == pytest.approx(55 * 1.45, rel=0.3)   # ~87 bpm over the 55 usable s
    strip = json.loads(at.get("plotly_chart")[0].proto.spec)
    shaded = [sh for sh in strip["layout"].get("shapes", []) if sh.get("fillcolor") == "#9e9e9e"]
    assert len(shaded) == 1
    assert (shaded[0]["x0"], shaded[0]["x1"]) == pytest.approx((3.0, 8.0), abs=0.2)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _bad_upload(case: str, files: dict[str, bytes]) -> list[tuple[str, bytes]]:
    hea = files[f"{UPLOADED}.hea"].decode()
    dat = files[f"{UPLOADED}.dat"]
    if case == "wrong files":
        return [("notes.txt.exe", b"MZ"), (f"{UPLOADED}.dat", dat[:1000])]
    if case == "signal without header":
        return [(f"{UPLOADED}.dat", dat[:100_000])]
    if case == "truncated .dat":
        return [(f"{UPLOADED}.hea", hea.encode()), (f"{UPLOADED}.dat", dat[: len(dat) // 3])]
    if case == "mismatched header":
        return [(f"{UPLOADED}.hea", hea.replace(f"{UPLOADED}.dat", "other.dat").encode()),
                (f"{UPLOADED}.dat", dat)]
    if case == "unsupported rate":
        return [(f"{UPLOADED}.hea", hea.replace(" 360 ", " 40 ", 1).encode()), (f"{UPLOADED}.dat", dat)]
    if case == "zip with escaping paths":
        return [("record.zip", _zip({f"../../{UPLOADED}.hea": hea.encode(), f"{UPLOADED}.dat": dat}))]
    if case == "huge file":
        return [(f"{UPLOADED}.hea", hea.encode()), (f"{UPLOADED}.dat", bytes(201 * 1024 * 1024))]
    if case == "csv without rate":
        return [("export.csv", b"MLII\n0.1\n0.2\n")]
    raise ValueError(case)


@pytest.fixture(scope="module")
def bad_upload_app() -> AppTest:
    """One session that receives every bad upload in turn (each replaces the previous one)."""
    return _app()


@pytest.mark.parametrize("case, message", [
    ("wrong files", "unsupported file type"),
    ("signal without header", "needs its header"),
    ("truncated .dat", "truncated"),
    ("mismatched header", "which was not uploaded"),
    ("unsupported rate", "sampling rate 40 Hz is not supported"),
    ("zip with escaping paths", "leaves the archive"),
    ("huge file", "too large"),
    ("csv without rate", "needs its sampling rate"),
])
def test_bad_upload_gets_a_clear_message(bad_upload_app, record_files, case, message):
    before = _leftovers()
    at = _upload(bad_upload_app, _bad_upload(case, record_files))
    _assert_clean(at)
    assert len(at.error) == 1 and message in at.error[0].value, [e.value for e in at.error]
    assert "ecgdl-upload-" not in at.error[0].value and "/tmp" not in at.error[0].value
    assert not at.get("plotly_chart")
    assert _leftovers() <= before


def test_report_and_downloads_match_the_result(clf, example_result):
    from ecgdl.clinical_report import render_report

    res = example_result
    html = render_report(res, clf.meta, provider=clf.provider)
    assert html.startswith("<!DOCTYPE html>") and "</html>" in html
    assert clf.meta["intended_use"][:40] in html and "<svg" in html
    assert f"{res.summary['counts']['V']:,}" in html
    lines = res.beats_csv().strip().splitlines()
    assert len(lines) == len(res.label) + 1
