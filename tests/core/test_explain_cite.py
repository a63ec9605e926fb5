"""The study tables cite what a quantized cell's artifact executed ("int8 94 %") where `qtui
explain` saved that artifact's summary in the cache, or its profile beside the runs, in the
terminal study table and the HTML report, without profiling anything; `report --format html`
over a results folder copied from another machine (no runtime installed) shows the saved
profiles side by side."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core import explain as ex
from qtui.core.explain import cite, profiling
from qtui.core.results import RunResult, save_result
from tests.ui.conftest import fake_result

KEY = "c" * 24
#: The INT8 static cell's line (the legend's example is followed by ':'), its % never apart.
CELL = "int8 94\u00a0%(?!:)"


def _summary_of(key: str, precision: str, rows: list[ex.LayerRow]) -> None:
    prof = ex.Profile("onnxruntime", precision, "mobilenet_v2", key, "rt", "cpu", 2, 1, ex.with_shares(rows))
    ex.save_summary_with_artifact(prof, key)


def _results(root: Path) -> list[RunResult]:
    fp32 = fake_result("r-fp32", "2026-01-02T10:00:00+00:00", "fp32", p90=10.0)
    static = fake_result("r-int8s", "2026-01-02T10:01:00+00:00", "int8_static", p90=5.0)
    static.artifact["key"] = KEY
    dynamic = fake_result("r-int8d", "2026-01-02T10:02:00+00:00", "int8_dynamic", p90=30.0)
    dynamic.artifact["key"] = "d" * 24  # no summary saved for it: nothing cited
    fp32.artifact["key"] = "f" * 24
    _summary_of(KEY, "int8_static", [
        ex.LayerRow("features.0.0", "n0", "QLinearConv", "CPU EP", "int8", 94.0),
        ex.LayerRow("classifier.1", "n1", "Gemm", "CPU EP", "f32", 6.0),
    ])
    _summary_of("f" * 24, "fp32", [ex.LayerRow("features.0.0", "n0", "Conv", "CPU EP", "f32", 10.0)])
    for r in (fp32, static, dynamic):
        save_result(r, root / r.run_id)
    return [fp32, static, dynamic]


@pytest.fixture
def no_profiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """A report reads summaries; it never profiles."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a report profiled an artifact")

    monkeypatch.setattr(ex, "collect", refuse)
    monkeypatch.setattr(profiling, "profile_and_save", refuse)


def test_terminal_study_table_cites_the_saved_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_profiling: None) -> None:
    _results(tmp_path)
    monkeypatch.setattr(cli, "_stdout_is_terminal", lambda: True)
    out = CliRunner().invoke(cli.main, ["report", "--results-dir", str(tmp_path), "--format", "study"], env={"COLUMNS": "100"})
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    cited = [line for line in lines if re.search(CELL, line)]
    assert len(cited) == 1, out.stdout  # the INT8 static cell only: FP32 is never cited, INT8 dynamic has no summary
    header = next(line for line in lines if "framework" in line)
    assert cited[0].index("94") >= header.index("INT8s") - 2
    assert "int8 94\u00a0%: share of the profiled time in int8" in out.stdout  # the legend


def test_html_report_cites_the_saved_summary(tmp_path: Path, no_profiling: None) -> None:
    from qtui.core.report_html import render_html

    page = render_html(_results(tmp_path), charts=False)
    assert len(re.findall(CELL, page)) == 1
    assert "from its qtui explain summary" in page


def test_cell_text_without_times_counts_layers() -> None:
    """TFLite has no per-op times: the cell says how many compute layers ran in int8."""
    summary = {"int8_share": None, "compute_layers": {"int8": 52, "f32": 1}}
    assert cite.summary_cell_text(summary, "int8_static") == "int8 52/53\u00a0layers"
    assert cite.summary_cell_text({"low_precision_share": 0.88, "compute_share": {"f16": 0.88, "f32": 0.1},
                                   "compute_layers": {"f16": 50, "f32": 3}}, "fp16") == "f16 88\u00a0%"


