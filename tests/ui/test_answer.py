"""The answer on the results screen (`a`: the recommendation `qtui recommend` prints, for the
results shown) and the charts (`g`: speed-up over FP32 per framework × precision with its
interval, latency distributions of the chosen runs on one axis), at 80×24 and 120×40, on results
made here with repeats of known values (so that intervals appear)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.widgets import Select, SelectionList

from qtui.cli import main
from qtui.core.recommend import recommend, recommendations_text
from qtui.core.results import RunResult, load_results, save_result
from qtui.core.study_tables import study_tables
from qtui.ui.app import QtuiApp
from qtui.ui.screens.answer import (
    CONTINUATION_INDENT,
    AnswerScreen,
    ChartsScreen,
    RecommendationText,
    answer_lines,
    cell_key,
)
from qtui.ui.screens.results import ResultsScreen, StudyTablesScreen
from qtui.ui.widgets.charts import (
    BAR_CHARS,
    CI_ABOVE,
    CI_BELOW,
    FULL,
    LatencyComparison,
    LatencySeries,
    SpeedupChart,
    common_edges,
    latency_chart,
    rebin,
    speedup_chart,
)
from qtui.ui.widgets.histogram import format_ms
from tests.ui.conftest import (
    assert_snapshot,
    fake_result,
    open_results,
    results_shown_as,
    screen_text,
    select_row,
)

SIZES = [(80, 24), (120, 40)]
SHOWN_RESULTS = "/tmp/qtui-ui-answer-snapshot-results"  # the real folder is unique: results_shown_as


def _root() -> Path:
    return Path(os.environ["QTUI_RESULTS_DIR"])


def study_results(root: Path, device: str | None = None, scale: float = 1.0, start: int = 0) -> list[RunResult]:
    """MobileNetV2 SingleStream, three repeats per cell (p90 in ms): ONNX Runtime FP32 20/21/19,
    INT8 static 8/8.4/7.8, INT8 dynamic 12/12.5/11.8; PyTorch FP32 30/31/29, INT8 dynamic
    15/15.5/14.6; every latency histogram centred on its p90. Fidelity (accuracy-mode runs):
    ORT INT8 static 25 dB / 80 % (within budget), ORT INT8 dynamic 15 dB (over), PyTorch INT8
    dynamic 30 dB / 90 % (within). So: ORT INT8 static recommended, PyTorch INT8 dynamic
    runner-up, ORT INT8 dynamic over budget. `device` labels the machine, `scale` multiplies
    every latency, `start` offsets the run times (minutes)."""
    out: list[RunResult] = []
    minute = [start]
    tag = f"-{device.replace(' ', '')}" if device else ""

    def when() -> str:
        m = minute[0]
        minute[0] += 1
        return f"2026-03-01T{8 + m // 60:02d}:{m % 60:02d}:00+00:00"

    def runs(name: str, precision: str, framework: str, p90s: list[float]) -> None:
        for i, p90 in enumerate(p90s):
            r = fake_result(f"{name}{tag}-{i + 1}", when(), precision, "SingleStream", framework, p90=p90 * scale)
            r.histogram = {"edges_ms": [e * p90 * scale / 10 for e in r.histogram["edges_ms"]], "counts": r.histogram["counts"]}
            out.append(r)

    def fidelity(name: str, precision: str, framework: str, sqnr: float, agreement: float) -> None:
        r = fake_result(f"{name}{tag}", when(), precision, "Offline", framework, mode="accuracy")
        r.accuracy = {"samples": 200, "fidelity": {"sqnr_db": sqnr, "centred_top1_agreement": agreement,
                                                   "centred_distinct_classes": 40, "samples": 200}}
        out.append(r)

    runs("ort-fp32", "fp32", "onnxruntime", [20.0, 21.0, 19.0])
    runs("ort-int8s", "int8_static", "onnxruntime", [8.0, 8.4, 7.8])
    runs("ort-int8d", "int8_dynamic", "onnxruntime", [12.0, 12.5, 11.8])
    runs("pt-fp32", "fp32", "torch", [30.0, 31.0, 29.0])
    runs("pt-int8d", "int8_dynamic", "torch", [15.0, 15.5, 14.6])
    fidelity("ort-int8s-acc", "int8_static", "onnxruntime", 25.0, 0.80)
    fidelity("ort-int8d-acc", "int8_dynamic", "onnxruntime", 15.0, 0.75)
    fidelity("pt-int8d-acc", "int8_dynamic", "torch", 30.0, 0.90)
    for r in out:
        if device:
            r.environment["device"] = device
        save_result(r, root / r.run_id)
    return out






def unwrap(lines: list[str]) -> list[str]:
    """Drawn lines back to the core's lines: a continuation (odd indent) joins its line."""
    out: list[str] = []
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        if line.strip() and indent % 2 == 1 and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line.rstrip())
    return out


