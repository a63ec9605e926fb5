"""A user model in the run tables (`qtui report`'s table, CSV and Markdown, the TUI results
table, which all draw `run_table.table_rows`) and in every label (`labels.title`): by its file
name, or an entry point without its folders; never the folder it was measured from. Fixed
results, no runtime."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core import labels
from qtui.core.model_source import model_label
from qtui.core.results import save_result
from qtui.core.run_table import table_rows
from tests.ui.conftest import fake_result

FOLDER = "/home/someone/private/models"
MODELS = {
    f"{FOLDER}/my_net.onnx": "my_net.onnx",
    f"{FOLDER}/My Net.TFLITE": "My Net.TFLITE",
    f"{FOLDER}/nets.py:build": "nets.py:build",
    "mypkg.nets:build": "mypkg.nets:build",
    "mobilenet_v2": "mobilenet_v2",
}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_a_model_is_labelled_by_its_file_name(model: str) -> None:
    assert model_label(model) == MODELS[model]
    assert FOLDER not in labels.title(model) and FOLDER not in labels.narrow(model)
    result = fake_result("r1", "2026-01-02T10:00:00+00:00")
    result.profile = replace(result.profile, model=model)
    assert table_rows([result])[0]["model"] == MODELS[model]


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
def test_report_tables_name_user_models_without_their_folder(tmp_path: Path, fmt: str) -> None:
    for i, model in enumerate(MODELS):
        result = fake_result(f"r{i}", "2026-01-02T10:00:00+00:00")
        result.profile = replace(result.profile, model=model)
        save_result(result, tmp_path / result.run_id)
    out = CliRunner().invoke(cli.main, ["report", "--results-dir", str(tmp_path), "--format", fmt], env={"COLUMNS": "160"})
    assert out.exit_code == 0, out.output
    assert "/home/someone" not in out.output
    for label in ("my_net.onnx", "My Net.TFLITE", "nets.py:build", "mypkg.nets:build"):
        assert label in out.output, (label, out.output)
