"""The keys a person presses during a run and a study, driven through the app at 80×24 as a person
would: Ctrl-C cancels a run (the README promises it; Textual's own Ctrl-C only says "press ctrl+q
to quit"), Esc stops a study, quitting during a run says on the terminal that the cancelled result
was saved (and where), and the help key shows the keys of the screen it is pressed on, with
`^q Quit` and the help key in the footer even while a menu is open."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from textual.widgets import Select

from qtui.core.profile import LoadGenSpec, StudySpec, SweepSpec
from qtui.core.results import load_results
from qtui.ui.app import QtuiApp
from qtui.ui.screens.study import StudyRunScreen
from qtui.ui.widgets.keys import KeysPanel
from tests.conftest import small_profile
from tests.ui.conftest import screen_text, start_run, wait_for, wait_for_text


def _results_root() -> Path:
    return Path(os.environ["QTUI_RESULTS_DIR"])


def _footer(app: QtuiApp) -> str:
    return screen_text(app).rstrip("\n").splitlines()[-1]


async def test_ctrl_c_cancels_a_run_and_saves_it() -> None:
    app = QtuiApp(profile=small_profile(loadgen=LoadGenSpec(preset="mlperf")))  # 600 s minimum
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await start_run(pilot, app)
        await wait_for(pilot, lambda: screen.phase == "loadgen")
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: screen.phase == "done")
        assert screen.result is not None and screen.result.status == "cancelled"
        await wait_for_text(pilot, app, "CANCELLED")
        assert "to quit" not in screen_text(app)  # not Textual's "Press ctrl+q to quit"
        assert app.is_running and app.screen is screen
    assert [r.status for r in load_results(_results_root())] == ["cancelled"]


async def test_quitting_during_a_run_says_the_cancelled_result_was_saved() -> None:
    app = QtuiApp(profile=small_profile(loadgen=LoadGenSpec(preset="mlperf")))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_run(pilot, app)
        await wait_for(pilot, lambda: screen.phase == "loadgen")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running)
    (saved,) = load_results(_results_root())
    assert saved.status == "cancelled"
    # what the terminal shows once the app has gone: the result, its status and where it is
    said = " ".join(str(m) for m in app.exit_messages)
    assert "cancelled" in said and str(_results_root() / saved.run_id / "result.json") in said, said


async def test_escape_stops_a_study_and_ctrl_y_measures_what_is_missing(tmp_path: Path) -> None:
    profile = replace(
        small_profile(loadgen=LoadGenSpec(preset="mlperf")),  # each run would take 600 s
        sweep=SweepSpec(precisions=("fp32", "int8_dynamic")),
        study=StudySpec(repeats=1, quality=False),
    )
    app = QtuiApp(profile=profile, results_dir=str(tmp_path / "results"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+y")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StudyRunScreen)
        await wait_for(pilot, lambda: screen.phase == "loadgen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.report is not None)
        assert screen.report is not None and screen.report.cancelled
        assert [r.status for r in screen.report.ran] == ["cancelled"]  # the second run never started
        text = " ".join(screen_text(app).split())
        assert "interrupted" in text and "ctrl+y" in text, text
    assert [r.status for r in load_results(tmp_path / "results")] == ["cancelled"]


async def test_quitting_during_a_study_says_the_cancelled_run_was_saved(tmp_path: Path) -> None:
    profile = replace(
        small_profile(loadgen=LoadGenSpec(preset="mlperf")),
        sweep=SweepSpec(precisions=("fp32", "int8_dynamic")),
        study=StudySpec(repeats=1, quality=False),
    )
    app = QtuiApp(profile=profile, results_dir=str(tmp_path / "results"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+y")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StudyRunScreen)
        await wait_for(pilot, lambda: screen.phase == "loadgen")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running)
    (saved,) = load_results(tmp_path / "results")
    said = " ".join(str(m) for m in app.exit_messages)
    assert saved.status == "cancelled" and str(tmp_path / "results" / saved.run_id / "result.json") in said, said
    assert "study" in said and "missing" in said, said


async def test_help_key_shows_the_keys_of_the_screen() -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "f1 Keys" in _footer(app) and "^q Quit" in _footer(app)
        await pilot.press("f1")
        await pilot.pause()
        panel = app.screen.query_one(KeysPanel)
        text = screen_text(app)
        for description in ("Run", "Study", "Save profile", "Profiles", "Results", "Quit"):
            assert description in text, description
        assert panel.region.width >= 30
        await pilot.press("f1")  # the same key closes it
        await pilot.pause()
        assert not app.screen.query(KeysPanel)
        # on the results screen, its own keys
        await pilot.press("ctrl+t")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query(KeysPanel)
        text = screen_text(app)
        for description in ("Compare", "Answer", "Charts", "Export", "Replay"):
            assert description in text, description


async def test_quit_and_help_stay_in_the_footer_while_a_menu_is_open() -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.focused, Select)
        await pilot.press("enter")  # opens the model menu
        await pilot.pause()
        assert app.screen.query_one("#model", Select).expanded
        footer = _footer(app)
        assert "Dismiss" in footer or "esc" in footer  # the menu's own key is there
        assert "^q Quit" in footer and "f1 Keys" in footer, footer
