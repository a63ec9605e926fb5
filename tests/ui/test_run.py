"""Real runs driven through the app: to completion, cancelled with Esc, failing, quit mid-run,
and replayed from the results screen."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from qtui.core.profile import LoadGenSpec, WeightsSpec
from qtui.core.results import load_results
from qtui.ui.app import QtuiApp
from qtui.ui.screens.results import ResultsScreen
from qtui.ui.screens.run import RunScreen
from qtui.ui.screens.setup import SetupScreen
from qtui.ui.widgets.histogram import LatencyHistogram
from tests.conftest import small_profile
from tests.ui.conftest import screen_text, start_run, wait_for, wait_for_text


def _results_root() -> Path:
    return Path(os.environ["QTUI_RESULTS_DIR"])


async def test_quick_run_to_completion_then_results() -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_run(pilot, app)
        await wait_for(pilot, lambda: screen.phase == "done")
        assert screen.result is not None and screen.result.status == "ok", screen.result and screen.result.message
        text = await wait_for_text(pilot, app, "OK (LoadGen: VALID)")
        assert "p50" in text and "samples/s" in text and " ms" in text
        histogram = screen.query_one(LatencyHistogram)
        assert histogram.snapshot is not None and sum(histogram.snapshot.counts) == screen.result.throughput["queries"]
        log = "\n".join(strip.text for strip in screen.query_one("#log").lines)
        for stage in ("opening data set", "loading runtime", "loading samples", "warm-up", "LoadGen started"):
            assert stage in log
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, ResultsScreen)
        assert [r.run_id for r in app.screen.shown] == [screen.result.run_id]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)


async def test_escape_cancels_a_long_run() -> None:
    profile = small_profile(loadgen=LoadGenSpec(preset="mlperf"))  # 600 s minimum
    app = QtuiApp(profile=profile)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_run(pilot, app)
        await wait_for(pilot, lambda: screen.phase == "loadgen")
        await wait_for(pilot, lambda: "samples/s" in screen_text(app))  # live figures are shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.phase == "done")
        assert screen.result is not None and screen.result.status == "cancelled"
        await wait_for_text(pilot, app, "CANCELLED")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
    saved = load_results(_results_root())
    assert [r.status for r in saved] == ["cancelled"]


async def test_failing_run_shows_the_message_and_the_app_stays_usable(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pth"
    app = QtuiApp(profile=small_profile(weights=WeightsSpec(source=str(missing))))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_run(pilot, app)
        await wait_for(pilot, lambda: screen.phase == "done")
        assert screen.result is not None and screen.result.status == "failed"
        text = await wait_for_text(pilot, app, "The run failed")
        assert "missing.pth" in screen.result.message
        assert "missing.pth" in "".join(text.split())  # shown, even where the path wraps
        assert "Traceback" not in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert isinstance(app.screen, ResultsScreen)
        assert [r.status for r in app.screen.shown] == ["failed"]


async def test_quitting_during_a_run_cancels_it_first() -> None:
    app = QtuiApp(profile=small_profile(loadgen=LoadGenSpec(preset="mlperf")))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_run(pilot, app)
        await wait_for(pilot, lambda: screen.phase == "loadgen")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running)
    assert screen.worker is not None and not screen.running
    assert [r.status for r in load_results(_results_root())] == ["cancelled"]


async def test_replay_runs_the_exact_profile_of_a_result() -> None:
    profile = replace(small_profile(), name="replayed", threads=1)
    app = QtuiApp(profile=profile)
    async with app.run_test(size=(80, 24)) as pilot:
        first = await start_run(pilot, app)
        await wait_for(pilot, lambda: first.phase == "done")
        await pilot.press("v")
        await pilot.pause()
        results = app.screen
        assert isinstance(results, ResultsScreen)
        await pilot.press("r")
        await pilot.pause()
        again = app.screen
        assert isinstance(again, RunScreen)
        assert again.profile == first.result.profile
        await wait_for(pilot, lambda: again.phase == "done")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is results
        assert len(results.shown) == 2
        assert results.selected_run_id() == again.result.run_id
    profiles = [r.profile for r in load_results(_results_root())]
    assert profiles[0] == profiles[1]


async def test_escape_during_a_long_preparation_step_cancels_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Esc while the export is inside one long call (no progress between): the run screen shows
    CANCELLED while that call is still running. Asserted on events, not on a clock."""
    import threading

    import qtui.core.prepare.onnxruntime as ort_prep

    entered, release, left = threading.Event(), threading.Event(), threading.Event()

    def long_export(loaded: Any, precision: str, out_dir: Path, batches: Any, progress: Any) -> dict[str, Any]:
        entered.set()
        release.wait(600)
        left.set()
        progress("after the long call", None)
        raise AssertionError("not reached: the run was cancelled")

    monkeypatch.setattr(ort_prep, "prepare", long_export)
    app = QtuiApp(profile=small_profile(precision="int8_dynamic", weights=WeightsSpec(seed=11)))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await start_run(pilot, app)
            await wait_for(pilot, entered.is_set)
            assert screen.phase == "preparing"
            await pilot.press("escape")
            await wait_for(pilot, lambda: screen.phase == "done")
            assert screen.result is not None and screen.result.status == "cancelled"
            assert not left.is_set()  # done although the long call has not returned
            await wait_for_text(pilot, app, "CANCELLED")
    finally:
        release.set()
    assert [r.status for r in load_results(_results_root())] == ["cancelled"]


async def test_the_app_asks_the_runner_for_no_more_snapshots_than_it_paints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Throttled at the source: progress snapshots cost the timed run CPU, the screen paints ≤ 1 Hz."""
    import qtui.core.runner as runner_mod

    seen: list[Any] = []
    real_run = runner_mod.run

    def recording_run(profile: Any, on_event: Any, stop: Any, options: Any) -> Any:
        seen.append(options)
        return real_run(profile, on_event, stop, options)

    monkeypatch.setattr(runner_mod, "run", recording_run)
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_run(pilot, app)
        await wait_for(pilot, lambda: screen.phase == "done")
    assert len(seen) == 1 and seen[0].progress_hz is not None
    assert seen[0].progress_hz <= 1.0 / RunScreen.paint_interval_s
