"""Faults a user meets: SIGINT/SIGTERM/SIGHUP during a preparation or a run (headless and in the
TUI) cancel and save, never abort; a result that cannot be written is still printed; unusable
cache/results folders are refused before any work; staging folders of dead processes go away.

Processes are real (`python -m qtui` in a subprocess, the TUI on a pseudo-terminal). The tests
run as root, where chmod does not stop a write: a read-only or full disk is simulated by making
the write raise (EROFS, ENOSPC), a file where a folder should be is real.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui.core import paths
from tests.conftest import child_output, primed_cache

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "dataset.count=32", "--set", "dataset.performance_sample_count=32", "--set", "warmup_queries=2"]
INT8_STATIC = ["--set", "precision=int8_static", "--set", "dataset.calibration_count=16"]


def _env(cache: Path, results: Path) -> dict[str, str]:
    env = os.environ.copy()
    env.update(QTUI_CACHE_DIR=str(cache), QTUI_RESULTS_DIR=str(results))
    env.pop("SSH_CONNECTION", None)
    return env


def _qtui(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qtui", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def _wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 600) -> str:
    """stderr lines until one contains `needle` (all of them, for the failure message), with a
    real deadline (`tests.conftest.ChildOutput`); `_communicate` collects the rest."""
    return child_output(proc).wait_for(needle, timeout)


def _communicate(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    return child_output(proc).communicate(timeout)


def _saved_statuses(results: Path) -> list[str]:
    return [json.loads(p.read_text())["status"] for p in sorted(results.glob("*/result.json"))]


def _staging_left(cache: Path) -> list[str]:
    root = cache / "artifacts"
    return [p.name for p in root.iterdir() if p.name.startswith(".")] if root.exists() else []


# -- signals, headless ----------------------------------------------------------------------------


#: `python -c` program: qtui's CLI with an ONNX export that, after the real export, stays inside
#: torch's C++ (forward passes) for minutes and says so on fd 2. A signal sent after that line
#: lands inside a long uninterruptible preparation step on any machine (a plain export takes
#: 1-6 s, and a signal right after its progress line can also meet the checkpoint before it).
SLOW_EXPORT = """
import os, sys, torch
from qtui.core.prepare import onnxruntime as ort_prepare
real_export = ort_prepare.export_fp32
def slow_export(loaded, path):
    real_export(loaded, path)
    os.write(2, b"inside a long C++ step\\n")
    with torch.inference_mode():
        for _ in range(10_000):
            loaded.module(torch.zeros(8, 3, 224, 224))
ort_prepare.export_fp32 = slow_export
from qtui.cli import main
main(sys.argv[1:], prog_name="qtui")
"""


def _slow_export_run(cache: Path, results: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SLOW_EXPORT, "run", "quick", *SMALL, *INT8_STATIC, *args],
        cwd=ROOT, env=_env(cache, results), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_during_an_uninterruptible_preparation_step_saves_cancelled_and_exits_130(tmp_path: Path, sig: signal.Signals) -> None:
    """The signal lands while the preparation is inside one long C++ call, so the preparation is
    left to finish in the background. Before: SIGINT saved "cancelled", then the interpreter
    finalized with that thread inside C++ (`terminate called without an active exception`,
    exit 134); SIGTERM/SIGHUP killed the process at once with nothing saved."""
    cache, results = primed_cache(tmp_path / "cache"), tmp_path / "results"
    proc = _slow_export_run(cache, results, "--json")
    seen = _wait_for_line(proc, "inside a long C++ step")
    proc.send_signal(sig)
    stdout, stderr = _communicate(proc, 120)
    stderr = seen + stderr
    assert "ends in the background" in stderr, stderr  # the path under test was taken
    assert "terminate called" not in stderr and "Traceback" not in stderr, stderr
    assert proc.returncode == 130, stderr
    assert json.loads(stdout)["status"] == "cancelled"  # the JSON reached stdout
    assert _saved_statuses(results) == ["cancelled"]
    assert _staging_left(cache) == []  # the abandoned step's staging folder went with it


def test_second_signal_ends_at_once(tmp_path: Path) -> None:
    """The first signal cancels; another one while the cancel is under way ends the process
    without waiting for it (exit 130). Both are sent back to back; the cancel takes at least
    the runner's grace period (the step cannot be interrupted), so the second always meets it."""
    cache, results = primed_cache(tmp_path / "cache"), tmp_path / "results"
    proc = _slow_export_run(cache, results)
    seen = _wait_for_line(proc, "inside a long C++ step")
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGINT)  # not a second SIGTERM: two pending alike merge into one
    _, stderr = _communicate(proc, 60)
    assert proc.returncode == 130, seen + stderr
    assert "interrupted twice, exiting now" in stderr
    assert "terminate called" not in stderr


