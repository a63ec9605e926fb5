"""A study, live: the run screen (stages, live histogram and figures of the run in progress, log)
under one more line that says where the study is — which of how many runs, what it measures,
the time left — and, at the end, what was measured, reused and failed, and how long preparing
and measuring took, above the last run this study made (a quality check's fidelity or a
measurement's figures; never a run it only reused). `esc` (or Ctrl-C) cancels the run in progress
and stops the study; the same study started again (`ctrl+y`) measures only what is missing
(`qtui.core.study`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Static

from qtui.core import events as ev
from qtui.core.profile import RunProfile
from qtui.core.study import StudyOptions, StudyReport, study_summary
from qtui.core.text import format_duration
from qtui.ui.messages import StudyStepped
from qtui.ui.screens.run import RunScreen, run_title
from qtui.ui.widgets.histogram import LatencyHistogram
from qtui.ui.widgets.progress import StageProgress


def step_text(step: ev.StudyStep) -> str:
    """`[5/12] measuring … · ~52s left` (the time left once a run has been timed)."""
    if step.phase == "done":
        return f"study finished: {step.index} of {step.total} runs measured"
    left = f" · ~{format_duration(step.eta_s)} left" if step.eta_s else ""
    return f"[{step.index}/{step.total}] {step.phase} {step.label}{left}"


def report_text(report: StudyReport) -> str:
    text = study_summary(report)
    if report.prepare_failures:
        text += "\nnot prepared: " + "; ".join(c.label for c in report.prepare_failures)
    if report.cancelled:
        text += "\ninterrupted: ctrl+y on the same choices measures what is missing"
    elif not report.ran:
        text += "\nnothing to measure: every run of this study is already measured here"
    return text


class StudyRunScreen(RunScreen):
    """Every combination of a profile's `[sweep]`, `[study] repeats` times, live."""

    quit_words = ("the study", "the run in progress")

    def __init__(self, profile: RunProfile, results_root: Path, options: StudyOptions | None = None) -> None:
        super().__init__(profile, results_root)
        self.options = options or StudyOptions()
        self.report: StudyReport | None = None
        self.steps: list[ev.StudyStep] = []

    def compose(self) -> ComposeResult:
        yield Static(id="study-step")
        yield from super().compose()

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = "study"

    @work(thread=True, exclusive=True, exit_on_error=False, group="benchmark")
    def run_benchmark(self) -> Any:  # type: ignore[override]
        from qtui.core.study import run_study

        # the TUI has no --force: a study here only ever measures what is missing
        options = replace(self.options, results_root=self.results_root, again_hint="")
        with self.busy:
            return run_study(self.profile, options, self._on_event, self.stop)

    @on(StudyStepped)
    def _stepped(self, message: StudyStepped) -> None:
        step = message.event
        self.steps.append(step)
        self.query_one("#study-step", Static).update(Text(step_text(step)))
        if step.profile is not None and step.phase != "done":
            # the combination in progress, not the study's base profile
            self.query_one("#run-title", Static).update(Text(run_title(step.profile)))
        if step.phase in ("measuring", "checking quality"):
            self.phase = "preparing"  # the next run starts
            self._log(step_text(step))

    def _worker_succeeded(self, value: Any) -> None:
        """The study's report; below it, the last run this study made, under its own title."""
        self.report = value
        ran = list(self.report.ran) if self.report is not None else []
        self.result = ran[-1] if ran else None
        if self.result is not None:
            self.query_one("#run-title", Static).update(Text(run_title(self.result.profile)))
        self._show_outcome()
        if self.report is not None:
            self.query_one("#study-step", Static).update(Text(report_text(self.report)))

    def _show_outcome(self) -> None:
        if self.report is None or self.result is not None:
            super()._show_outcome()
            return
        # no run made: none to show (the last reused one would read as just measured)
        self.sub_title = "finished"
        self.phase = "done"
        if self.report.cancelled:
            self.query_one(StageProgress).show(Text("■ stopped", style="yellow"))
            self.query_one(LatencyHistogram).say("no run: the study was stopped before its first run")
        else:
            self.query_one(StageProgress).show(Text("✓ nothing to measure", style="green"))
            self.query_one(LatencyHistogram).say("no run: every run of this study was already measured here")
        box = self.query_one("#outcome", Static)
        box.display = True
        box.update(Text("v: results · esc: back", style="dim"))

    def quit_message(self) -> str:
        return super().quit_message() + "\nctrl+y on the same choices measures what is missing"
