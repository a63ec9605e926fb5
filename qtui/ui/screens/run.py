"""The run screen: owns the benchmark worker and shows the run as it happens.

The worker thread calls `runner.run(profile, on_event, stop)`; `on_event` only posts a message
(never `call_from_thread`, which would make the timed path wait for the UI). The screen draws the
preparation stages, LoadGen's progress, live p50/p90/p99, throughput, the latency histogram and
the log. Esc or Ctrl-C sets the stop event (the runner drains LoadGen and saves the result as
cancelled); after the run Esc goes back and `v` opens the results. An accuracy-mode run ends
with the quality it measured (top-1, else fidelity).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, RichLog, Static
from textual.worker import Worker, WorkerFailed, WorkerState

from qtui.core import events as ev
from qtui.core import labels
from qtui.core.catalog import FRAMEWORK_TITLES, PRECISION_TITLES
from qtui.core.events import HistogramSnapshot
from qtui.core.profile import RunProfile
from qtui.core.results import WARNING_KINDS, RunResult, disturbing_kinds
from qtui.core.run_table import accuracy_text
from qtui.core.study_tables import STUDY_WARNING_MARK
from qtui.core.text import format_duration
from qtui.ui.messages import (
    RunFailed,
    RunFinished,
    RunLog,
    RunPreparing,
    RunProgress,
    RunStarted,
    wrap,
)
from qtui.ui.widgets.footer import KeysFooter
from qtui.ui.widgets.histogram import LatencyHistogram
from qtui.ui.widgets.progress import StageProgress

STATUS_MARKS = {"ok": ("✓", "green"), "invalid": ("!", "yellow"), "cancelled": ("■", "yellow"), "failed": ("✗", "red")}


@dataclass(frozen=True)
class RunOutcome:
    """What the run screen returns: the result and whether the user asked to see the results."""

    result: RunResult | None
    view_results: bool = False

    @property
    def run_id(self) -> str | None:
        return self.result.run_id if self.result else None


def timing_text(p: ev.Progress) -> str:
    """Elapsed and, once the runner can tell by LoadGen's stopping rule, the time left."""
    text = f"{format_duration(p.elapsed_s)} elapsed"
    if p.left_s is not None:
        text += f", ~{format_duration(p.left_s)} left" if p.left_s >= 0.5 else ", finishing"
    return text


def progress_fraction(p: ev.Progress) -> float | None:
    """How far the run is: elapsed over elapsed + left (LoadGen's stopping rule), else by
    sample count."""
    if p.left_s is not None and p.elapsed_s + p.left_s > 0:
        return min(1.0, p.elapsed_s / (p.elapsed_s + p.left_s))
    if p.expected_samples:
        return min(1.0, p.completed_samples / p.expected_samples)
    return None


def empty_histogram_text(result: RunResult | None, loadgen_started: bool) -> str:
    """What the histogram says after a run that recorded no timed query (it said "waiting for
    the first timed queries…" even after a failed run)."""
    if result is None:
        return "no timed queries: qtui stopped on an error"
    if result.status == "failed":
        return "no timed queries: the run failed" + ("" if loadgen_started else " before LoadGen started")
    if result.status == "cancelled":
        return "no timed queries: cancelled " + ("before the first one finished" if loadgen_started else "before LoadGen started")
    return "no timed queries were recorded"


def latency_text(percentiles: dict[str, float]) -> str:
    shown = [f"{k} {percentiles[k]:.3g} ms" for k in ("p50", "p90", "p99") if k in percentiles]
    return "latency   " + ("   ".join(shown) if shown else "–")


def throughput_text(p: ev.Progress, offline: bool = False) -> str:
    """Samples done (of how many), then queries — or, in Offline (one query of many samples,
    timed per batch), batches."""
    done = f"{p.completed_samples}/{p.expected_samples}" if p.expected_samples else str(p.completed_samples)
    counted = "batches" if offline else "queries"
    return f"done      {done} samples · {p.completed_queries} {counted} · {p.samples_per_s:.4g} samples/s"


def run_title(p: RunProfile) -> str:
    """"MobileNetV2 · ONNX Runtime · FP32 · SingleStream · performance · quick": what is running."""
    return (
        f"{labels.title(p.model)} · {FRAMEWORK_TITLES.get(p.framework, p.framework)} · "
        f"{PRECISION_TITLES.get(p.precision, p.precision)} · {p.scenario} · {p.mode} · {p.loadgen.preset}"
    )


