"""The CLI's flows end to end, as a user runs them: `qtui study` cancelled by SIGINT or SIGTERM,
`--quiet`, `study --repeats/--device/--cooldown`, `qtui run` over a `[sweep]`, `prepare` then a
run that prepares nothing, `bundle export`/`list`/`import`, and two qtui processes sharing one
cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core.results import load_results
from tests.conftest import child_output, mid_measurement, primed_cache

ROOT = Path(__file__).resolve().parents[2]

TINY = """schema_version = 1
name = "tiny"
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
{extra}"""

#: `python -c` program: qtui's CLI with a progress line every 0.2 s on a non-terminal (10 s by
#: default), so that a test sees the measurement under way before it sends a signal.
FAST_PROGRESS = """
import sys
from qtui import cli
cli._ProgressPrinter.period_s = 0.2
cli.main(sys.argv[1:], prog_name="qtui")
"""


def _profile(tmp_path: Path, queries: int = 64, extra: str = "", name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(TINY.format(queries=queries, extra=extra))
    return path


def _invoke(*args: str) -> Any:
    result = CliRunner().invoke(cli.main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


# -- qtui study under SIGINT / SIGTERM -------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_study_cancelled_by_a_signal_saves_the_run_and_exits_130(tmp_path: Path, sig: signal.Signals) -> None:
    """A study whose one run lasts minutes (20 000 queries): the signal lands while queries complete; the run
    is drained and saved as cancelled, the study says how to resume, exit 130."""
    results = tmp_path / "results"
    profile = _profile(tmp_path, queries=20_000, extra='\n[study]\nquality = false\n')
    proc = subprocess.Popen(
        [sys.executable, "-c", FAST_PROGRESS, "study", str(profile), "--results-dir", str(results)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    out = child_output(proc)
    seen = out.wait_for(lambda line: line.startswith("[1/1] measuring"), 600)
    seen += out.wait_for(mid_measurement, 300)
    proc.send_signal(sig)
    stdout, stderr = out.communicate(timeout=120)
    assert proc.returncode == 130, seen + stderr
    if sig == signal.SIGINT:
        assert "qtui: cancelling the study (Ctrl-C again to exit at once)" in stderr
    else:
        assert "qtui: SIGTERM received: cancelling the study (SIGTERM again to exit at once)" in stderr
    assert "qtui: study interrupted: run the same command again to measure what is missing" in stderr
    assert "Traceback" not in stderr
    saved = load_results(results)
    assert [r.status for r in saved] == ["cancelled"], [r.message for r in saved]
    assert saved[0].throughput["queries"] > 0  # it was cancelled mid-measurement, as intended


# -- --quiet -----------------------------------------------------------------------------------------
def test_quiet_prints_no_progress_but_the_result(tmp_path: Path, quiet_machine: None) -> None:
    profile = str(_profile(tmp_path))
    loud = _invoke("run", profile, "--results-dir", str(tmp_path / "a"))
    quiet = _invoke("run", profile, "--results-dir", str(tmp_path / "b"), "--quiet")
    assert loud.exit_code == 0 and quiet.exit_code == 0, loud.output + quiet.output
    assert "LoadGen SingleStream performance started" in loud.stderr
    assert "LoadGen" not in quiet.stderr and "warm" not in quiet.stderr.lower()
    assert "saved: " in quiet.stderr  # what was saved is still said
    # the same result table either way
    # (the columns, not their widths: a throughput of 99.5 vs 100.2 widens the /s column by one)
    assert [line.split() for line in quiet.stdout.splitlines()[:2]] == [line.split() for line in loud.stdout.splitlines()[:2]]
    assert " status " in quiet.stdout

    study_quiet = _invoke("study", profile, "--results-dir", str(tmp_path / "c"), "--quiet", "--set", "study.quality=false")
    assert study_quiet.exit_code == 0, study_quiet.output
    assert "[1/1]" not in study_quiet.stderr and "LoadGen" not in study_quiet.stderr
    assert "study: 1 run measured, 0 already measured here, 0 failed" in study_quiet.stderr
    assert "| ONNX Runtime" in study_quiet.stdout


# -- study --repeats / --device / --cooldown -----------------------------------------------------------
def test_study_repeats_device_and_cooldown_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quiet_machine: None) -> None:
    """--repeats 2 measures the cell twice, --device labels both results, --cooldown 55 waits for
    the CPU before each run (a sensor reading 70 °C, then 40 °C) and --cooldown 0 never waits."""
    from qtui.core import thermal

    waits: list[float] = []
    real = thermal.wait_for_cooldown

    def sensor_70_then_40(below_c: float, max_wait_s: float, on_wait: Any = None, should_stop: Any = lambda: False) -> Any:
        waits.append(below_c)
        readings = iter([70.0, 40.0])
        return real(below_c, max_wait_s, on_wait, should_stop, read_temperature=lambda: next(readings, 40.0),
                    sleep=lambda s: None)

    monkeypatch.setattr(thermal, "wait_for_cooldown", sensor_70_then_40)
    results = tmp_path / "results"
    profile = str(_profile(tmp_path))
    args = ["study", profile, "--results-dir", str(results), "--set", "study.quality=false"]
    out = _invoke(*args, "--repeats", "2", "--device", "lab-pi", "--cooldown", "55")
    assert out.exit_code == 0, out.output
    assert "study tiny: 1 combination × 2 repeats = 2 runs" in out.stderr
    assert out.stderr.count("cooling down: 70 °C (waiting for < 55 °C)") == 2
    assert waits == [55.0, 55.0]
    saved = load_results(results)
    assert [(r.status, r.environment.get("device")) for r in saved] == [("ok", "lab-pi"), ("ok", "lab-pi")]

    # another label is another machine: measured again; --cooldown 0 never waits
    waits.clear()
    other = _invoke(*args, "--repeats", "1", "--device", "lab-pc", "--cooldown", "0")
    assert other.exit_code == 0, other.output
    assert "study: 1 run measured, 0 already measured here" in other.stderr
    assert waits == [] and "cooling down" not in other.stderr
    assert sorted(r.environment.get("device") for r in load_results(results)) == ["lab-pc", "lab-pi", "lab-pi"]
    # the same label again with 2 repeats: both already measured, nothing runs
    again = _invoke(*args, "--repeats", "2", "--device", "lab-pi", "--cooldown", "0")
    assert "study: 0 runs measured, 2 already measured here" in again.stderr


# -- qtui run over a [sweep] -------------------------------------------------------------------------
def test_run_measures_every_sweep_combination(tmp_path: Path) -> None:
    profile = str(_profile(tmp_path, extra='\n[sweep]\nscenarios = ["SingleStream", "Offline"]\n'))
    out = _invoke("run", profile, "--results-dir", str(tmp_path / "r"), "--json", "--quiet")
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert isinstance(payload, list) and len(payload) == 2
    assert [(r["profile"]["scenario"], r["status"]) for r in payload] == [("SingleStream", "ok"), ("Offline", "ok")]
    assert [r["profile"]["name"] for r in payload] == [
        "tiny/mobilenet_v2-onnxruntime-fp32-SingleStream", "tiny/mobilenet_v2-onnxruntime-fp32-Offline"]
    assert sorted(r.run_id for r in load_results(tmp_path / "r")) == sorted(r["run_id"] for r in payload)
    table = _invoke("run", profile, "--results-dir", str(tmp_path / "t"), "--quiet")
    assert table.exit_code == 0, table.output
    assert len(table.stdout.strip().splitlines()) >= 3  # a header and a row per combination
    assert table.stderr.count("saved: ") == 2


# -- prepare, then a run that prepares nothing; bundles from the CLI ----------------------------------
def test_prepare_then_run_prepares_nothing_and_bundles_move_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_a, cache_b = tmp_path / "cache-a", tmp_path / "cache-b"
    monkeypatch.setenv("QTUI_CACHE_DIR", str(primed_cache(cache_a)))
    profile = str(_profile(tmp_path))
    prepared = _invoke("prepare", profile)
    assert prepared.exit_code == 0, prepared.output
    assert prepared.stdout.startswith("prepared: mobilenet_v2 onnxruntime fp32 → ")
    again = _invoke("prepare", profile)
    assert again.stdout.startswith("cached: mobilenet_v2 onnxruntime fp32 → ")
    assert again.stdout.split(" → ")[1].split(" (")[0] == prepared.stdout.split(" → ")[1].split(" (")[0]

    run = _invoke("run", profile, "--results-dir", str(tmp_path / "r"), "--json")
    assert run.exit_code == 0, run.output
    result = json.loads(run.stdout)
    assert result["artifact"]["cache_hit"] is True
    assert "exporting" not in run.stderr.lower() and "reused cached artifact" in run.stderr

    listed = _invoke("bundle", "list")
    (line,) = listed.stdout.splitlines()
    assert "mobilenet_v2 onnxruntime fp32, weights " in line and line.endswith(" MB")
    bundle = tmp_path / "ort.tar.gz"
    exported = _invoke("bundle", "export", str(bundle), "--framework", "onnxruntime")
    assert exported.exit_code == 0, exported.output
    assert "wrote 1 artifact to " in exported.stdout and bundle.is_file()
    empty = _invoke("bundle", "export", str(tmp_path / "none.tar.gz"), "--framework", "openvino")
    assert empty.exit_code == 2, empty.output  # nothing cached to export: refused, no file
    assert not (tmp_path / "none.tar.gz").exists()

    # another machine: import the bundle, list it, and run without preparing anything
    monkeypatch.setenv("QTUI_CACHE_DIR", str(cache_b))
    assert _invoke("bundle", "list").stdout == ""
    imported = _invoke("bundle", "import", str(bundle))
    assert imported.exit_code == 0 and "1 imported, 0 already present" in imported.stdout, imported.output
    (line_b,) = _invoke("bundle", "list").stdout.splitlines()
    assert line_b.split()[0] == line.split()[0] and "[imported from " in line_b
    run_b = _invoke("run", profile, "--results-dir", str(tmp_path / "rb"), "--json", "--quiet")
    assert run_b.exit_code == 0 and json.loads(run_b.stdout)["artifact"]["cache_hit"] is True, run_b.output


# -- two qtui processes, one cache ---------------------------------------------------------------------
def test_two_processes_sharing_one_cache(tmp_path: Path) -> None:
    """Two `qtui run` at once on a cache without the artifact, same artifact: both succeed, the cache holds that
    artifact once, nothing unfinished is left."""
    cache = primed_cache(tmp_path / "cache")  # no artifact yet; the weights are not under test
    profile = str(_profile(tmp_path))
    env = {**os.environ, "QTUI_CACHE_DIR": str(cache)}
    procs = [
        subprocess.Popen([sys.executable, "-m", "qtui", "run", profile, "--json", "--quiet",
                          "--results-dir", str(tmp_path / f"r{i}")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        for i in range(2)
    ]
    outs = [child_output(p).communicate(timeout=600) for p in procs]
    for p, (_, stderr) in zip(procs, outs, strict=True):
        assert p.returncode == 0, stderr
    results = [json.loads(stdout) for stdout, _ in outs]
    assert [r["status"] for r in results] == ["ok", "ok"]
    assert results[0]["artifact"]["key"] == results[1]["artifact"]["key"]
    entries = sorted(p.name for p in (cache / "artifacts").iterdir())
    assert [e for e in entries if e.startswith(".")] == []  # no staging folder left
    assert len([e for e in entries if results[0]["artifact"]["key"] in e]) == 1, entries
    listed = subprocess.run([sys.executable, "-m", "qtui", "bundle", "list"], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=120)
    assert len(listed.stdout.splitlines()) == 1, listed.stdout
