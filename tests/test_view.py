"""ecgdl.view: decimation, windows, navigation, episodes, markers (real MIT-BIH records where it matters)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgdl.io import read_record
from ecgdl.labels import AAMI_CLASSES, SYMBOL_TO_AAMI
from ecgdl.rhythm import summarise
from ecgdl.view import (CLASS_COLOURS, PAGE_POINTS, TRACE_POINTS, Episode, class_label, clamp_window, episodes,
                        format_time, in_window, markers, minmax_decimate, notable, page_points, step_to, trace,
                        window_around)


@pytest.fixture(scope="module")
def rec208(mitdb_dir):
    """Record 208 (many V beats, couplets, trigeminy) with its reference beats as AAMI letters."""
    rec = read_record(mitdb_dir / "208")
    keep = np.array([s in SYMBOL_TO_AAMI for s in rec.annotations.symbol])
    sample = rec.annotations.sample[keep]
    label = np.array([SYMBOL_TO_AAMI[s] for s in rec.annotations.symbol[keep]])
    return rec, sample, label


@pytest.mark.parametrize("n, max_points", [(10, 100), (1000, 1000), (1001, 1000), (650_000, 8000), (99_999, 7)])
def test_minmax_decimate_bounds_and_extremes(n, max_points):
    y = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    idx, val = minmax_decimate(y, 0, n, max_points)
    assert len(idx) <= max(max_points, 2) + 2 and np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(val, y[idx])
    assert val.max() == y.max() and val.min() == y.min()
    if n <= max_points:
        assert len(idx) == n


def test_decimated_record_keeps_every_r_peak(rec208):
    """30 min of ECG in 8,000 points: each reference beat's R-peak height survives within 5%."""
    rec, sample, _ = rec208
    y = rec.signal[:, 0]
    idx, val = minmax_decimate(y, 0, len(y), TRACE_POINTS)
    assert len(idx) <= TRACE_POINTS + 2
    pos = np.searchsorted(idx, sample)                  # decimated points around each beat
    near = [val[max(p - 2, 0):p + 2] for p in pos]
    peak = np.array([np.abs(y[max(s - 18, 0):s + 18]).max() for s in sample])
    kept = np.array([np.abs(v).max() if v.size else 0.0 for v in near])
    assert np.mean(kept >= 0.95 * peak) > 0.95


def test_decimate_subrange_and_empty():
    y = np.arange(100.0)
    idx, val = minmax_decimate(y, 20, 30, 100)
    np.testing.assert_array_equal(idx, np.arange(20, 30))
    assert minmax_decimate(y, 50, 40)[0].size == 0
    assert minmax_decimate(y, -5, 500)[0].size == 100


@pytest.mark.parametrize("start, length, duration, expected", [
    (0, 10, 1800, (0, 10)), (-3, 10, 1800, (0, 10)), (1795, 10, 1800, (1790, 1800)), (5, 60, 20, (0, 20)),
])
def test_clamp_window(start, length, duration, expected):
    assert clamp_window(start, length, duration) == pytest.approx(expected)


def test_window_around_puts_event_inside_with_context():
    a, b = window_around(100.0, 10.0, 1800.0)
    assert a < 100.0 < b and 100.0 - a == pytest.approx(3.0)
    assert window_around(1.0, 10.0, 1800.0) == pytest.approx((0.0, 10.0))


@pytest.mark.parametrize("current, direction, expected", [
    (0.0, 1, 1.0), (1.0, 1, 5.0), (1.02, 1, 5.0), (5.0, -1, 1.0), (1.0, -1, None), (9.0, 1, None), (100, -1, 9.0),
])
def test_step_to(current, direction, expected):
    assert step_to(np.array([1.0, 5.0, 9.0]), current, direction) == expected


def test_in_window_matches_a_plain_filter(rec208):
    rec, sample, _ = rec208
    sel = in_window(sample, rec.fs, 100.0, 110.0)
    t = sample / rec.fs
    np.testing.assert_array_equal(sel, np.flatnonzero((t >= 100.0) & (t < 110.0)))


def test_episodes_from_a_real_summary(rec208):
    rec, sample, label = rec208
    summary = summarise(label, sample, rec.fs, duration_s=rec.duration_s)
    eps = episodes(summary)
    n_events = sum(len(v) for kinds in summary["events"].values() for v in kinds.values()) + len(summary["pauses"])
    assert len(eps) == n_events > 0
    assert [e.start_s for e in eps] == sorted(e.start_s for e in eps)
    kinds = {(e.kind, e.cls) for e in eps}
    assert ("couplet", "V") in kinds and ("trigeminy", "V") in kinds
    top = notable(eps, 5)
    assert len(top) == 5 and min(e.rank for e in top) == min(e.rank for e in eps)
    assert all(e.title and e.detail for e in eps)


def test_episode_titles():
    assert Episode("run", "V", 1, 2, "3 beats").title == "Ventricular run"
    assert Episode("pause", "", 1, 4, "3.0 s").title == "Pause"


def test_markers_cover_every_beat_in_the_window(rec208):
    rec, sample, label = rec208
    proba = np.eye(len(AAMI_CLASSES), dtype=np.float32)[[AAMI_CLASSES.index(c) for c in label]]
    ref = label.copy()
    ref[in_window(sample, rec.fs, 60, 70)[:2]] = "Q"
    ms = markers(rec.signal[:, 0], rec.fs, sample, label, proba, AAMI_CLASSES, 60.0, 70.0, reference=ref)
    n = sum(len(m.t) for m in ms)
    assert n == len(in_window(sample, rec.fs, 60.0, 70.0)) > 5
    assert all(60 <= t < 70 for m in ms for t in m.t)
    hover = [h for m in ms for h in m.text]
    assert sum("reference: Q" in h for h in hover) == 2 and all("p = 1.00" in h for h in hover)
    agree = np.ones(len(sample))
    agree[in_window(sample, rec.fs, 60, 70)[3]] = 0.5            # the adaptive step's draws disagree on one beat
    ms = markers(rec.signal[:, 0], rec.fs, sample, label, proba, AAMI_CLASSES, 60.0, 70.0, agreement=agree)
    assert sum("uncertain: 50% of the adaptive step's readings" in h for m in ms for h in m.text) == 1


