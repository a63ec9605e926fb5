"""Damaged and hostile result folders: `qtui report` (every format) and the results screen skip
each bad `result.json` with a warning and show the rest; text from result files reaches the
terminal as text; a crashed UI exits non-zero; random JSON never makes loading raise.

The results are crafted here (no run): two good runs (FP32 and INT8 SingleStream, ×2.50), then one
folder per kind of damage.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console, Group

import qtui.ui.app
from qtui.cli import main
from qtui.core.results import RunResult, load_results, save_result
from qtui.core.run_table import summary_line, table_rows, to_csv, to_markdown
from qtui.core.study_tables import study_markdown
from qtui.ui.app import QtuiApp
from qtui.ui.screens.results import (
    CompareScreen,
    DetailsScreen,
    ResultsScreen,
    StudyTablesScreen,
    compare_table,
    details_renderables,
    metric_text,
)
from tests.ui.conftest import fake_result, screen_text

GOOD = ("r1-ort-fp32-ss", "r2-ort-int8-ss")
SENTINEL = "read-from-the-fifo"
FORMATS = ("table", "markdown", "csv", "json", "study")
#: The size cap used in these tests (the real one, 64 MB, is too big to write here).
CAP = 100_000


def _good(root: Path) -> list[RunResult]:
    results = [
        fake_result(GOOD[0], "2026-01-02T10:00:00+00:00", "fp32", p90=20.0),
        fake_result(GOOD[1], "2026-01-02T10:05:00+00:00", "int8_static", p90=8.0),
    ]
    for r in results:
        save_result(r, root / r.run_id)
    return results


def _write(root: Path, folder: str, content: Any) -> None:
    path = root / folder / "result.json"
    path.parent.mkdir(parents=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")


def _valid(run_id: str, **changes: Any) -> dict[str, Any]:
    data = fake_result(run_id, "2026-01-02T11:00:00+00:00", "int8_dynamic", p90=5.0).to_dict()
    data.update(changes)
    return data


def craft(root: Path) -> dict[str, str]:
    """Two good runs and one folder per kind of damage; returns kind → folder name."""
    _good(root)
    bad = {
        "empty list": ("bad-empty-list", []),
        "wrong field type": ("bad-wrong-type", _valid("w", latency_ms={"p90": "fast", "p50": 1.0})),
        "null table": ("bad-null-table", _valid("n", environment=None)),
        "null profile": ("bad-null-profile", _valid("p", profile=None)),
        "unknown status": ("bad-status", _valid("s", status="finished")),
        "string for a list": ("bad-reasons", _valid("l", loadgen={"invalid_reasons": "too short"})),
        "infinite figure": ("bad-inf", _valid("i", throughput={"samples_per_s": float("inf")})),
        "truncated JSON": ("bad-truncated", '{"schema_version": 1, "run_id": '),
        "not UTF-8": ("bad-bytes", b"\xff\xfe{\x00}"),
        "nested too deeply": ("bad-deep", "[" * 100_000 + "]" * 100_000),
        "oversized": ("bad-oversized", _valid("big", message="x" * (CAP + 1))),
    }
    for folder, content in bad.values():
        _write(root, folder, content)
    out = {kind: folder for kind, (folder, _) in bad.items()}
    (root / "bad-directory" / "result.json").mkdir(parents=True)
    out["directory"] = "bad-directory"
    (root / "bad-fifo").mkdir()
    os.mkfifo(root / "bad-fifo" / "result.json")
    out["fifo"] = "bad-fifo"
    shutil.copytree(root / GOOD[0], root / f"{GOOD[0]} (copy)")
    out["copied run folder"] = f"{GOOD[0]} (copy)"
    return out


class FifoGuard:
    """Keeps a test from hanging on a FIFO: if anything opens it for reading, a valid result
    with run id SENTINEL is written into it (and `opened` is set), so the reader returns and
    the test fails on what it shows instead of blocking forever."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        payload = json.dumps(_valid(SENTINEL)).encode()
        while not self._done.wait(0.1):
            try:  # succeeds only while a reader has the FIFO open
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue
            self.opened = True
            try:
                os.write(fd, payload)
            except OSError:
                pass
            os.close(fd)


