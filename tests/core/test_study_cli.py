"""`qtui study` headless: prepares, measures, prints the study table and the time spent; killed
in the middle and started again, it measures only what is missing and ends with the same table
as an uninterrupted study."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui import cli
from tests.conftest import child_output, mid_measurement

#: `python -c` program: qtui's CLI with a progress line every 0.2 s on a non-terminal (10 s by
#: default), so that a test sees the measurement under way before it sends a signal.
FAST_PROGRESS = """
import sys
import qtui.core.machine_load as m
from qtui import cli
m.OTHER_CPU_WARN_FRACTION = 1e9  # no load warning: a disturbed run would be measured again
cli._ProgressPrinter.period_s = 0.2
cli.main(sys.argv[1:], prog_name="qtui")
"""

PROFILE = """schema_version = 1
name = "mini-study"
model = "mobilenet_v2"
framework = "onnxruntime"
precision = "fp32"
scenario = "SingleStream"
threads = 2
batch_size = 4
warmup_queries = 2

[dataset]
count = 32
performance_sample_count = 32
calibration_count = 16

[loadgen]
preset = "quick"
min_duration_ms = 0
min_query_count = {queries}

[sweep]
precisions = ["fp32", "int8_static"]
scenarios = ["SingleStream", "Offline"]

[study]
repeats = 1
"""


#: `qtui` with no load warning: these tests check resuming, not the machine's load (a study
#: measures a disturbed run again: tests/core/test_disturbed.py), and a busy test machine would
#: change the counts they check.
QUIET_QTUI = (
    "import sys; import qtui.core.machine_load as m; m.OTHER_CPU_WARN_FRACTION = 1e9; "
    "from qtui.cli import main; sys.argv[0] = 'qtui'; main()"
)


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    from qtui.core import machine_load

    monkeypatch.setattr(machine_load, "OTHER_CPU_WARN_FRACTION", 1e9)


def _profile(tmp_path: Path, queries: int = 64) -> Path:
    path = tmp_path / "mini-study.toml"
    path.write_text(PROFILE.format(queries=queries))
    return path


def _cells(table: str) -> list[str]:
    """The table's data lines without the time-dependent figures: framework and which cells
    have a value."""
    return [re.sub(r"[\d.]+", "N", line) for line in table.splitlines() if line.startswith("| ONNX Runtime")]


def test_study_runs_then_finds_everything_measured(tmp_path: Path) -> None:
    results = tmp_path / "results"
    args = ["study", str(_profile(tmp_path)), "--results-dir", str(results)]
    first = CliRunner().invoke(cli.main, args)
    assert first.exit_code == 0, first.output
    assert "study mini-study: 4 combinations × 1 repeat = 4 runs" in first.stderr
    assert "[1/4] preparing mobilenet_v2 onnxruntime fp32" in first.stderr
    assert "[1/2] checking quality mobilenet_v2 onnxruntime fp32" in first.stderr
    assert re.search(
        r"study: 4 runs measured, 0 already measured here, 0 failed; quality of 2 artifacts: 2 checked, "
        r"0 already checked here, 0 failed; preparing \S+, checking quality \S+, measuring \S+",
        first.stderr,
    )
    assert len(_cells(first.stdout)) == 2  # SingleStream and Offline tables, one ORT row each
    assert "SQNR" in first.stdout  # the INT8 cells show the fidelity their quality run measured
    again = CliRunner().invoke(cli.main, args)
    assert again.exit_code == 0 and "study: 0 runs measured, 4 already measured here, 0 failed" in again.stderr
    assert "quality of 2 artifacts: 0 checked, 2 already checked here" in again.stderr
    assert "checking quality" not in again.stderr.split("study: 0 runs")[1]  # no time spent on it
    assert _cells(again.stdout) == _cells(first.stdout)
    narrowed = CliRunner().invoke(cli.main, [*args, "--precision", "fp32", "--scenario", "Offline", "--force"])
    assert "study: 1 run measured, 0 already measured here" in narrowed.stderr


def test_unknown_filter_and_nothing_to_run_are_refused(tmp_path: Path) -> None:
    bad = CliRunner().invoke(cli.main, ["study", str(_profile(tmp_path)), "--framework", "tvm"])
    assert bad.exit_code == 2 and "'tvm' is not one of" in bad.output
    none = CliRunner().invoke(cli.main, ["study", str(_profile(tmp_path)), "--model", "vgg19"])
    assert none.exit_code == 2 and "no combination of the profile matches the filters" in none.output


def test_killed_study_resumes_where_it_stopped(tmp_path: Path) -> None:
    results = tmp_path / "results"
    profile = _profile(tmp_path, queries=400)
    cmd = [sys.executable, "-c", QUIET_QTUI, "study", str(profile), "--results-dir", str(results)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", FAST_PROGRESS, *cmd[3:]], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    # interrupt during the second measurement, once queries have completed and more are to come
    out_ = child_output(proc)
    seen = out_.wait_for(lambda line: line.startswith("[2/4] measuring"), 600)
    seen += out_.wait_for(mid_measurement, 240)
    proc.send_signal(signal.SIGHUP)  # the SSH connection dropped
    out, err = out_.communicate(timeout=300)
    assert proc.returncode == 130, seen + err
    assert "study interrupted: run the same command again" in err
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert resumed.returncode == 0, resumed.stderr
    # the run that was interrupted is the only one repeated: 1 was done, 3 are measured now
    assert "study: 3 runs measured, 1 already measured here, 0 failed" in resumed.stderr
    statuses = sorted(
        __import__("json").loads(p.read_text())["status"] for p in results.glob("*/result.json")
    )
    assert statuses == ["cancelled", "ok", "ok", "ok", "ok", "ok", "ok"]  # 4 cells + 2 quality runs
    # the same table as an uninterrupted study of the same profile
    fresh = CliRunner().invoke(cli.main, ["study", str(profile), "--results-dir", str(tmp_path / "fresh")])
    assert _cells(resumed.stdout) == _cells(fresh.stdout)
