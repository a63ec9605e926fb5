"""Libraries write nothing into $HOME: ONNX Runtime's telemetry (a device id and an event
database in ~/.cache/Microsoft) is off, OpenVINO's (a client id and stats in ~/intel, from
`import openvino` and NNCF) answers as declined, matplotlib's config and font cache live in
qtui's cache folder. Checked with an empty HOME made read-only (as root, which ignores the mode,
the check is that nothing appears in it) and every QTUI_* folder elsewhere: a run and the HTML
report leave HOME empty and print no warning.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def home_env(tmp_path: Path, session_cache: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o555)
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    env.update(
        HOME=str(home), QTUI_CACHE_DIR=str(session_cache), QTUI_RESULTS_DIR=str(tmp_path / "results"),
        QTUI_CONFIG_DIR=str(tmp_path / "config"), PYTHONPATH=str(ROOT),
    )
    return env


def _created(env: dict[str, str]) -> list[str]:
    home = Path(env["HOME"])
    return sorted(str(p.relative_to(home)) for p in home.rglob("*"))


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.mark.parametrize(
    "code",
    [
        "import qtui, onnxruntime",
        "import qtui.core.backends.openvino_backend",
        "import qtui.core.prepare.openvino, nncf, openvino.tools.ovc",
        "import qtui, matplotlib, matplotlib.font_manager",
    ],
    ids=["onnxruntime", "openvino", "nncf", "matplotlib"],
)
def test_importing_a_library_writes_nothing_into_home(home_env: dict[str, str], code: str) -> None:
    proc = _python(code, home_env)
    assert proc.returncode == 0, proc.stderr
    assert _created(home_env) == []
    assert proc.stderr == ""


def test_matplotlib_uses_qtuis_cache(home_env: dict[str, str]) -> None:
    proc = _python("import qtui, matplotlib; print(matplotlib.get_configdir()); print(matplotlib.get_cachedir())", home_env)
    assert proc.returncode == 0, proc.stderr
    for line in proc.stdout.split():
        assert Path(line) == Path(home_env["QTUI_CACHE_DIR"]) / "matplotlib"


def test_a_run_and_the_html_report_leave_home_empty(home_env: dict[str, str], tmp_path: Path) -> None:
    """`qtui run` (ONNX Runtime, the quick profile made small) and `qtui report --format html`."""
    run = subprocess.run(
        [sys.executable, "-m", "qtui", "run", "quick", "--quiet", "--set", "threads=2", "--set", "batch_size=4",
         "--set", "warmup_queries=2", "--set", "dataset.count=32", "--set", "dataset.performance_sample_count=32",
         "--set", "dataset.calibration_count=16", "--set", "loadgen.min_duration_ms=0"],
        env=home_env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    report = subprocess.run(
        [sys.executable, "-m", "qtui", "report", "--format", "html", "-o", str(tmp_path / "r.html")],
        env=home_env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert report.returncode == 0, report.stderr
    assert _created(home_env) == []
    for line in (run.stderr + report.stderr).splitlines():
        assert "warn" not in line.lower() and str(Path(home_env["HOME"])) not in line, line
