"""ecgdl.clinical_report: the SVG strip and the model facts (the full report is tested in test_app.py)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from ecgdl.clinical_report import ds2_metrics, intended_use, model_facts, svg_strip
from ecgdl.io import read_record
from ecgdl.signal import condition


@pytest.fixture(scope="module")
def rec233(mitdb_dir):
    rec = read_record(mitdb_dir / "233")
    return rec, condition(rec.signal[:, 0], rec.fs)


@pytest.mark.parametrize("start, stop", [(0.0, 10.0), (600.0, 612.5), (1795.0, 1805.0)])
def test_svg_strip_is_valid_svg_on_ecg_paper(rec233, start, stop):
    rec, y = rec233
    ann = rec.annotations
    svg = svg_strip(y, rec.fs, start, stop, sample=ann.sample, label=ann.symbol, highlight=(start + 2, start + 4))
    root = ET.fromstring(svg)                                 # well-formed XML
    assert root.tag.endswith("svg")
    width = float(root.get("viewBox").split()[2])
    assert width == pytest.approx((stop - start) * 25.0)     # 25 mm/s
    points = re.search(r'points="([^"]+)"', svg).group(1).split()
    assert 100 < len(points) <= 2 * width * 3.6 + 4          # decimated, not the raw samples
    n_beats = int(((ann.sample >= start * rec.fs) & (ann.sample < stop * rec.fs)).sum())
    assert svg.count("<text") == n_beats + 1                  # one letter per beat + the scale caption


def test_svg_strip_scales_10_mm_per_mv(rec233):
    rec, _ = rec233
    t = np.arange(int(10 * rec.fs)) / rec.fs
    y = np.where((t % 1.0) < 0.05, 1.0, 0.0).astype(np.float32)   # 1 mV square pulses
    svg = svg_strip(y, rec.fs, 0.0, 10.0)
    ys = sorted({float(p.split(",")[1]) for p in re.search(r'points="([^"]+)"', svg).group(1).split()})
    assert ys[-1] - ys[0] == pytest.approx(10.0)              # 1 mV = 10 mm


def test_model_facts_come_from_the_sidecar():
    meta = {"name": "cnn-x", "onnx": {"sha256": "ab" * 32}, "classes": ["N", "S", "V", "F", "Q"],
            "git": {"commit": "0123456789abcdef", "dirty": False}, "intended_use": "Research only.",
            "metrics": {"ds2": {"per_class": {"V": {"se": 0.9, "ppv": 0.8}}}}}
    facts = dict(model_facts(meta, "CPUExecutionProvider"))
    assert facts["Model"] == "cnn-x" and facts["Version"] == "sha256 abababababab"
    assert facts["Code commit"] == "0123456789ab" and facts["Runs on"] == "CPU — ONNX Runtime CPUExecutionProvider"
    assert intended_use(meta) == "Research only."
    assert ds2_metrics(meta) == {"V": {"se": 0.9, "ppv": 0.8}}
    assert "do not use" in intended_use({})


def test_svg_strip_caption_reads_the_header_clock(rec233):
    """The strip's caption is clock time from the header's base time (else from 00:00:00)."""
    rec, y = rec233
    assert "01:00:10 · 25 mm/s" in svg_strip(y, rec.fs, 10.0, 20.0, start_clock_s=3600.0)
    assert "00:00:10 · 25 mm/s" in svg_strip(y, rec.fs, 10.0, 20.0)
