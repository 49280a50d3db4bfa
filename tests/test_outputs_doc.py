"""docs/outputs.md is the output contract: every file ``ecgdl score`` writes and every column and key
in them is named there (a new column without its documentation fails here)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from ecgdl.cli import main

DOC = Path(__file__).resolve().parent.parent / "docs" / "outputs.md"
CLASSES = ("N", "S", "V", "F", "Q")


def documented() -> set[str]:
    """Every `name` in backticks in docs/outputs.md, with <class> templates expanded and `a` ... `b` kept."""
    names = set()
    text = re.sub(r"```.*?```", "", DOC.read_text(), flags=re.S)   # code blocks are not names
    for token in re.findall(r"`([^`\n]+)`", text):
        for c in CLASSES:
            names.add(token.replace("<class>", c))
        names.add(token)
    return names


@pytest.fixture(scope="module")
def out(mitdb_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("outputs")
    assert main(["score", str(mitdb_dir / "200"), "--out", str(folder), "--reference", "--annotations", "-q"]) == 0
    return folder


def _header(path: Path) -> list[str]:
    with path.open() as fh:
        return next(csv.reader(fh))


def test_every_file_is_documented(out):
    names = documented()
    for f in out.iterdir():
        generic = f.name.replace("200", "<record>")
        assert generic in names, f"{f.name} is written but docs/outputs.md does not describe {generic}"


@pytest.mark.parametrize("name", ["200.beats.csv", "200.episodes.csv", "summary.csv"])
def test_every_csv_column_is_documented(out, name):
    names = documented()
    events = {f"{c}_{k}" for c in ("V", "S") for k in ("couplets", "runs", "bigeminy", "trigeminy")}
    missing = [c for c in _header(out / name)
               if c not in names and not c.startswith("p_") and c not in CLASSES and c not in events]
    assert not missing, f"{name}: columns not in docs/outputs.md: {missing}"


@pytest.mark.parametrize("name", ["200.summary.json", "reference.json", "run.json"])
def test_every_json_key_is_documented(out, name):
    names = documented()
    keys = json.loads((out / name).read_text())
    missing = [k for k in keys if k not in names]
    assert not missing, f"{name}: keys not in docs/outputs.md: {missing}"
