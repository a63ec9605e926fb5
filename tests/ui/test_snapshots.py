"""SVG snapshots at 80×24 of the setup screen, the results screen (fixed fake results) and the
run screen fed with synthetic events (no live run, so the pictures are deterministic).

Compared with tests/ui/snapshots/*.svg; set QTUI_UPDATE_SNAPSHOTS=1 to rewrite them after an
intended change (then look at them: any SVG viewer or browser)."""

from __future__ import annotations

import re
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
from tests.ui.conftest import (
    assert_snapshot,
    fake_result,
    results_shown_as,
    wait_for,
    write_fake_results,
)

#: The results folder the picture shows (the real one is unique: `results_shown_as`).
SHOWN_RESULTS = "/tmp/qtui-ui-snapshot-results"


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
    with results_shown_as(SHOWN_RESULTS, monkeypatch) as root:
        write_fake_results(root)
        app = QtuiApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("ctrl+t")
            await pilot.pause()
            assert_snapshot(app, "results", tmp_path)


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


# -- the snapshot helper: never a silent rewrite in CI, a skip with its reason off the platform ----
async def _setup_app_snapshot(tmp_path: Path) -> None:
    app = QtuiApp(profile=small_profile())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert_snapshot(app, "setup", tmp_path)


@pytest.mark.parametrize(("update", "ci", "message"), [
    ("1", "true", "QTUI_UPDATE_SNAPSHOTS=1 is refused in CI (CI=true)"),
    ("1", "1", "QTUI_UPDATE_SNAPSHOTS=1 is refused in CI (CI=1)"),
    ("yes", "", "QTUI_UPDATE_SNAPSHOTS='yes': set it to 1 to rewrite the snapshots, or unset it"),
])
async def test_a_rewrite_is_refused_in_ci(
    fixed_catalog: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, update: str, ci: str, message: str
) -> None:
    from tests.ui.conftest import SNAPSHOTS

    before = (SNAPSHOTS / "setup.svg").read_bytes()
    monkeypatch.setenv("QTUI_UPDATE_SNAPSHOTS", update)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match=re.escape(message)):
        await _setup_app_snapshot(tmp_path)
    assert (SNAPSHOTS / "setup.svg").read_bytes() == before


@pytest.mark.parametrize("where", ["system", "machine", "python", "textual"])
async def test_off_the_pinned_platform_the_comparison_is_skipped_with_its_reason(
    fixed_catalog: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    import platform
    import sys
    from importlib import metadata

    lines = (Path(__file__).parents[2] / "constraints.txt").read_text().splitlines()
    (pinned,) = [line.split(":", 1)[1].strip() for line in lines if line.startswith("# platform:")]
    assert pinned == "Linux x86_64 cp311", "update the cases below with the pinned platform"
    (textual_pin,) = [line.split("==")[1] for line in lines if line.startswith("textual==")]
    if where == "system":
        monkeypatch.setattr(platform, "system", lambda: "Darwin")
        reason = "snapshots are drawn on Linux x86_64 cp311 (constraints.txt), this is Darwin x86_64 cp311"
    elif where == "machine":
        monkeypatch.setattr(platform, "machine", lambda: "aarch64")
        reason = "snapshots are drawn on Linux x86_64 cp311 (constraints.txt), this is Linux aarch64 cp311"
    elif where == "python":
        monkeypatch.setattr(sys, "version_info", (3, 12, 0, "final", 0))
        reason = "snapshots are drawn on Linux x86_64 cp311 (constraints.txt), this is Linux x86_64 cp312"
    else:
        real = metadata.version
        monkeypatch.setattr(metadata, "version", lambda name: "0.1" if name == "textual" else real(name))
        reason = "snapshots are drawn with the pinned textual and rich; installed: textual 0.1 (constraints.txt pins " + textual_pin + ")"
    if (platform.system(), platform.machine(), sys.version_info[:2]) != ("Linux", "x86_64", (3, 11)) and where == "textual":
        pytest.skip("this case is checked on the pinned platform")
    with pytest.raises(pytest.skip.Exception, match=re.escape(f"snapshot setup not compared: {reason}")):
        await _setup_app_snapshot(tmp_path)


async def test_the_comparison_runs_on_the_pinned_platform(fixed_catalog: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A changed snapshot fails where the snapshots are drawn (a skip everywhere would pass)."""
    from tests.ui import conftest

    if conftest.pinned_platform_difference() is not None:
        pytest.skip(f"not the pinned platform: {conftest.pinned_platform_difference()}")
    monkeypatch.delenv("QTUI_UPDATE_SNAPSHOTS", raising=False)
    changed = tmp_path / "snapshots"
    changed.mkdir()
    (changed / "setup.svg").write_text((conftest.SNAPSHOTS / "setup.svg").read_text().replace("qtui", "qtul"))
    monkeypatch.setattr(conftest, "SNAPSHOTS", changed)
    with pytest.raises(AssertionError, match="screen differs from"):
        await _setup_app_snapshot(tmp_path)
