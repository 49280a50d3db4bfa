"""Is a decoded signal plausibly an ECG in millivolts? Are reference annotations plausibly beats?

The classifier is amplitude-sensitive: a record in microvolts read as millivolts is scored with
confidence and comes out almost all V. These checks run on every record at the reading edge
(:func:`ecgdl.io.finish_record`) and return :class:`Finding` s; the reader turns an ``"error"`` into
a :class:`~ecgdl.io.RecordError` and a ``"warning"`` into ``Record.warnings`` (which reach the
summary JSON, the run table, the viewer and the exit code).

QRS amplitude: the median, over up to 12 ten-second stretches spread over the record, of the median
peak-to-peak of 3-second windows of the band-passed lead (0.5-40 Hz, the models' conditioning).
On the 48 MIT-BIH records it is 0.86-4.6 mV on the primary lead and 0.14-5.0 mV on the second.

>>> import numpy as np
>>> t = np.arange(0, 20, 1 / 360)
>>> x = 1.5 * np.exp(-((t % 0.8) - 0.4) ** 2 / 2e-4)         # 75 bpm spikes of 1.5 mV
>>> round(qrs_amplitude_mv(x, 360.0), 1)
1.4
>>> [f.text for f in amplitude_findings(x[:, None] * 1000, 360.0, ("MLII",), (0, 0))][0][:40]
'lead MLII: QRS amplitude about 1,446 mV '
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Plausible QRS amplitude after conditioning (mV). Outside it, the units are almost certainly wrong.
AMPLITUDE_MV = (0.1, 10.0)
#: Beyond these (a factor of ten outside), even the second lead of the pair is refused.
HARD_AMPLITUDE_MV = (0.01, 100.0)
#: Sample-to-sample change relative to the signal's spread (see :func:`roughness`): an ECG at 360 Hz has
#: 0.15-0.36 (MIT-BIH and NSTDB); data decoded in the wrong WFDB format has 0.6-1.6 or, format 8 over
#: other data (a random walk), 0.003. The lower bound scales with 360 / fs (oversampled signals are smoother).
ROUGHNESS = (0.02, 1.0)
#: Fewer reference beat labels per minute than this: the annotation file is not beat annotations.
MIN_BEATS_PER_MIN = 10.0


@dataclass(frozen=True)
class Finding:
    """``level`` is ``"error"`` (the record cannot be scored) or ``"warning"`` (scored, loudly)."""

    level: str
    text: str


def qrs_amplitude_mv(x: np.ndarray, fs: float, *, stretch_s: float = 10.0, n_stretches: int = 12,
                     window_s: float = 3.0) -> float:
    """Typical QRS peak-to-peak of one lead ``x`` (n,) in its own units (see the module docstring)."""
    from ecgdl.signal import bandpass

    n, length, win = len(x), int(stretch_s * fs), int(window_s * fs)
    count = int(min(n_stretches, max(1, n // max(length, 1))))
    starts = np.linspace(0, max(0, n - length), num=count).astype(np.int64)
    values = []
    for a in starts:
        y = bandpass(np.asarray(x[a:a + length], dtype=np.float64), fs)
        k = max(1, len(y) // win)
        step = len(y) // k
        values.append(np.median([np.ptp(y[i * step:(i + 1) * step]) for i in range(k)]))
    return float(np.median(values))


def roughness(x: np.ndarray, fs: float, *, stretch_s: float = 10.0, n_stretches: int = 12) -> float:
    """Median over spread 10-s stretches of rms(first difference) / rms(x - median): how noise-like ``x`` is."""
    n, length = len(x), int(stretch_s * fs)
    count = int(min(n_stretches, max(1, n // max(length, 1))))
    values = []
    for a in np.linspace(0, max(0, n - length), num=count).astype(np.int64):
        y = np.asarray(x[a:a + length], dtype=np.float64)
        y = y - np.median(y)
        spread = float(np.sqrt(np.mean(y * y)))
        values.append(float(np.sqrt(np.mean(np.diff(y) ** 2))) / spread if spread > 0 else 0.0)
    return float(np.median(values))


def amplitude_findings(signal: np.ndarray, fs: float, leads: tuple[str, ...], pair: tuple[int, int]) -> list[Finding]:
    """Findings for the two leads the models read: ``signal`` (n, C) in mV, ``pair`` (primary, second).

    The primary lead must be plausible (errors); the second one only within a factor of ten (else
    an error), with a warning in between.
    """
    out = []
    for rank, j in enumerate(dict.fromkeys(pair)):
        amp = qrs_amplitude_mv(signal[:, j], fs)
        lo, hi = AMPLITUDE_MV if rank == 0 else HARD_AMPLITUDE_MV
        text = _amplitude_text(leads[j], amp, _integers(signal[:, j]))
        if not lo <= amp <= hi:
            out.append(Finding("error", text))
        elif not AMPLITUDE_MV[0] <= amp <= AMPLITUDE_MV[1]:
            out.append(Finding("warning", text))
        rough = roughness(signal[:, j], fs)
        if not ROUGHNESS[0] * min(1.0, 360.0 / fs) <= rough <= ROUGHNESS[1]:
            out.append(Finding("error" if rank == 0 else "warning", _roughness_text(leads[j], rough)))
    return out


def _roughness_text(lead: str, rough: float) -> str:
    kind = "random-walk-like (much smoother than an ECG)" if rough < ROUGHNESS[0] else "noise-like"
    return (f"lead {lead}: the samples are {kind}: sample-to-sample change {rough:.3g} of the signal's spread "
            f"(an ECG has {ROUGHNESS[0]:g}-{ROUGHNESS[1]:g}); the data are probably decoded in the wrong format "
            "(WFDB: check the header's storage format) or are not an ECG")


def _amplitude_text(lead: str, amp: float, integers: bool) -> str:
    lo, hi = AMPLITUDE_MV
    head = f"lead {lead}: QRS amplitude about {amp:,.4g} mV (an ECG has {lo:g}-{hi:g} mV)"
    if amp > hi:
        if lo <= amp / 1000 <= hi:
            cause = "the units look like microvolts" + (" or raw ADC counts" if integers else "")
        elif integers:
            cause = "the values look like raw ADC counts, not converted to mV"
        else:
            cause = f"the values are about {amp / 1.5:,.0g} times too large for millivolts"
        fix = "give the right units (CSV: its units; WFDB: the header's gain and units)"
    else:
        cause = ("the units look like volts" if lo <= amp * 1000 <= hi
                 else "the signal is far too small for an ECG in millivolts (is this an ECG lead?)")
        fix = "give the right units (CSV: its units; WFDB: the header's gain and units)"
    return f"{head}: {cause}; {fix}"


def _integers(x: np.ndarray, n: int = 5000) -> bool:
    """True when (a sample of) the values are all whole numbers: raw ADC counts, not physical units."""
    step = max(1, len(x) // n)
    part = np.asarray(x[::step], dtype=np.float64)
    return bool(np.all(part == np.round(part)))


def annotation_finding(sample: np.ndarray, n_beats: int, n_samples: int, fs: float) -> Finding | None:
    """A warning when annotations cannot be a record's beat labels (then they are ignored), else None.

    sample: annotation positions at ``fs``; n_beats: how many of them are beat labels.
    """
    if len(sample) and (np.any(np.diff(sample) < 0) or sample.min() < 0 or sample.max() > n_samples):
        return Finding("warning", "reference annotations ignored: their positions are out of order or "
                                  "outside the signal (not an annotation file of this record?)")
    minutes = n_samples / fs / 60
    if minutes >= 1 and n_beats / minutes < MIN_BEATS_PER_MIN:
        return Finding("warning", f"reference annotations ignored: {n_beats} beat labels in {minutes:.0f} min "
                                  f"(fewer than {MIN_BEATS_PER_MIN:g} per minute: not beat annotations of this record?)")
    return None
