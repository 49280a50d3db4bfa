"""Inter-patient splits of the MIT-BIH Arrhythmia Database (de Chazal et al. 2004).

DS1 trains, DS2 tests; the paced records 102, 104, 107 and 217 are in neither. Validation
(early stopping, model selection, tuning) uses :data:`VAL`, records held out of DS1; DS2 is read
only by the final evaluation.

Note: records 201 and 202 come from the same subject but sit in DS1 and DS2 respectively. We
keep the standard split for comparability with the literature; it slightly favours DS2 results.
"""

from __future__ import annotations

PACED: tuple[str, ...] = ("102", "104", "107", "217")
DS1: tuple[str, ...] = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124",
                        "201", "203", "205", "207", "208", "209", "215", "220", "223", "230")
DS2: tuple[str, ...] = ("100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210", "212",
                        "213", "214", "219", "221", "222", "228", "231", "232", "233", "234")
ALL_RECORDS: tuple[str, ...] = tuple(sorted(DS1 + DS2 + PACED))

#: Patient-disjoint validation records carved out of DS1, chosen to contain S and V beats:
#: 118 (S 96, V 16), 124 (S 31, V 47), 223 (S 73, V 473, F 14): 200 of DS1's 944 S beats, 536 of 3,788 V.
VAL: tuple[str, ...] = ("118", "124", "223")
TRAIN: tuple[str, ...] = tuple(r for r in DS1 if r not in VAL)


class SplitError(AssertionError):
    """Two sets that must be disjoint share records."""


def assert_disjoint(**sets) -> None:
    """Raise :class:`SplitError` naming the shared records if any two named sets overlap.

    >>> assert_disjoint(train=TRAIN, val=VAL, test=DS2)
    """
    names = list(sets)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = set(map(str, sets[a])) & set(map(str, sets[b]))
            if shared:
                raise SplitError(f"{a} and {b} share records {sorted(shared)}")


def assert_no_test_records(records) -> None:
    """Guard for training and model selection: DS2 and paced records must never reach them."""
    bad = sorted(set(map(str, records)) & (set(DS2) | set(PACED)))
    if bad:
        raise SplitError(f"test (DS2) or paced records reached training/model selection: {bad}")