def test_repeated_sighup_counts_once(tmp_path: Path) -> None:
    """A hang-up can deliver SIGHUP twice (the kernel, then the shell): that still cancels and
    saves instead of ending at once."""
    cache, results = primed_cache(tmp_path / "cache"), tmp_path / "results"
    proc = _slow_export_run(cache, results)
    seen = _wait_for_line(proc, "inside a long C++ step")
    proc.send_signal(signal.SIGHUP)
    seen += _wait_for_line(proc, "SIGHUP received: cancelling")
    proc.send_signal(signal.SIGHUP)
    _, stderr = _communicate(proc, 60)
    assert proc.returncode == 130, seen + stderr
    assert "interrupted twice" not in stderr
    assert _saved_statuses(results) == ["cancelled"]


# -- signals, TUI --------------------------------------------------------------------------------


def _long_profile(tmp_path: Path) -> Path:
    text = (ROOT / "qtui" / "profiles" / "quick.toml").read_text()
    text = text.replace('preset = "quick"', 'preset = "mlperf"')  # 600 s: only a cancel ends it
    text = text.replace("count = 256", "count = 32").replace("performance_sample_count = 256", "performance_sample_count = 32")
    path = tmp_path / "long.toml"
    path.write_text(text)
    return path


class _Terminal:
    """qtui's TUI on a pseudo-terminal: what it drew so far, keys, its exit status."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        import pty

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            os.chdir(ROOT)
            os.execve(sys.executable, argv, env)
        self.screen = b""
        self.status: int | None = None

    def read(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.fd < 0:
                time.sleep(0.1)
            elif select.select([self.fd], [], [], 0.1)[0]:
                try:
                    self.screen += os.read(self.fd, 65536)
                except OSError:
                    time.sleep(0.1)

    def wait_for(self, done: Any, what: str, timeout: float = 240) -> None:
        """Read until `done()` (or bytes `done` on the screen)."""
        check = (lambda: done in self.screen) if isinstance(done, bytes) else done
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, f"{what}; the screen showed:\n{self.visible()}"
            self.read(0.3)

    def start_run(self) -> None:
        self.wait_for(b"Save profile", "the setup screen never showed")  # ready for keys
        self.read(0.5)
        self.key(b"\x12")  # Ctrl+R: run

    def key(self, data: bytes) -> None:
        os.write(self.fd, data)

    def hang_up(self) -> None:
        """Close the terminal's master side, as sshd does when the connection drops."""
        os.close(self.fd)
        self.fd = -1

    def wait_exit(self, timeout: float = 120) -> int:
        def ended() -> bool:
            done, code = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.status = os.waitstatus_to_exitcode(code)
            return self.status is not None

        self.wait_for(ended, "the TUI did not end", timeout)
        assert self.status is not None
        return self.status

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)

    def visible(self) -> str:
        """The end of what the terminal showed, escape sequences dropped."""
        import re

        return re.sub(r"\x1b\[[0-9;?<>=$]*[A-Za-z]|\x1b[()][A-Z0-9]", "", self.screen.decode(errors="replace"))[-3000:]


#: The TUI with the cancel's drain held back until Textual's output queue is full: the screen
#: keeps painting into a terminal that hung up (Textual's writer thread died on the first failed
#: write, its queue holds 30 writes) while the run has not ended yet, and it ends later than the
#: exit grace after the signal, as when LoadGen drains slowly on a loaded machine. Paints come 4
#: times a second instead of once, to fill the queue sooner.
TERMINAL_FILLS_BEFORE_THE_RUN_ENDS = """
import os, sys, time
from textual.drivers import _writer_thread
from qtui import cli
from qtui.core import loadgen
from qtui.ui.screens.run import RunScreen
RunScreen.paint_interval_s = 0.25
writers = []
real_init = _writer_thread.WriterThread.__init__
def init(self, *args, **kwargs):
    real_init(self, *args, **kwargs)
    writers.append(self)
_writer_thread.WriterThread.__init__ = init
real_drain = loadgen.Sut.drain
def drain(self):
    end = time.monotonic() + 120
    while time.monotonic() < end and not (writers and writers[-1]._queue.full()):
        time.sleep(0.1)
    if writers and writers[-1]._queue.full():
        open(os.environ["QTUI_TEST_MARK"], "w").close()
    time.sleep(cli.TUI_EXIT_GRACE_S + 1)  # and the run ends later than the grace after the signal
    return real_drain(self)
loadgen.Sut.drain = drain
cli.main(sys.argv[1:], prog_name="qtui")
"""


