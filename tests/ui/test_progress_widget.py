"""Stage lines fit 80 columns and show a long stage name whole (it was cut at 19 characters)."""

from __future__ import annotations

from textual.app import App, ComposeResult

from qtui.ui.widgets.progress import StageProgress


class _One(App[None]):
    def compose(self) -> ComposeResult:
        yield StageProgress(id="p")


async def _rendered(label: str, fraction: float | None, note: str, width: int = 80) -> str:
    app = _One()
    async with app.run_test(size=(width, 3)) as pilot:
        widget = app.query_one(StageProgress)
        widget.show(label, fraction, note)
        await pilot.pause()
        return widget.render().plain


async def test_a_long_stage_name_is_shown_whole_at_80_columns() -> None:
    label = "calibrating INT8 static (NNCF statistics)"
    line = await _rendered(label, 0.45, "12.0s elapsed, ~3.1s left")
    assert label in line and "45%" in line and "~3.1s left" in line
    assert len(line.rstrip()) <= 80


async def test_without_a_fraction_the_label_takes_the_line() -> None:
    label = "loading the TFLite converter (litert-torch, first import takes a while)"
    line = await _rendered(label, None, "")
    assert label in line


async def test_a_label_too_long_for_the_line_is_cut_with_an_ellipsis() -> None:
    line = await _rendered("x" * 200, 0.5, "1.0s elapsed")
    assert "…" in line and len(line.rstrip()) <= 80 and "50%" in line


async def test_a_short_stage_keeps_the_full_bar() -> None:
    line = await _rendered("warm-up", 0.5, "")
    assert line.count("━") == StageProgress.BAR_WIDTH and "50%" in line
