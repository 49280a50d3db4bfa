"""Does the adaptive step's answer depend on its k-means draw? (docs/episodes.md, round 24)

The patient-adaptive step (:mod:`ecgdl.adapt`) clusters a record's beats once, with one k-means seed. On most
records another seed gives the same labels; on some it does not (MIT-BIH 200 under seed 3 loses 449 of its 826 V
beats, 209's S count moves by 90 beats). This module changes no label. It reruns the same step (the same stacker,
the same noise gate) under ``draws`` further seeds and says where the labels depend on the draw:

* :func:`agreement`: per beat, the share of the ``1 + draws`` clusterings whose label equals the output label;
* :func:`stability`: per record, the S / V / F counts under each draw, the beats that change, the **unstable**
  classes (counts spanning >= :data:`MIN_BEATS` beats and >= :data:`MIN_SHARE` of the largest: a count a reader
  would quote differently) and a warning naming them, for ``summary["warnings"]``.

With ``AdaptConfig.unstable_ensemble`` (round 27) an unstable record's output is the step averaged over that many
clusterings instead (``ecgdl.infer.average_unstable``); stable records keep the one draw. Where the sinus-reference
rule's record guard is at its edge (round 32, ``ecgdl.adapt_atrial.guard_edge``) the step read with that guard the
other way is one more column of the check (``guard_edge`` in the stability part).

Torch-free numpy; ``ecgdl.infer.score_record`` calls it after the adapt and noise-gate steps.

>>> lab = np.array(list("NNVVVN"))
>>> alt = np.array([list("NNVVNN"), list("NNVVVN")]).T
>>> agreement(lab, alt).round(2).tolist()
[1.0, 1.0, 1.0, 1.0, 0.67, 1.0]
>>> s = stability(np.array(list("N" * 20 + "V" * 30)), np.array([list("N" * 20 + "V" * 30), list("N" * 35 + "V" * 15)]).T)
>>> s["counts"]["V"], s["unstable"]
([30, 30, 15], ['V'])
"""

from __future__ import annotations

import numpy as np

#: Further k-means draws the scoring path runs to check the shipped one (1: round 24's cost criterion; 2 cost +24-35 %).
DRAWS: int = 1
#: A class is unstable when its counts over the draws span at least this many beats ...
MIN_BEATS: int = 10
#: ... and at least this share of its largest count.
MIN_SHARE: float = 0.2
#: The classes whose counts are checked (N is the remainder; Q is the noise gate's and the detector's).
CHECKED: tuple[str, ...] = ("S", "V", "F")


def seeds(cfg, draws: int = DRAWS) -> list[int]:
    """The k-means seeds of the check draws for an ``ecgdl.adapt.AdaptConfig``: after every seed the step itself
    uses (``seed .. seed + n_ensemble - 1``)."""
    return [cfg.seed + cfg.n_ensemble + i for i in range(draws)]


def agreement(label: np.ndarray, alt: np.ndarray) -> np.ndarray:
    """``(n,)`` share of the readings (the output's and the ``d`` columns of ``alt (n, d)``: clusterings) labelling each beat
    as ``label`` does."""
    label = np.asarray(label).astype(str)
    alt = np.asarray(alt).astype(str).reshape(len(label), -1)
    return (1.0 + (alt == label[:, None]).sum(1)) / (1.0 + alt.shape[1])


def stability(label: np.ndarray, alt: np.ndarray, classes: tuple[str, ...] = CHECKED) -> dict:
    """The record's stability part (``summary["adapt"]["stability"]``): ``draws`` (the output's included),
    ``counts`` per class (the output's first), ``changed_beats`` (beats some draw labels otherwise), ``unstable``
    (classes whose counts span >= :data:`MIN_BEATS` and >= :data:`MIN_SHARE` of the largest)."""
    label = np.asarray(label).astype(str)
    alt = np.asarray(alt).astype(str).reshape(len(label), -1)
    every = [label, *alt.T]
    counts = {c: [int((lab == c).sum()) for lab in every] for c in classes}
    unstable = [c for c, n in counts.items() if max(n) - min(n) >= MIN_BEATS and max(n) - min(n) >= MIN_SHARE * max(n)]
    return {"draws": len(every), "counts": counts, "changed_beats": int((alt != label[:, None]).any(1).sum()),
            "unstable": unstable}


