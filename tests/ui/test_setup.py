"""The setup screen: menus from the catalog, unavailable combinations visible with their reason
and refused, inline profile errors, saving (no silent overwrite) and loading profiles."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.widgets import Input, Select

from qtui.core.profile import load
from qtui.ui.app import QtuiApp
from qtui.ui.screens.dialogs import ConfirmScreen, ProfilesScreen, SaveProfileScreen
from qtui.ui.screens.setup import SetupScreen
from tests.conftest import small_profile
from tests.ui.conftest import screen_text


async def test_menus_build_the_profile() -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        screen.query_one("#scenario", Select).value = "Offline"
        screen.query_one("#mode", Select).value = "accuracy"
        await pilot.pause()
        await pilot.click("#batch")
        await pilot.press("ctrl+a", "ctrl+k", "1", "6")
        await pilot.pause()
        profile = screen.build_profile()
        assert (profile.scenario, profile.mode, profile.batch_size) == ("Offline", "accuracy", 16)
        # keys the menus don't show come from the loaded profile
        assert profile.dataset.performance_sample_count == 32
        assert screen.error == ""


async def test_choosing_with_the_keyboard() -> None:
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("tab")  # model -> framework
        assert app.focused is app.screen.query_one("#framework")
        await pilot.press("enter", "down", "enter")  # ONNX Runtime -> OpenVINO
        await pilot.pause()
        assert app.screen.query_one("#framework", Select).value == "openvino"


async def test_unavailable_combination_is_marked_with_its_reason_and_refused(fixed_catalog: None) -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        screen.query_one("#framework", Select).value = "openvino"
        await pilot.pause()
        text = " ".join(screen_text(app).split())  # long lines wrap
        assert "OpenVINO ✗" in text  # the framework menu marks it
        assert "OpenVINO FP32 cannot run here: openvino not installed — pip install 'qtui[openvino]'" in text
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)  # refused: no run started
        screen.query_one("#framework", Select).value = "onnxruntime"
        screen.query_one("#precision", Select).value = "int8_static"
        await pilot.pause()
        assert "ONNX Runtime INT8 static cannot run here: not implemented in this qtui version" in " ".join(screen_text(app).split())
        await pilot.click("#precision")
        await pilot.pause()
        assert "INT8 static ✗" in screen_text(app)  # marked in the open menu too
        await pilot.press("escape", "ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)


async def test_the_real_catalog_reasons_are_shown() -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        for (framework, precision), a in screen.availability.items():
            screen.query_one("#framework", Select).value = framework
            screen.query_one("#precision", Select).value = precision
            await pilot.pause()
            shown = str(screen.query_one("#reason").content)
            assert a.reason in shown
            assert ("cannot run here" in shown) is (not a.available)


async def test_bad_number_shows_the_profile_error_inline() -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        screen.query_one("#threads", Input).value = "many"
        await pilot.pause()
        assert "threads" in screen.error and "not an integer" in screen.error
        assert "Traceback" not in screen_text(app)
        assert "not an integer" in screen_text(app)
        assert screen.query_one("#threads", Input).has_class("invalid")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
        screen.query_one("#threads", Input).value = "2"
        await pilot.pause()
        assert screen.error == ""


async def test_weights_file_needs_a_path() -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        screen.query_one("#weights", Select).value = "file"
        await pilot.pause()
        assert screen.query_one("#weights-path-row").display
        assert "weights.source" in screen.error
        screen.query_one("#weights-path", Input).value = "/models/mobilenet_v2.pth"
        await pilot.pause()
        assert screen.build_profile().weights.source == "/models/mobilenet_v2.pth"


async def test_save_refuses_to_overwrite_unless_confirmed(_isolated_config: Path) -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        screen.query_one("#scenario", Select).value = "Offline"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SaveProfileScreen)
        name = app.screen.query_one("#profile-name", Input)
        name.value = "my-run"
        await pilot.press("enter")
        await pilot.pause()
        path = _isolated_config / "qtui" / "profiles" / "my-run.toml"
        assert load(path).scenario == "Offline"
        assert load(path).name == "my-run"
        saved_bytes, saved_mtime = path.read_bytes(), path.stat().st_mtime_ns

        # Same name again, different choices: asked, "n" keeps the file
        screen.query_one("#scenario", Select).value = "MultiStream"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one("#profile-name", Input).value = "my-run"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "already exists" in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
        # declined: the file is untouched (same bytes, never rewritten) and nothing was added
        assert path.read_bytes() == saved_bytes and path.stat().st_mtime_ns == saved_mtime
        assert sorted(p.name for p in path.parent.iterdir()) == ["my-run.toml"]

        # ... and "y" replaces it
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one("#profile-name", Input).value = "my-run"
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert load(path) == screen.build_profile(name="my-run")
        assert load(path).scenario == "MultiStream"
        assert sorted(p.name for p in path.parent.iterdir()) == ["my-run.toml"]


async def test_bad_profile_name_is_refused(_isolated_config: Path) -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one("#profile-name", Input).value = "../evil"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SaveProfileScreen)
        assert "a name is" in screen_text(app)
        assert not list(_isolated_config.rglob("*.toml"))


async def test_load_a_saved_profile(_isolated_config: Path) -> None:
    from qtui.core.profile import save

    folder = _isolated_config / "qtui" / "profiles"
    save(replace(small_profile(), name="zz-saved", scenario="Offline", precision="fp32", threads=1), folder / "zz-saved.toml")
    (folder / "zz-broken.toml").write_text("model = 'resnet'\n", encoding="utf-8")
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+o")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ProfilesScreen)
        text = screen_text(app)
        assert "quick" in text  # the project's profiles are listed
        names = [e.path.stem for e in dialog.entries]
        broken = names.index("zz-broken")
        dialog.query_one("#profile-list").highlighted = broken
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ProfilesScreen)  # an invalid profile is not loaded
        assert "resnet" in screen_text(app)
        dialog.query_one("#profile-list").highlighted = names.index("zz-saved")
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        assert screen.query_one("#scenario", Select).value == "Offline"
        assert screen.query_one("#threads", Input).value == "1"
        assert screen.build_profile().name == "zz-saved"


def test_the_profile_list_lists_what_the_core_lists(tmp_path: Path) -> None:
    """The TUI's list and `qtui`'s known names come from one listing (`profile_files`): a broken
    profile is listed with its error, a folder or a FIFO named *.toml is no profile in either."""
    import os

    from qtui.core.profile import save
    from qtui.core.profile_store import profile_files
    from qtui.ui.screens.dialogs import load_profiles

    save(replace(small_profile(), name="a-good"), tmp_path / "a-good.toml")
    (tmp_path / "b-broken.toml").write_text("model = 'resnet'\n", encoding="utf-8")
    (tmp_path / "c-folder.toml").mkdir()
    os.mkfifo(tmp_path / "d-fifo.toml")
    entries = load_profiles([tmp_path, tmp_path / "missing"])
    assert [e.path.name for e in entries] == [p.name for p in profile_files(tmp_path)] == ["a-good.toml", "b-broken.toml"]
    assert entries[0].profile is not None and entries[0].profile.name == "a-good" and not entries[0].error
    assert entries[1].profile is None and "resnet" in entries[1].error


async def test_loading_a_sweep_profile_says_so_with_brackets_intact(_isolated_config: Path) -> None:
    """Notifications are plain text: "[sweep]" (and "qtui[openvino]" in install hints) used to
    vanish as Rich markup."""
    app = QtuiApp()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("ctrl+o")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ProfilesScreen)
        names = [e.path.stem for e in dialog.entries]
        dialog.query_one("#profile-list").highlighted = names.index("paper-matrix")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
        await pilot.pause(0.3)  # the toast is mounted
        from textual.widgets._toast import Toast

        toasts = [t.render() for t in app.screen.query(Toast)]  # run_test(notifications=True)
        text = " ".join(getattr(t, "plain", str(t)) for t in toasts)
        assert "48 combinations" in text, text  # the toast as drawn: 4 frameworks × 4 precisions × 3 scenarios
        assert "Its [sweep] has" in text and "`qtui study paper-matrix`" in text and "ctrl+y" in text, text
