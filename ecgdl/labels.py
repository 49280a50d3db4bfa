"""AAMI EC57 beat classes and the MIT-BIH symbol map: the one place labels are defined."""

from __future__ import annotations

import numpy as np

#: Class order used everywhere (model outputs, confusion matrices, sidecars).
AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")

#: Human-readable names, for reports and the viewer.
AAMI_NAMES: dict[str, str] = {
    "N": "normal / bundle branch block",
    "S": "supraventricular ectopic",
    "V": "ventricular ectopic",
    "F": "fusion",
    "Q": "paced / unclassifiable",
}

#: MIT-BIH annotation symbol -> AAMI class (de Chazal et al. 2004, AAMI EC57).
SYMBOL_TO_AAMI: dict[str, str] = {
    "N": "N", "L": "N", "R": "N", "e": "N", "j": "N",
    "A": "S", "a": "S", "J": "S", "S": "S",
    "V": "V", "E": "V",
    "F": "F",
    "/": "Q", "f": "Q", "Q": "Q",
}

#: Annotation symbols that mark a beat (109,494 of them in the MIT-BIH Arrhythmia Database).
BEAT_SYMBOLS: frozenset[str] = frozenset(SYMBOL_TO_AAMI)

CLASS_INDEX: dict[str, int] = {c: i for i, c in enumerate(AAMI_CLASSES)}


def to_aami(symbols: np.ndarray | list[str]) -> np.ndarray:
    """Map annotation symbols to AAMI class indices; non-beat symbols give -1.

    >>> to_aami(["N", "A", "V", "+"]).tolist()
    [0, 1, 2, -1]
    """
    lut = {s: CLASS_INDEX[c] for s, c in SYMBOL_TO_AAMI.items()}
    return np.fromiter((lut.get(s, -1) for s in symbols), dtype=np.int8, count=len(symbols))
