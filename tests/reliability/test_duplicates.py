"""Duplicates and resume (issue 20, items 9-10): two studies on one results folder, and a device
label that must be stored exactly as it is compared when a study resumes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui import cli

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
    args = [sys.executable, "-m", "qtui", "study", "quick", *SMALL, *ONE_CELL, "--device", "Pi 4 · café", "--cooldown", "0"]
    first = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "study: 0 runs measured, 1 already measured here, 0 failed" in again.stderr, again.stderr
