"""The results screen on a fixed set of saved results: filters, compare with FP32, study tables
(the same cells as `qtui report --format study`), details, and Markdown/CSV export written where
the screen says."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from rich.console import Group
from textual.widgets import Input, Select, Static

from qtui.core.results import save_result
from qtui.ui.app import QtuiApp
from qtui.ui.screens.dialogs import ConfirmScreen, ExportScreen
from qtui.ui.screens.results import (
    CompareScreen,
    DetailsScreen,
    ResultsScreen,
    StudyTablesScreen,
    StudyTableView,
)
from tests.ui.conftest import (
    fake_result,
    open_results,
    open_study,
    screen_text,
    select_row,
    write_fake_results,
)


def _root() -> Path:
    return Path(os.environ["QTUI_RESULTS_DIR"])






async def test_table_lists_newest_first_with_speedup() -> None:
    write_fake_results(_root())
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        assert [r.run_id for r in screen.shown][:2] == ["r8-ort-int8-acc", "r7-ort-fp32-acc"]
        text = screen_text(app)
        assert "8 of 8 runs" in text
        assert "2.50" in text  # INT8 SingleStream: 20 ms -> 8 ms
        assert "-0.7pt" in text  # INT8 accuracy vs FP32 accuracy run


async def test_filters_narrow_the_table() -> None:
    write_fake_results(_root())
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        screen.query_one("#filter-framework", Select).value = "torch"
        await pilot.pause()
        assert {r.profile.framework for r in screen.shown} == {"torch"} and len(screen.shown) == 2
        screen.query_one("#filter-framework", Select).clear()
        screen.query_one("#filter-scenario", Select).value = "Offline"
        screen.query_one("#filter-precision", Select).value = "fp32"
        await pilot.pause()
        assert sorted(r.run_id for r in screen.shown) == ["r3-ort-fp32-off", "r7-ort-fp32-acc"]
        assert "2 of 8 runs" in screen_text(app)


async def test_compare_with_the_fp32_baseline() -> None:
    write_fake_results(_root())
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        select_row(screen, "r4-ort-int8-off")
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.baseline is not None and app.screen.baseline.run_id == "r3-ort-fp32-off"
        text = screen_text(app)
        assert "speed-up ×2.50" in text
        assert "FP32 baseline" in text
        await pilot.press("escape")
        select_row(screen, "r8-ort-int8-acc")
        await pilot.press("c")
        await pilot.pause()
        assert "accuracy Δ -0.7pt" in screen_text(app)
        await pilot.press("escape")
        select_row(screen, "r6-pt-fp16-ss")  # INVALID: its figures are no speed-up
        await pilot.press("c")
        await pilot.pause()
        assert app.screen.baseline is not None and app.screen.baseline.run_id == "r5-pt-fp32-ss"
        assert "speed-up – (invalid run)" in screen_text(app) and "×1.20" not in screen_text(app)


async def test_study_view_is_framework_by_precision_per_scenario() -> None:
    write_fake_results(_root())
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_results(pilot)
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, StudyTablesScreen)
        text = screen_text(app)
        assert "SingleStream: p90 ms" in text and "Offline: samples/s" in text
        assert "ONNX Runtime" in text and "PyTorch" in text
        assert "×2.50" in text
        await pilot.press("e")
        await pilot.pause()
        exported = list(_root().glob("qtui-study-mobilenet_v2-*.md"))
        assert len(exported) == 1 and "| ONNX Runtime |" in exported[0].read_text()


async def test_details_show_verdict_environment_provenance_and_histogram() -> None:
    write_fake_results(_root())
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        select_row(screen, "r6-pt-fp16-ss")
        await pilot.press("enter")
        await pilot.pause()
        details = app.screen
        assert isinstance(details, DetailsScreen)
        text = screen_text(app)
        assert "INVALID" in text and "minimum query count not met" in text
        details.query_one("#details").scroll_end(animate=False)
        await pilot.pause()
        text = screen_text(app)
        assert "Test CPU" in text and "FP16" in text and "seeded random" in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_export_markdown_and_csv_to_the_results_dir() -> None:
    write_fake_results(_root())
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        screen.query_one("#filter-scenario", Select).value = "SingleStream"
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        path = Path(app.screen.query_one("#export-path", Input).value)
        assert path.parent == _root() and path.suffix == ".md"
        await pilot.press("enter")
        await pilot.pause()
        markdown = path.read_text()
        assert markdown.count("\n") == 2 + 4  # header, rule, four SingleStream runs
        assert "r2-ort-int8-ss" in markdown and "r3-ort-fp32-off" not in markdown
        assert screen.last_export == f"wrote 4 rows to {path.name}"  # in the results folder
        assert f"wrote 4 rows to {path.name}" in screen_text(app)

        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#export-format", Select).value = "csv"
        await pilot.pause()
        csv_path = Path(app.screen.query_one("#export-path", Input).value)
        assert csv_path.suffix == ".csv"
        await pilot.press("enter")
        await pilot.pause()
        rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
        assert {r["run_id"] for r in rows} == {"r1-ort-fp32-ss", "r2-ort-int8-ss", "r5-pt-fp32-ss", "r6-pt-fp16-ss"}
        assert next(r for r in rows if r["run_id"] == "r2-ort-int8-ss")["speedup_vs_fp32"] == "2.5"

        # an existing file is not replaced without asking
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#export-path", Input).value = str(csv_path)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ResultsScreen)


async def test_damaged_results_are_skipped_and_counted() -> None:
    write_fake_results(_root())
    bad = _root() / "broken"
    bad.mkdir()
    (bad / "result.json").write_text("{not json", encoding="utf-8")
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        assert len(screen.shown) == 8
        assert "1 damaged file(s) skipped" in screen_text(app)


def _markdown_cells(text: str) -> list[list[str]]:
    """The cells of every Markdown table row in `text` (rule rows left out)."""
    rows = [line.strip()[2:-2].split(" | ") for line in text.splitlines() if line.startswith("| ")]
    return [row for row in rows if not all(set(c) <= set("-:") for c in row)]


async def test_study_view_export_and_report_agree_cell_for_cell() -> None:
    from dataclasses import replace

    from click.testing import CliRunner

    from qtui.cli import main

    write_fake_results(_root())
    cancelled = fake_result("r9-ort-int8-cancel", "2026-01-02T11:00:00+00:00", "int8_static", p90=2.0, status="cancelled")
    other_threads = fake_result("r10-pt-int8d-1t", "2026-01-02T11:05:00+00:00", "int8_dynamic", framework="torch", p90=15.0)
    other_threads.profile = replace(other_threads.profile, threads=1)
    other_threads.environment["threads"] = 1
    for r in (cancelled, other_threads):
        save_result(r, _root() / r.run_id)
    report = CliRunner().invoke(main, ["report", "--results-dir", str(_root()), "--format", "study", "--model", "mobilenet_v2"])
    assert report.exit_code == 0, report.output
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        study = await open_study(pilot)
        drawn = []  # what the screen draws, cell by cell
        view = study.query_one("#study-tables", Static)
        group = view.content
        assert isinstance(group, Group)
        for part in group.renderables:
            if isinstance(part, StudyTableView):
                table = part.table_for(app.console, view.content_size.width)
                columns = [[str(cell).replace("\n", "<br>") for cell in col._cells] for col in table.columns]
                drawn += [list(row) for row in zip(*columns, strict=True)]
        assert drawn
        await pilot.press("e")
        await pilot.pause()
        (exported,) = _root().glob("qtui-study-mobilenet_v2-*.md")
    cells = _markdown_cells(report.stdout)
    assert exported.read_text() == report.stdout
    assert _markdown_cells(exported.read_text()) == cells
    assert [row for row in cells if row[0] != "framework"] == drawn
    assert cells[:2] == [
        ["framework", "FP32", "FP16", "INT8d", "INT8s"],
        ["ONNX Runtime", "20<br>top-1 71.2%", "–", "–", "8 ×2.50<br>top-1 70.5%"],  # not the cancelled run
    ]
    assert ["PyTorch", "30", "25*", "15", "–"] in cells  # INVALID: no speed-up; other threads: none


async def test_study_view_shows_executed_delta_and_efficiency_on_demand() -> None:
    """x, v and p add each cell's executed precision, Δ versus FP32 and GOP/s with its share of
    the nominal peak — the same cells as `qtui report --format study --executed --delta
    --efficiency`, in the view and in its export; pressed again, they go away."""
    from click.testing import CliRunner

    from qtui.cli import main

    write_fake_results(_root())
    with_efficiency = fake_result("r11-ort-fp32-eff", "2026-01-02T12:00:00+00:00", "fp32", p90=18.0)
    with_efficiency.efficiency = {
        "achieved_gops": 33.3, "nominal_peak_gops": 333.0, "fraction_of_nominal_peak": 0.1,
        "peak_basis": "nominal: test", "compute_precision": "fp32", "model_gmacs": 0.3, "rate_basis": "test",
    }
    save_result(with_efficiency, _root() / with_efficiency.run_id)
    args = ["report", "--results-dir", str(_root()), "--format", "study", "--model", "mobilenet_v2"]
    plain = CliRunner().invoke(main, args)
    full = CliRunner().invoke(main, [*args, "--executed", "--delta", "--efficiency"])
    assert plain.exit_code == 0 and full.exit_code == 0, full.output
    assert "33.3 GOP/s, 10 % of nominal peak" in full.stdout and "GOP/s" not in plain.stdout
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_study(pilot)
        for expected in (full.stdout, plain.stdout):  # x, v, p on; then off again
            for key in ("x", "v", "p"):
                await pilot.press(key)
            await pilot.press("e")
            await pilot.pause()
            (exported,) = _root().glob("qtui-study-mobilenet_v2-*.md")
            assert _markdown_cells(exported.read_text()) == _markdown_cells(expected)
            exported.unlink()


async def test_every_key_of_the_results_screen_is_in_the_footer_at_80x24() -> None:
    """The answer (a) and the charts (g) joined the footer: a compact footer keeps quit, the keys
    panel and every key but replay on one 80-column line; the keys panel (f1) lists replay too."""
    write_fake_results(_root())
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_results(pilot)
        footer = screen_text(app).splitlines()[-1]
        for key in ("^q Quit", "f1 Keys", "esc Back", "Details", "c Compare", "s Study", "a Answer", "g Charts", "e Export"):
            assert key in footer, (key, footer)
        await pilot.press("f1")
        await pilot.pause()
        assert "Replay" in screen_text(app)