@contextmanager
def fifo_guard(path: Path) -> Iterator[FifoGuard]:
    guard = FifoGuard(path)
    guard._thread.start()
    try:
        yield guard
    finally:
        guard._done.set()
        guard._thread.join()


@pytest.fixture
def crafted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path / "crafted"
    bad = craft(root)
    monkeypatch.setattr("qtui.core.results.MAX_RESULT_BYTES", CAP)
    with fifo_guard(root / "bad-fifo" / "result.json") as guard:
        yield root, bad
    assert not guard.opened, "the FIFO was opened for reading"


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_report_skips_each_damaged_file_with_a_warning(crafted: tuple[Path, dict[str, str]], fmt: str) -> None:
    root, bad = crafted
    out = CliRunner().invoke(main, ["report", "--results-dir", str(root), "--format", fmt])
    assert out.exit_code == 0 and out.exception is None, out.output
    assert "Traceback" not in out.output
    warnings = _warnings(out.stderr)
    assert len(warnings) == len(bad), warnings
    for kind, folder in bad.items():
        assert sum(f"/{folder}/result.json" in w for w in warnings) == 1, (kind, warnings)
    assert sum("run id r1-ort-fp32-ss is already" in w for w in warnings) == 1
    assert SENTINEL not in out.stdout
    if fmt == "table":
        assert out.stdout.count("MNetV2") == 2 and "2.5" in out.stdout
    elif fmt == "markdown":
        assert [line.split(" | ")[0] for line in out.stdout.splitlines()[2:]] == [f"| {g}" for g in GOOD]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out.stdout)))
        assert [r["run_id"] for r in rows] == list(GOOD) and rows[1]["speedup_vs_fp32"] == "2.5"
    elif fmt == "json":
        assert [r["run_id"] for r in json.loads(out.stdout)] == list(GOOD)
    else:
        assert "| ONNX Runtime | 20 | 8 ×2.50 |" in out.stdout


async def test_results_screen_shows_the_good_runs_and_survives_every_view(
    crafted: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, bad = crafted
    monkeypatch.setenv("QTUI_RESULTS_DIR", str(root))
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+t")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        assert [r.run_id for r in screen.shown] == list(reversed(GOOD))
        assert len(screen.warnings) == len(bad)
        assert f"2 of 2 runs · {len(bad)} damaged file(s) skipped" in screen_text(app)
        for key, kind in (("enter", DetailsScreen), ("c", CompareScreen), ("s", StudyTablesScreen)):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, kind)
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is screen
        await pilot.press("f5")  # reload: the same warnings, no crash
        await pilot.pause()
        assert len(screen.shown) == 2 and len(screen.warnings) == len(bad)


def _hostile(root: Path) -> None:
    _good(root)
    r = fake_result("evil\x1b[31m[/x]", "2026-01-02T10:10:00+00:00", "int8_dynamic", p90=10.0, status="invalid")
    r.message = "[bold]x[/bold] \x1b]0;owned\x07\x1b[2Jdone"
    r.loadgen["validity"] = "INVALID[/red]\x9b2J"
    r.loadgen["invalid_reasons"] = ["[link=file:///etc]reason[/link]"]
    r.environment["os"] = "Linux \x1b[5mblink"
    save_result(r, root / "evil")


@pytest.mark.parametrize("fmt", FORMATS)
def test_report_prints_text_from_files_as_text(tmp_path: Path, fmt: str) -> None:
    _hostile(tmp_path)
    out = CliRunner().invoke(main, ["report", "--results-dir", str(tmp_path), "--format", fmt])
    assert out.exit_code == 0 and out.exception is None, out.output
    assert "\x1b" not in out.output and "\x9b" not in out.output
    if fmt in ("markdown", "csv", "json"):
        assert "evil[/x]" in out.stdout
    if fmt in ("markdown", "csv"):
        assert "INVALID[/red] |" in out.stdout or "INVALID[/red]," in out.stdout