async def _all_screen_lines(pilot, scroll_id: str) -> list[str]:  # noqa: ANN001
    """Every line the user can read in the scrolling view, page by page to its end."""
    app = pilot.app
    view = app.screen.query_one(scroll_id)
    seen: list[str] = []
    y = 0
    while True:
        view.scroll_to(y=y, animate=False, immediate=True)
        await pilot.pause()
        seen += screen_text(app).splitlines()
        if view.scroll_y >= view.max_scroll_y:
            return seen
        y += max(1, view.size.height - 1)


# -- the recommendation ---------------------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES)
async def test_answer_view_is_what_qtui_recommend_prints(size: tuple[int, int]) -> None:
    study_results(_root())
    cli = CliRunner().invoke(main, ["recommend", "--results-dir", str(_root())])
    assert cli.exit_code == 0, cli.output
    app = QtuiApp()
    async with app.run_test(size=size) as pilot:
        await open_results(pilot)
        await pilot.press("a")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AnswerScreen)
        pool = load_results(_root())
        (core,) = recommend(pool, pool)
        (shown,) = screen.recommendations
        assert shown.best is not None and core.best is not None and shown.runner_up is not None and core.runner_up is not None
        assert (shown.best.label, shown.runner_up.label) == (core.best.label, core.runner_up.label) == (
            "ONNX Runtime INT8 static", "PyTorch INT8 dynamic")
        assert shown.best.quality.summary == core.best.quality.summary
        assert shown.margin == core.margin and core.margin is not None and core.margin.has_interval
        drawn = [line.text for line in screen.query_one("#answer-text", RecommendationText).lines()]
        assert unwrap(drawn) == recommendations_text([core]).splitlines() == cli.stdout.splitlines()
        # what the user reads: every drawn line, scrolling down to the end
        readable = [line[1:].rstrip() for line in await _all_screen_lines(pilot, "#answer")]
        for line in drawn:
            assert line.rstrip() in readable
        best = next(line for line in drawn if line.strip().startswith("recommended:"))
        assert best.strip().startswith("recommended: ONNX Runtime INT8 static: 8 [7.34–8.85] p90 ms, ×2.50")
        whole = "\n".join(unwrap(drawn))
        assert f"    evidence: {core.best.quality.summary}" in whole
        assert "runner-up: PyTorch INT8 dynamic: 15 [14–16.2] p90 ms, ×2.00 [1.86–2.14]" in whole
        assert "is ×1.88 [1.72–2.02] as fast as the runner-up: faster at 95 % confidence" in whole
        assert "over budget: ONNX Runtime INT8 dynamic" in whole
        assert "not measured: ONNX Runtime FP16; OpenVINO (every precision)" in whole
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ResultsScreen)


