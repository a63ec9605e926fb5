"""`w` on the results table: the per-layer profile of the selected result's artifact. Without a
saved profile the screen makes one in a worker (the real ONNX Runtime FP32 MobileNetV2 artifact
of the session cache), saves it under the results folder's explain/, and shows the saved one the
next time without profiling; `esc` cancels a profiling pass and nothing is saved."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from qtui.core import explain as ex
from qtui.core.explain import profiling
from qtui.core.results import RunResult, save_result
from qtui.core.runner import prepare_only
from qtui.core.threads import Cancelled
from qtui.ui.app import QtuiApp
from qtui.ui.screens.explain import ExplainScreen
from qtui.ui.screens.results import ResultsScreen
from tests.conftest import small_profile
from tests.ui.conftest import fake_result, open_results, select_row, wait_for, wait_for_text

#: Conv2d + Linear layers of MobileNetV2.
COMPUTE_LAYERS = 53


def _result_of_cached_artifact() -> tuple[RunResult, str]:
    """A saved ORT FP32 result whose artifact is the session cache's (prepared once)."""
    prof = small_profile(framework="onnxruntime", precision="fp32")
    artifact, _ = prepare_only(prof)
    key = artifact.directory.name
    result = replace(fake_result("x1-ort-fp32", "2026-01-02T10:00:00+00:00"), profile=prof,
                     artifact={"key": key, "executed_precision": "FP32"})
    save_result(result, Path(os.environ["QTUI_RESULTS_DIR"]) / result.run_id)
    return result, key


async def test_why_profiles_the_artifact_once_then_shows_the_saved_profile() -> None:
    root = Path(os.environ["QTUI_RESULTS_DIR"])
    result, key = _result_of_cached_artifact()
    (root / "explain").mkdir(parents=True)
    decoy = root / "explain" / "explain-onnxruntime-fp32-otherkey.json"  # another artifact's, newest
    decoy.write_text("{}")
    os.utime(decoy, (4e9, 4e9))
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        results = await open_results(pilot)
        select_row(results, result.run_id)
        await pilot.press("w")
        screen = app.screen
        assert isinstance(screen, ExplainScreen) and screen.worker is not None  # no saved profile: made now
        text = await wait_for_text(pilot, app, f"compute layers: {COMPUTE_LAYERS} in f32", timeout=600)
        assert "profiled now, saved" in text and "features.0.0" in text
        saved = root / "explain" / f"explain-onnxruntime-fp32-{key}.json"
        assert screen.path == saved and ex.load(saved).summary()["int8_share"] == 0.0
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen))
        await pilot.press("w")  # again: the saved profile, no profiling pass
        text = await wait_for_text(pilot, app, f"compute layers: {COMPUTE_LAYERS} in f32")
        assert isinstance(app.screen, ExplainScreen) and app.screen.worker is None
        assert "saved profile" in text and app.screen.path == saved


@pytest.mark.timeout(300)
async def test_escape_cancels_the_profiling_pass_and_saves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The profiled runs are one long call (here held until the test ends): `esc` leaves it to end
    in the background, the worker ends cancelled and no profile is saved."""
    root = Path(os.environ["QTUI_RESULTS_DIR"])
    result, _ = _result_of_cached_artifact()
    release = threading.Event()
    entered = threading.Event()

    def held_collect(*args: Any, **kwargs: Any) -> ex.Profile:
        entered.set()
        release.wait(120)
        raise ex.ExplainError("held by the test, then released")

    outcome: dict[str, BaseException | None] = {}
    real_profile_and_save = profiling.profile_and_save

    def watched(*args: Any, **kwargs: Any) -> Any:
        try:
            made = real_profile_and_save(*args, **kwargs)
        except BaseException as exc:
            outcome["error"] = exc
            raise
        outcome["error"] = None
        return made

    monkeypatch.setattr(ex, "collect", held_collect)
    monkeypatch.setattr(profiling, "profile_and_save", watched)
    app = QtuiApp()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            results = await open_results(pilot)
            select_row(results, result.run_id)
            await pilot.press("w")
            assert isinstance(app.screen, ExplainScreen)
            await wait_for_text(pilot, app, "profiling 5 batch-1 inferences (not a timed run)")
            assert entered.is_set()  # the UI draws while the worker is inside the profiler
            await pilot.press("escape")
            assert isinstance(app.screen, ResultsScreen)
            await wait_for(pilot, lambda: "error" in outcome, timeout=60)
            assert isinstance(outcome["error"], Cancelled) and not release.is_set()
            assert not list(root.glob("explain/explain-*.json"))
    finally:
        release.set()  # the abandoned profiling call ends (a later run would wait for it)


async def test_a_failed_profiling_pass_says_why_and_gives_the_command() -> None:
    """A run whose model file is gone: the screen says the preparation's reason and the `qtui
    explain` command of that run (shell-quoted), and saves nothing."""
    root = Path(os.environ["QTUI_RESULTS_DIR"])
    gone = root.parent / "gone dir" / "model.onnx"
    prof = small_profile(framework="onnxruntime", precision="fp32", model=str(gone))
    result = replace(fake_result("x2-user-model", "2026-01-02T10:00:00+00:00"), profile=prof)
    save_result(result, root / result.run_id)
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        results = await open_results(pilot)
        select_row(results, result.run_id)
        await pilot.press("w")
        text = await wait_for_text(pilot, app, "profiling failed: PrepareError:")
        assert "does not exist" in " ".join(text.split())
        assert "".join(f"the same from a shell: qtui explain quick --set 'model={gone}'".split()) in "".join(text.replace("│", "").split())
        assert not list(root.glob("explain/explain-*.json"))
