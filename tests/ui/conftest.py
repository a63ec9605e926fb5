"""Helpers for the UI tests: an isolated config folder, waiting on the app without sleeping
blindly, reading what the screen shows, fixed fake results, and SVG snapshot comparison."""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from qtui.core.catalog import Availability
from qtui.core.profile import FRAMEWORKS, PRECISIONS, LoadGenSpec, RunProfile
from qtui.core.results import RunResult, save_result

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE_ENV = "QTUI_UPDATE_SNAPSHOTS"


def fixed_matrix(model: str | None = None) -> list[Availability]:
    """What runs "here" in UI tests and pictures, whatever this machine has installed (for any
    model: the setup screen then refuses what a user model's kind of source cannot fill)."""
    out = []
    for f in FRAMEWORKS:
        for p in PRECISIONS:
            ok = f in ("onnxruntime", "torch") and p in ("fp32", "int8_dynamic")
            reason = "runs here" if ok else (
                f"{f} not installed — pip install 'qtui[{f}]'" if f in ("openvino", "tflite")
                else "not implemented in this qtui version"
            )
            out.append(Availability(f, p, ok, reason))
    return out


@pytest.fixture
def fixed_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("qtui.ui.screens.setup.matrix", fixed_matrix)


@pytest.fixture(autouse=True)
def _isolated_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Saved profiles go to a per-test folder (platformdirs honours XDG_CONFIG_HOME)."""
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    return config


async def wait_for(pilot: Pilot, predicate: Callable[[], bool], timeout: float = 300.0) -> None:
    """Let the app run until `predicate()` holds (the timeout only stops a hung test)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        await pilot.pause(0.05)


async def start_run(pilot: Pilot, app: App) -> Any:
    """Press Ctrl+R on the setup screen; returns the run screen that opens."""
    from qtui.ui.screens.run import RunScreen

    await pilot.press("ctrl+r")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, RunScreen)
    return screen


async def wait_for_text(pilot: Pilot, app: App, text: str, timeout: float = 60.0) -> str:
    """Let the app run until `text` is on the screen; returns the screen's text. A state change
    (a phase, a result) is drawn at the next repaint, which on a busy machine can come a few
    frames after the handler that made it: assert what a user reads only once it is drawn."""
    await wait_for(pilot, lambda: text in screen_text(app), timeout)
    return screen_text(app)


def screen_text(app: App) -> str:
    """The characters on the screen (what a user reads), one line per row."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def fake_result(
    run_id: str,
    created: str,
    precision: str = "fp32",
    scenario: str = "SingleStream",
    framework: str = "onnxruntime",
    status: str = "ok",
    p90: float = 10.0,
    samples_per_s: float = 100.0,
    top1: float | None = None,
    mode: str = "performance",
) -> RunResult:
    profile = replace(
        RunProfile(name="fake", threads=2, loadgen=LoadGenSpec(preset="quick", min_duration_ms=0)),
        framework=framework, precision=precision, scenario=scenario, mode=mode,
    )
    edges = [1.0 * 10 ** (i / 8) for i in range(17)]
    counts = [0, 1, 3, 8, 20, 31, 18, 9, 4, 2, 1, 0, 1, 0, 0, 0]
    return RunResult(
        run_id=run_id,
        created=created,
        status=status,
        profile=profile,
        environment={"cpu_model": "Test CPU", "machine": "x86_64", "cores_logical": 2,
                     "cores_physical": 2, "threads": 2, "isa": {"avx2": True},
                     "frameworks": {"onnxruntime": "1.0"}},
        loadgen={"validity": "VALID" if status == "ok" else "INVALID",
                 "invalid_reasons": [] if status == "ok" else ["minimum query count not met"]},
        latency_ms={"basis": "per query", "p50": p90 * 0.8, "p90": p90, "p99": p90 * 1.3},
        throughput={"samples_per_s": samples_per_s, "queries": 98, "samples": 98, "duration_s": 1.0},
        histogram={"edges_ms": edges, "counts": counts},
        accuracy=None if top1 is None else {"top1": top1},
        provenance={"weights": "seeded random", "data": "synthetic"},
        artifact={"size_bytes": 14_000_000 if precision == "fp32" else 3_600_000,
                  "executed_precision": precision.upper()},
    )


def write_fake_results(root: Path) -> list[RunResult]:
    """A fixed set: ORT and PyTorch, FP32 and INT8, SingleStream and Offline, one invalid."""
    results = [
        fake_result("r1-ort-fp32-ss", "2026-01-02T10:00:00+00:00", "fp32", p90=20.0, samples_per_s=50.0),
        fake_result("r2-ort-int8-ss", "2026-01-02T10:05:00+00:00", "int8_static", p90=8.0, samples_per_s=120.0),
        fake_result("r3-ort-fp32-off", "2026-01-02T10:10:00+00:00", "fp32", "Offline", samples_per_s=200.0),
        fake_result("r4-ort-int8-off", "2026-01-02T10:15:00+00:00", "int8_dynamic", "Offline", samples_per_s=500.0),
        fake_result("r5-pt-fp32-ss", "2026-01-02T10:20:00+00:00", "fp32", framework="torch", p90=30.0),
        fake_result("r6-pt-fp16-ss", "2026-01-02T10:25:00+00:00", "fp16", framework="torch", p90=25.0, status="invalid"),
        fake_result("r7-ort-fp32-acc", "2026-01-02T10:30:00+00:00", "fp32", "Offline", mode="accuracy", top1=0.712),
        fake_result("r8-ort-int8-acc", "2026-01-02T10:35:00+00:00", "int8_static", "Offline", mode="accuracy", top1=0.705),
    ]
    for r in results:
        save_result(r, root / r.run_id)
    return results


#: A picture's unique results folder → the fixed path it shows in the picture (`results_shown_as`).
_SHOWN: dict[str, str] = {}


@contextmanager
def results_shown_as(shown: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh results folder for a picture, QTUI_RESULTS_DIR pointing at it, removed after:
    unique (two suites at once never share it) and as long as `shown`, the path the picture
    keeps showing (`assert_snapshot` puts it in place of the real one), so the layout is the
    same whatever the folder's name."""
    import secrets

    assert shown.startswith("/tmp/qtui-") and len(shown) > 26
    while True:
        path = Path("/tmp/qtui-" + secrets.token_hex(16)[: len(shown) - len("/tmp/qtui-")])
        try:
            path.mkdir()
            break
        except FileExistsError:
            continue
    _SHOWN[str(path)] = shown
    monkeypatch.setenv("QTUI_RESULTS_DIR", str(path))
    try:
        yield path
    finally:
        _SHOWN.pop(str(path), None)
        shutil.rmtree(path, ignore_errors=True)


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def pinned_platform_difference() -> str | None:
    """Why the snapshots cannot be compared here (None: they can): they are drawn on the
    platform of constraints.txt's `# platform:` line with its textual and rich versions."""
    import platform
    import sys
    from importlib import metadata

    lines = (Path(__file__).parents[2] / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pins = dict(line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))
    (pinned,) = [line.split(":", 1)[1].split() for line in lines if line.startswith("# platform:")]
    here = [platform.system(), platform.machine(),
            f"cp{sys.version_info[0]}{sys.version_info[1]}" if sys.implementation.name == "cpython"
            else sys.implementation.name]
    if here != pinned:
        return f"snapshots are drawn on {' '.join(pinned)} (constraints.txt), this is {' '.join(here)}"
    off = [f"{name} {metadata.version(name)} (constraints.txt pins {pins[name]})"
           for name in ("textual", "rich") if name in pins and metadata.version(name) != pins[name]]
    if off:
        return f"snapshots are drawn with the pinned textual and rich; installed: {', '.join(off)}"
    return None


