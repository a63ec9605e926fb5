"""What `qtui fleet status` and `check` make of what a device says (no ssh: the playbooks'
outputs as a device prints them)."""

from __future__ import annotations

import io

import pytest

from qtui.core import events as ev
from qtui.core.text import format_duration
from qtui.fleet.cli import _throttled, status_rows
from qtui.fleet.engine import HostOutcome


def step_line(index: int, total: int, eta: float | None) -> str:
    """The progress line `qtui study` itself prints on a device (its printer, not a copy)."""
    from qtui.cli import _StudyPrinter

    out = io.StringIO()
    _StudyPrinter(out, quiet=False)._print(ev.StudyStep(index=index, total=total, phase="measuring", label="mobilenet_v2 onnxruntime fp32 SingleStream", eta_s=eta))
    return out.getvalue().strip()


def device(name: str, state: str, log: str) -> HostOutcome:
    step = next((line for line in reversed(log.splitlines()) if line.startswith("[")), "")
    return HostOutcome(name, results={"status": {"stdout": f"hash 0123\nstate {state}\nstep {step}\n--- log\n{log}"}})


def test_status_reads_the_devices_own_progress_and_the_end_of_a_failed_log() -> None:
    running = "opening data set\n" + step_line(3, 8, 125.0) + "\nwarm-up"
    failed = step_line(1, 2, None) + "\n" + "\n".join(f"line {i}" for i in range(20)) + "\nqtui: error: disk full"
    rows, notes, bad = status_rows({
        "pi-b": device("pi-b", "running", running),
        "pi-a": device("pi-a", "rc 1", failed),
        "pi-c": device("pi-c", "stopped", step_line(2, 8, 60.0)),
        "pi-d": HostOutcome("pi-d", unreachable="Failed to connect to the host via ssh: No route to host"),
    })
    assert [r[:4] for r in rows] == [
        ["pi-a", "failed (exit 1)", "1/2", "–"],
        ["pi-b", "running", "3/8", format_duration(125.0, 0)],
        ["pi-c", "interrupted", "2/8", "–"],
        ["pi-d", "unreachable", "–", "–"],
    ]
    assert rows[1][4] == "measuring mobilenet_v2 onnxruntime fp32 SingleStream"
    assert notes == [
        "pi-a: the device's log ends with:", *(f"  line {i}" for i in range(13, 20)), "  qtui: error: disk full",
        "pi-d: Failed to connect to the host via ssh: No route to host",
    ]
    assert bad


def test_throttling_flags_from_the_pi_firmware() -> None:
    from qtui.core.environment import throttling

    assert _throttled(None) == "n/a"  # no Pi firmware: cannot tell
    assert _throttled(throttling(lambda _: "throttled=0x0\n")) == "no"
    # under-voltage now and since boot, soft temperature limit since boot only
    assert _throttled(throttling(lambda _: "throttled=0x80001\n")) == "!uv,temp"


def test_what_a_device_says_reaches_the_terminal_cleaned(capsys: pytest.CaptureFixture[str]) -> None:
    """A device's log tail and Ansible's reason are the device's text: escape sequences and
    control characters never reach the terminal (the tables and the notes)."""
    from qtui.fleet.cli import _say, _table

    hostile = "\x1b]0;owned\x07\x1b[2Jqtui: error: \x1b[31mdisk full\x1b[0m"
    rows, notes, _ = status_rows({
        "pi-a": device("pi-a", "rc 1", step_line(1, 2, None) + "\n" + hostile),
        "pi-b": HostOutcome("pi-b", unreachable="ssh: \x1b[5mNo route\x1b[0m to host"),
        "pi-c": device("pi-c", "running", "[1/2] measuring \x1b[2Jx, ~1s left"),
    })
    _table(["device", "study", "step", "left", "doing"], rows, right=(2,), flex=4)
    for note in notes:
        _say(note)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out, repr(out)
    assert "qtui: error: disk full" in out and "ssh: No route to host" in out, out


def test_status_keeps_earlier_studies_in_sight() -> None:
    """A new `fleet study` makes its profile the current one; the earlier ones a device still
    has (running, interrupted, failed, finished) are named under the table, not hidden."""
    text = (
        "hash 0123\nversion qtui, version 0.1.0\nstate running\nstep " + step_line(1, 4, 30.0) + "\n"
        "earlier 4567 running\nearlier 89ab stopped\nearlier cdef rc 1\nearlier f00d rc 0\n--- log\n"
    )
    rows, notes, bad = status_rows({"pi-a": HostOutcome("pi-a", results={"status": {"stdout": text}}), "pi-b": device("pi-b", "rc 0", step_line(4, 4, None))})
    assert [r[:3] for r in rows] == [["pi-a", "running", "1/4"], ["pi-b", "finished", "4/4"]]
    assert notes == ["pi-a: earlier studies: 4567 still running, 89ab interrupted, cdef failed (exit 1), f00d finished"]
    assert not bad
