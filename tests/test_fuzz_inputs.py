"""Issue 11: fuzzed headers, signal files, annotation files, zips and CSVs end in a score or a ``RecordError``.

Seeded (``derandomize``) and bounded (a fixed number of examples, ~20 s). The long run outside the
suite is ``tests/fuzz/run_fuzz.py`` (>= 20,000 cases, the count of other exceptions reported).
"""

from __future__ import annotations

import pytest
from fuzz_cases import make_seed, outcome, upload_cases
from hypothesis import HealthCheck, given, settings


@pytest.fixture(scope="module")
def seed(mitdb_dir):
    return make_seed(mitdb_dir)


@pytest.fixture(scope="module")
def score():
    from ecgdl.infer import BeatClassifier, score_record

    clf = BeatClassifier(device="cpu", threads=1)
    return lambda rec: score_record(rec, clf)


def test_fuzzed_uploads_end_in_a_score_or_a_record_error(seed, score):
    seen = []

    @settings(max_examples=250, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(upload_cases(seed))
    def check(files):
        result = outcome(files, score)
        seen.append(result)
        assert not result.startswith("other:"), result

    check()
    assert {"record", "record_error"} <= set(seen)  # both outcomes are exercised
