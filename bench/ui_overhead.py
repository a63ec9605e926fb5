"""Does watching a run in the TUI slow it down? The same profile runs through the headless runner
and through the Textual app (headless Textual, `app.run_test()`, the run screen drawing live
progress, histogram and log), alternately, in one process; prints throughput app ÷ headless.
Goal: ≥ 0.98 for every scenario, judged by the per-pass ratios' median and its 95 % bootstrap
interval (meets / misses / undecided, bench/stats.py); every pass prints the machine's load.

    .venv/bin/python bench/ui_overhead.py [--passes 5] [--samples 300] [--scenarios Offline SingleStream]

Throughput is LoadGen's: samples/s for Offline, QPS with LoadGen overhead for SingleStream (one
sample per query, so it is what the SUT sustained). Each pass runs both back to back (order
alternating); the median of the per-pass ratios follows slow changes in machine load better than
the ratio of the medians, and both are printed.

On a busy machine wall-clock throughput swings by tens of % from run to run whatever the UI does,
so the script also measures what the UI takes from the run, from LoadGen's start to the end of
the run: the process's CPU time per sample (all threads: inference, LoadGen, reporter and, in the
app, the UI), and the CPU time of the UI's own thread (the main thread, where Textual runs) as a
share of one core and of the process's CPU. The UI's share of the process's CPU is the
throughput it costs a CPU-bound device; it does not depend on what else the machine is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from stats import Goal, LoadMeter, machine_line

from qtui.core import events as ev
from qtui.core.profile import DatasetSpec, LoadGenSpec, RunProfile
from qtui.core.results import RunResult
from qtui.core.runner import RunOptions, run


@dataclass
class Measured:
    throughput: float
    cpu_ms_per_sample: float
    ui_share_of_core: float  # main-thread CPU ÷ wall time
    ui_share_of_process: float  # main-thread CPU ÷ process CPU


class CpuMeter:
    """CPU times from Started to Finished/Failed: the process (all threads, including ones that
    ended) and the main thread (the UI's, in the app), plus the wall time."""

    def __init__(self) -> None:
        self.clock = time.pthread_getcpuclockid(threading.main_thread().ident or 0)
        self.start = self.end = (0.0, 0.0, 0.0)

    def _now(self) -> tuple[float, float, float]:
        t = os.times()
        return t.user + t.system, time.clock_gettime(self.clock), time.perf_counter()

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.Started):
            self.start = self._now()
        elif isinstance(event, (ev.Finished, ev.Failed)):
            self.end = self._now()

    def deltas(self) -> tuple[float, float, float]:
        process, main, wall = (e - s for e, s in zip(self.end, self.start, strict=True))
        return process, main, wall


def measured(result: RunResult, meter: CpuMeter, main_is_ui: bool) -> Measured:
    if result.status != "ok":
        raise SystemExit(f"run {result.run_id} ended {result.status}: {result.message}")
    lg = result.loadgen
    value = lg.get("samples_per_second") if result.profile.scenario == "Offline" else lg.get("qps_with_loadgen_overhead")
    samples = int(result.throughput["samples"])
    process, main, wall = meter.deltas()
    ui = main if main_is_ui else 0.0
    return Measured(float(value or result.throughput["samples_per_s"]), process * 1000 / samples, ui / wall, ui / process)


def headless(profile: RunProfile, root: Path, on_event: Callable[[ev.Event], None] | None = None) -> RunResult:
    return run(profile, on_event or (lambda event: None), threading.Event(), RunOptions(results_root=root))


async def in_app(profile: RunProfile, root: Path, meter: CpuMeter) -> RunResult:
    from qtui.ui.app import QtuiApp
    from qtui.ui.screens.run import RunScreen

    original = RunScreen._on_event

    def metered(self: RunScreen, event: ev.Event) -> None:
        meter(event)
        original(self, event)

    RunScreen._on_event = metered  # type: ignore[method-assign]
    try:
        app = QtuiApp(profile=profile, results_dir=str(root))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("ctrl+r")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, RunScreen) and screen.worker is not None
            result = await screen.worker.wait()
            await pilot.pause()
    finally:
        RunScreen._on_event = original  # type: ignore[method-assign]
    if result.profile != profile:
        raise SystemExit("the app ran a different profile than the headless runner")
    return result