def _comparable(svg: str) -> str:
    """The picture without rich's content hash in its element ids (it changes with the real
    folder's name, which the picture does not show)."""
    return re.sub(r"terminal-\d+", "terminal-ID", svg)


def assert_snapshot(app: App, name: str, tmp_path: Path) -> None:
    """Compare the screen with tests/ui/snapshots/NAME.svg; QTUI_UPDATE_SNAPSHOTS=1 rewrites it
    (refused in CI, where a rewrite would pass silently). Off the pinned platform (constraints.txt)
    the comparison is skipped with the reason: the pictures are drawn there."""
    svg = app.export_screenshot(title=name)
    for real, shown in _SHOWN.items():
        svg = svg.replace(real, shown)
    expected = SNAPSHOTS / f"{name}.svg"
    update = os.environ.get(UPDATE_ENV, "")
    if update:
        if update != "1":
            pytest.fail(f"{UPDATE_ENV}={update!r}: set it to 1 to rewrite the snapshots, or unset it")
        if _truthy("CI"):
            pytest.fail(f"{UPDATE_ENV}=1 is refused in CI (CI={os.environ['CI']}): it would turn "
                        f"every snapshot comparison into a silent rewrite")
    why_not = pinned_platform_difference()
    if why_not is not None:
        pytest.skip(f"snapshot {name} not compared: {why_not}")
    if update:
        SNAPSHOTS.mkdir(exist_ok=True)
        expected.write_text(svg, encoding="utf-8")
        return
    if not expected.exists():
        raise AssertionError(f"missing snapshot {expected}: run with {UPDATE_ENV}=1 and commit it")
    if _comparable(svg) != _comparable(expected.read_text(encoding="utf-8")):
        actual = tmp_path / f"{name}.actual.svg"
        actual.write_text(svg, encoding="utf-8")
        raise AssertionError(
            f"screen differs from {expected} (actual: {actual}); if the change is wanted, "
            f"rerun with {UPDATE_ENV}=1.\nScreen now:\n{screen_text(app)}"
        )


async def open_results(pilot: Pilot) -> Any:
    """Press Ctrl+T on the setup screen; returns the results screen that opens."""
    from qtui.ui.screens.results import ResultsScreen

    await pilot.press("ctrl+t")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, ResultsScreen)
    return screen


async def open_study(pilot: Pilot) -> Any:
    """Open the results screen, then its study view (`s`); returns the study screen."""
    from qtui.ui.screens.results import StudyTablesScreen

    await open_results(pilot)
    await pilot.press("s")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, StudyTablesScreen)
    return screen


def select_row(screen: Any, run_id: str) -> None:
    """Put the results table's cursor on `run_id`'s row."""
    index = [r.run_id for r in screen.shown].index(run_id)
    screen.query_one("#results-table").move_cursor(row=index)