async def test_answer_respects_the_screen_filters() -> None:
    study_results(_root())
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        results = await open_results(pilot)
        results.query_one("#filter-framework", Select).value = "torch"
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AnswerScreen)
        pool = load_results(_root())
        (core,) = recommend([r for r in pool if r.profile.framework == "torch"], pool)
        (shown,) = screen.recommendations
        assert shown.best is not None and shown.runner_up is not None and core.best is not None and core.runner_up is not None
        assert (shown.best.label, shown.runner_up.label) == (core.best.label, core.runner_up.label) == (
            "PyTorch INT8 dynamic", "PyTorch FP32")
        # the ONNX Runtime cells were measured, only filtered out: not "not measured"
        assert {fw for fw, _, _ in core.not_measured} > {"torch"}
        assert {fw for fw, _, _ in shown.not_measured} == {"torch"}
        text = "\n".join(line.text for line in screen.query_one("#answer-text", RecommendationText).lines())
        assert "ONNX Runtime" not in text and "not measured: PyTorch FP16, INT8 static: not run" in "\n".join(unwrap(text.splitlines()))
        about = " ".join(" ".join(line.text for line in screen.query_one("#answer-about", RecommendationText).lines()).split())
        assert "(framework PyTorch). The framework/precision filter narrows the candidates" in about
        await pilot.press("escape")
        await pilot.pause()
        # a scenario filter is qtui recommend's --scenario, word for word
        results.query_one("#filter-framework", Select).clear()
        results.query_one("#filter-scenario", Select).value = "SingleStream"
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AnswerScreen)
        cli = CliRunner().invoke(main, ["recommend", "--results-dir", str(_root()), "--scenario", "SingleStream"])
        drawn = [line.text for line in screen.query_one("#answer-text", RecommendationText).lines()]
        assert unwrap(drawn) == cli.stdout.splitlines()
        about = " ".join(line.text.strip() for line in screen.query_one("#answer-about", RecommendationText).lines())
        assert f"qtui recommend --results-dir {_root()} --scenario SingleStream" in about


async def test_answer_without_performance_runs_says_so() -> None:
    r = fake_result("acc-only", "2026-03-01T08:00:00+00:00", "int8_static", "Offline", mode="accuracy", top1=0.7)
    save_result(r, _root() / r.run_id)
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_results(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AnswerScreen) and app.screen.recommendations == []
        assert "no ok or INVALID performance runs to recommend from" in screen_text(app)


@pytest.mark.parametrize("width", [40, 78, 118])
def test_answer_lines_wrap_whole_words_under_their_line(width: int) -> None:
    results = study_results(Path(os.environ["QTUI_RESULTS_DIR"]))
    text = recommendations_text(recommend(results, results))
    drawn = answer_lines(text, width)
    assert all(len(line.text) <= width for line in drawn)
    assert [line.text for line in drawn if line.text.strip()] != []
    # nothing lost, no word cut: the same words in the same order
    assert " ".join(line.text for line in drawn).split() == text.split()
    # a continuation is indented CONTINUATION_INDENT more than its line (odd), a line never
    assert unwrap([line.text for line in drawn]) == text.splitlines()
    for before, line in zip(drawn, drawn[1:], strict=False):
        indent = len(line.text) - len(line.text.lstrip())
        if line.text.strip() and indent % 2:
            base = len(before.text) - len(before.text.lstrip())
            assert indent in (base, base + CONTINUATION_INDENT)


# -- the speed-up chart ---------------------------------------------------------------------------
def _filled(line: str, start: int, end: int) -> int:
    """Columns of a bar drawn to its speed-up (solid and the shaded part below it)."""
    return sum(1 for ch in line[start:end] if ch in (FULL, CI_BELOW) or ch in "▏▎▍▌▋▊▉")