class RunScreen(Screen[RunOutcome]):
    """One benchmark run, live. `phase` is "preparing", "loadgen" or "done"."""

    #: Time source of the log's timestamps (tests pin it for deterministic snapshots).
    clock = staticmethod(time.monotonic)
    #: Live figures are repainted at most this often: every frame costs the timed run some CPU
    #: and GIL time (bench/ui_overhead.py), and 1 Hz still reads as live.
    paint_interval_s = 1.0

    BINDINGS = [
        Binding("escape", "cancel", "Cancel run", id="run.cancel"),
        # what a terminal user presses first; ahead of Textual's "press ctrl+q to quit" and of
        # copying text (after the run `check_action` disables it, and Ctrl-C is Textual's again)
        Binding("ctrl+c", "cancel", "Cancel run", show=False, priority=True, id="run.cancel.ctrl_c"),
        Binding("escape", "back", "Back", id="run.back"),
        Binding("v", "view_results", "Results", id="run.results"),
    ]

    def __init__(self, profile: RunProfile, results_root: Path) -> None:
        super().__init__()
        self.profile = profile
        self.results_root = results_root
        self.stop = threading.Event()
        self.worker: Worker[RunResult] | None = None
        self.result: RunResult | None = None
        self.error: str = ""
        self._step = ""
        self.phase = "preparing"
        self._t0 = self.clock()
        self._shown: dict[str, str] = {}
        self._last_paint = float("-inf")
        #: the scenario of the run in progress (a study's runs change it)
        self._scenario = profile.scenario
        #: the last finished run's status and where its result was saved ("" when it could not
        #: be written); set on the runner's thread, so known as soon as the worker has ended
        self.saved: tuple[str, str] | None = None
        #: held by the worker's thread while it runs (until its result is saved): what a signal's
        #: exit watchdog waits on without the app's loop, which a hung-up terminal can block
        self.busy = threading.Lock()

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        p = self.profile
        yield Header()
        yield Static(run_title(p), id="run-title")
        yield StageProgress("starting…", id="progress")
        yield Static(id="stats")
        offline = p.scenario == "Offline"
        histogram = LatencyHistogram(id="histogram", counted="batches" if offline else "queries")
        histogram.border_title = f"latency per {'batch' if offline else 'query'} (log scale)"
        yield histogram
        yield Static(id="outcome")
        yield RichLog(id="log", max_lines=1000, wrap=True, markup=False, highlight=False)
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "running"
        self.query_one("#outcome").display = False
        self.worker = self.run_benchmark()

    # -- the worker -----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="benchmark")
    def run_benchmark(self) -> RunResult:
        from qtui.core.runner import RunOptions, default_progress_hz, run

        # the screen paints live figures at most 1/paint_interval_s a second: ask the runner for
        # no more snapshots than that (each one costs the timed run a little CPU and GIL time)
        hz = min(1.0 / self.paint_interval_s, default_progress_hz())
        with self.busy:
            return run(self.profile, self._on_event, self.stop, RunOptions(results_root=self.results_root, progress_hz=hz))

    def _on_event(self, event: ev.Event) -> None:
        """Called on the runner's threads: post and return at once."""
        if isinstance(event, ev.Finished):
            self.saved = (event.status, event.result_path)
        elif isinstance(event, ev.Failed):
            self.saved = ("failed", event.result_path or "")
        self.post_message(wrap(event))

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def wait_idle(self) -> None:
        """Block (on any thread, without the app's loop) until no run of this screen is in
        progress: one that was running has saved its result."""
        with self.busy:
            pass

    async def cancel_and_wait(self) -> None:
        """Cancel the run and wait until the worker has finished (the result is saved)."""
        self.stop.set()
        if self.worker is not None:
            try:
                await self.worker.wait()
            except WorkerFailed:
                pass

    #: what quitting stops, and what of it is saved (the quit message's words)
    quit_words = ("the run", "its result")

    def quit_message(self) -> str:
        """What the terminal says after quitting cancelled this run: its status and where the
        result was saved."""
        stopped, saved = self.quit_words
        if self.saved is None:
            return f"qtui: quitting stopped {stopped} before {saved} was saved"
        status, path = self.saved
        if not path:
            return f"qtui: quitting stopped {stopped}; {saved} ({status}) could NOT be saved"
        return f"qtui: quitting stopped {stopped}; {saved} was saved as {status}: {path}"

    def on_unmount(self) -> None:
        self.stop.set()

    # -- events from the run --------------------------------------------------------------------
    @on(RunPreparing)
    def _preparing(self, message: RunPreparing) -> None:
        step, fraction = message.event.step, message.event.fraction
        if step != self._step:
            self._step = step
            self._log(f"{step}")
        label = None if self.stop.is_set() else step
        self.query_one(StageProgress).show(label, fraction)

    @on(RunStarted)
    def _started(self, message: RunStarted) -> None:
        e = message.event
        self._step = "LoadGen"
        self.phase = "loadgen"
        self._scenario = e.scenario
        from qtui.core.schedule import stop_rule

        if e.mode == "accuracy":  # LoadGen sends every sample once; the stopping rule is not used
            self._log(f"LoadGen started: accuracy mode, each of the {e.expected_samples} samples once")
        else:
            self._log(f"LoadGen started: {stop_rule({'scenario': e.scenario, **e.settings}).describe()}")
        label = None if self.stop.is_set() else f"LoadGen {e.scenario}"
        self.query_one(StageProgress).show(label, 0.0 if e.expected_samples else None, "")

    @on(RunProgress)
    def _progress(self, message: RunProgress) -> None:
        now = time.monotonic()
        if now - self._last_paint < self.paint_interval_s:
            return  # a newer snapshot follows within ¼ s; the final figures are drawn at the end
        self._last_paint = now
        p = message.event
        self.query_one(StageProgress).show(fraction=progress_fraction(p), note=timing_text(p))
        offline = self._scenario == "Offline"
        self._set("#stats", latency_text(p.percentiles_ms) + "\n" + throughput_text(p, offline))
        self.query_one(LatencyHistogram).show(p.histogram, p.percentiles_ms)

    @on(RunLog)
    def _logged(self, message: RunLog) -> None:
        e = message.event
        self._log(e.text if e.level == "info" else f"{e.level}: {e.text}")

    @on(RunFinished)
    def _finished(self, message: RunFinished) -> None:
        path = message.event.result_path
        self._log(f"finished ({message.event.status}), " + (f"saved {path}" if path else "result NOT saved (see the message)"))

    @on(RunFailed)
    def _failed(self, message: RunFailed) -> None:
        self._log(f"failed: {message.event.message}")
        if message.event.result_path:
            self._log(f"saved {message.event.result_path}")

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.worker:
            return
        if event.state == WorkerState.SUCCESS:
            self._worker_succeeded(event.worker.result)
        elif event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            error = event.worker.error
            self.error = f"{type(error).__name__}: {error}" if error else "the run was stopped"
            self._show_outcome()
        self.refresh_bindings()

    def _worker_succeeded(self, value: Any) -> None:
        """The worker's return value: the run's result (a study screen gets its report)."""
        self.result = value
        self._show_outcome()

    # -- drawing --------------------------------------------------------------------------------
    def _set(self, selector: str, text: str) -> None:
        """Update a fixed-size Static only when its text changes, without markup parsing or a
        layout pass: a live run repaints a few cells, not the screen."""
        if self._shown.get(selector) != text:
            self._shown[selector] = text
            self.query_one(selector, Static).update(Text(text), layout=False)

    def _log(self, line: str) -> None:
        """A timestamped log line; its continuation lines (a long path, a warning) are indented
        under the text, never under the timestamps, and a blank column keeps the text off the
        scrollbar (a saved result's path ran right into it)."""
        row = Table.grid(padding=(0, 2, 0, 0), expand=True)
        row.add_column(no_wrap=True)
        row.add_column(ratio=1, overflow="fold")
        row.add_row(f"{self.clock() - self._t0:6.1f}s", Text(line))
        self.query_one(RichLog).write(Padding(row, (0, 1, 0, 0)))

    def _show_outcome(self) -> None:
        loadgen_started = self.phase == "loadgen"
        self.sub_title = "finished"
        self.phase = "done"
        box = self.query_one("#outcome", Static)
        box.display = True
        r = self.result
        self.query_one(LatencyHistogram).say(empty_histogram_text(r, loadgen_started))
        if r is None:
            box.update(Text.assemble(("✗ qtui error: ", "bold red"), self.error, "\nesc: back"))
            box.set_class(True, "failed")
            self.query_one(StageProgress).show(Text("✗ error", style="red"))
            return
        mark, colour = STATUS_MARKS.get(r.status, ("?", "yellow"))
        # what disturbed the measurement (other processes' load, throttling, heat) travels with
        # its figures here too, as in the results table ("ok ⚠")
        disturbed = [WARNING_KINDS[k] for k in disturbing_kinds(r)] if r.status != "failed" else []
        flag = f" {STUDY_WARNING_MARK}" if disturbed else ""
        self.query_one(StageProgress).show(Text(f"{mark} {r.status}{flag}", style=colour))
        box.set_class(True, r.status)
        box.set_class(bool(disturbed), "disturbed")
        lines = Text()
        if r.status == "failed":
            lines.append("✗ The run failed: ", style="bold red")
            lines.append(r.message or "see the log")
        else:
            verdict = r.loadgen.get("validity") or "no verdict"
            lines.append(f"{mark} {r.status.upper()} ", style=f"bold {colour}")
            lines.append(f"(LoadGen: {verdict})")
            if flag:
                lines.append(flag, style="bold yellow")
            label, value = r.metric
            quality = accuracy_text(r) if r.profile.mode == "accuracy" else ""
            if quality:  # what an accuracy-mode run measures (its latency is not the point)
                lines.append(f" · {quality}")
            elif isinstance(value, (int, float)):
                name, _, unit = label.partition(" ")
                lines.append(f" · {name} {value:.4g} {unit.strip('()')}" if unit else f" · {value:.4g} {label}")
            if r.message:
                lines.append(f"\n{r.message}")
            if disturbed:
                lines.append(f"\n{STUDY_WARNING_MARK} {'; '.join(disturbed)}: figures are likely low", style="yellow")
            reasons = r.loadgen.get("invalid_reasons") or []
            if reasons and r.status == "invalid":
                lines.append("\n" + "; ".join(reasons))
            self._show_final_figures(r)
        lines.append("\nv: results · esc: back", style="dim")
        box.update(lines)
        self.call_after_refresh(self.query_one(RichLog).scroll_end, animate=False)

    def _show_final_figures(self, r: RunResult) -> None:
        h = r.histogram or {}
        if h.get("counts"):
            snapshot = HistogramSnapshot(tuple(h["edges_ms"]), tuple(h["counts"]))
            pct = {k: v for k, v in r.latency_ms.items() if k.startswith("p") and isinstance(v, (int, float))}
            self.query_one(LatencyHistogram).show(snapshot, pct)
        t = r.throughput
        if t.get("samples"):
            final = ev.Progress(
                completed_queries=int(t.get("queries") or 0),
                completed_samples=int(t.get("samples") or 0),
                elapsed_s=float(t.get("duration_s") or 0.0),
                percentiles_ms={k: v for k, v in r.latency_ms.items() if k in ("p50", "p90", "p99")},
                samples_per_s=float(t.get("samples_per_s") or 0.0),
                histogram=HistogramSnapshot((), ()),
            )
            offline = self._scenario == "Offline"
            self._set("#stats", latency_text(final.percentiles_ms) + "\n" + throughput_text(final, offline))
            done = 1.0 if r.status == "ok" else self.query_one(StageProgress).fraction
            self.query_one(StageProgress).show(fraction=done, note=f"{format_duration(final.elapsed_s)} in LoadGen")

    # -- actions --------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.running
        if action in ("back", "view_results"):
            return not self.running
        return True

    def action_cancel(self) -> None:
        if not self.running or self.stop.is_set():
            return
        self.stop.set()
        self.query_one(StageProgress).show(Text("cancelling…", style="yellow"))
        if self.phase == "loadgen":
            self._log("cancel requested: draining LoadGen")
        else:
            self._log("cancel requested: stopping the preparation")
            self.query_one(LatencyHistogram).say("cancelling: no timed queries will run")

    def action_back(self) -> None:
        self.dismiss(RunOutcome(self.result, view_results=False))

    def action_view_results(self) -> None:
        self.dismiss(RunOutcome(self.result, view_results=True))
