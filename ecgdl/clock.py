"""Clock time for readers: every time the viewer and the reports show is ``HH:MM:SS`` wall-clock time,
counted from the header's base time (``Record.start_clock_s``) or from 00:00:00 when the file has none.

>>> format_time(3723.0, start_clock_s=8 * 3600.0)
'09:02:03'
"""

from __future__ import annotations

import math


def format_time(t_s: float, start_clock_s: float | None = None) -> str:
    """Clock time ``"HH:MM:SS"`` of a time ``t_s`` into the record: from the header's base time
    (``Record.start_clock_s``, seconds after midnight), else from 00:00:00; the one time format of the viewer.

    >>> format_time(754.5), format_time(3723.0, 8 * 3600.0), format_time(600.0, 23.9 * 3600)
    ('00:12:34', '09:02:03', '00:04:00')
    """
    total = int(math.floor(max(0.0, float(t_s)) + (start_clock_s or 0.0) + 1e-6)) % 86_400
    h, rem = divmod(total, 3600)
    return f"{h:02d}:{rem // 60:02d}:{rem % 60:02d}"


def format_duration(t_s: float) -> str:
    """A length of time for readers: ``"30 min 5 s"``, ``"24 h 0 min"``, ``"4.2 s"``.

    >>> format_duration(1805), format_duration(86_400), format_duration(4.2)
    ('30 min 5 s', '24 h 0 min', '4.2 s')
    """
    t_s = max(0.0, float(t_s))
    if t_s < 60:
        return f"{t_s:.1f} s"
    if t_s < 3600:
        return f"{int(t_s // 60)} min {int(t_s % 60)} s"
    return f"{int(t_s // 3600)} h {int(t_s % 3600 // 60)} min"


def clock_ticks(start_s: float, stop_s: float, start_clock_s: float | None = None,
                max_ticks: int = 7) -> tuple[list[float], list[str]]:
    """Tick positions (s into the record) and their clock labels for an axis spanning ``[start_s, stop_s]``,
    at a round step (1 s ... 6 h) giving at most ``max_ticks`` ticks."""
    span = max(float(stop_s) - float(start_s), 1e-3)
    steps = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600)
    step = next((st for st in steps if span / st <= max_ticks), steps[-1])
    offset = (start_clock_s or 0.0) % step               # ticks on round clock times, not round offsets
    first = math.ceil((start_s + offset) / step - 1e-9) * step - offset
    vals = [first + k * step for k in range(int((stop_s - first) // step) + 1)]
    return vals, [format_time(v, start_clock_s) for v in vals]