@pytest.mark.parametrize("size", SIZES)
async def test_speedup_chart_has_a_bar_per_cell_with_the_study_values(size: tuple[int, int]) -> None:
    study_results(_root())
    app = QtuiApp()
    async with app.run_test(size=size) as pilot:
        results = await open_results(pilot)
        select_row(results, "ort-int8s-2")
        await pilot.press("g")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChartsScreen)
        pool = load_results(_root())
        (table,) = study_tables(pool, pool)
        expected = {
            (row.framework, p): c for row in table.rows for p, c in zip(table.precisions, row.cells, strict=True)
            if c is not None and p != "fp32"
        }
        bars = [line for line in screen.query_one(SpeedupChart).lines() if line.kind == "bar"]
        assert len(bars) == len(expected) == 3
        text = screen_text(app)
        for line in bars:
            assert line.cell is not None
            cell = expected[(line.cell.framework, line.cell.precision)]
            # the study table's own figure and interval beside the bar: ×2.50 [2.23–2.75]
            assert line.text.endswith(" " + cell.speedup_text()) and "[" in cell.speedup_text()
            assert CI_BELOW in line.text and CI_ABOVE in line.text  # the interval is drawn
            assert line.text in text  # on screen, whole
        # longer bar, higher speed-up: ORT INT8s ×2.50 > PyTorch INT8d ×2.00 > ORT INT8d ×1.67
        order = sorted(bars, key=lambda line: _filled(line.text, *line.span))
        assert [(b.cell.framework, b.cell.precision) for b in order if b.cell] == [
            ("onnxruntime", "int8_dynamic"), ("torch", "int8_dynamic"), ("onnxruntime", "int8_static")]
        ratio = _filled(order[-1].text, *order[-1].span) / _filled(order[0].text, *order[0].span)
        assert ratio == pytest.approx(expected[("onnxruntime", "int8_static")].speedup / expected[("onnxruntime", "int8_dynamic")].speedup, rel=0.1)


def test_speedup_chart_devices_side_by_side_and_cells_without_a_speedup() -> None:
    root = Path(os.environ["QTUI_RESULTS_DIR"])
    results = study_results(root, device="laptop") + study_results(root, device="Pi 4", scale=4.0, start=100)
    invalid = fake_result("pt-fp16-invalid", "2026-03-01T11:00:00+00:00", "fp16", framework="torch", p90=25.0, status="invalid")
    invalid.environment["device"] = "laptop"
    single = fake_result("ort-fp16-1", "2026-03-01T11:01:00+00:00", "fp16", framework="onnxruntime", p90=16.0)
    single.environment["device"] = "laptop"
    results += [invalid, single]
    (table,) = study_tables(results, results)
    assert table.devices == ("laptop", "Pi 4")
    lines = speedup_chart(table, 78)
    bars = [line for line in lines if line.kind == "bar"]
    assert all(len(line.text) <= 78 for line in lines)
    keys = [(b.cell.framework, b.cell.precision, b.cell.device) for b in bars if b.cell]
    # each framework × precision's devices next to each other
    assert keys == [
        ("onnxruntime", "fp16", "laptop"),
        ("onnxruntime", "int8_dynamic", "laptop"), ("onnxruntime", "int8_dynamic", "Pi 4"),
        ("onnxruntime", "int8_static", "laptop"), ("onnxruntime", "int8_static", "Pi 4"),
        ("torch", "fp16", "laptop"),
        ("torch", "int8_dynamic", "laptop"), ("torch", "int8_dynamic", "Pi 4"),
    ]
    assert all(" laptop " in b.text or " Pi 4 " in b.text for b in bars)
    by_key = dict(zip(keys, bars, strict=True))
    assert "(INVALID: no speed-up)" in by_key[("torch", "fp16", "laptop")].text
    one_run = by_key[("onnxruntime", "fp16", "laptop")]
    # one run: its interval borrows the spread its table pooled, marked ~ (and the legend says so)
    assert one_run.text.endswith("]~") and " ×1.25 [" in one_run.text and CI_BELOW in one_run.text
    assert one_run.cell is not None and one_run.cell.speedup_estimate.pooled
    assert "(~ pooled spread)" in next(line.text for line in lines if line.kind == "legend")
    assert set(one_run.text[one_run.span[0]:one_run.span[1]]) <= BAR_CHARS | {" ", "│"}