def test_a_full_page_stays_under_the_point_budget(rec208):
    rec, sample, label = rec208
    proba = np.ones((len(label), 5), np.float32) / 5
    y = rec.signal[:, 0]
    overview = trace(y, rec.fs, 0, rec.duration_s)
    detail = trace(y, rec.fs, 0, 60.0)
    overlay = trace(y, rec.fs, 0, 60.0)
    ms = markers(y, rec.fs, sample, label, proba, AAMI_CLASSES, 0, 60.0)
    ectopic = sample[label != "N"]
    assert page_points(overview, detail, overlay, ms, ectopic) < PAGE_POINTS


def test_labels_colours_and_time_format():
    assert class_label("V") == "V – ventricular ectopic"
    assert set(CLASS_COLOURS) == set(AAMI_CLASSES)
    assert format_time(754.5) == "00:12:34" and format_time(3723.0) == "01:02:03"
    assert format_time(3723.0, start_clock_s=23 * 3600.0) == "00:02:03"       # past midnight


def test_clock_ticks_fall_on_round_clock_times():
    from ecgdl.clock import clock_ticks

    vals, text = clock_ticks(100.0, 110.0, start_clock_s=8 * 3600 + 0.5)
    assert 3 <= len(vals) <= 7 and all(100.0 <= v <= 110.0 for v in vals)
    assert text[0].startswith("08:01:4") and len(set(text)) == len(text)
    vals, text = clock_ticks(0.0, 86_400.0)
    assert text[0] == "00:00:00" and len(vals) <= 7


def test_label_thinning_keeps_ectopic_letters():
    from ecgdl.view import show_letter

    assert show_letter("N", 10.0) and not show_letter("N", 60.0)
    assert all(show_letter(c, 60.0) for c in "SVFQ")


def test_class_colours_stay_apart_for_colour_blind_readers():
    """Every pair of class colours, and the reference ring, differs by at least 25 CIE76 units in normal
    vision and in simulated protanopia, deuteranopia and tritanopia (Machado et al. 2009, severity 1)."""
    import itertools

    from ecgdl.view import RING_COLOUR

    cvd = {"normal": np.eye(3),
           "protan": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                               [-0.003882, -0.048116, 1.051998]]),
           "deutan": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                               [-0.011820, 0.042940, 0.968881]]),
           "tritan": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                               [0.004733, 0.691367, 0.303900]])}
    colours = {**CLASS_COLOURS, "ring": RING_COLOUR}
    for vision, m in cvd.items():
        lab = {k: _cielab(np.clip(m @ _linear_rgb(c), 0, 1)) for k, c in colours.items()}
        worst = min((np.linalg.norm(lab[a] - lab[b]), a, b) for a, b in itertools.combinations(colours, 2))
        assert worst[0] >= 25, (vision, worst)


def _linear_rgb(hex_colour: str) -> np.ndarray:
    c = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _cielab(rgb: np.ndarray) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ rgb
    f = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(f > 0.008856, np.cbrt(f), 7.787 * f + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_metric_rows_read_the_one_metric_dict():
    """The view reads ecgdl.metrics.class_metrics dicts (undefined: NaN in memory, None from a JSON file)."""
    from ecgdl.view import metric_rows

    a = metric_rows({"per_class": {"V": {"se": 0.9, "ppv": float("nan"), "support": 10}}})
    b = metric_rows({"V": {"se": 0.9, "ppv": None, "support": 10}})
    assert a == b == [{"class": "V – ventricular ectopic", "Se %": "90.0", "+P %": "—", "reference beats": 10}]


class _Identity:
    """A denoiser that returns its input: isolates the windowing arithmetic of denoised_trace."""

    def denoise(self, x, fs):
        return x


def test_denoised_trace_lines_up_with_the_signal(rec208):
    from ecgdl.view import denoised_trace

    rec, _, _ = rec208
    for start, stop in ((0.0, 10.0), (600.0, 660.0), (rec.duration_s - 5.0, rec.duration_s)):
        got = denoised_trace(_Identity(), rec.signal, rec.fs, 1, start, stop)
        want = trace(rec.signal[:, 1], rec.fs, start, stop)
        np.testing.assert_allclose(got.t, want.t, atol=1e-9)
        np.testing.assert_array_equal(got.y, want.y)


def test_shipped_denoiser_overlay_when_present(rec208):
    from ecgdl.paths import MODELS_DIR
    from ecgdl.view import denoised_trace

    if not (MODELS_DIR / "dae.onnx").is_file():
        pytest.skip("ecgdl/shipped/dae.onnx is not shipped")
    from ecgdl.denoise import Denoiser
    from ecgdl.signal import condition

    rec, _, _ = rec208
    x = condition(rec.signal[: int(30 * rec.fs)], rec.fs)
    tr = denoised_trace(Denoiser(MODELS_DIR / "dae.onnx"), x, rec.fs, 0, 5.0, 15.0)
    assert len(tr.t) == int(10 * rec.fs) and np.all(np.isfinite(tr.y))
    assert np.corrcoef(tr.y, x[int(5 * rec.fs):int(15 * rec.fs), 0])[0, 1] > 0.8
