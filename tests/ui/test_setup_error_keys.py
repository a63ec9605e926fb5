"""The setup screen marks the fields an error is about from `ProfileError.keys`, not by
searching the message for key names: a conflict between two keys marks both."""

from __future__ import annotations

from textual.widgets import Input, Select

from qtui.ui.app import QtuiApp
from qtui.ui.screens.setup import SetupScreen
from tests.conftest import small_profile


async def test_a_conflict_between_two_keys_marks_both_fields() -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        screen.query_one("#precision", Select).value = "int8_static"
        screen.query_one("#data-count", Input).value = "8"  # fewer images than calibration_count 16
        await pilot.pause()
        assert "calibration_count" in screen.error and "count" in screen.error
        assert screen.query_one("#calib-count", Input).has_class("invalid")
        assert screen.query_one("#data-count", Input).has_class("invalid")
        assert not screen.query_one("#threads", Input).has_class("invalid")
        screen.query_one("#data-count", Input).value = "32"
        await pilot.pause()
        assert screen.error == "" and not screen.query_one("#calib-count", Input).has_class("invalid")


async def test_a_missing_weights_path_marks_its_field() -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        screen.query_one("#weights", Select).value = "file"
        await pilot.pause()
        assert "weights.source" in screen.error
        assert screen.query_one("#weights-path", Input).has_class("invalid")
