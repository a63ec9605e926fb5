"""Saving from the setup screen proposes a name that says what the choices run, and never lets a
saved profile shadow a shipped one (`quick` saved beside the shipped `quick`)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Select

from qtui.core.profile import load, save
from qtui.ui.app import QtuiApp
from qtui.ui.screens.dialogs import SaveProfileScreen
from tests.ui.conftest import screen_text


async def test_changed_choices_propose_a_descriptive_name(_isolated_config: Path) -> None:
    app = QtuiApp(profile=load(Path(__file__).resolve().parents[2] / "qtui" / "profiles" / "quick.toml"))
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.query_one("#scenario", Select).value = "Offline"
        app.screen.query_one("#precision", Select).value = "int8_static"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SaveProfileScreen)
        assert app.screen.query_one("#profile-name", Input).value == "mobilenet_v2-onnxruntime-int8_static-offline"


async def test_a_shipped_name_is_refused(_isolated_config: Path) -> None:
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        # the default profile is the shipped "quick": the proposal is not "quick"
        assert app.screen.query_one("#profile-name", Input).value != "quick"
        app.screen.query_one("#profile-name", Input).value = "quick"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SaveProfileScreen)
        assert "shipped with qtui" in " ".join(screen_text(app).split())
        assert not list(_isolated_config.rglob("*.toml"))


async def test_an_unchanged_saved_profile_keeps_its_name(_isolated_config: Path) -> None:
    from qtui.core.profile import RunProfile

    saved = save(RunProfile(name="ov-int8-offline"), _isolated_config / "qtui" / "profiles" / "ov-int8-offline.toml")
    app = QtuiApp(profile=load(saved))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen.query_one("#profile-name", Input).value == "ov-int8-offline"