@pytest.mark.parametrize("hangup", [False, True], ids=["SIGTERM", "SIGHUP-terminal-gone"])
def test_tui_cancels_and_saves_on_sigterm_and_on_hangup(tmp_path: Path, hangup: bool) -> None:
    """A run in progress in the TUI; SIGTERM, or the terminal going away (its master side closed,
    then SIGHUP, as when an SSH connection drops). Before: the process died at once and left no
    result. Now: the run is saved as cancelled and the process ends with 130, also when the
    terminal cannot be restored because it is gone. After a hang-up the run ends only once the
    screen has filled Textual's output queue (`TERMINAL_FILLS_BEFORE_THE_RUN_ENDS`): before,
    the app's loop then blocked for good on its next paint, the quit never finished and the
    process never ended (seen on a loaded machine, where the cancel's drain took longer)."""
    results = tmp_path / "results"
    mark = tmp_path / "output-queue-was-full"
    env = _env(primed_cache(tmp_path / "cache"), results) | {"TERM": "xterm-256color", "QTUI_TEST_MARK": str(mark)}
    start = ["-c", TERMINAL_FILLS_BEFORE_THE_RUN_ENDS] if hangup else ["-m", "qtui"]
    term = _Terminal([sys.executable, *start, "tui", str(_long_profile(tmp_path))], env)
    try:
        term.start_run()
        term.wait_for(lambda: bool(glob.glob(str(results / "*" / "mlperf_log_detail.txt"))), "LoadGen never started")
        term.read(1)
        if hangup:
            term.hang_up()
        os.kill(term.pid, signal.SIGHUP if hangup else signal.SIGTERM)
        status = term.wait_exit()
    finally:
        term.close()
    saved = [json.loads(p.read_text()) for p in results.glob("*/result.json")]
    assert status == 130, [(r["status"], r["message"]) for r in saved]
    assert [r["status"] for r in saved] == ["cancelled"], [r["message"] for r in saved]
    assert mark.exists() == hangup  # the hang-up case reached the window under test


def test_tui_quit_after_cancelling_a_preparation_does_not_abort(tmp_path: Path) -> None:
    """Esc while the preparation is inside a long C++ step, then Ctrl+Q. Before: the app ended
    normally, then the interpreter finalized with the left-behind step inside torch and the
    process aborted (SIGABRT, `terminate called without an active exception`), leaving its
    staging folder. Now: exit 0, nothing left in the cache."""
    cache, results = primed_cache(tmp_path / "cache"), tmp_path / "results"
    profile = tmp_path / "int8.toml"
    text = (ROOT / "qtui" / "profiles" / "quick.toml").read_text().replace('precision = "fp32"', 'precision = "int8_static"')
    text = text.replace("count = 256", "count = 32").replace("performance_sample_count = 256", "performance_sample_count = 32")
    profile.write_text(text.replace("calibration_count = 300", "calibration_count = 16"))
    env = _env(cache, results) | {"TERM": "xterm-256color"}
    term = _Terminal([sys.executable, "-c", SLOW_EXPORT, "tui", str(profile)], env)
    try:
        term.start_run()
        term.wait_for(b"inside a long C++ step", "the preparation never reached the slow step")
        term.key(b"\x1b")  # Esc: cancel
        term.wait_for(lambda: bool(list(results.glob("*/result.json"))), "the cancelled run was never saved", 60)
        term.read(1)
        term.key(b"\x11")  # Ctrl+Q: quit
        status = term.wait_exit(60)
    finally:
        term.close()
    assert b"terminate called" not in term.screen
    assert status == 0, term.visible()
    assert _saved_statuses(results) == ["cancelled"]
    assert _staging_left(cache) == []  # also: the step was left behind, its folder removed


