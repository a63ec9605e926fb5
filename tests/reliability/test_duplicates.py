"""Duplicates and resume (issue 20, items 9-10): two studies on one results folder, and a device
label that must be stored exactly as it is compared when a study resumes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui import cli
from tests.conftest import QUIET_QTUI

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "dataset.count=32", "--set", "dataset.performance_sample_count=32", "--set", "warmup_queries=2"]
ONE_CELL = ["--set", "framework=onnxruntime", "--set", "precision=fp32", "--set", "study.quality=false"]


# -- 10. one validation for --device and the profile's device key ---------------------------------


@pytest.mark.parametrize("label", ["lab\x1b[31m-pi", "pi\x07", "a\u202eb", "two\nlines", " ", "x" * 65])
def test_device_option_is_refused_exactly_like_the_profile_key(tmp_path: Path, label: str) -> None:
    """Before: `--device` with a control character ran, was stored raw, came back cleaned from the
    result file and never matched again, so every resume measured everything again. Now the
    option and the profile's key go through one check, with one message."""
    from qtui.core.profile import ProfileError, RunProfile, check_device, validate

    out = CliRunner().invoke(cli.main, ["study", "quick", *SMALL, *ONE_CELL, "--device", label, "--results-dir", str(tmp_path)])
    assert out.exit_code == 2, out.output
    assert "--device: a label of at most 64 printable characters on one line" in out.stderr
    assert "Traceback" not in out.stderr and "\x1b" not in out.stderr and "\x07" not in out.stderr
    with pytest.raises(ProfileError) as exc:
        validate(RunProfile(device=label))
    assert "key 'device': a label of at most 64 printable characters on one line" in str(exc.value)
    assert check_device(label, "--device") == "--device: a label of at most 64 printable characters on one line"


def test_a_device_label_the_check_accepts_resumes(tmp_path: Path, session_cache: Path) -> None:
    """What is stored is what is compared: a label with non-ASCII text resumes."""
    env = os.environ.copy()
    env.update(QTUI_CACHE_DIR=str(session_cache), QTUI_RESULTS_DIR=str(tmp_path / "results"))
    # no load warning: this checks resuming, and a disturbed run is measured again
    args = [sys.executable, "-c", QUIET_QTUI, "study", "quick", *SMALL, *ONE_CELL, "--device", "Pi 4 · café", "--cooldown", "0"]
    first = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "study: 0 runs measured, 1 already measured here, 0 failed" in again.stderr, again.stderr


# -- 9. two studies on one results folder -------------------------------------------------------------


def _wait_for(proc: subprocess.Popen[str], needle: str, timeout: float = 300) -> str:
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"never saw {needle!r}:\n{seen}")


def test_a_second_study_on_the_same_results_folder_is_refused_and_a_killed_one_does_not_block(tmp_path: Path, session_cache: Path) -> None:
    """Before: both studies measured every cell, each disturbed by the other. Now the second is
    refused before any work (exit 2), naming the first one's pid; the lock is an flock, so a
    study killed with SIGKILL leaves nothing that blocks the next."""
    env = os.environ.copy()
    env.update(QTUI_CACHE_DIR=str(session_cache), QTUI_RESULTS_DIR=str(tmp_path / "results"))
    env.pop("SSH_CONNECTION", None)
    study = [sys.executable, "-m", "qtui", "study", "quick", *SMALL, *ONE_CELL, "--cooldown", "0"]
    first = subprocess.Popen(
        [*study, "--set", "loadgen.min_duration_ms=600000"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for(first, "LoadGen SingleStream performance started")
        second = subprocess.run(study, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
        assert second.returncode == 2, second.stderr
        assert f"another study is running on the results folder {tmp_path / 'results'}: pid {first.pid}" in second.stderr
        assert "preparing" not in second.stderr and "Traceback" not in second.stderr
    finally:
        first.kill()  # SIGKILL: no clean-up at all
        first.wait(timeout=60)
    third = subprocess.run(study, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert third.returncode == 0, third.stderr
    assert "study: 1 run measured" in third.stderr
