"""SVG snapshots at 80×24 of the setup screen, the results screen (fixed fake results) and the
run screen fed with synthetic events (no live run, so the pictures are deterministic).

Compared with tests/ui/snapshots/*.svg; set QTUI_UPDATE_SNAPSHOTS=1 to rewrite them after an
intended change (then look at them: any SVG viewer or browser)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qtui.core import events as ev
from qtui.core.latency import histogram
from qtui.core.profile import LoadGenSpec
from qtui.ui.app import QtuiApp
from qtui.ui.screens.run import RunScreen
from tests.conftest import small_profile
from tests.ui.conftest import assert_snapshot, fake_result, wait_for, write_fake_results

#: Fixed results folder: its path is shown on the results screen.
SNAPSHOT_RESULTS = Path("/tmp/qtui-ui-snapshot-results")


async def test_setup_screen(fixed_catalog: None, tmp_path: Path) -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert_snapshot(app, "setup", tmp_path)


async def test_setup_screen_unavailable_choice(fixed_catalog: None, tmp_path: Path) -> None:
    app = QtuiApp(profile=small_profile(framework="openvino", precision="int8_static"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert_snapshot(app, "setup-unavailable", tmp_path)


async def test_results_screen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shutil.rmtree(SNAPSHOT_RESULTS, ignore_errors=True)
    write_fake_results(SNAPSHOT_RESULTS)
    monkeypatch.setenv("QTUI_RESULTS_DIR", str(SNAPSHOT_RESULTS))
    app = QtuiApp()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("ctrl+t")
            await pilot.pause()
            assert_snapshot(app, "results", tmp_path)
    finally:
        shutil.rmtree(SNAPSHOT_RESULTS, ignore_errors=True)


def _synthetic_run(release: threading.Event) -> Any:
    """A stand-in for runner.run that emits a fixed story and waits to be released."""

    def run(profile: Any, on_event: Any, stop: threading.Event, options: Any) -> Any:
        rng = np.random.default_rng(7)
        lat_ns = (rng.lognormal(mean=np.log(28.0), sigma=0.25, size=8000) * 1e6).astype(np.int64)
        for step, fraction in (
            ("opening data set", None), ("preparing artifact", None), ("loading runtime", None),
            ("loading samples", 1.0), ("warm-up", 1.0),
        ):
            on_event(ev.Preparing(step, fraction))
        on_event(ev.Log("reused cached artifact /cache/qtui/artifacts/3f2a9c"))
        on_event(ev.Started("run-1", "SingleStream", "performance",
                            {"min_query_count": 1024, "min_duration_ms": 600000}, 21000))
        on_event(ev.Progress(
            completed_queries=8000, completed_samples=8000, elapsed_s=228.6,
            percentiles_ms={"p50": 27.9, "p90": 38.4, "p99": 49.7}, samples_per_s=35.0,
            histogram=histogram(lat_ns), expected_samples=21000, left_s=371.4,
        ))
        release.wait(60)
        return fake_result("run-1", "2026-01-02T10:00:00+00:00", status="cancelled")

    return run


async def test_run_screen_with_synthetic_events(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    release = threading.Event()
    monkeypatch.setattr("qtui.core.runner.run", _synthetic_run(release))
    monkeypatch.setattr(RunScreen, "clock", staticmethod(lambda: 0.0))
    app = QtuiApp(profile=small_profile(loadgen=LoadGenSpec(preset="mlperf")))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("ctrl+r")
            screen = app.screen
            assert isinstance(screen, RunScreen)
            await wait_for(pilot, lambda: "samples/s" in str(screen.query_one("#stats").content))
            await pilot.pause()
            assert_snapshot(app, "run", tmp_path)
            release.set()
            await wait_for(pilot, lambda: screen.phase == "done")
    finally:
        release.set()
