"""The study screen: a profile's sweep measured from the TUI (ctrl+y on the setup screen), with
where the study is (which run of how many, the time left) above the live run, and what was
measured, reused and failed at the end (each artifact's quality checked first); started again it measures nothing twice."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Static

from qtui.core.profile import LoadGenSpec, StudySpec, SweepSpec
from qtui.core.run_table import accuracy_text
from qtui.ui.app import QtuiApp
from qtui.ui.screens.results import ResultsScreen
from qtui.ui.screens.run import run_title
from qtui.ui.screens.study import StudyRunScreen
from tests.conftest import small_profile
from tests.ui.conftest import screen_text, wait_for


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resuming is checked here, not the machine's load: a study measures a run disturbed by
    other processes again (tests/core/test_disturbed.py), so a busy test machine would change
    the counts. No load warning here."""
    from qtui.core import machine_load

    monkeypatch.setattr(machine_load, "OTHER_CPU_WARN_FRACTION", 1e9)


def _profile() -> object:
    return replace(
        small_profile(loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=64)),
        sweep=SweepSpec(precisions=("fp32", "int8_static")),
        study=StudySpec(repeats=1),
    )


async def test_study_from_the_setup_screen_then_again(tmp_path: Path) -> None:
    app = QtuiApp(profile=_profile(), results_dir=str(tmp_path / "results"))  # type: ignore[arg-type]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+y")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StudyRunScreen)
        await wait_for(pilot, lambda: screen.report is not None)
        log = " ".join(" ".join(strip.text for strip in screen.query_one("#log").lines).split())  # unwrapped
        assert "[1/2] checking quality mobilenet_v2 onnxruntime fp32" in log  # before measuring
        assert log.index("[2/2] checking quality") < log.index("[1/2] measuring")
        assert "[1/2] measuring mobilenet_v2 onnxruntime fp32 SingleStream (repeat 1/1)" in log
        assert "[2/2] measuring mobilenet_v2 onnxruntime int8_static SingleStream" in log
        assert screen.report is not None and screen.report.runs_done == 2
        # the quality runs say what LoadGen does in accuracy mode (not the performance rule)
        assert "LoadGen started: accuracy mode, each of the 32 samples once" in log
        # the title names the combination that ran last, not the study's base profile (FP32)
        title = str(screen.query_one("#run-title", Static).render())
        assert title == run_title(screen.report.cells[-1].profile) and "INT8" in title, title
        assert "2 runs measured, 0 already measured here, 0 failed" in " ".join(screen_text(app).split())
        assert "quality of 2 artifacts: 2 checked" in " ".join(screen_text(app).split())
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+y")
        await pilot.pause()
        again = app.screen
        assert isinstance(again, StudyRunScreen)
        await wait_for(pilot, lambda: again.report is not None)
        assert again.report is not None and again.report.runs_done == 0
        assert "0 runs measured, 2 already measured here" in " ".join(screen_text(app).split())


async def test_study_end_shows_the_run_it_made_and_v_opens_the_results(tmp_path: Path) -> None:
    """Issue 19: a study whose measurement was already there but whose quality check ran ended
    under an "accuracy" title over the older performance run, `v` went back to Setup and the log
    suggested `--force`, which the TUI does not have."""
    results = str(tmp_path / "results")
    speed_only = replace(small_profile(), study=StudySpec(repeats=1, quality=False))
    app = QtuiApp(profile=speed_only, results_dir=results)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+y")
        await pilot.pause()
        first = app.screen
        assert isinstance(first, StudyRunScreen)
        await wait_for(pilot, lambda: first.report is not None)
        assert first.report is not None and [r.profile.mode for r in first.report.ran] == ["performance"]
        measured = first.report.ran[0]

    app = QtuiApp(profile=replace(speed_only, study=StudySpec(repeats=1, quality=True)), results_dir=results)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+y")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StudyRunScreen)
        await wait_for(pilot, lambda: screen.report is not None)
        report = screen.report
        assert report is not None and [r.run_id for r in report.results] == [measured.run_id]  # reused
        (quality,) = report.ran
        assert quality.profile.mode == "accuracy" and quality.status == "ok"
        # the run shown is the quality check just made, under its own title, with what it measured
        assert screen.result is quality
        assert str(screen.query_one("#run-title", Static).render()) == run_title(quality.profile)
        outcome = " ".join(str(screen.query_one("#outcome", Static).render()).split())
        assert accuracy_text(quality) and accuracy_text(quality) in outcome, outcome
        log = " ".join(" ".join(strip.text for strip in screen.query_one("#log").lines).split())
        assert "1 of 1 run already measured here" in log and "--force" not in log
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, ResultsScreen)
        assert app.screen.selected_run_id() == quality.run_id
        await pilot.press("escape")
        await pilot.pause()
        # again: nothing to make, and no earlier run shown as if just measured
        await pilot.press("ctrl+y")
        await pilot.pause()
        again = app.screen
        assert isinstance(again, StudyRunScreen)
        await wait_for(pilot, lambda: again.report is not None)
        assert again.report is not None and again.report.ran == [] and again.result is None
        text = " ".join(screen_text(app).split())
        assert "nothing to measure" in text and "OK (LoadGen" not in text, text
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, ResultsScreen)
