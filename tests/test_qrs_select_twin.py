"""The detector's extra-beat rule (``ecgdl.qrs_select._drop_extras``) and its twin exception (round 18)."""
import dataclasses

import numpy as np

from ecgdl.qrs_config import DEFAULT_CONFIG
from ecgdl.qrs_select import _drop_extras

FD = 100.0


def _envelope(beats, shapes):
    """An envelope with one bump per beat: (centre sample, height, width in samples)."""
    f = np.zeros(4000)
    x = np.arange(f.size)
    for c, (h, w) in zip(beats, shapes):
        f += h * np.exp(-0.5 * ((x - c) / w) ** 2)
    return f


def _run(f, beats, cfg):
    c = np.asarray(beats)
    ci = np.arange(c.size)
    return c[_drop_extras(ci, c, f[c], cfg, f, FD)].tolist()


def test_a_weak_beat_splitting_a_normal_interval_is_dropped_unless_it_twins_the_beat_before():
    beats = [100, 200, 300, 400, 450, 500, 600, 700, 800]          # 450 splits the 400-500 interval
    narrow, wide = (1.0, 2.0), (1.0, 5.0)
    off = dataclasses.replace(DEFAULT_CONFIG, extra_twin=None)
    on = dataclasses.replace(DEFAULT_CONFIG, extra_twin=0.95, extra_twin_floor=0.25)
    spike = _envelope(beats, [narrow] * 4 + [(0.3, 1.0)] + [narrow] * 4)      # the rule itself: a weak extra beat goes
    assert 450 not in _run(spike, beats, off)
    twin = _envelope(beats, [narrow] * 3 + [wide, (0.4, 5.0)] + [narrow] * 4)  # the next complex of a wide run
    assert 450 not in _run(twin, beats, off)
    assert 450 in _run(twin, beats, on)
    faint = _envelope(beats, [narrow] * 3 + [wide, (0.1, 5.0)] + [narrow] * 4)  # same shape, under the height floor
    assert 450 not in _run(faint, beats, on)
    other = _envelope(beats, [narrow] * 3 + [wide, (0.4, 1.0)] + [narrow] * 4)  # a different shape: no twin
    assert 450 not in _run(other, beats, on)
