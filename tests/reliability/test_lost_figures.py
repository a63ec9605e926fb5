"""Faults that used to crash a run or lose what it measured (issue 20, items 5-8): LoadGen's log
folder unusable right before `StartTest`, a cancel that LoadGen takes long to finish, a full disk
in the middle of a study, a cancel right after a study's accuracy pass.

The tests run as root, where chmod does not stop a write: a read-only folder is simulated by
making the write raise (EROFS) or by a directory where LoadGen's log file should be (a real
failure to open it, which no permission bit decides); a full disk by making the save raise ENOSPC.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import primed_cache, small_profile

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "dataset.count=32", "--set", "dataset.performance_sample_count=32", "--set", "warmup_queries=2"]


def _env(cache: Path, results: Path) -> dict[str, str]:
    env = os.environ.copy()
    env.update(QTUI_CACHE_DIR=str(cache), QTUI_RESULTS_DIR=str(results))
    env.pop("SSH_CONNECTION", None)
    return env


def _statuses(results: Path) -> list[str]:
    return [json.loads(p.read_text())["status"] for p in sorted(results.glob("*/result.json"))]


# -- 5. LoadGen's log folder unusable right before StartTest ---------------------------------------

#: `python -c` program: qtui's CLI where, right before LoadGen starts, a directory takes the place
#: of LoadGen's detail log (LoadGen then cannot open it: before the fix a segfault, exit 139).
LOG_BLOCKED = """
import sys
import threading
import time
from qtui.core import loadgen
real = loadgen.run_loadgen
def blocked(sut, qsl, settings, log_dir):
    (log_dir / "mlperf_log_detail.txt").mkdir(parents=True)
    real(sut, qsl, settings, log_dir)
loadgen.run_loadgen = blocked
from qtui.cli import main
main(sys.argv[1:], prog_name="qtui")
"""


@pytest.mark.parametrize("command", ["run", "study"])
def test_loadgen_log_that_cannot_be_written_is_refused_not_a_segfault(tmp_path: Path, session_cache: Path, command: str) -> None:
    results = tmp_path / "results"
    args = [sys.executable, "-c", LOG_BLOCKED, command, "quick", *SMALL, "--set", "framework=onnxruntime", "--set", "precision=fp32"]
    if command == "study":
        args += ["--set", "study.quality=false"]
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=_env(session_cache, results), timeout=300)
    assert out.returncode == 1, out.stderr
    assert "not saved: results folder not writable" in out.stderr, out.stderr
    assert "mlperf_log_detail.txt" in out.stderr and "not a regular file" in out.stderr
    assert "INVALID" not in out.stderr and "Traceback" not in out.stderr
    assert _statuses(results) == ["failed"]
    if command == "study":
        assert "0 runs measured" in out.stderr and "1 failed" in out.stderr


def test_results_folder_made_read_only_before_loadgen_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe really writes in LoadGen's folder right before StartTest (simulated EROFS: root
    ignores chmod): the run fails with the reason, LoadGen never starts."""
    import tempfile

    from qtui.core import loadgen, runner

    real_mkstemp = tempfile.mkstemp
    started: list[bool] = []
    real_start = loadgen.run_loadgen

    def mkstemp(*args: Any, dir: Any = None, **kwargs: Any) -> Any:  # noqa: A002 - tempfile's name
        if dir is not None and Path(dir).parent == Path(os.environ["QTUI_RESULTS_DIR"]):  # a run's folder
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_mkstemp(*args, dir=dir, **kwargs)

    def start(*args: Any) -> None:
        started.append(True)
        real_start(*args)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(loadgen, "run_loadgen", start)
    result = runner.run(small_profile())
    assert result.status == "failed"
    assert result.message.startswith("not saved: results folder not writable: LoadGen cannot write its logs in ")
    assert "Read-only file system" in result.message
    assert started == [True]  # refused inside run_loadgen, right before StartTest


def test_missing_detail_log_is_not_saved_never_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    """LoadGen ran but its detail log is not there (the folder turned read-only, the file was
    removed): before, "LoadGen: INVALID — see log"; now failed, saying the log was not saved,
    with qtui's own figures kept."""
    from qtui.core import loadgen, runner

    real = loadgen.run_loadgen

    def losing_the_log(sut: Any, qsl: Any, settings: Any, log_dir: Path) -> None:
        real(sut, qsl, settings, log_dir)
        (log_dir / "mlperf_log_detail.txt").unlink()

    monkeypatch.setattr(loadgen, "run_loadgen", losing_the_log)
    result = runner.run(small_profile())
    assert result.status == "failed"
    assert "INVALID" not in result.message
    assert "LoadGen's log not saved" in result.message and "mlperf_log_detail.txt" in result.message
    assert result.latency_ms["p90"] > 0  # what qtui measured is kept


