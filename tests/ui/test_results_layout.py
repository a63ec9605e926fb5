"""The results screens use the room they have (issue 12, item 8), at 80×24 and 120×40: the
results table draws full names and p50/p99 where they fit and short names where not, and redraws
its columns when a resize crosses the line; the status line stays readable while a notification
is shown; the study view keeps its titles and column titles on one line, cuts no figure off, and
folds its notes under their text."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from textual.app import App
from textual.widgets import DataTable, Select, Static
from textual.widgets._toast import Toast

from qtui.core.matching import fp32_baseline
from qtui.core.results import load_results, save_result
from qtui.core.study_tables import StudyTable, study_notes, study_tables
from qtui.ui.app import QtuiApp
from qtui.ui.screens.results import (
    LAYOUTS,
    StudyTableView,
    TableLayout,
    choose_layout,
    render_study_note,
    row_cells,
    table_width,
)
from tests.ui.conftest import (
    assert_snapshot,
    fake_result,
    open_results,
    open_study,
    results_shown_as,
    screen_text,
    wait_for,
    write_fake_results,
)
from tests.ui.test_answer import study_results

SHOWN_RESULTS = "/tmp/qtui-ui-layout-snapshot-results"  # the real folder is unique: results_shown_as
FULL = ("MobileNetV2", "ONNX Runtime", "INT8 static", "SingleStream", "p50 ms", "p99 ms")
SHORT = ("MNetV2", "ORT", "INT8s", " SS ")


def _root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    root = tmp_path / "layout-results"
    monkeypatch.setenv("QTUI_RESULTS_DIR", str(root))
    return root




def _row_line(app: App, *words: str) -> str:
    """The one screen line that holds every word."""
    (line,) = [x for x in screen_text(app).splitlines() if all(w in x for w in words)]
    return line


def _fits(table: DataTable) -> bool:
    """Every column is on screen: the table does not scroll sideways."""
    return table.virtual_size.width <= table.scrollable_content_region.width


# -- the results table ------------------------------------------------------------------------------
def test_the_richest_layout_that_fits_is_chosen(tmp_path: Path) -> None:
    results = write_fake_results(tmp_path)
    rows = [row_cells(r, fp32_baseline(r, results)) for r in results]
    widths = {layout: table_width(layout, rows) for layout in LAYOUTS}
    assert widths[TableLayout(False, False)] <= 80 < widths[TableLayout(False, True)]
    assert widths[TableLayout(False, True)] <= 100 < widths[TableLayout(True, False)]
    assert widths[TableLayout(True, True)] <= 120
    assert choose_layout(rows, 80) == TableLayout(False, False)
    assert choose_layout(rows, 100) == TableLayout(False, True)
    assert choose_layout(rows, 120) == TableLayout(True, True)
    assert choose_layout(rows, 40) == TableLayout(False, False)  # nothing fits: the narrowest


def test_full_names_and_percentiles_of_a_row(tmp_path: Path) -> None:
    results = {r.run_id: r for r in write_fake_results(tmp_path)}
    base = results["r1-ort-fp32-ss"]
    row = row_cells(results["r2-ort-int8-ss"], base)
    assert [c.plain for c in row.cells(TableLayout(True, True))] == [
        "MobileNetV2", "ONNX Runtime", "INT8 static", "SingleStream", "ok", "p90 8ms", "6.4", "10.4",
        "2.50", "", "01-02 10:05",
    ]
    assert [c.plain for c in row.cells(TableLayout(False, False))] == [
        "MNetV2", "ORT", "INT8s", "SS", "ok", "p90 8ms", "2.50", "", "01-02 10:05",
    ]
    accuracy = row_cells(results["r8-ort-int8-acc"], results["r7-ort-fp32-acc"])
    assert [c.plain for c in accuracy.cells(TableLayout(True, True))][5:8] == ["top1 70.5%", "–", "–"]


async def test_full_names_and_p50_p99_at_120x40(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_fake_results(_root(monkeypatch, tmp_path))
    app = QtuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_results(pilot)
        assert screen.table_layout == TableLayout(True, True)
        text = screen_text(app)
        for name in FULL:
            assert name in text, name
        assert "MNetV2" not in text and "INT8s" not in text
        line = _row_line(app, "INT8 static", "SingleStream")
        assert line.split() == ["MobileNetV2", "ONNX", "Runtime", "INT8", "static", "SingleStream", "ok",
                                "p90", "8ms", "6.4", "10.4", "2.50", "01-02", "10:05"]
        assert _fits(screen.query_one(DataTable))


async def test_short_names_at_80x24(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_fake_results(_root(monkeypatch, tmp_path))
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        assert screen.table_layout == TableLayout(False, False)
        text = screen_text(app)
        for name in SHORT:
            assert name in text, name
        for name in FULL:
            assert name not in text, name
        assert _fits(screen.query_one(DataTable))


async def test_the_table_is_rebuilt_when_a_resize_crosses_the_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_fake_results(_root(monkeypatch, tmp_path))
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        table = screen.query_one(DataTable)
        screen.query_one("#filter-framework", Select).value = "onnxruntime"
        await pilot.pause()
        table.move_cursor(row=[r.run_id for r in screen.shown].index("r2-ort-int8-ss"))
        assert "p50" not in [str(k.value) for k in table.columns]

        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert screen.table_layout == TableLayout(True, True)
        assert [str(k.value) for k in table.columns][6:8] == ["p50", "p99"]
        assert [c.label.plain for c in table.columns.values()][:4] == ["model", "framework", "precision", "scenario"]
        assert "ONNX Runtime" in screen_text(app) and "p99 ms" in screen_text(app)
        assert screen.selected_run_id() == "r2-ort-int8-ss"  # the cursor stays on its run
        assert {r.profile.framework for r in screen.shown} == {"onnxruntime"}  # and the filter
        assert table.row_count == 6
        assert _fits(table)

        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert screen.table_layout == TableLayout(False, True)
        assert "ORT" in screen_text(app) and "p99 ms" in screen_text(app)
        assert _fits(table)

        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert screen.table_layout == TableLayout(False, False)
        text = screen_text(app)
        assert "MNetV2" in text and "MobileNetV2" not in text and "p99 ms" not in text
        assert [str(k.value) for k in table.columns][:4] == ["model", "fw", "prec", "scen"]
        assert [c.label.plain for c in table.columns.values()][:4] == ["model", "fw", "prec", "scen"]
        assert screen.selected_run_id() == "r2-ort-int8-ss"
        assert _fits(table)


async def test_a_resize_within_a_layout_keeps_the_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    write_fake_results(_root(monkeypatch, tmp_path))
    app = QtuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_results(pilot)
        rebuilt: list[bool] = []
        real = screen._lay_out
        monkeypatch.setattr(screen, "_lay_out", lambda size: rebuilt.append(real(size)) or rebuilt[-1])
        await pilot.resize_terminal(130, 40)
        await pilot.pause()
        assert rebuilt and not any(rebuilt) and screen.table_layout == TableLayout(True, True)


async def test_a_scrollbar_is_left_room_when_the_runs_do_not_fit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """40 runs under a 40-row screen: the table scrolls, and its scrollbar hides no column (the
    widest layout takes all 120 columns: it gives way to the next)."""
    root = _root(monkeypatch, tmp_path)
    write_fake_results(root)
    for i in range(32):
        r = fake_result(f"x{i:02d}", f"2026-01-03T10:{i:02d}:00+00:00", "int8_dynamic", p90=9.0)
        save_result(r, root / r.run_id)
    app = QtuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_results(pilot)
        table = screen.query_one(DataTable)
        assert table.show_vertical_scrollbar
        assert screen.table_layout == TableLayout(True, False)
        assert _fits(table)


# -- the status line ----------------------------------------------------------------------------------
async def _toasts(pilot) -> list[Toast]:  # noqa: ANN001
    """The notifications on screen, once they are drawn."""
    await wait_for(pilot, lambda: bool(pilot.app.screen.query(Toast)), timeout=30)
    await pilot.pause()
    return list(pilot.app.screen.query(Toast))


def _status_is_clear_of(app: App, toasts: list[Toast]) -> bool:
    status = app.screen.query_one("#results-status", Static)
    return not any(status.region.overlaps(t.region) for t in toasts)


async def test_the_status_line_stays_visible_under_a_notification(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = _root(monkeypatch, tmp_path)
    write_fake_results(root)
    app = QtuiApp()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await open_results(pilot)
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("enter")  # export: a notification with the file's full path
        toasts = await _toasts(pilot)
        (written,) = root.glob("qtui-results-*.md")
        assert screen.last_export == f"wrote 8 rows to {written.name}"
        text = screen_text(app)
        # the notification ("Export", the full path) and the whole status line, on one line
        assert text.count("wrote 8 rows to") == 2 and "Export" in text.replace("e Export", "")
        assert f"8 of 8 runs · wrote 8 rows to {written.name}" in text
        assert _status_is_clear_of(app, toasts)
        lines = text.splitlines()
        assert lines.index(_row_line(app, "8 of 8 runs")) == 2  # under the filters


async def test_damaged_results_warning_leaves_the_count_readable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    root = _root(monkeypatch, tmp_path)
    write_fake_results(root)
    (root / "broken").mkdir()
    (root / "broken" / "result.json").write_text("{not json", encoding="utf-8")
    app = QtuiApp()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_results(pilot)
        toasts = await _toasts(pilot)
        text = screen_text(app)
        assert "Damaged results skipped" in text
        assert "8 of 8 runs · 1 damaged file(s) skipped" in text
        assert _status_is_clear_of(app, toasts)


async def test_an_export_outside_the_results_folder_names_its_full_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from textual.widgets import Input

    write_fake_results(_root(monkeypatch, tmp_path))
    elsewhere = tmp_path / "out" / "runs.md"
    app = QtuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_results(pilot)
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#export-path", Input).value = str(elsewhere)
        await pilot.press("enter")
        await pilot.pause()
        assert elsewhere.is_file()
        assert screen.last_export == f"wrote 8 rows to {elsewhere}"


# -- the study view -----------------------------------------------------------------------------------
def _header(app: App) -> list[str]:
    """The column titles of the study table on screen (its one line that starts with "framework")."""
    (line,) = [x for x in screen_text(app).splitlines() if x.strip().startswith("framework")]
    return [" ".join(t.split()) for t in line.replace("┃", "  ").split("  ") if t.strip()]


async def test_study_titles_stay_on_one_line_with_a_single_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One FP32 run: the table is narrower than its title, which wrapped over three lines."""
    root = _root(monkeypatch, tmp_path)
    r = fake_result("only-fp32", "2026-01-02T10:00:00+00:00", p90=66.7)
    save_result(r, root / r.run_id)
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_study(pilot)
        text = screen_text(app)
        assert "MobileNetV2 · SingleStream: p90 ms, ×FP32" in text
        assert _header(app) == ["framework", "FP32"]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_study_titles_on_one_line_and_no_figure_cut_off(
    size: tuple[int, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two devices, three repeats per cell (intervals): the widest study table."""
    root = _root(monkeypatch, tmp_path)
    study_results(root, device="laptop")
    study_results(root, device="Pi 4", scale=4.0, start=100)
    app = QtuiApp()
    async with app.run_test(size=size) as pilot:
        await open_study(pilot)
        text = screen_text(app)
        assert "MobileNetV2 · SingleStream: p90 ms, ×FP32" in text
        assert "…" not in text  # no cell, title or name cut off
        names = ("INT8 dynamic", "INT8 static") if size[0] >= 100 else ("INT8d", "INT8s")
        assert _header(app) == ["framework", "device", "FP32", *names]
        for figure in ("120 [110–130]", "×2.50 [2.23–2.75]", "12 [11.2–13]"):
            assert figure in text, figure  # each figure with its interval on one line


def test_study_table_forms_from_wide_to_narrow(tmp_path: Path) -> None:
    study_results(tmp_path, device="laptop")
    study_results(tmp_path, device="Pi 4", scale=4.0, start=100)
    results = load_results(tmp_path)
    (study,) = study_tables(results, results)
    view = StudyTableView(study)

    def drawn(width: int) -> str:
        console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
        console.print(view)
        return console.export_text()

    # 76: what the view has at 80 columns (its padding and scrollbar taken)
    wide, medium, narrow = drawn(120), drawn(76), drawn(60)
    assert "INT8 dynamic" in wide and "┃" in wide  # full names, the lines between the columns
    assert "INT8d" in medium and "┃" not in medium and "×1.67 [1.49–1.83]" in medium
    assert "…" not in wide + medium + narrow
    assert "[55.8–64." in narrow  # folded, not cut off
    for text, width in ((wide, 120), (medium, 76), (narrow, 60)):
        assert max(len(line) for line in text.splitlines()) <= width
        assert text.splitlines()[0] == "MobileNetV2 · SingleStream: p90 ms, ×FP32"


def test_study_notes_fold_under_their_text() -> None:
    (note,) = [n for n in study_notes([_any_study()]) if n.startswith("×:")]
    console = Console(width=60, file=io.StringIO(), record=True, color_system=None)
    console.print(render_study_note(note))
    lines = console.export_text().splitlines()
    assert len(lines) > 1 and lines[0].startswith("×: speed-up")
    assert all(line.startswith("   ") and line[3] != " " for line in lines[1:])  # under "speed-up"
    assert " ".join(line.strip() for line in lines) == note


def _any_study() -> StudyTable:
    r = fake_result("one", "2026-01-02T10:00:00+00:00")
    (study,) = study_tables([r], [r])
    return study


# -- pictures -------------------------------------------------------------------------------------
@pytest.fixture
def snapshot_results(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with results_shown_as(SHOWN_RESULTS, monkeypatch) as root:
        write_fake_results(root)
        yield


async def test_results_snapshot_120x40(snapshot_results: None, tmp_path: Path) -> None:
    app = QtuiApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_results(pilot)
        assert_snapshot(app, "results-120x40", tmp_path)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_study_snapshot(size: tuple[int, int], snapshot_results: None, tmp_path: Path) -> None:
    app = QtuiApp()
    async with app.run_test(size=size) as pilot:
        await open_study(pilot)
        assert_snapshot(app, "study" if size == (80, 24) else "study-120x40", tmp_path)
