"""A machine without torch (a Raspberry Pi with only the runtimes): the user's ONNX model is
prepared, calibrated (INT8 static), run with LoadGen and given its fidelity against the FP32
artifact of the same file, with ONNX Runtime and OpenVINO, and torch is never imported; a
built-in model and a PyTorch entry point say they need torch (exit 2, the install hint), and
`doctor` shows their cells unavailable with that reason. The TFLite file's cells are in
tests/core/test_user_tflite.py (its converted fixture is built there)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

from tests.core.no_torch import results_by_cell, run_without_torch

pytest.importorskip("torch")  # makes the test's own ONNX file; the child runs without it
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")
pytest.importorskip("nncf")

ROOT = Path(__file__).resolve().parents[2]
TORCH_HINT = "pip install 'qtui[torch]'"

PROFILE = """\
name = "pi"
model = "{model}"
threads = 2
batch_size = 4
warmup_queries = 2
mode = "{mode}"
scenario = "{scenario}"
[dataset]
count = 32
performance_sample_count = 32
calibration_count = 16
[loadgen]
preset = "quick"
min_duration_ms = 0
[sweep]
frameworks = {frameworks}
precisions = {precisions}
"""


def _profile(path: Path, model: Path, mode: str, scenario: str, frameworks: list[str], precisions: list[str]) -> str:
    path.write_text(PROFILE.format(
        model=model.as_posix(), mode=mode, scenario=scenario,
        frameworks=str(frameworks).replace("'", '"'), precisions=str(precisions).replace("'", '"'),
    ))
    return str(path)


def test_a_user_onnx_model_runs_everywhere_it_can_without_torch(tmp_path: Path) -> None:
    from tests.core.test_user_onnx import _export

    model = _export(tmp_path / "small.onnx")
    accuracy = _profile(tmp_path / "acc.toml", model, "accuracy", "Offline", ["onnxruntime", "openvino"], ["fp32", "int8_static"])
    performance = _profile(tmp_path / "perf.toml", model, "performance", "SingleStream", ["onnxruntime"], ["int8_dynamic"])
    study = _profile(tmp_path / "study.toml", model, "performance", "SingleStream", ["onnxruntime"], ["fp32"])
    with open(study, "a") as fh:  # the file and a built-in: the built-in is named and skipped
        fh.write(f'models = ["{model.as_posix()}", "mobilenet_v2"]\n[study]\nrepeats = 1\n')
    report = run_without_torch([
        ["prepare", "--model", str(model), "--framework", "openvino", "--precision", "fp16"],
        ["run", accuracy, "--quiet"],
        ["run", performance, "--quiet"],
        ["doctor", "--model", str(model)],
        ["doctor"],
        ["study", study, "--results-dir", str(tmp_path / "study")],
    ], tmp_path / "cache", tmp_path / "results")
    prepared, accurate, measured, doctor, doctor_builtins, studied = report["commands"]
    assert report["attempts"] == [] and not report["torch_loaded"], report["attempts"][:1]
    for command in report["commands"]:
        assert command["exit_code"] == 0, (command["argv"], command["output"][-2000:], command["error"])
    assert "small.onnx openvino fp16 → " in prepared["output"]

    cells = results_by_cell(tmp_path / "results")
    assert set(cells) == {
        ("onnxruntime", "fp32", "accuracy"), ("onnxruntime", "int8_static", "accuracy"),
        ("openvino", "fp32", "accuracy"), ("openvino", "int8_static", "accuracy"),
        ("onnxruntime", "int8_dynamic", "performance"),
    }, sorted(cells)
    for (framework, precision, _), record in cells.items():
        assert record["status"] in ("ok", "invalid"), record["message"]
        assert record["artifact"]["executed_precision"], (framework, precision)
        assert record["provenance"]["model"]["file"] == "small.onnx"
        assert record["artifact"]["tools"].get("torch") is None  # made here, without torch
    for framework in ("onnxruntime", "openvino"):  # quality: fidelity against the file's own FP32
        fid = cells[(framework, "int8_static", "accuracy")]["accuracy"]["fidelity"]
        assert 10.0 < fid["sqnr_db"] < float("inf") and fid["cosine"] > 0.95, (framework, fid)
    assert cells[("onnxruntime", "int8_dynamic", "performance")]["throughput"]["samples"] > 0

    rows = [line for line in doctor["output"].splitlines() if line.startswith(("  yes", "  no"))]
    offered = [line for line in rows if ("ONNX Runtime" in line or "OpenVINO" in line) and "OpenVINO         INT8 dynamic" not in line]
    assert len(offered) == 7 and all(line.startswith("  yes") for line in offered), doctor["output"]
    # nothing here is made from torch or waits for it
    assert not any("torch →" in line or "needs torch" in line for line in offered), doctor["output"]
    assert "the ONNX file as it is" in offered[0] and "ONNX frontend" in offered[4], doctor["output"]
    assert "not measured here: mobilenet_v2 onnxruntime fp32: preparing MobileNetV2 needs torch" in studied["output"]
    study_runs = results_by_cell(tmp_path / "study")  # its measurement and its quality check
    assert ("onnxruntime", "fp32", "performance") in study_runs, studied["output"]
    assert {Path(r["profile"]["model"]).name for r in study_runs.values()} == {"small.onnx"}
    # the cache holds this file's artifacts only: a built-in still cannot be prepared or run here
    ort = [line for line in doctor_builtins["output"].splitlines() if line.startswith(("  yes", "  no")) and "ONNX Runtime     FP32" in line]
    assert ort and ort[0].startswith("  no") and "needs torch" in ort[0], doctor_builtins["output"]


def test_a_built_in_model_and_an_entry_point_say_they_need_torch(tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text("import torch\n\n\ndef build():\n    return torch.nn.Linear(3, 2)\n")
    report = run_without_torch([
        ["run", "quick", "--set", "model=mobilenet_v2", "--set", "framework=onnxruntime", "--quiet"],
        ["run", "quick", "--set", "model=resnet50", "--set", "framework=openvino", "--set", "precision=int8_static", "--quiet"],
        ["run", "quick", "--set", f"model={net.as_posix()}:build", "--set", "framework=onnxruntime", "--quiet"],
        ["prepare", "--model", "vgg19", "--framework", "onnxruntime", "--precision", "fp32"],
        ["doctor"],
        ["doctor", "--model", f"{net.as_posix()}:build"],
    ], tmp_path / "cache", tmp_path / "results")
    *refused, prepared, doctor, doctor_entry = report["commands"]
    for command in refused:
        assert command["exit_code"] == 2, (command["argv"], command["output"][-2000:], command["error"])
        assert "needs torch" in command["output"] and TORCH_HINT in command["output"], command["output"]
    # `prepare` fails as for any tool missing here (exit 1), with the same reason
    assert prepared["exit_code"] == 1 and "cannot be prepared here: preparing VGG-19 needs torch" in prepared["output"]
    assert TORCH_HINT in prepared["output"] and "Traceback" not in prepared["output"], prepared["output"]
    assert "MobileNetV2" in refused[0]["output"] and "net.py:build" in refused[2]["output"]
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").rglob("result.json"))
    assert not list((tmp_path / "cache").glob("artifacts/*"))

    for out in (doctor, doctor_entry):
        assert out["exit_code"] == 0, out["output"]
        rows = [line for line in out["output"].splitlines() if line.startswith(("  yes", "  no"))]
        assert len(rows) == 16, out["output"]
        assert all(line.startswith("  no") and "torch" in line for line in rows), out["output"]
        # TFLite names its converter's extra (litert-torch brings torch), the others torch's
        others = [line for line in rows if "TensorFlow Lite" not in line]
        assert all(TORCH_HINT in line for line in others), out["output"]
        assert all("needs torch" in line or "torch not installed" in line for line in others), out["output"]
    assert report["attempts"] == [] and not report["torch_loaded"], report["attempts"][:1]


def test_the_onnxruntime_extra_brings_what_its_int8_static_preprocessing_imports() -> None:
    """ORT's `quant_pre_process` (INT8 static) imports sympy, which a Pi without torch (whose
    dependency it is) lacks unless the onnxruntime extra names it."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.split(">")[0].split("=")[0].strip() == "sympy" for dep in extras["onnxruntime"]), extras["onnxruntime"]
