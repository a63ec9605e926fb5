"""`qtui run` refuses a combination that cannot run here before doing any work: the same reason
as `qtui doctor` and the UI, exit 2, no weights loaded, nothing saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core import catalog


@pytest.fixture
def no_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    real = catalog.module_present
    monkeypatch.setattr(catalog, "module_present", lambda name: False if name == "openvino" else real(name))


@pytest.fixture
def run_must_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    import qtui.core.runner as runner

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a run started for a combination that cannot run here")

    monkeypatch.setattr(runner, "run", refuse)
    monkeypatch.setattr(runner, "_Run", refuse)


def test_run_refuses_a_framework_that_is_not_installed(
    no_openvino: None, run_must_not_start: None, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        cli.main, ["run", "quick", "--set", "framework=openvino", "--results-dir", str(tmp_path / "r")]
    )
    assert result.exit_code == 2, result.output
    reason = catalog.availability("openvino", "fp32").reason
    assert reason == "openvino not installed — pip install 'qtui[openvino]'"
    assert f"openvino fp32: {reason}" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists()  # nothing measured, nothing saved


def test_run_refuses_an_unsupported_precision_with_the_modules_reason(
    monkeypatch: pytest.MonkeyPatch, run_must_not_start: None
) -> None:
    from qtui.core.prepare import prepare_module

    module = prepare_module("tflite")
    monkeypatch.setattr(
        module, "unavailable_reason", lambda precision: "no converter here" if precision == "fp16" else None
    )
    result = CliRunner().invoke(cli.main, ["run", "quick", "--set", "framework=tflite", "--set", "precision=fp16"])
    assert result.exit_code == 2, result.output
    assert "tflite fp16: no converter here" in result.output


def test_a_sweep_names_every_combination_that_cannot_run(no_openvino: None, run_must_not_start: None) -> None:
    result = CliRunner().invoke(
        cli.main,
        ["run", "quick", "--set", "sweep.frameworks=['onnxruntime', 'openvino']", "--set", "sweep.precisions=['fp32', 'int8_static']"],
    )
    assert result.exit_code == 2, result.output
    assert "openvino fp32: openvino not installed" in result.output
    assert "openvino int8_static: openvino not installed" in result.output
    assert "onnxruntime" not in result.output.split("cannot run here:")[1].split("run the others")[0]
    assert "narrowing the sweep" in result.output


def test_the_runner_itself_refuses_too(no_openvino: None) -> None:
    """The UI and any other caller of `run` get the same refusal, before weights are loaded."""
    from qtui.core import events as ev
    from qtui.core.runner import run
    from tests.conftest import small_profile

    events: list[Any] = []
    result = run(small_profile(framework="openvino"), events.append)
    assert result.status == "failed"
    assert "openvino not installed — pip install 'qtui[openvino]'" in result.message
    assert not any(isinstance(e, ev.Preparing) and "weights" in e.step for e in events)
