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
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import small_profile

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
    from qtui.core import loadgen, paths, runner

    real_mkstemp = paths.tempfile.mkstemp
    started: list[bool] = []
    real_start = loadgen.run_loadgen

    def mkstemp(*args: Any, dir: Any = None, **kwargs: Any) -> Any:  # noqa: A002 - tempfile's name
        if dir is not None and Path(dir).parent == Path(os.environ["QTUI_RESULTS_DIR"]):  # a run's folder
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_mkstemp(*args, dir=dir, **kwargs)

    def start(*args: Any) -> None:
        started.append(True)
        real_start(*args)

    monkeypatch.setattr(paths.tempfile, "mkstemp", mkstemp)
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
    assert "study: 1 runs measured, 0 already measured here, 3 failed (3 not saved)" in out.stderr, out.stderr
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
