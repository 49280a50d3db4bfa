"""CLI conventions: --version, help with examples/files/exit codes, results on stdout and messages on
stderr, --json, -q/-v, CSV input with --fs and --units, documented exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ecgdl
from ecgdl.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, EXIT_WARNINGS, build_parser, main


def test_version_comes_from_the_package(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"ecgdl {ecgdl.__version__}"


@pytest.mark.parametrize("command", ["score", "demo", "app", "prepare"])
def test_every_option_has_help_and_every_command_examples_and_exit_codes(command):
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    missing = [a.dest for a in sub._actions if a.dest != "help" and not a.help]
    assert not missing, f"options without help text: {missing}"
    text = sub.format_help()
    assert "examples:" in text and "exit codes:" in text and "files written" in text


def test_json_summary_on_stdout_nothing_else(mitdb_dir, tmp_path, capsys):
    assert main(["score", str(mitdb_dir / "100"), "--out", str(tmp_path), "--json", "--reference"]) == EXIT_OK
    out = capsys.readouterr().out
    run = json.loads(out)
    assert run["scored"] == 1 and run["failed"] == [] and run["records"][0]["record"] == "100"
    assert run["records"][0]["qrs_se_pct"] > 99.0 and run["reference"]["qrs_se"] > 0.99  # *_pct in %, se a fraction


def _csv_record(mitdb_dir, tmp_path, fs_out: float = 250.0):
    """MIT-BIH 100 (5 min, both leads) resampled to ``fs_out`` and written in microvolts with a header row."""
    from ecgdl.io import read_record

    rec = read_record(mitdb_dir / "100", target_fs=fs_out)
    x = rec.signal[: int(300 * fs_out)] * 1000.0
    path = tmp_path / "holter.csv"
    np.savetxt(path, x, delimiter=",", header="MLII,V5", comments="", fmt="%.1f")
    return path, rec


def test_csv_input_with_fs_and_units(mitdb_dir, tmp_path, capsys):
    path, _ = _csv_record(mitdb_dir, tmp_path)
    out = tmp_path / "out"
    assert main(["score", str(path), "--fs", "250", "--units", "uV", "--out", str(out), "-q"]) == EXIT_OK
    summary = json.loads((out / "holter.summary.json").read_text())
    assert summary["source_fs"] == 250.0 and summary["leads"] == ["MLII", "V5"]
    assert 330 < summary["beats"] < 400  # record 100 beats ~ 75 bpm for 5 min


def test_csv_without_fs_is_a_usage_error_naming_the_option(mitdb_dir, tmp_path, capsys):
    path, _ = _csv_record(mitdb_dir, tmp_path)
    assert main(["score", str(path), "--out", str(tmp_path / "o")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--fs" in err and not (tmp_path / "o" / "holter.summary.json").exists()


def test_cuda_without_a_gpu_warns_in_one_line_and_exits_3(mitdb_dir, tmp_path, capsys):
    import warnings

    from ecgdl.infer import BeatClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if BeatClassifier(device="cuda").provider == "CUDAExecutionProvider":
            pytest.skip("CUDA works here: nothing falls back")
    assert main(["score", str(mitdb_dir / "100"), "--out", str(tmp_path), "--device", "cuda"]) == EXIT_WARNINGS
    captured = capsys.readouterr()
    assert "WARNING:" in captured.err and "CPU" in captured.err
    assert "warnings.warn" not in captured.err and "RuntimeWarning" not in captured.err  # no source line shown
    assert "1 scored" in captured.out


def test_quiet_prints_errors_only_and_a_failure_exits_1(mitdb_dir, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.hea").write_text("x 1 360 1000\nx.dat 212 200 11 0 0 0 0 MLII\n")  # no x.dat
    assert main(["score", str(bad / "x"), "--out", str(tmp_path / "o"), "-q"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith("ERROR: FAILED") and "x.dat" in err


def test_verbose_messages_go_to_stderr_results_to_stdout(mitdb_dir, tmp_path, capsys):
    assert main(["score", str(mitdb_dir / "100"), "--out", str(tmp_path), "-v"]) == EXIT_OK
    captured = capsys.readouterr()
    assert "INFO: ecgdl" in captured.err and "run.json" in captured.err
    assert "INFO" not in captured.out and captured.out.startswith("100:")
