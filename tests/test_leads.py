"""Lead choice (ecgdl.leads): real MIT-BIH excerpts rewritten as an unknown recorder would deliver them
(leads ECG1/ECG2, swapped, inverted, one lead alone) in tmp_path; the scoring path, the CLI override
and the warning path."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ecgdl.io import read_record
from ecgdl.leads import LOW_CONFIDENCE, choose_leads, decide_leads, load_lead_model, parse_override

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from lead_variants import write_variant  # noqa: E402  (the one writer of lead variants, shared with the figures)

pytestmark = pytest.mark.skipif(load_lead_model() is None, reason="ecgdl/shipped/lead_orientation.json absent "
                                "(python pipelines/lead_model.py)")

RECORD = "119"  # DS1: sinus rhythm with ventricular bigeminy, MLII + V1


@pytest.fixture(scope="module")
def excerpt(tmp_path_factory, mitdb_dir) -> Path:
    """Eight minutes of the real record as its own WFDB record (names kept)."""
    from infer_fixtures import write_excerpt

    return write_excerpt(mitdb_dir / RECORD, tmp_path_factory.mktemp("orig"), RECORD, start_s=0.0, seconds=480.0)


@pytest.fixture(scope="module")
def variants(tmp_path_factory, excerpt) -> dict[str, Path]:
    """The excerpt as ECG1/ECG2: original order, swapped, inverted, swapped + inverted, V1 alone."""
    kinds = {"original": {}, "swapped": {"swap": True}, "inverted": {"invert": True},
             "swapped_inverted": {"swap": True, "invert": True}, "v1_alone": {"only": 1}}
    out = {}
    for name, kind in kinds.items():
        folder = tmp_path_factory.mktemp(name)
        write_variant(excerpt.parent, folder, RECORD, **kind)
        out[name] = folder / RECORD
    return out


def test_named_mlii_is_trusted_even_when_second_or_upside_down(mitdb_dir):
    rec = read_record(mitdb_dir / "114", annotator=None)  # V5 first, MLII second
    assert choose_leads(rec).order == (1, 0) and choose_leads(rec).source == "named"
    flipped = replace(rec, signal=-rec.signal)
    c = choose_leads(flipped)
    assert c.order == (1, 0) and c.invert == (False, False) and c.confidence == 1.0


@pytest.mark.parametrize("name, primary, inverted", [("original", 0, False), ("swapped", 1, False),
                                                     ("inverted", 0, True), ("swapped_inverted", 1, True)])
def test_unknown_names_decided_from_the_median_beat(variants, name, primary, inverted):
    rec = read_record(variants[name], annotator=None)
    assert rec.leads == ("ECG1", "ECG2")
    c = choose_leads(rec)
    assert c.source == "signal" and c.order[0] == primary and c.invert[0] == inverted
    assert c.confidence >= LOW_CONFIDENCE
    done, _ = decide_leads(rec)
    assert done.lead_pair() == c.order and any("read as the limb" in n for n in done.notes)
    assert not any("lead choice" in w for w in done.warnings)


def test_scoring_a_swapped_inverted_record_gives_the_original_labels(excerpt, variants):
    from ecgdl.infer import BeatClassifier, score_record

    clf = BeatClassifier(device="cpu")
    ref = score_record(excerpt, clf, adapt=False)
    got = score_record(variants["swapped_inverted"], clf, adapt=False)
    assert got.summary["lead_choice"] == {"primary": "ECG2", "secondary": "ECG1", "inverted": [True, False],
                                          "confidence": got.summary["lead_choice"]["confidence"], "source": "signal"}
    assert np.allclose(got.conditioned[:, 0], ref.conditioned[:, 0], atol=1e-3)  # the model reads MLII upright
    b = np.clip(np.searchsorted(got.sample, ref.sample), 1, len(got.sample) - 1)
    b = np.where(np.abs(got.sample[b - 1] - ref.sample) < np.abs(got.sample[b] - ref.sample), b - 1, b)
    near = np.abs(got.sample[b] - ref.sample) <= 0.05 * ref.record.fs  # the same beat (detected on other leads)
    assert near.mean() > 0.98
    assert np.mean(ref.label[near] == got.label[b[near]]) > 0.97


def test_precordial_lead_alone_is_a_warning_in_the_summary(variants):
    from ecgdl.infer import BeatClassifier, score_record

    rec = read_record(variants["v1_alone"], annotator=None)
    c = choose_leads(rec)
    assert "precordial" in c.text  # V1 alone does not look like a limb lead: said, never silent
    res = score_record(variants["v1_alone"], BeatClassifier(device="cpu"), adapt=False, compare=False)
    assert any("lead choice uncertain" in w and "precordial" in w for w in res.summary["warnings"])


def test_named_precordial_leads_only_rank_by_name_and_warn(mitdb_dir):
    rec = read_record(mitdb_dir / "102", annotator=None)  # V5, V2 (paced; no MLII)
    done, c = decide_leads(rec)
    assert c.source == "standard" and rec.leads[c.order[0]] == "V5" and rec.leads[c.order[1]] == "V2"
    assert any("trained on MLII" in w for w in done.warnings)


def test_too_few_beats_is_a_warning_not_a_guess(mitdb_dir):
    rec = read_record(mitdb_dir / "101", annotator=None)
    short = replace(rec, signal=rec.signal[: int(4 * rec.fs)], leads=("ECG1", "ECG2"))
    done, c = decide_leads(short)
    assert c.source == "default" and c.confidence == 0.0 and any("too few beats" in w for w in done.warnings)


def test_override_parsing_names_the_leads():
    assert parse_override("ECG2", ("ECG1", "ECG2")) == (1, False)
    assert parse_override("-ecg1", ("ECG1", "ECG2")) == (0, True)
    with pytest.raises(ValueError, match="leads: ECG1, ECG2"):
        parse_override("MLII", ("ECG1", "ECG2"))


def test_cli_lead_override_and_exit_codes(variants, tmp_path, capsys):
    from ecgdl.cli import main

    out = tmp_path / "out"
    rc = main(["score", str(variants["swapped"]), "--out", str(out), "--device", "cpu", "--quiet", "--no-adapt",
               "--lead=-ECG1"])
    summary = json.loads((out / f"{RECORD}.summary.json").read_text())
    assert rc == 0 and summary["lead_choice"]["primary"] == "ECG1" and summary["lead_choice"]["inverted"][0]
    assert summary["lead_choice"]["source"] == "override"
    bad = main(["score", str(variants["swapped"]), "--out", str(tmp_path / "bad"), "--device", "cpu", "--quiet",
                "--lead", "MLII"])
    assert bad == 1  # the record fails, naming the leads it has
    err = capsys.readouterr().err
    assert "no lead 'MLII'" in err and "ECG1, ECG2" in err
    warn = main(["score", str(variants["v1_alone"]), "--out", str(tmp_path / "v1"), "--device", "cpu", "--quiet",
                 "--no-adapt"])
    assert warn == 3  # done with warnings: the lead choice is uncertain
