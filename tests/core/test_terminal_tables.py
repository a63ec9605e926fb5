"""A terminal gets tables made for a terminal: the study tables as aligned text (Markdown with
`<br>` only for files, pipes or `--markdown`); the run table at 80 columns keeps a readable
fidelity column and marks accuracy-mode runs; wider terminals get full names where they fit; each
kind of warning is said once, with its runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core.results import save_result
from tests.ui.conftest import fake_result, write_fake_results

LOAD = (
    "other processes kept {} of 2 cores busy during the measurement (83 % of the CPU): figures are "
    "likely low; rerun on a quiet machine"
)


def _results(root: Path) -> None:
    write_fake_results(root)
    busy = fake_result("busy", "2026-01-02T11:00:00+00:00", "int8_static", p90=9.0)
    busy.environment["warnings"] = [LOAD.format("1.65")]
    busy2 = fake_result("busy2", "2026-01-02T11:05:00+00:00", "fp32", p90=19.0)
    busy2.environment["warnings"] = [LOAD.format("1.05")]
    fid = fake_result("acc-fid", "2026-01-02T11:10:00+00:00", "int8_static", mode="accuracy")
    fid.accuracy = {"fidelity": {"sqnr_db": 28.3, "centred_top1_agreement": 0.853, "centred_distinct_classes": 48}}
    for r in (busy, busy2, fid):
        save_result(r, root / r.run_id)


def _report(root: Path, columns: int, *args: str) -> str:
    out = CliRunner().invoke(cli.main, ["report", "--results-dir", str(root), *args], env={"COLUMNS": str(columns)})
    assert out.exit_code == 0, out.output
    return out.stdout


def test_the_study_table_on_a_terminal_is_aligned_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _results(tmp_path)
    monkeypatch.setattr(cli, "_stdout_is_terminal", lambda: True)
    text = _report(tmp_path, 100, "--format", "study")
    assert "<br>" not in text and "|---" not in text and "| " not in text
    assert "MobileNetV2 · SingleStream: p90 ms, ×FP32" in text
    header = next(line for line in text.splitlines() if "framework" in line)
    assert "FP32" in header and "INT8s" in header
    # the disturbed repeats are left out of their cells (quiet repeats exist) and named
    assert "runs busy2, busy" in " ".join(text.split())
    # asked for, or not a terminal: Markdown
    assert "<br>" in _report(tmp_path, 100, "--format", "study", "--markdown")
    monkeypatch.setattr(cli, "_stdout_is_terminal", lambda: False)
    assert "|---" in _report(tmp_path, 100, "--format", "study")


def test_80_columns_keep_a_readable_fidelity_and_mark_accuracy_runs(tmp_path: Path) -> None:
    _results(tmp_path)
    text = _report(tmp_path, 80)
    lines = text.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    assert "acc/fid" in lines[1]
    (fid,) = [ln for ln in lines if "SQNR 28 dB" in ln]
    assert " acc " in fid
    assert sum(" acc " in ln for ln in lines) == 3  # the three accuracy-mode runs
    assert any("top-1 71.2%" in ln for ln in lines)


def test_a_wide_terminal_shows_full_names_where_they_fit(tmp_path: Path) -> None:
    _results(tmp_path)
    text = _report(tmp_path, 150)
    assert "ONNX Runtime" in text and "INT8 static" in text and "SingleStream" in text and "MobileNetV2" in text
    assert " mode " in text.splitlines()[1] and "perf" in text
    assert all(len(line.rstrip()) <= 150 for line in text.splitlines())


def test_each_kind_of_warning_is_said_once_with_its_runs(tmp_path: Path) -> None:
    _results(tmp_path)
    text = _report(tmp_path, 200)
    assert text.count("⚠ other processes kept the CPU busy: runs busy, busy2") == 1
    assert "1.65" not in text.split("⚠ other processes")[1]  # not one block per run