# -- the latency comparison -----------------------------------------------------------------------
def _axis_range(axis: str) -> tuple[float, float]:
    """The first and last figures of an axis line ("1.95 … 122 ms")."""
    figures = axis.replace("ms", "").split()
    return float(figures[0]), float(figures[-1])


@pytest.mark.parametrize("size", SIZES)
async def test_latency_comparison_shows_each_runs_distribution(size: tuple[int, int]) -> None:
    study_results(_root())
    app = QtuiApp()
    async with app.run_test(size=size) as pilot:
        results = await open_results(pilot)
        select_row(results, "pt-int8d-3")
        await pilot.press("g")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChartsScreen)
        runs = screen.query_one("#latency-runs", SelectionList)
        assert app.focused is runs
        # by default the selected run's framework: its precisions
        assert sorted(screen.chosen()) == sorted([
            cell_key("torch", "Test CPU", "fp32"), cell_key("torch", "Test CPU", "int8_dynamic")])
        # tick ONNX Runtime INT8 static with the keyboard
        index = [runs.get_option_at_index(i).value for i in range(runs.option_count)].index(
            cell_key("onnxruntime", "Test CPU", "int8_static"))
        runs.highlighted = index
        await pilot.press("space")
        await pilot.pause()
        assert len(screen.chosen()) == 3
        chart = screen.query_one(LatencyComparison)
        lines = chart.lines()
        width = chart.content_size.width
        heads = [line.text for line in lines if line.kind == "header"]
        assert [h.split("  ")[0] for h in heads] == (
            ["ORT INT8s", "PyTorch FP32", "PyTorch INT8d"] if size[0] < 100
            else ["ONNX Runtime INT8s", "PyTorch FP32", "PyTorch INT8d"])
        text = screen_text(app)
        for line in lines:
            assert line.text.rstrip() in text  # every line on screen (it fits), whole
        newest = ["ort-int8s-3", "pt-fp32-3", "pt-int8d-3"]
        pool = {r.run_id: r for r in load_results(_root())}
        for head, run_id in zip(heads, newest, strict=True):  # each cell's newest run
            assert f"p90 {format_ms(pool[run_id].latency_ms['p90'])} " in head
        # each band is its own run's histogram: the peak bin of a run is where its band is full
        (axis,) = [line.text for line in lines if line.kind == "axis"]
        lo, hi = _axis_range(axis)
        band_tops = [lines[i + 1].text for i, line in enumerate(lines) if line.kind == "header"]
        peaks = []
        for run_id, top in zip(newest, band_tops, strict=True):
            edges, counts = pool[run_id].histogram["edges_ms"], pool[run_id].histogram["counts"]
            i = counts.index(max(counts))
            centre = math.sqrt(edges[i] * edges[i + 1])
            expected = math.log(centre / lo) / math.log(hi / lo) * width
            full = [x for x, ch in enumerate(top) if ch == "█"]
            assert full and min(full) - 2 <= expected <= max(full) + 3, (run_id, top, expected)
            peaks.append(sum(full) / len(full))
        assert peaks[0] < peaks[2] < peaks[1]  # INT8s (8 ms) left of INT8d (15 ms) left of FP32 (30 ms)


def test_rebin_keeps_every_count_and_latency_chart_fits() -> None:
    edges = tuple(1.0 * 10 ** (i / 8) for i in range(17))
    counts = (0, 1, 3, 8, 20, 31, 18, 9, 4, 2, 1, 0, 1, 0, 0, 0)
    a = LatencySeries("A", edges, counts, {"p50": 4.0, "p90": 8.0, "p99": 20.0})
    b = LatencySeries("B", tuple(e * 3 for e in edges), counts, {"p50": 12.0})
    empty = LatencySeries("C", (), ())
    columns = common_edges([a, b, empty], 50)
    assert len(columns) == 51 and columns[0] == pytest.approx(edges[1]) and columns[-1] == pytest.approx(edges[13] * 3)
    assert sum(rebin(edges, counts, columns)) == pytest.approx(sum(counts))
    lines = latency_chart([a, b, empty], 50, band_rows=3)
    assert all(len(line.text) <= 50 for line in lines)
    assert [line.kind for line in lines] == (
        ["header", "band", "band", "band", "marker"] * 2 + ["header", "note", "axis", "legend"])
    assert "no latencies recorded" in lines[11].text


