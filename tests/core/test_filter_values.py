"""One filter parser for every command: `--model/--framework/--precision/--scenario` take the
same values everywhere (ids, titles, short labels, any case, with or without separators), and an
unknown value exits 2 naming the allowed ones — `report`, `recommend`, `study`, `prepare`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core.catalog import FILTER_CHOICES, filter_value
from tests.ui.conftest import write_fake_results


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("scenario", "offline", "Offline"), ("scenario", "OFFLINE", "Offline"),
        ("scenario", "single-stream", "SingleStream"), ("scenario", "Offline", "Offline"),
        ("model", "mobilenetv2", "mobilenet_v2"), ("model", "MobileNetV2", "mobilenet_v2"),
        ("model", "VGG-19", "vgg19"), ("model", "densenet-121", "densenet121"),
        ("framework", "ONNX Runtime", "onnxruntime"), ("framework", "ort", "onnxruntime"),
        ("framework", "PyTorch", "torch"), ("framework", "TensorFlow Lite", "tflite"),
        ("precision", "INT8 static", "int8_static"), ("precision", "int8s", "int8_static"),
        ("precision", "FP16", "fp16"), ("precision", "int8-dynamic", "int8_dynamic"),
    ],
)
def test_ids_titles_and_labels_in_any_case_name_the_same_value(kind: str, text: str, value: str) -> None:
    assert filter_value(kind, text) == value


def test_an_unknown_value_is_none() -> None:
    assert filter_value("scenario", "foo") is None and filter_value("model", "") is None
    assert set(FILTER_CHOICES) == {"model", "framework", "precision", "scenario"}


def test_recommend_accepts_the_values_report_accepts(tmp_path: Path) -> None:
    write_fake_results(tmp_path)
    for args in (["--scenario", "offline"], ["--model", "mobilenetv2"], ["--scenario", "SINGLESTREAM"]):
        out = CliRunner().invoke(cli.main, ["recommend", "--results-dir", str(tmp_path), *args])
        assert out.exit_code == 0, (args, out.output)
        assert "MobileNetV2 · " in out.stdout
    offline = CliRunner().invoke(cli.main, ["recommend", "--results-dir", str(tmp_path), "--scenario", "offline"])
    assert "· Offline ·" in offline.stdout and "SingleStream" not in offline.stdout
    report = CliRunner().invoke(cli.main, ["report", "--results-dir", str(tmp_path), "--scenario", "offline", "--format", "csv"])
    assert report.exit_code == 0 and report.stdout.count("Offline") == 4  # 2 performance + 2 accuracy runs


@pytest.mark.parametrize("command", ["report", "recommend", "study", "prepare"])
@pytest.mark.parametrize(
    ("option", "allowed"),
    [
        ("--scenario", "'SingleStream', 'MultiStream', 'Offline'"),
        ("--model", "'mobilenet_v2', 'vgg19', 'densenet121'"),
        ("--framework", "'onnxruntime', 'openvino', 'tflite', 'torch'"),
        ("--precision", "'fp32', 'fp16', 'int8_dynamic', 'int8_static'"),
    ],
)
def test_an_unknown_value_exits_2_naming_the_allowed_ones_in_every_command(
    command: str, option: str, allowed: str, tmp_path: Path
) -> None:
    if command == "recommend" and option in ("--framework", "--precision"):
        pytest.skip("recommend has no --framework/--precision filter")
    if command == "prepare" and option == "--scenario":
        pytest.skip("prepare has no --scenario")
    args = {"study": ["study", "quick"], "prepare": ["prepare"]}.get(command, [command, "--results-dir", str(tmp_path)])
    out = CliRunner().invoke(cli.main, [*args, option, "foo"])
    assert out.exit_code == 2, out.output
    assert f"'foo' is not one of {allowed}" in out.output
