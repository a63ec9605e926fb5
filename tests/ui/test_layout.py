"""The screen uses the room it has and shows where the user is (issue 12, items 2 and 8).

Focus: the focused field is marked in every theme, `qtui --ansi` included (it had no mark at all:
Textual's compact fields only tint by 5 %, which the ANSI theme cannot draw). Room: the run
screen's histogram grows with the terminal (six bar rows at 80×24, more at 120×40), nothing
overlaps at 80×24, the log's text never runs under its scrollbar, and after a run without any
timed query the histogram says why instead of "waiting for the first timed queries…". The
profile list (ctrl+o) keeps one line per profile, clear of its scrollbar.

The run screen is fed by stand-ins for `runner.run` (fixed stories, no LoadGen), so the pictures
are deterministic; tests/ui/test_run.py drives real runs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.color import ColorType
from rich.style import Style
from textual.app import App
from textual.pilot import Pilot
from textual.widget import Widget

from qtui.core import events as ev
from qtui.core.latency import histogram
from qtui.core.results import RunResult
from qtui.ui.app import QtuiApp
from qtui.ui.screens.run import RunScreen
from qtui.ui.widgets.histogram import LatencyHistogram
from tests.conftest import small_profile
from tests.ui.conftest import assert_snapshot, fake_result, screen_text, wait_for, wait_for_text

SAVED = "/results/20260102-100000-mobilenet_v2-onnxruntime-fp32-SingleStream-abcd/result.json"


# -- focus -----------------------------------------------------------------------------------------
def _rgb(style: Style) -> tuple[int, int, int] | None:
    """The background a cell is drawn with, as RGB (None: the terminal's own background)."""
    color = style.bgcolor
    if color is None or color.type == ColorType.DEFAULT:
        return None
    return tuple(color.get_truecolor())


def _visibly_different(a: Style, b: Style) -> bool:
    """True when a person can tell the two cells apart: reverse video on one only, or
    backgrounds far apart (Textual's own 5 % focus tint is 12 levels of grey: not enough)."""
    if bool(a.reverse) != bool(b.reverse):
        return True
    ra, rb = _rgb(a), _rgb(b)
    if ra is None or rb is None:
        return ra != rb
    return sum(abs(x - y) for x, y in zip(ra, rb, strict=True)) >= 90


def _field_cells(widget: Widget) -> list[tuple[int, int]]:
    """Screen cells across the widget's first row: its first cell, middle and last cell."""
    region = widget.region
    return [(region.x, region.y), (region.x + region.width // 2, region.y), (region.right - 1, region.y)]


async def _assert_focus_marked(app: App, pilot: Pilot, focused_id: str, other_id: str, theme: str) -> None:
    focused, other = app.screen.query_one(f"#{focused_id}"), app.screen.query_one(f"#{other_id}")
    assert app.focused is focused
    for cell, plain in zip(_field_cells(focused), _field_cells(other), strict=True):
        mark, unmarked = app.screen.get_style_at(*cell), app.screen.get_style_at(*plain)
        assert _visibly_different(mark, unmarked), (
            f"theme {theme}: focused #{focused_id} at {cell} is drawn {mark}, "
            f"unfocused #{other_id} at {plain} {unmarked}: the focus is not visible"
        )


@pytest.mark.parametrize("ansi", [False, True], ids=["default-theme", "ansi"])
async def test_focused_field_is_marked_in_every_theme(fixed_catalog: None, ansi: bool) -> None:
    """After Tab the focused menu, and a focused number field, look different from the others
    across their whole width, in each of Textual's themes (the app's default, `--ansi`, and any
    the command palette switches to)."""
    from textual.theme import BUILTIN_THEMES

    app = QtuiApp(profile=small_profile(), ansi=ansi)
    themes = ["ansi-dark"] if ansi else [name for name in BUILTIN_THEMES if not BUILTIN_THEMES[name].ansi]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for theme in themes:
            app.theme = theme
            await pilot.pause()
            app.screen.query_one("#model").focus()
            await pilot.press("tab")
            await pilot.pause()
            await _assert_focus_marked(app, pilot, "framework", "model", theme)  # a menu
            app.screen.query_one("#threads").focus()
            await pilot.pause()
            await _assert_focus_marked(app, pilot, "threads", "batch", theme)  # a number field


@pytest.mark.parametrize("ansi", [False, True], ids=["default-theme", "ansi"])
async def test_setup_screen_after_one_tab(fixed_catalog: None, tmp_path: Path, ansi: bool) -> None:
    app = QtuiApp(profile=small_profile(), ansi=ansi)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is app.screen.query_one("#framework")
        assert_snapshot(app, "setup-focus-ansi" if ansi else "setup-focus", tmp_path)


# -- the run screen's room -------------------------------------------------------------------------
def _story(
    result: RunResult, *, loadgen: bool, failure: str = "", release: threading.Event | None = None,
) -> Any:
    """A stand-in for runner.run: preparation stages, LoadGen (or not), then `result`; with
    `release`, it waits for the cancel (the stop event), then for `release`."""

    def run(profile: Any, on_event: Any, stop: threading.Event, options: Any) -> RunResult:
        for step in ("opening data set", "preparing artifact", "loading runtime", "loading samples"):
            on_event(ev.Preparing(step, None))
        if release is not None:
            stop.wait(60)
            release.wait(60)
        if loadgen:
            on_event(ev.Started(result.run_id, "SingleStream", "performance",
                                {"min_query_count": 64, "min_duration_ms": 0}, 64))
            rng = np.random.default_rng(7)
            lat_ns = (rng.lognormal(mean=np.log(28.0), sigma=0.25, size=64) * 1e6).astype(np.int64)
            on_event(ev.Progress(
                completed_queries=64, completed_samples=64, elapsed_s=2.0,
                percentiles_ms={"p50": 27.9, "p90": 38.4, "p99": 49.7}, samples_per_s=32.0,
                histogram=histogram(lat_ns), expected_samples=64, left_s=0.0,
            ))
        for i in range(12):  # more lines than the log shows at 80×24
            on_event(ev.Log(f"note {i}"))
        if failure:
            on_event(ev.Failed(failure, SAVED))
        else:
            on_event(ev.Finished(result.status, SAVED, "summary"))
        return result

    return run


def _failed_result() -> RunResult:
    r = fake_result("run-failed", "2026-01-02T10:00:00+00:00", status="failed")
    r.message = "/data/imagenet/val_map.txt: file not found; the MLPerf ImageNet layout is <folder>/val_map.txt"
    r.histogram, r.throughput, r.latency_ms = {}, {}, {}
    r.loadgen = {}
    return r


async def _run_screen(pilot: Pilot, app: App) -> RunScreen:
    await pilot.press("ctrl+r")
    screen = app.screen
    assert isinstance(screen, RunScreen)
    await wait_for(pilot, lambda: screen.phase == "done")
    await pilot.pause()
    return screen


def _log_text(app: App, log: Widget) -> str:
    """The characters the log's text columns show (not its scrollbar's), wrapped lines joined."""
    region = log.scrollable_content_region
    rows = screen_text(app).splitlines()[region.y:region.bottom]
    return "".join(row[region.x:region.right].strip() for row in rows)


def _histogram_bar_rows(screen: RunScreen) -> int:
    return screen.query_one(LatencyHistogram).content_size.height - 2  # minus markers and axis


@pytest.mark.parametrize(("size", "bar_rows"), [((80, 24), range(6, 7)), ((120, 40), range(12, 15))])
async def test_histogram_grows_with_the_terminal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, size: tuple[int, int], bar_rows: range
) -> None:
    """Six bar rows at 80×24 (the minimum), about twice as many at 120×40, where the room left
    is shared with the log (it stayed six rows and left the log half empty)."""
    result = fake_result("run-ok", "2026-01-02T10:00:00+00:00")
    monkeypatch.setattr("qtui.core.runner.run", _story(result, loadgen=True))
    monkeypatch.setattr(RunScreen, "clock", staticmethod(lambda: 0.0))
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=size) as pilot:
        screen = await _run_screen(pilot, app)
        assert _histogram_bar_rows(screen) in bar_rows
        histogram_region, log_region = screen.query_one("#histogram").region, screen.query_one("#log").region
        assert log_region.height >= 3 and not histogram_region.overlaps(log_region)
        if size == (120, 40):
            assert_snapshot(app, "run-120x40", tmp_path)


async def test_failed_run_at_80x24_fits_and_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A failed run: the histogram says there were no timed queries and why (it kept "waiting
    for the first timed queries…"), the outcome, the log and the footer do not overlap, the log
    shows its last line (where the result was saved) whole, clear of the scrollbar."""
    monkeypatch.setattr("qtui.core.runner.run", _story(_failed_result(), loadgen=False, failure=_failed_result().message))
    monkeypatch.setattr(RunScreen, "clock", staticmethod(lambda: 0.0))
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _run_screen(pilot, app)
        assert screen.query_one(LatencyHistogram).empty_text == "no timed queries: the run failed before LoadGen started"
        text = screen_text(app)
        assert "waiting for the first timed queries" not in text
        assert "no timed queries: the run failed before LoadGen started" in text
        regions = [screen.query_one(s).region for s in ("#histogram", "#outcome", "#log", "Footer")]
        for i, a in enumerate(regions):
            assert a.bottom <= 24
            for b in regions[i + 1:]:
                assert not a.overlaps(b), (a, b)
        log = screen.query_one("#log")
        assert log.max_scroll_y > 0, "the story writes more lines than the log shows"
        assert _log_text(app, log).endswith("saved" + SAVED)  # the last line, whole
        assert_snapshot(app, "run-failed", tmp_path)


@pytest.mark.parametrize("warning", [
    "other processes kept 1.30 of 2 cores busy during the measurement: figures are likely low",
    "the CPU was throttled during the measurement (under-voltage)",
    "",  # quiet: nothing marked
    "governor is 'powersave', not 'performance'",  # a lasting condition, in the results' notes
])
async def test_a_disturbed_run_is_marked_where_its_figures_are_shown(monkeypatch: pytest.MonkeyPatch, warning: str) -> None:
    """The finished run's figures carry the warning that disturbed them, as the results table
    does ("ok ⚠"): before, a run measured on a busy machine ended "✓ OK (LoadGen: VALID) · p90
    …" with the warning only in the scrolled log. At 80×24 the outcome still fits."""
    result = fake_result("run-ok", "2026-01-02T10:00:00+00:00")
    if warning:
        result.environment["warnings"] = [warning]
    monkeypatch.setattr("qtui.core.runner.run", _story(result, loadgen=True))
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _run_screen(pilot, app)
        outcome = screen.query_one("#outcome")
        shown = screen_text(app).splitlines()[outcome.region.y:outcome.region.bottom]
        said = " ".join(" ".join(shown).split())
        disturbing = warning.startswith(("other processes", "the CPU was throttled"))
        assert ("✓ OK (LoadGen: VALID) ⚠ · p90 10 ms" in said) == disturbing, said
        assert ("✓ OK (LoadGen: VALID) · p90 10 ms" in said) == (not disturbing), said
        if warning.startswith("other processes"):
            assert "⚠ other processes kept the CPU busy: figures are likely low" in said, said
        elif disturbing:
            assert "⚠ the CPU was throttled: figures are likely low" in said, said
        assert outcome.has_class("disturbed") == disturbing
        regions = [screen.query_one(s).region for s in ("#histogram", "#outcome", "#log", "Footer")]
        for i, a in enumerate(regions):
            assert a.bottom <= 24 and all(not a.overlaps(b) for b in regions[i + 1:]), regions


async def test_log_text_keeps_clear_of_the_scrollbar(monkeypatch: pytest.MonkeyPatch) -> None:
    """The saved path, wrapped at the log's width, ran up to the scrollbar ("…SingleStrea▄" at
    80×24): a blank column now separates the text from the scrollbar, on every row."""
    result = fake_result("run-ok", "2026-01-02T10:00:00+00:00")
    monkeypatch.setattr("qtui.core.runner.run", _story(result, loadgen=True))
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _run_screen(pilot, app)
        log = screen.query_one("#log")
        assert log.max_scroll_y > 0, "the story writes more lines than the log shows: a scrollbar"
        scrollbar_x = log.region.right - 1
        rows = screen_text(app).splitlines()[log.scrollable_content_region.y:log.region.bottom]
        assert rows and all(row[scrollbar_x - 1] == " " for row in rows), rows
        assert _log_text(app, log).endswith("saved" + SAVED)


async def test_cancel_before_loadgen_says_so_in_the_histogram(monkeypatch: pytest.MonkeyPatch) -> None:
    result = fake_result("run-cancelled", "2026-01-02T10:00:00+00:00", status="cancelled")
    result.message = "cancelled before LoadGen started"
    result.histogram, result.throughput = {}, {}
    release = threading.Event()
    monkeypatch.setattr("qtui.core.runner.run", _story(result, loadgen=False, release=release))
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+r")
        screen = app.screen
        assert isinstance(screen, RunScreen)
        histogram_widget = screen.query_one(LatencyHistogram)
        await wait_for(pilot, lambda: "loading samples" in "\n".join(s.text for s in screen.query_one("#log").lines))
        assert histogram_widget.empty_text == "waiting for the first timed queries…"
        await pilot.press("escape")
        await pilot.pause()
        assert histogram_widget.empty_text == "cancelling: no timed queries will run"
        release.set()
        await wait_for(pilot, lambda: screen.phase == "done")
        await pilot.pause()
        assert histogram_widget.empty_text == "no timed queries: cancelled before LoadGen started"
        await wait_for_text(pilot, app, "no timed queries: cancelled before LoadGen started")


@pytest.mark.parametrize(
    ("status", "loadgen_started", "text"),
    [
        ("failed", True, "no timed queries: the run failed"),
        ("cancelled", True, "no timed queries: cancelled before the first one finished"),
        ("ok", True, "no timed queries were recorded"),
    ],
)
def test_empty_histogram_text_after_loadgen(status: str, loadgen_started: bool, text: str) -> None:
    from qtui.ui.screens.run import empty_histogram_text

    result = fake_result("r", "2026-01-02T10:00:00+00:00", status=status)
    assert empty_histogram_text(result, loadgen_started) == text
    assert empty_histogram_text(None, loadgen_started) == "no timed queries: qtui stopped on an error"


# -- the profile list (ctrl+o) ---------------------------------------------------------------------
async def test_profile_list_keeps_one_line_per_profile() -> None:
    """A saved profile with a long name (the kind ctrl+s proposes) in a long config folder took
    two lines whose end ran under the list's scrollbar at 80×24, and its path was cut below the
    list: now one line per profile ("saved"/"shipped"), the full path under the list."""
    from dataclasses import replace

    from textual.widgets import OptionList

    from qtui.core.profile import save
    from qtui.core.profile_store import saved_dir

    name = "mobilenet_v2-onnxruntime-int8_static-multistream-accuracy"
    path = saved_dir() / f"{name}.toml"
    save(replace(small_profile(), name=name), path)
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+o")
        await pilot.pause()
        dialog = app.screen
        options = dialog.query_one("#profile-list", OptionList)
        assert options.virtual_size.height == options.option_count  # one line each
        options.highlighted = [e.path.stem for e in dialog.entries].index(name)
        await pilot.pause()
        text = screen_text(app)
        row = next(r for r in text.splitlines() if name[:30] in r)
        assert "saved" in row.split(name[:30], 1)[1]  # on the name's own line
        assert "shipped" in next(r for r in text.splitlines() if " quick " in r)
        info = dialog.query_one("#profile-info")
        rows = text.splitlines()[info.region.y:info.region.bottom]
        assert str(path) in "".join(r[info.region.x:info.region.right].strip() for r in rows)
