"""Progress on a non-terminal (a CI log, `| tee`): one line per change of stage and a periodic
line with the percentage and the time left — a stage polled every second printed itself again
and again (`converting to TFLite: Lower to MLIR` ×5)."""

from __future__ import annotations

import io

from qtui import cli
from qtui.core import events as ev


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _printer() -> tuple[cli._ProgressPrinter, io.StringIO, _Clock]:
    stream = io.StringIO()
    printer = cli._ProgressPrinter(stream)
    clock = _Clock()
    printer.clock = clock  # type: ignore[method-assign]
    return printer, stream, clock


def test_a_stage_is_one_line_however_often_it_reports() -> None:
    printer, stream, clock = _printer()
    for _ in range(30):  # a converter's stage, polled every second, no fraction
        printer(ev.Preparing("converting to TFLite: Lower to MLIR", None))
        clock.now += 1.0
    printer(ev.Preparing("loading the TFLite converter", None))
    assert stream.getvalue().splitlines() == ["converting to TFLite: Lower to MLIR", "loading the TFLite converter"]


def test_a_long_stage_with_a_fraction_prints_every_period() -> None:
    printer, stream, clock = _printer()
    for k in range(31):  # 30 s of calibration, a report a second
        printer(ev.Preparing("calibrating", k / 30))
        clock.now += 1.0
    lines = stream.getvalue().splitlines()
    assert lines[0] == "calibrating" and len(lines) == 4  # at 0 (no "0%"), 10, 20 and 30 s
    assert lines[-1].endswith("100%")


def test_a_log_never_leaves_a_stage_at_0_percent() -> None:
    """"loading samples 0%" with nothing after it read like a hang: a quick stage prints its
    name only; one whose percentage was printed part-way ends with its 100 % line."""
    printer, stream, clock = _printer()
    printer(ev.Preparing("loading samples", 0.0))
    printer(ev.Preparing("loading samples", 0.5))
    printer(ev.Preparing("loading samples", 1.0))
    printer(ev.Preparing("warming up", None))
    assert stream.getvalue().splitlines() == ["loading samples", "warming up"]
    printer, stream, clock = _printer()
    printer(ev.Preparing("loading samples", 0.0))
    clock.now += 11.0
    printer(ev.Preparing("loading samples", 0.4))
    clock.now += 1.0
    printer(ev.Preparing("loading samples", 1.0))
    printer(ev.Started("id", "Offline", "performance", {}, 256))
    assert stream.getvalue().splitlines() == [
        "loading samples", "loading samples  40%", "loading samples 100%", "LoadGen Offline performance started",
    ]


def test_measurement_lines_carry_percent_and_time_left() -> None:
    printer, stream, clock = _printer()
    printer(ev.Started("id", "Offline", "performance", {}, 24576))
    for k in range(1, 25):
        clock.now += 1.0
        printer(ev.Progress(k, 500 * k, float(k), {"p90": 2.0}, 500.0, ev.HistogramSnapshot((), ()),
                            24576, left_s=49.0 - k))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "LoadGen Offline performance started"
    assert len(lines) == 3  # started, then one line every 10 s
    assert lines[1].startswith("LoadGen  20%  5000/24576 samples  10.0s elapsed, ~39s left")