async def test_ui_shows_text_from_files_literally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hostile(tmp_path)
    monkeypatch.setenv("QTUI_RESULTS_DIR", str(tmp_path))
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+t")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ResultsScreen) and len(screen.shown) == 3
        index = [r.run_id for r in screen.shown].index("evil[/x]")
        screen.query_one("#results-table").move_cursor(row=index)
        await pilot.press("c")
        await pilot.pause()
        text = screen_text(app)
        assert "INVALID[/red])" in text and "speed-up – (invalid run)" in text
        await pilot.press("escape")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        text = screen_text(app)
        assert "[bold]x[/bold] done" in text and "[link=file:///etc]reason[/link]" in text
        app.screen.query_one("#details").scroll_end(animate=False)
        await pilot.pause()
        text = screen_text(app)
        assert "evil[/x]" in text and "Linux blink" in text
        assert "\x1b" not in text and "owned" not in text


class _CrashingApp(QtuiApp):
    CSS_PATH = str(Path(qtui.ui.app.__file__).with_name("qtui.tcss"))  # not beside this file

    def on_mount(self) -> None:
        raise RuntimeError("boom")


def test_a_crashed_ui_exits_non_zero() -> None:
    app = _CrashingApp()
    with pytest.raises(SystemExit) as exit_info:
        app.run(headless=True, size=(80, 24))
    assert exit_info.value.code == 1


def test_a_clean_ui_exit_returns_normally() -> None:
    async def quit_at_once(pilot: Any) -> None:
        await pilot.press("ctrl+q")

    app = QtuiApp()
    assert app.run(headless=True, size=(80, 24), auto_pilot=quit_at_once) is None
    assert app.return_code == 0


# -- property tests --------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)


def _rich_valid() -> dict[str, Any]:
    """A result with every table filled, accuracy and fidelity included."""
    r = fake_result("prop", "2026-01-02T10:00:00+00:00", "int8_static", top1=0.7)
    r.accuracy = {"top1": 0.7, "top5": 0.9, "samples": 64, "logged_responses": 64,
                  "fidelity": {"sqnr_db": float("inf"), "cosine": 0.99, "centred_top1_agreement": 0.9,
                               "centred_distinct_classes": 40, "samples": 64}}
    r.loadgen.update(scenario_metric={"name": "p90 latency (ms)", "value": 10.0, "early_stopping": "x"},
                     settings={"min_query_count": 64}, warnings=["w"], version="5.0", log_dir="/tmp/x")
    r.environment.update(hostname="h", os="Linux", temperature_c=50.0, warnings=["hot"], governor="ondemand")
    r.provenance.update(weights_digest="abc", data_has_labels=False)
    r.memory = {"peak_rss_bytes": 100_000_000}
    r.timings_s = {"loadgen": 1.0}
    return json.loads(r.to_json())


def _paths(data: dict[str, Any]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for key, value in data.items():
        out.append((key,))
        if isinstance(value, dict):
            out += [(key, sub) for sub in value]
            out.append((key, "new-key"))
            out += [(key, sub, inner) for sub, v in value.items() if isinstance(v, dict) for inner in v]
    return out


RICH = _rich_valid()
PATHS = _paths(RICH)


def _load_one(content: str) -> tuple[list[RunResult], list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "run").mkdir()
        (Path(tmp) / "run" / "result.json").write_text(content, encoding="utf-8", errors="surrogatepass")
        warnings: list[str] = []
        return load_results(Path(tmp), warn=warnings.append), warnings


def _use_everywhere(results: list[RunResult]) -> None:
    """Everything the CLI and the UI do with loaded results (rendered, not just built)."""
    pool = results + [fake_result("fp32", "2026-01-01T00:00:00+00:00", "fp32")]
    rows = table_rows(results, pool)
    to_markdown(rows), to_csv(rows), study_markdown(results, pool)
    console = Console(file=io.StringIO(), width=80)
    for r in results:
        summary_line(r), metric_text(r)
        console.print(Group(*details_renderables(r, pool[-1])), compare_table(r, pool[-1]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values)
def test_any_json_value_never_makes_loading_raise(value: Any) -> None:
    results, warnings = _load_one(json.dumps(value))
    assert len(results) + len(warnings) == 1
    _use_everywhere(results)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=json_values)
def test_any_field_replaced_by_any_json_never_breaks_loading_or_the_views(path: tuple[str, ...], value: Any) -> None:
    data = json.loads(json.dumps(RICH))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    results, warnings = _load_one(json.dumps(data))
    assert len(results) + len(warnings) == 1
    _use_everywhere(results)
