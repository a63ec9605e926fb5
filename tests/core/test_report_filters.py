"""`qtui report` filters: an unknown value is an error naming the allowed ones; a filter that
matches nothing says so (an empty table with exit 0 said nothing)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from qtui import cli
from tests.ui.conftest import write_fake_results


def test_unknown_filter_value_names_the_allowed_ones(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["report", "--framework", "foo"])
    assert result.exit_code == 2
    assert "'foo' is not one of 'onnxruntime', 'openvino', 'tflite', 'torch'" in result.output


def test_a_filter_that_matches_nothing_says_so(tmp_path: Path) -> None:
    write_fake_results(tmp_path)
    result = CliRunner().invoke(cli.main, ["report", "--results-dir", str(tmp_path), "--framework", "tflite"])
    assert result.exit_code == 0
    assert f"qtui: no results match --framework tflite (8 results in {tmp_path})" in result.stderr
    assert result.stdout == ""  # no empty table
    csv = CliRunner().invoke(cli.main, ["report", "--results-dir", str(tmp_path), "--framework", "tflite", "--format", "csv"])
    assert csv.stdout.startswith("run_id,") and len(csv.stdout.splitlines()) == 1  # header only, for scripts


def test_an_empty_folder_says_nothing_is_saved(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["report", "--results-dir", str(tmp_path)])
    assert result.exit_code == 0 and f"qtui: no results are saved (0 results in {tmp_path})" in result.stderr