async def test_charts_switch_tables_with_brackets_and_open_from_the_study() -> None:
    study_results(_root())
    offline = [
        fake_result("ort-fp32-off", "2026-03-01T12:00:00+00:00", "fp32", "Offline", samples_per_s=200.0),
        fake_result("ort-int8s-off", "2026-03-01T12:01:00+00:00", "int8_static", "Offline", samples_per_s=500.0),
    ]
    for r in offline:
        save_result(r, _root() / r.run_id)
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        results = await open_results(pilot)
        select_row(results, "ort-int8s-off")
        await pilot.press("g")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChartsScreen)
        assert screen.table is not None and screen.table.scenario == "Offline"
        assert "MobileNetV2 · Offline: speed-up over FP32" in screen_text(app)
        assert any(line.text.endswith(" ×2.50") for line in screen.query_one(SpeedupChart).lines())
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert screen.table.scenario == "SingleStream"
        assert screen.query_one("#charts-table", Select).value == str(screen.index)
        assert "MobileNetV2 · SingleStream: speed-up over FP32" in screen_text(app)
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert screen.table.scenario == "Offline"
        await pilot.press("escape")
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, StudyTablesScreen)
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, ChartsScreen)
        assert [(t.model, t.scenario) for t in app.screen.tables] == [("mobilenet_v2", "SingleStream"), ("mobilenet_v2", "Offline")]
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        # and from the answer: the charts of the first recommendation's table, its best framework
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("g")
        await pilot.pause()
        charts = app.screen
        assert isinstance(charts, ChartsScreen) and charts.table is not None
        assert charts.table.scenario == "SingleStream"
        assert sorted(charts.chosen()) == sorted(
            cell_key("onnxruntime", "Test CPU", p) for p in ("fp32", "int8_dynamic", "int8_static"))


async def test_charts_without_performance_runs_say_so() -> None:
    r = fake_result("acc-only", "2026-03-01T08:00:00+00:00", "int8_static", "Offline", mode="accuracy", top1=0.7)
    save_result(r, _root() / r.run_id)
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_results(pilot)
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, ChartsScreen) and app.screen.tables == []
        assert "nothing to chart" in screen_text(app)


# -- pictures -------------------------------------------------------------------------------------
@pytest.fixture
def snapshot_results(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with results_shown_as(SHOWN_RESULTS, monkeypatch) as root:
        study_results(root)
        yield


async def test_answer_snapshot(snapshot_results: None, tmp_path: Path) -> None:
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+t")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert_snapshot(app, "answer", tmp_path)


async def test_charts_snapshot(snapshot_results: None, tmp_path: Path) -> None:
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        results = await open_results(pilot)
        select_row(results, "ort-int8s-2")
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, ChartsScreen)
        assert_snapshot(app, "charts", tmp_path)


def test_latency_series_label_names_the_device_when_there_are_several() -> None:
    from qtui.ui.screens.answer import latency_series

    root = Path(os.environ["QTUI_RESULTS_DIR"])
    results = study_results(root, device="laptop") + study_results(root, device="Pi 4", scale=4.0, start=100)
    (table,) = study_tables(results, results)
    by_id = {r.run_id: r for r in results}
    keys = [cell_key("onnxruntime", d, "int8_static") for d in ("laptop", "Pi 4")]
    series = latency_series(table, keys, by_id)
    assert [s.label for s in series] == ["ONNX Runtime INT8s · laptop", "ONNX Runtime INT8s · Pi 4"]
    assert [s.percentiles["p90"] for s in series] == [7.8, 31.2]  # each cell's newest run
    assert series[0].detail.startswith("newest of 3")