def profile_for(scenario: str, samples: int, threads: int) -> RunProfile:
    return RunProfile(
        name="ui-overhead",
        model="mobilenet_v2",
        framework="onnxruntime",
        precision="fp32",
        scenario=scenario,
        threads=threads,
        batch_size=8,
        warmup_queries=16,
        dataset=DatasetSpec(count=256, performance_sample_count=256),
        loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=samples),
    )


def one(kind: str, profile: RunProfile, root: Path) -> Measured:
    meter = CpuMeter()
    if kind == "headless":
        # the runner runs in a thread, as in the app, so the main thread idles as a UI-less one
        box: list[RunResult] = []
        worker = threading.Thread(target=lambda: box.append(headless(profile, root, meter)))
        worker.start()
        worker.join()
        return measured(box[0], meter, main_is_ui=False)
    return measured(asyncio.run(in_app(profile, root, meter)), meter, main_is_ui=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--samples", type=int, default=300, help="LoadGen min_query_count per run")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--scenarios", nargs="+", default=["Offline", "SingleStream"])
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="qtui-ui-overhead-"))
    started = time.monotonic()
    print(f"Machine: {machine_line(args.threads or (os.cpu_count() or 1))}", flush=True)
    table: list[tuple[str, list[Measured], list[Measured]]] = []
    for scenario in args.scenarios:
        profile = profile_for(scenario, args.samples, args.threads)
        # prepare the artifact (or find it cached) and warm the process up, not measured
        headless(replace(profile, loadgen=replace(profile.loadgen, min_query_count=64)), root)
        plain: list[Measured] = []
        tui: list[Measured] = []
        for i in range(args.passes):
            order: list[Any] = ["headless", "app"] if i % 2 == 0 else ["app", "headless"]
            load = LoadMeter().start()
            for kind in order:
                (plain if kind == "headless" else tui).append(one(kind, profile, root))
            load.stop()
            h, a = plain[-1], tui[-1]
            print(
                f"{scenario:<12} pass {i + 1}: headless {h.throughput:6.2f}/s {h.cpu_ms_per_sample:5.1f} ms cpu/sample"
                f"   app {a.throughput:6.2f}/s {a.cpu_ms_per_sample:5.1f} ms cpu/sample, UI {a.ui_share_of_process:.1%} of it"
                f"  | {load.text()}",
                flush=True,
            )
        table.append((scenario, plain, tui))

    print()
    print(f"{'':<12} {'headless/s':>10} {'app/s':>8} {'throughput app÷headless':>24} {'cpu/sample':>11} {'UI thread (median)':>20}")
    print(f"{'scenario':<12} {'median':>10} {'median':>8} {'of medians':>12} {'per pass':>11} {'head÷app':>11} {'of 1 core':>10} {'of proc.':>9}")
    for scenario, plain, tui in table:
        h = statistics.median(m.throughput for m in plain)
        a = statistics.median(m.throughput for m in tui)
        paired = statistics.median(x.throughput / y.throughput for x, y in zip(tui, plain, strict=True))
        cpu = statistics.median(y.cpu_ms_per_sample / x.cpu_ms_per_sample for x, y in zip(tui, plain, strict=True))
        core = statistics.median(m.ui_share_of_core for m in tui)
        proc = statistics.median(m.ui_share_of_process for m in tui)
        print(f"{scenario:<12} {h:10.2f} {a:8.2f} {a / h:12.3f} {paired:11.3f} {cpu:11.3f} {core:10.1%} {proc:9.1%}")
    print("throughput the UI costs a CPU-bound run ≈ its share of the process's CPU (last column)")
    for scenario, plain, tui in table:
        goal = Goal(f"{scenario} throughput app÷headless (per pass)", 0.98, True, min_passes=5)
        for x, y in zip(tui, plain, strict=True):
            goal.add(x.throughput / y.throughput)
        print(goal.line())
    print(f"Machine: {machine_line(args.threads or (os.cpu_count() or 1))}")
    print(f"goal ≥ 0.98; {args.passes} passes in {time.monotonic() - started:.0f} s; results in {root}")


if __name__ == "__main__":
    main()
