"""Is there an ECG here? A record-level check that the detected "beats" look like QRS complexes.

A recording that holds no ECG (leads off, electrodes where no ECG is visible, noise only) still
gives the detector local maxima to call beats, and the classifier labels them. This check reads
two cues the quality index (:func:`ecgdl.quality.segment_quality`) already computes per 10-s
segment holding at least ``min_beats`` beats, and takes their median over the record:

* **QRS contrast**: the QRS-band (5-20 Hz) energy envelope at each beat over the segment's median
  envelope (geometric mean over the segment's beats). A QRS complex concentrates its energy in
  about 100 ms of each cycle, so between beats the envelope is near zero: on the 48 MIT-BIH records
  the median contrast is 50 or more (24.7 on paced 102 with its leads swapped); on the NSTDB noise
  records 11 or less (docs/qrs.md, "Is there an ECG here?").
* **R-wave width**: samples within +-60 ms of the beat at least half the largest deflection,
  in ms. Spikes (glitches, a pacemaker without capture) are 1-2 samples wide; the MIT-BIH records'
  median is 11 ms or more (paced 104, whose pacing spikes are detected), most 17-70 ms.

No ECG is found when the median contrast is under ``min_contrast`` or the median width under
``min_width_ms``, or when fewer than ``min_segments`` segments of a record at least that long hold
``min_beats`` beats (white or pink noise, mains hum, a flat line: the detector finds next to no
beat, which must not read as a silent heart); the summary then carries a warning (exit code 3). Beats are still written: they
are what the detector found, and the warning says they are not reliable.

Example:
    >>> p = assess(result.quality)                       # doctest: +SKIP
    >>> p.ecg_found, warning(p)                          # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgdl.quality import SegmentQuality
from ecgdl.qrs_config import DEFAULT_QUALITY

__all__ = ["Presence", "PresenceConfig", "assess", "warning"]


@dataclass(frozen=True)
class PresenceConfig:
    """Thresholds of the no-ECG check (chosen with margin on MIT-BIH, NSTDB and noise: docs/qrs.md)."""

    min_contrast: float = 16.0       # median QRS contrast under this: the beats are not QRS complexes
    min_width_ms: float = 6.0        # median R-wave width under this: spikes, not QRS complexes
    min_segments: int = 3            # segments with enough beats needed to judge (fewer: no beats found)


DEFAULT_PRESENCE = PresenceConfig()


@dataclass(frozen=True)
class Presence:
    """The record-level verdict.

    Attributes:
        contrast: median per-segment QRS contrast (None when not judged).
        width_ms: median per-segment R-wave width, ms (None when not judged).
        segments: segments judged (those with at least ``QualityConfig.min_beats`` beats and a contrast).
        ecg_found: False when the beats do not look like QRS complexes or next to none was found;
            None when the record is too short to judge.
        of_segments: segments in the record.
    """

    contrast: float | None
    width_ms: float | None
    segments: int
    ecg_found: bool | None
    of_segments: int = 0

    def to_dict(self) -> dict:
        """The summary JSON's ``quality.ecg`` object (contrast and width rounded)."""
        r = (lambda v, d: None if v is None else round(v, d))
        return {"ecg_found": self.ecg_found, "qrs_contrast": r(self.contrast, 1),
                "r_width_ms": r(self.width_ms, 1), "segments": self.segments}


def assess(q: SegmentQuality | None, cfg: PresenceConfig = DEFAULT_PRESENCE,
           min_beats: int = DEFAULT_QUALITY.min_beats, *, vf: tuple = (), fs: float = 0.0) -> Presence | None:
    """The no-ECG verdict from a record's quality index; None without one (reference beats).

    vf: the record's VF/VFL ``[start, stop)`` ranges at ``fs``: segments they touch are busy (a
    heart in fibrillation has no discrete QRS, yet it is an ECG).

    >>> import numpy as np
    >>> q = SegmentQuality(10.0, np.ones(4), np.full(4, 12), (), np.full(4, 5.0), np.full(4, 30.0))
    >>> assess(q).ecg_found
    False
    """
    if q is None or q.contrast is None or q.width_ms is None:
        return None
    busy = q.beats >= min_beats
    seg = q.segment_s * fs
    for a, b in vf if seg > 0 else ():
        busy[int(a // seg): int(-(-b // seg))] = True
    ok = busy & np.isfinite(q.contrast) & np.isfinite(q.width_ms)
    n, total = int(ok.sum()), int(q.beats.size)
    if busy.sum() < cfg.min_segments:                    # next to no beat: no ECG, unless too short to tell
        return Presence(None, None, n, False if total >= cfg.min_segments else None, total)
    if n < cfg.min_segments:
        return Presence(None, None, n, None, total)
    c, w = float(np.median(q.contrast[ok])), float(np.median(q.width_ms[ok]))
    return Presence(c, w, n, bool(c >= cfg.min_contrast and w >= cfg.min_width_ms), total)


def warning(p: Presence | None, cfg: PresenceConfig = DEFAULT_PRESENCE) -> str | None:
    """The summary's warning text when no ECG was found, else None."""
    if p is None or p.ecg_found is not False:
        return None
    if p.contrast is None:
        return (f"no ECG found: no QRS complexes detected (fewer than {cfg.min_segments} of the record's "
                f"{p.of_segments} 10-s segments hold 4 beats or more); electrodes off, flat or noise only? "
                "This is not a finding of asystole: read the signal")
    why = []
    if p.contrast < cfg.min_contrast:
        why.append(f"their QRS-band energy stands only {p.contrast:.1f}x over the signal between them "
                   f"(an ECG: {cfg.min_contrast:g}x or more)")
    if p.width_ms < cfg.min_width_ms:
        why.append(f"they are spikes {p.width_ms:.1f} ms wide (an R wave: {cfg.min_width_ms:g} ms or more)")
    return ("no ECG found: the detected 'beats' do not look like QRS complexes (" + "; ".join(why) +
            "); electrodes off or noise only? Beat labels, rate and rhythm are not reliable")
