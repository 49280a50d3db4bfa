"""The inter-patient protocol: DS1 / VAL / DS2 never share a record."""

from __future__ import annotations

import pytest

from ecgdl.splits import DS1, DS2, PACED, TRAIN, VAL, SplitError, assert_disjoint, assert_no_test_records


def test_standard_split_sizes_and_disjointness():
    assert len(DS1) == 22 and len(DS2) == 22 and len(PACED) == 4
    assert_disjoint(ds1=DS1, ds2=DS2, paced=PACED)
    assert_disjoint(train=TRAIN, val=VAL, test=DS2)
    assert set(TRAIN) | set(VAL) == set(DS1)


def test_assert_disjoint_names_the_shared_records():
    with pytest.raises(SplitError, match=r"train and test share records \['100'\]"):
        assert_disjoint(train=["100", "101"], test=["100"])


def test_test_records_never_reach_training():
    assert_no_test_records(TRAIN + VAL)
    with pytest.raises(SplitError, match="232"):
        assert_no_test_records([*TRAIN, "232"])
    with pytest.raises(SplitError, match="217"):
        assert_no_test_records(["217"])
