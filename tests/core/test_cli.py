"""The `qtui` command line, run as a user would (subprocesses)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import child_output, mid_measurement

ROOT = Path(__file__).resolve().parents[2]
QUICK = str(ROOT / "profiles" / "quick.toml")
SMALL = ["--set", "dataset.count=32", "--set", "dataset.performance_sample_count=32", "--set", "warmup_queries=2"]


def _qtui(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qtui", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=os.environ.copy())


def test_help_lists_commands() -> None:
    out = _qtui("--help")
    assert out.returncode == 0
    for cmd in ("run", "report", "doctor", "prepare"):
        assert cmd in out.stdout


def test_run_json_then_report(tmp_path: Path) -> None:
    results = tmp_path / "res"
    # a bare name runs the profile shipped inside the package (what a pip-installed qtui has)
    out = _qtui("run", "quick", *SMALL, "--results-dir", str(results), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "ok" and data["schema_version"] == 1
    assert data["profile"]["name"] == "quick"
    assert data["loadgen"]["validity"] == "VALID"
    assert (results / data["run_id"] / "result.json").exists()
    assert (results / data["run_id"] / "mlperf_log_summary.txt").exists()
    # progress went to stderr, not into the JSON; not a TTY → plain lines
    assert "LoadGen SingleStream performance started" in out.stderr
    md = _qtui("report", "--results-dir", str(results), "--format", "markdown")
    assert md.returncode == 0 and "| mobilenet_v2 | onnxruntime | fp32 | SingleStream |" in md.stdout
    csv_path = tmp_path / "r.csv"
    c = _qtui("report", "--results-dir", str(results), "--format", "csv", "-o", str(csv_path))
    assert c.returncode == 0 and csv_path.read_text().startswith("run_id,model")
    table = _qtui("report", "--results-dir", str(results))
    assert table.returncode == 0 and "ORT" in table.stdout and "FP32" in table.stdout and "ok" in table.stdout


def test_failed_run_exits_1(tmp_path: Path) -> None:
    # a weights file that is there but is no state dict: the run starts and fails (a path that is
    # not there is refused before any work: tests/core/test_bad_paths.py)
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"not a state dict")
    out = _qtui("run", QUICK, *SMALL, "--set", f"weights.source={weights}", "--results-dir", str(tmp_path / "results"))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert str(weights) in out.stderr


def test_ctrl_c_cancels_and_exits_130(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "qtui", "run", QUICK, *SMALL, "--set", "loadgen.preset=mlperf", "--results-dir", str(tmp_path), "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out = child_output(proc)
    seen = out.wait_for("started", 600)
    seen += out.wait_for(mid_measurement, 240)  # queries completed, more to come
    proc.send_signal(signal.SIGINT)
    stdout, stderr = out.communicate(timeout=60)
    assert proc.returncode == 130, seen + stderr
    data = json.loads(stdout)
    assert data["status"] == "cancelled"
    assert "Traceback" not in stderr


def test_doctor_reports_isa_and_combinations() -> None:
    out = _qtui("doctor")
    assert out.returncode == 0
    assert "ISA:" in out.stdout and "what can run here" in out.stdout
    assert "ONNX Runtime" in out.stdout
    assert "models: MobileNetV2 (mobilenet_v2), VGG-19 (vgg19), DenseNet-121 (densenet121), ResNet-50 (resnet50)" in out.stdout
    data = json.loads(_qtui("doctor", "--json").stdout)
    assert [m["id"] for m in data["models"]] == ["mobilenet_v2", "vgg19", "densenet121", "resnet50"]
    assert data["models"][3]["checkpoint_url"] == "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    combos = {(c["framework"], c["precision"]): c for c in data["combinations"]}
    assert combos[("onnxruntime", "fp32")]["available"] is True
    assert len(combos) == 16
    assert all(c["reason"] for c in combos.values() if not c["available"])


def test_profiles_ship_inside_the_package() -> None:
    """The wheel carries the ready-made profiles (package-data), `profiles/` is a link to them."""
    import tomllib

    from qtui.cli import resolve_profile_path

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["qtui"]
    assert "profiles/*.toml" in data
    shipped = sorted(p.name for p in (ROOT / "qtui" / "profiles").glob("*.toml"))
    assert {"quick.toml", "paper-matrix.toml", "raspberry-pi.toml"} <= set(shipped)
    assert sorted(p.name for p in (ROOT / "profiles").glob("*.toml")) == shipped
    assert Path(resolve_profile_path("quick")) == ROOT / "qtui" / "profiles" / "quick.toml"
    assert resolve_profile_path(QUICK) == QUICK


def _start_mlperf_run(results: Path) -> tuple[subprocess.Popen[str], str]:
    """`qtui run` on the 600 s MLPerf preset (only a cancel ends it), once LoadGen has started."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "qtui", "run", QUICK, *SMALL, "--set", "loadgen.preset=mlperf", "--results-dir", str(results), "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    return proc, child_output(proc).wait_for("started", 600)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_cancel_like_ctrl_c(tmp_path: Path, sig: signal.Signals) -> None:
    """`kill` or a dropped SSH connection during LoadGen: the run is drained and saved as
    cancelled, exit 130. Before: the process died at once (exit -15/-1) and left no result."""
    proc, seen = _start_mlperf_run(tmp_path)
    # the signal lands once queries have completed (right after "started" it raced the first one)
    seen += child_output(proc).wait_for(mid_measurement, 240)
    proc.send_signal(sig)
    stdout, stderr = child_output(proc).communicate(timeout=60)
    assert proc.returncode == 130, seen + stderr
    assert f"{sig.name} received: cancelling" in stderr
    data = json.loads(stdout)
    assert data["status"] == "cancelled" and data["throughput"]["samples"] > 0
    saved = json.loads((tmp_path / data["run_id"] / "result.json").read_text())
    assert saved["status"] == "cancelled"
    assert "Traceback" not in stderr