def by_segment(label: np.ndarray, alt: np.ndarray, slices: list[slice], t_s: np.ndarray,
               classes: tuple[str, ...] = CHECKED) -> dict:
    """:func:`stability` of the whole record, and with more than one feature segment (a Holter: the adaptive step
    clusters each 30-min segment on its own, ``ecgdl.beats.beat_segments``) of each segment too: a split in one
    segment is a small share of a day's count. ``segments``: the unstable segments (``index``, ``start_s``, ``end_s``,
    ``unstable``, ``counts``); the record's ``unstable`` is the union of its own and theirs.

    >>> lab = np.array(["N"] * 80 + ["V"] * 20 + ["N"] * 900)
    >>> alt = lab.copy(); alt[80:100] = "N"                       # the first segment's 20 V beats split away
    >>> part = by_segment(lab, alt[:, None], [slice(0, 100), slice(100, 1000)], np.arange(1000.0))
    >>> part["unstable"], [(g["index"], g["counts"]["V"]) for g in part["segments"]]
    (['V'], [(0, [20, 0])])
    """
    part = stability(label, alt, classes)
    if len(slices) <= 1:
        return part
    segs = []
    for i, sl in enumerate(slices):
        g = stability(np.asarray(label)[sl], np.asarray(alt)[sl], classes)
        if g["unstable"]:
            segs.append({"index": i, "start_s": round(float(t_s[sl.start]), 3), "end_s": round(float(t_s[sl.stop - 1]), 3),
                         "unstable": g["unstable"], "counts": g["counts"]})
    union = [c for c in classes if c in part["unstable"] or any(c in g["unstable"] for g in segs)]
    return {**part, "unstable": union, "segments": segs}


def warning(part: dict) -> str | None:
    """The ``summary["warnings"]`` line for an unstable record (None when every class is stable)."""
    if not part or not part.get("unstable"):
        return None
    if part.get("segments"):        # a long record: name the segments (their own counts)
        where = "; ".join(f"{g['start_s'] / 3600:.2f}-{g['end_s'] / 3600:.2f} h " + ", ".join(
            f"{c} {min(g['counts'][c])}-{max(g['counts'][c])}" for c in g["unstable"]) for g in part["segments"][:5])
        more = f" and {len(part['segments']) - 5} more" if len(part["segments"]) > 5 else ""
        scope = f"in {len(part['segments'])} of its 30-min segments the beat counts span {where}{more}"
    else:
        scope = "the beat counts span " + ", ".join(f"{c} {min(part['counts'][c])}-{max(part['counts'][c])}"
                                                     for c in part["unstable"])
    out = part.get("output_counts") or {c: part["counts"][c][0] for c in part["unstable"]}
    how = f", averaged over {part['averaged_over']} clusterings" if part.get("averaged_over") else ""
    reads, what = f"{part['draws']} k-means draws", "the clustering"
    if part.get("guard_edge"):     # round 32: one reading is the sinus rule's record guard the other way
        g = part["guard_edge"][0]
        reads = (f"{part['draws'] - 1} k-means draws and the sinus-reference rule's record guard read the other way "
                 f"(its median supraventricular RR is {g['ratio']:.3f} of the sinus cycle, the 95 % interval "
                 f"{g['interval'][0]:.3f}-{g['interval'][1]:.3f} holds its {g['limit']:g} limit)")
        what = "the clustering and on a rule's record-level guard"
    return (f"the adaptive labels depend on {what}: over {reads} of this record {scope} "
            f"(this record's output{how}: " + ", ".join(f"{c} {out[c]}" for c in part["unstable"]) +
            f"); read those counts and the episodes built on them as uncertain and review the "
            f"{part['changed_beats']} beats with agreement < 1 in beats.csv")