def _saved_profiles_in(root: Path) -> None:
    """Two profiles of the same model saved beside the runs, as `qtui explain` saves them: the
    INT8 static one is the artifact of run r-int8s."""
    folder = root / "explain"
    int8 = ex.Profile("onnxruntime", "int8_static", "mobilenet_v2", KEY, "onnxruntime 1.0", "Pi CPU", 4, 5, ex.with_shares([
        ex.LayerRow("features.0.0", "n0", "QLinearConv", "CPU EP", "int8", 94.0),
        ex.LayerRow("classifier.1", "n1", "Gemm", "CPU EP", "f32", 6.0),
    ]))
    fp32 = ex.Profile("onnxruntime", "fp32", "mobilenet_v2", "f" * 24, "onnxruntime 1.0", "Pi CPU", 4, 5, ex.with_shares([
        ex.LayerRow("features.0.0", "n0", "Conv", "CPU EP", "f32", 150.0),
        ex.LayerRow("classifier.1", "n1", "Gemm", "CPU EP", "f32", 7.0),
    ]))
    ex.save(int8, folder)
    ex.save(fp32, folder)


def _copied_to_a_machine_without_runtimes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The results folder (runs and their explain/) copied to another machine: an empty cache (no
    summaries), no runtime installed."""
    pi = tmp_path / "from-the-pi"
    _results(pi)
    _saved_profiles_in(pi)
    copy = tmp_path / "copied"
    shutil.copytree(pi, copy)
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "empty-cache"))
    for module in ("onnxruntime", "openvino", "torch", "ai_edge_litert"):
        monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    return copy


def test_html_report_over_a_copied_folder_shows_saved_profiles_side_by_side(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_profiling: None) -> None:
    copy = _copied_to_a_machine_without_runtimes(tmp_path, monkeypatch)
    out_file = tmp_path / "r.html"
    out = CliRunner().invoke(cli.main, ["report", "--results-dir", str(copy), "--format", "html", "-o", str(out_file)])
    assert out.exit_code == 0, out.output
    page = out_file.read_text()
    section = page[page.index('<section id="explain">'):]
    assert "<th>onnxruntime fp32</th><th>onnxruntime int8_static</th>" in section
    assert "<td>features.0.0</td><td>Conv f32 0.15 ms</td><td>QLinearConv int8 0.09 ms</td>" in section
    assert "Pi CPU, 4 threads" in section  # each profile's summary, from the machine that made it
    study = page[: page.index('<section id="explain">')]
    assert len(re.findall(CELL, study)) == 1  # the INT8 static cell cites the saved profile: no cache here


def test_terminal_study_over_a_copied_folder_cites_saved_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_profiling: None) -> None:
    copy = _copied_to_a_machine_without_runtimes(tmp_path, monkeypatch)
    monkeypatch.setattr(cli, "_stdout_is_terminal", lambda: True)
    out = CliRunner().invoke(cli.main, ["report", "--results-dir", str(copy), "--format", "study"], env={"COLUMNS": "100"})
    assert out.exit_code == 0, out.output
    assert len([line for line in out.stdout.splitlines() if re.search(CELL, line)]) == 1, out.stdout


def test_html_report_without_saved_profiles_has_no_explain_section(tmp_path: Path, no_profiling: None) -> None:
    from qtui.core.report_html import render_html

    page = render_html(_results(tmp_path), charts=False)
    assert 'id="explain"' not in page


def test_the_suggested_explain_command_profiles_the_cell_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """`recommend` suggests `qtui explain paper-matrix --set sweep…` for a study's cell: that
    command profiles the cell's artifact (TFLite INT8 dynamic here), not the profile's own
    framework and precision (ONNX Runtime FP32), which it did before."""
    import shlex
    from dataclasses import replace

    from qtui.core.profile import expand_sweep, load
    from qtui.core.profile_store import resolve

    matrix = load(resolve("paper-matrix"))
    cell = next(p for p in expand_sweep(matrix) if (p.framework, p.precision, p.scenario) == ("tflite", "int8_dynamic", "MultiStream"))
    run = replace(fake_result("r-cell", "2026-01-02T10:00:00+00:00", "int8_dynamic"), profile=cell)
    command = cite.explain_command(run)
    assert command is not None and command.startswith("qtui explain paper-matrix ")
    asked: list[tuple[str, str, str]] = []

    class Stop(Exception):
        pass

    def record(prof: object, *args: object, **kwargs: object) -> None:
        asked.append((prof.model, prof.framework, prof.precision))  # type: ignore[attr-defined]
        raise Stop("recorded")

    monkeypatch.setattr(profiling, "profile_and_save", record)
    out = CliRunner().invoke(cli.main, shlex.split(command)[1:])
    assert asked == [(cell.model, "tflite", "int8_dynamic")], (command, out.output)