def test_progress_to_a_closed_stderr_does_not_fail_the_run(tmp_path: Path) -> None:
    """Nobody reads stderr any more (`qtui run … 2>&1 | head`, a terminal gone): progress
    falls silent, the run goes on. Before: the BrokenPipeError of the progress line failed
    the run (saved as 'failed', exit 1)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "qtui", "run", QUICK, *SMALL, "--results-dir", str(tmp_path), "--json"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=write_end, text=True, timeout=300,
        )
    finally:
        os.close(write_end)
    assert out.returncode == 0
    data = json.loads(out.stdout)
    assert data["status"] == "ok", data["message"]
    assert json.loads((tmp_path / data["run_id"] / "result.json").read_text())["status"] == "ok"


def test_progress_printer_falls_silent_when_its_stream_fails() -> None:
    from qtui.cli import _ProgressPrinter
    from qtui.core import events as ev

    class HungUp:
        writes = 0

        def isatty(self) -> bool:
            return False

        def write(self, text: str) -> int:
            HungUp.writes += 1
            raise OSError(errno.EIO, os.strerror(errno.EIO))

        def flush(self) -> None:
            pass

    printer = _ProgressPrinter(HungUp())
    printer(ev.Log("first", "info"))  # must not raise into the runner
    printer(ev.Log("second", "info"))
    assert printer.quiet and HungUp.writes == 1


def test_run_prints_the_compute_line_of_its_saved_result(tmp_path: Path) -> None:
    """`qtui run` (not --json) says what the run achieved against the CPU's nominal peak: the
    line the TUI's run details show, from the result it saved."""
    from qtui.core.ops import efficiency_text
    from qtui.core.results import load_results

    out = _qtui("run", "quick", *SMALL, "--results-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    (result,) = load_results(tmp_path)
    text = efficiency_text(result.efficiency)
    assert "GOP/s achieved" in text
    assert f"{result.run_id}: compute {text}" in out.stderr.splitlines()
