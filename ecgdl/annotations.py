"""Results back into the tools of the field: a WFDB annotation file of the labelled beats and rhythm changes.

``<out>/<record>.ecgdl`` is written by ``wfdb.wrann`` (MIT format), at the record's own sampling rate,
so ``wfdb.rdann(record, "ecgdl")``, WAVE and ``bxb -r <record> -a atr ecgdl`` read it beside the
record's header (put the output folder on the WFDB path, or copy the file next to the record).

AAMI class -> MIT-BIH beat symbol (the symbol that stands for the class in the MIT-BIH label set):

=====  ======  ==========================================================
AAMI   symbol  meaning of the symbol
=====  ======  ==========================================================
N      ``N``   normal beat (AAMI N also covers L, R, e, j in the reference)
S      ``A``   atrial premature beat (AAMI S also covers a, J, S)
V      ``V``   premature ventricular contraction (AAMI V also covers E)
F      ``F``   fusion of ventricular and normal beat
Q      ``Q``   unclassifiable beat (AAMI Q also covers paced ``/`` and ``f``)
=====  ======  ==========================================================

Rhythm changes are ``+`` annotations whose aux note names the rhythm, as in MIT-BIH: each episode of
:mod:`ecgdl.episodes` with a MIT-BIH rhythm code (``(AFIB``, ``(AFL``, ``(SVTA``, ``(VT``, ``(VFL``,
``(B``, ``(T``, ``(SBR``, ``(BII``, ``(NOD``, ``(IVR``) at its first beat, and ``(N`` at the first beat
after it. An episode that starts before the previous one ends cuts it short. PAUSE, BRADY and TACHY
have no MIT-BIH rhythm code and are not written (they are in ``<record>.episodes.csv``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ecgdl.artifacts import atomic_write

#: Extension (WFDB "annotator") of the written file.
ANNOTATOR = "ecgdl"
#: AAMI class letter -> MIT-BIH beat symbol.
AAMI_TO_MIT: dict[str, str] = {"N": "N", "S": "A", "V": "V", "F": "F", "Q": "Q"}
#: Episode rhythms written as MIT-BIH rhythm changes (aux note ``"(" + rhythm``).
MIT_RHYTHMS: frozenset[str] = frozenset({"AFIB", "AFL", "SVTA", "VT", "VFL", "B", "T", "SBR", "BII", "NOD", "IVR"})
NORMAL_RHYTHM = "(N"


def rhythm_changes(episodes, beat_samples: np.ndarray, fs: float) -> list[tuple[int, str]]:
    """``[(sample, aux)]`` rhythm onsets and returns to ``(N``, in time order, from
    :class:`ecgdl.episodes.Episode` objects (``beat_samples`` at ``fs``, the samples written)."""
    def at(beat: int, t_s: float) -> int:
        return int(beat_samples[beat]) if 0 <= beat < len(beat_samples) else int(round(t_s * fs))

    eps = sorted(((at(e.first_beat, e.start_s), e) for e in episodes if e.rhythm in MIT_RHYTHMS),
                 key=lambda x: (x[0], x[1].rhythm))     # two rhythms may start at one beat (e.g. AFIB and B)
    out: list[tuple[int, str]] = []
    for i, (start, e) in enumerate(eps):
        out.append((start, f"({e.rhythm}"))
        after = e.last_beat + 1
        nxt = eps[i + 1][0] if i + 1 < len(eps) else None
        if 0 < after < len(beat_samples) and (nxt is None or nxt > int(beat_samples[after])):
            out.append((int(beat_samples[after]), NORMAL_RHYTHM))
    return out


def annotation_table(source_sample: np.ndarray, labels: np.ndarray, episodes, fs: float
                     ) -> tuple[np.ndarray, list, list]:
    """``(sample, symbol, aux_note)`` of every beat (MIT symbols) and rhythm change, sorted by sample
    (a rhythm change comes before the beat it starts at)."""
    beats = [(int(s), 1, AAMI_TO_MIT[str(c)], "") for s, c in zip(source_sample, labels)]
    rhythm = [(s, 0, "+", aux) for s, aux in rhythm_changes(episodes, np.asarray(source_sample), fs)]
    rows = sorted(beats + rhythm)
    return np.array([r[0] for r in rows], np.int64), [r[2] for r in rows], [r[3] for r in rows]


def write_annotations(res, out_dir: Path, stem: str, annotator: str = ANNOTATOR) -> Path:
    """Write ``out_dir/<stem>.<annotator>`` for a scored record (:class:`ecgdl.infer.RecordResult`).

    Samples are at the record's own rate (``source_sample``), the rate ``wfdb.rdann`` and ``bxb`` expect.
    Written in a temporary folder beside it, then moved into place: readers never see half a file.
    """
    import wfdb

    sample, symbol, aux = annotation_table(res.source_sample, res.label, res.episodes, res.record.source_fs)
    path = Path(out_dir) / f"{stem}.{annotator}"
    if not len(sample):
        path.unlink(missing_ok=True)  # wrann cannot write an empty file; no beats, no annotations
        return path
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".ann-") as tmp:
        wfdb.wrann(stem, annotator, sample, symbol=symbol, aux_note=aux, fs=res.record.source_fs, write_dir=tmp)
        atomic_write(path, (Path(tmp) / path.name).read_bytes())
    return path