# -- write failures --------------------------------------------------------------------------------


def _raise_enospc(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_result_that_cannot_be_saved_is_still_printed_and_exits_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A full disk when the result is written (simulated: the write raises ENOSPC). Before: the
    exception left the run thread and `qtui run` crashed with a traceback, the figures lost."""
    from qtui import cli
    from qtui.core import runner

    monkeypatch.setattr(runner, "save_result", _raise_enospc)
    results = tmp_path / "results"
    out = CliRunner().invoke(cli.main, ["run", "quick", *SMALL, "--results-dir", str(results), "--json"])
    assert out.exit_code == 1, out.output
    data = json.loads(out.stdout)
    assert data["status"] == "ok"  # the measurement itself was fine
    assert data["latency_ms"]["p90"] > 0 and data["throughput"]["samples"] > 0
    assert f"result NOT saved: cannot write {results / data['run_id'] / 'result.json'}: No space left on device" in data["message"]
    assert f"result {data['run_id']} NOT saved" in out.stderr
    assert not (results / data["run_id"] / "result.json").exists()


def test_runner_returns_the_result_and_says_why_it_was_not_saved(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's contract: always a RunResult, the events say where it could not be written."""
    from qtui.core import events as ev
    from qtui.core import runner
    from tests.conftest import small_profile

    monkeypatch.setattr(runner, "save_result", _raise_enospc)
    events: list[Any] = []
    result = runner.run(small_profile(), events.append)
    assert result.status == "ok" and result.latency_ms["p90"] > 0
    assert "result NOT saved" in result.message and "No space left on device" in result.message
    logged = [e.text for e in events if isinstance(e, ev.Log) and e.level == "error"]
    assert any("result NOT saved" in text for text in logged)
    finished = [e for e in events if isinstance(e, ev.Finished)]
    assert len(finished) == 1 and finished[0].result_path == ""


@pytest.mark.parametrize("variable", ["QTUI_RESULTS_DIR", "QTUI_CACHE_DIR"])
@pytest.mark.parametrize("shape", ["is a file", "under a file"])
def test_unusable_folder_is_refused_before_any_work(tmp_path: Path, variable: str, shape: str) -> None:
    """QTUI_RESULTS_DIR/QTUI_CACHE_DIR pointing at a file (or below one): exit 2 with a message
    naming the variable, before anything is prepared or run. Before: a FileExistsError
    traceback (exit 1)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = _env(tmp_path / "cache", tmp_path / "results")
    env[variable] = str(blocker if shape == "is a file" else blocker / "sub")
    out = _qtui("run", "quick", *SMALL, env=env)
    assert out.returncode == 2, out.stderr
    assert variable in out.stderr and str(blocker) in out.stderr and "Traceback" not in out.stderr
    assert ("is a file, not a folder" if shape == "is a file" else "lies under a file") in out.stderr
    assert "opening data set" not in out.stderr  # no work started
    # the other commands that write there refuse the same way
    if variable == "QTUI_CACHE_DIR":
        prep = _qtui("prepare", "--model", "mobilenet_v2", "--framework", "onnxruntime", "--precision", "fp32", env=env)
        assert prep.returncode == 2 and variable in prep.stderr and "Traceback" not in prep.stderr
    tui = _qtui("tui", env=env)
    assert tui.returncode == 2 and variable in tui.stderr and "Traceback" not in tui.stderr


def test_read_only_results_folder_is_refused_before_any_work(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A read-only results folder (simulated: creating the probe file raises EROFS, since chmod
    does not stop root): exit 2 naming the folder and the reason."""
    import tempfile

    from qtui import cli

    results = tmp_path / "results"
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: Any, dir: Any = None, **kwargs: Any) -> Any:  # noqa: A002 - tempfile's name
        if dir is not None and Path(dir) == results:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    out = CliRunner().invoke(cli.main, ["run", "quick", *SMALL, "--results-dir", str(results)])
    assert out.exit_code == 2, out.output
    assert f"cannot write in results folder (--results-dir) {results}: Read-only file system" in out.stderr
    assert "opening data set" not in out.stderr