# -- 7. a full disk in the middle of a study -------------------------------------------------------


def _disk_full_after(monkeypatch: pytest.MonkeyPatch, saves: int) -> None:
    """The first `saves` results are written, every later one meets a full disk (ENOSPC)."""
    from qtui.core import runner

    real = runner.save_result
    count = [0]

    def save(result: Any, run_dir: Path) -> Path:
        count[0] += 1
        if count[0] > saves:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(result, run_dir)

    monkeypatch.setattr(runner, "save_result", save)


def test_study_counts_an_unsaved_result_as_failed_and_exits_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Before: 3 of 4 results "NOT saved", yet "4 runs measured, 0 failed" and exit 0."""
    from click.testing import CliRunner

    from qtui import cli

    _disk_full_after(monkeypatch, 1)
    results = tmp_path / "results"
    out = CliRunner().invoke(cli.main, [
        "study", "quick", *SMALL, "--set", "framework=onnxruntime", "--set", "precision=fp32",
        "--set", "study.quality=false", "--repeats", "4", "--results-dir", str(results), "--cooldown", "0",
    ])
    assert out.exit_code == 1, out.output
    assert "study: 1 run measured, 0 already measured here, 3 failed (3 not saved)" in out.stderr, out.stderr
    assert out.stderr.count("NOT saved") >= 3 and "No space left on device" in out.stderr
    assert _statuses(results) == ["ok"]


def test_run_study_reports_unsaved_runs_and_quality_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The core's report: an accuracy pass that could not be saved is a failed quality check
    (the next study would not find it), a measurement that could not be saved a failed run."""
    from qtui.core.profile import StudySpec
    from qtui.core.study import StudyOptions, run_study, study_summary

    _disk_full_after(monkeypatch, 0)
    report = run_study(small_profile(study=StudySpec(repeats=1, quality=True)), StudyOptions(cooldown_below_c=0))
    assert report.runs_done == 0 and report.runs_failed == 1
    assert report.quality_done == 0 and report.quality_failed == 1
    assert len(report.unsaved) == 2
    assert "0 runs measured, 0 already measured here, 1 failed (1 not saved)" in study_summary(report)
    assert "0 checked, 0 already checked here, 1 failed (1 not saved)" in study_summary(report)


# -- 6. a cancel that LoadGen takes long to finish ----------------------------------------------------


class _SlowAfterCancel:
    """The backend, whose call in flight when the run is cancelled takes `seconds` (what a runtime
    with threads far above the cores does): LoadGen goes quiet for longer than the runner waits."""

    def __init__(self, inner: Any, stop: threading.Event, seconds: float) -> None:
        self.inner, self.stop, self.seconds = inner, stop, seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def predict(self, batch: Any) -> Any:
        out = self.inner.predict(batch)
        if self.stop.is_set():
            time.sleep(self.seconds)
        return out


def _cancel_after(stop: threading.Event, queries: int) -> Any:
    from qtui.core import events as ev

    def on_event(event: Any) -> None:
        if isinstance(event, ev.Progress) and event.completed_queries >= queries:
            stop.set()

    return on_event


@pytest.mark.parametrize("case", ["slow call after the cancel", "a million queries to drain"])
def test_cancel_keeps_the_completed_part_whatever_loadgen_does(case: str) -> None:
    """Before: "LoadGen did not finish after the cancel; restart qtui", saved as failed with empty
    figures. Now: saved as cancelled with the completed part's figures; the next run waits for
    the LoadGen left finishing (two LoadGen tests at once would crash the process)."""
    from qtui.core import runner
    from qtui.core.profile import LoadGenSpec

    stop = threading.Event()
    if case == "slow call after the cancel":
        profile = small_profile(loadgen=LoadGenSpec(preset="quick", min_duration_ms=600_000, min_query_count=64))
        options = runner.RunOptions(wrap_backend=lambda b: _SlowAfterCancel(b, stop, 6.0), cancel_grace_s=0.5)
    else:
        profile = small_profile(loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=1_000_000))
        options = runner.RunOptions(cancel_grace_s=0.2)
    result = runner.run(profile, _cancel_after(stop, 20), stop, options)
    assert result.status == "cancelled", result.message
    assert result.throughput["samples"] >= 20 and result.latency_ms["p90"] > 0
    assert result.throughput["samples_per_s"] and result.throughput["samples_per_s"] > 0
    assert "LoadGen was still finishing" in result.message
    saved = json.loads((Path(os.environ["QTUI_RESULTS_DIR"]) / result.run_id / "result.json").read_text())
    assert saved["status"] == "cancelled" and saved["throughput"]["samples"] == result.throughput["samples"]
    # the next run waits for the LoadGen left behind instead of starting a second one beside it
    after = runner.run(small_profile())
    assert after.status == "ok", after.message


