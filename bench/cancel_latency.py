"""How long does a cancel take, from `stop.set()` to `run()` returning a saved result?

The tests assert what a cancel does (events, counts, status), never how fast: the time is
measured here. For each scenario, a run under the official 600 s rules (only a cancel ends it)
is cancelled once LoadGen has completed a query; and once while the preparation is inside one
long uninterruptible call (simulated: an export that never reaches its next checkpoint), where
the run must leave the call behind. Prints each latency and the median over the repeats.
Goal: ≤ 2 s for each (the README's "a cancel ends the run within a couple of seconds").

    .venv/bin/python bench/cancel_latency.py [--framework onnxruntime] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from qtui.core import events as ev
from qtui.core.profile import DatasetSpec, LoadGenSpec, RunProfile
from qtui.core.runner import RunOptions, pending_preparations, run

GOAL_S = 2.0


def profile_for(framework: str, scenario: str) -> RunProfile:
    return RunProfile(
        name="bench-cancel",
        framework=framework,
        scenario=scenario,
        threads=0,
        batch_size=4,
        warmup_queries=2,
        dataset=DatasetSpec(count=32, performance_sample_count=32, calibration_count=16),
        loadgen=LoadGenSpec(preset="mlperf"),
    )


def cancel_during_loadgen(profile: RunProfile, results: Path) -> tuple[float, str]:
    """Seconds from stop.set() (on the first progress with a completed query) to run()'s return."""
    stop = threading.Event()
    stopped_at: list[float] = []

    def on_event(event: Any) -> None:
        if isinstance(event, ev.Progress) and event.completed_queries > 0 and not stop.is_set():
            stopped_at.append(time.perf_counter())
            stop.set()

    result = run(profile, on_event, stop, RunOptions(results_root=results))
    return time.perf_counter() - stopped_at[0], result.status


def cancel_during_preparation(framework: str, results: Path) -> tuple[float, str]:
    """Seconds from stop.set() to run()'s return while the export is inside one long call."""
    import qtui.core.prepare.onnxruntime as ort_prep

    entered, release = threading.Event(), threading.Event()
    real = ort_prep.prepare

    def long_export(loaded: Any, precision: str, out_dir: Path, batches: Any, progress: Any) -> Any:
        entered.set()
        release.wait(600)
        progress("after the long call", None)  # raises: the run was cancelled
        return real(loaded, precision, out_dir, batches, progress)

    ort_prep.prepare = long_export
    try:
        profile = replace(profile_for(framework, "SingleStream"), precision="int8_dynamic")
        stop = threading.Event()
        box: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: box.setdefault("r", run(profile, None, stop, RunOptions(results_root=results))))
        worker.start()
        entered.wait(600)
        t0 = time.perf_counter()
        stop.set()
        worker.join()
        latency = time.perf_counter() - t0
    finally:
        release.set()
        ort_prep.prepare = real
    for leftover in pending_preparations():
        leftover.join()
    return latency, box["r"].status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", default="onnxruntime", choices=["onnxruntime", "torch"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows: list[tuple[str, list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="qtui-bench-cancel-") as tmp:
        results = Path(tmp)
        for scenario in ("SingleStream", "MultiStream", "Offline"):
            times = []
            for _ in range(args.repeats):
                seconds, status = cancel_during_loadgen(profile_for(args.framework, scenario), results)
                assert status == "cancelled", status
                times.append(seconds)
                print(f"{scenario:<13} cancel during LoadGen: {seconds:6.3f} s")
            rows.append((f"{scenario} (LoadGen)", times))
        if args.framework == "onnxruntime":
            times = []
            for _ in range(args.repeats):
                seconds, status = cancel_during_preparation(args.framework, results)
                assert status == "cancelled", status
                times.append(seconds)
                print(f"{'preparation':<13} cancel inside one long call: {seconds:6.3f} s")
            rows.append(("preparation (long call)", times))
    print(f"\nmedian of {args.repeats}, goal ≤ {GOAL_S:.1f} s:")
    for label, times in rows:
        median = statistics.median(times)
        print(f"  {label:<26} {median:6.3f} s  ({median / GOAL_S:.2f} of the goal)")


if __name__ == "__main__":
    main()