def test_unusable_dirs_reports_nothing_for_good_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "c"))
    assert paths.unusable_dirs(tmp_path / "r") == []
    assert (tmp_path / "c").is_dir() and (tmp_path / "r").is_dir()
    assert list((tmp_path / "r").iterdir()) == []  # the probe file is gone


# -- staging folders ---------------------------------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_staging_folders_are_removed_live_ones_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "artifacts"
    root.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        dead = _dead_pid()
        me = os.getpid()
        my_start = paths.process_start(me)
        assert my_start
        names = {
            "dead owner": f".abc.tmp-{dead}-123456-0a1b2c",
            "live owner": f".abc.tmp-{paths.owner_tag(sleeper.pid)}-0a1b2c",
            "this process": f".abc.tmp-{paths.owner_tag()}-0a1b2c",
            "pid reused by this process": f".abc.tmp-{me}-{my_start - 500}-0a1b2c",
            "import, dead owner": f".import-{dead}-123456-0a1b2c",
            "older qtui, dead pid": f".abc.tmp-{dead}",
            "older qtui, live pid": f".abc.tmp-{sleeper.pid}",
            "older import": ".import-k2j4_x9z",
            "artifact": "0123456789abcdef01234567",
        }
        for name in names.values():
            (root / name).mkdir()
            (root / name / "model.onnx").write_bytes(b"x")
        monkeypatch.setattr(paths, "_other_qtui_running", lambda: True)
        removed = {p.name for p in paths.clean_stale_staging(root)}
        gone = {"dead owner", "pid reused by this process", "import, dead owner", "older qtui, dead pid"}
        assert removed == {names[k] for k in gone}
        assert {p.name for p in root.iterdir()} == {names[k] for k in names if k not in gone}
        # an unowned import folder of an older qtui goes once no other qtui process runs
        monkeypatch.setattr(paths, "_other_qtui_running", lambda: False)
        assert [p.name for p in paths.clean_stale_staging(root)] == [names["older import"]]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_staging_dir_names_its_owner(tmp_path: Path) -> None:
    made = paths.staging_dir(tmp_path, ".key.tmp-")
    assert made.is_dir() and made.name.startswith(f".key.tmp-{paths.owner_tag()}-")
    assert paths.is_staging(made.name)
    assert paths.stale_staging(tmp_path) == []


def test_preparation_killed_with_sigkill_is_cleaned_at_the_next_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`qtui prepare` killed with SIGKILL while exporting leaves its staging folder; the next
    preparation (a run or `qtui prepare`) removes it. Before: it stayed in the cache forever."""
    from qtui.core import prepare
    from qtui.core.profile import RunProfile

    cache = primed_cache(tmp_path / "cache")
    proc = subprocess.Popen(
        [sys.executable, "-m", "qtui", "prepare", "--model", "mobilenet_v2", "--framework", "onnxruntime", "--precision", "fp32"],
        cwd=ROOT, env=_env(cache, tmp_path / "results"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for_line(proc, "exporting to ONNX")
    finally:
        proc.kill()
        _communicate(proc, 60)
    left = _staging_left(cache)
    assert len(left) == 1 and left[0].split(".tmp-")[1].split("-")[0] == str(proc.pid), left

    monkeypatch.setenv("QTUI_CACHE_DIR", str(cache))

    class Stop(Exception):
        pass

    def load_model() -> Any:  # the next preparation gets this far, then stops: enough here
        raise Stop

    with pytest.raises(Stop):
        prepare.find_or_prepare(RunProfile(), load_model, None, None, lambda step, fraction: None)
    assert _staging_left(cache) == []


def test_sigterm_during_qtui_prepare_removes_its_staging_folder(tmp_path: Path) -> None:
    """`qtui prepare` runs the preparation in its main thread: SIGTERM interrupts it like Ctrl-C,
    exit 130, and nothing unfinished stays in the cache. Before: killed at once, folder left."""
    cache = primed_cache(tmp_path / "cache")
    proc = subprocess.Popen(
        [sys.executable, "-m", "qtui", "prepare", "--model", "mobilenet_v2", "--framework", "onnxruntime", "--precision", "fp32"],
        cwd=ROOT, env=_env(cache, tmp_path / "results"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen = _wait_for_line(proc, "exporting to ONNX")
    proc.send_signal(signal.SIGTERM)
    _, stderr = _communicate(proc, 120)
    assert proc.returncode == 130, seen + stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert _staging_left(cache) == []