def test_threads_above_the_cores_need_an_explicit_setting(tmp_path: Path) -> None:
    """`threads` far above the cores made every call in flight last seconds, so a cancel could not
    finish: refused (exit 2 in the CLI, a failed run in the runner) unless the profile says
    `threads_over_cores = true`."""
    from click.testing import CliRunner

    from qtui import cli
    from qtui.core import runner

    over = (os.cpu_count() or 1) + 1
    for command in (["run", "quick"], ["study", "quick", "--set", "study.quality=false"]):
        out = CliRunner().invoke(cli.main, [*command, *SMALL, "--set", f"threads={over}", "--results-dir", str(tmp_path / "r")])
        assert out.exit_code == 2, out.output
        assert f"key 'threads': {over} is more than the {os.cpu_count()} cores here" in out.stderr
        assert "threads_over_cores = true" in out.stderr and "opening data set" not in out.stderr
    refused = runner.run(small_profile(threads=over))
    assert refused.status == "failed" and "threads_over_cores" in refused.message
    stop = threading.Event()
    stop.set()  # cancelled at the first checkpoint after the check
    allowed = runner.run(small_profile(threads=over, threads_over_cores=True), None, stop)
    assert allowed.status == "cancelled"
    assert any(f"threads = {over}" in w for w in allowed.environment["warnings"])  # still noted


# -- 8. a cancel after an accuracy pass finished -----------------------------------------------------


def test_cancel_after_the_accuracy_pass_keeps_what_it_measured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The cancel lands once LoadGen's accuracy pass is over, while the FP32 reference is being
    computed. Before: "cancelled before LoadGen started", the logged responses and everything
    else the pass measured dropped."""
    from qtui.core import events as ev
    from qtui.core import runner

    monkeypatch.setenv("QTUI_CACHE_DIR", str(primed_cache(tmp_path / "cache")))  # no cached reference
    stop = threading.Event()

    def on_event(event: Any) -> None:
        if isinstance(event, ev.Preparing) and event.step.startswith("computing FP32 torch reference"):
            stop.set()

    result = runner.run(small_profile(mode="accuracy"), on_event, stop)
    assert result.status == "cancelled"
    assert "before LoadGen started" not in result.message
    assert "after the accuracy pass finished" in result.message and "fidelity" in result.message
    assert result.accuracy is not None and result.accuracy["logged_responses"] == 32
    assert result.accuracy["samples"] == 32 and "fidelity" not in result.accuracy
    assert result.loadgen["validity"] == "n/a (accuracy mode)"


def test_cancel_after_the_accuracy_pass_with_a_cached_reference_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the FP32 reference already cached nothing is left to cancel: the pass's fidelity is
    computed and the run is complete."""
    from qtui.core import events as ev
    from qtui.core import runner

    first = runner.run(small_profile(mode="accuracy"))  # computes and caches the reference
    assert first.status == "ok" and "fidelity" in (first.accuracy or {})
    stop = threading.Event()

    def on_event(event: Any) -> None:
        if isinstance(event, ev.Preparing) and event.step.startswith("computing FP32 torch reference"):
            stop.set()

    result = runner.run(small_profile(mode="accuracy"), on_event, stop)
    assert result.status == "ok", result.message
    assert result.accuracy is not None and result.accuracy["fidelity"] == first.accuracy["fidelity"]


def test_detail_log_cut_short_by_a_full_disk_is_not_saved_never_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen on a full tmpfs: LoadGen's detail log written only in part (no verdict line), which
    was reported as "LoadGen: INVALID — see log"."""
    from qtui.core import loadgen, runner

    real = loadgen.run_loadgen

    def cut_short(sut: Any, qsl: Any, settings: Any, log_dir: Path) -> None:
        real(sut, qsl, settings, log_dir)
        log = log_dir / "mlperf_log_detail.txt"
        lines = log.read_text().splitlines(keepends=True)
        log.write_text("".join(line for line in lines if "result_validity" not in line)[: len(lines) // 2 * 80])

    monkeypatch.setattr(loadgen, "run_loadgen", cut_short)
    result = runner.run(small_profile())
    assert result.status == "failed"
    assert "INVALID" not in result.message and "LoadGen's log not saved" in result.message
    assert result.latency_ms["p90"] > 0
