"""A study, live: the run screen (stages, live histogram and figures of the run in progress, log)
under one more line that says where the study is — which of how many runs, what it measures,
the time left — and, at the end, what was measured, reused and failed, and how long preparing
and measuring took. `esc` cancels the run in progress and stops the study; the same study
started again measures only what is missing (`qtui.core.study`)."""

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
        text += "\ninterrupted: start the same study again to measure what is missing"
    return text


class StudyScreen(RunScreen):
    """Every combination of a profile's `[sweep]`, `[study] repeats` times, live."""

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

        options = replace(self.options, results_root=self.results_root)
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
        self.report = value
        runs = list(self.report.results) if self.report is not None else []
        self.result = runs[-1] if runs else None
        self._show_outcome()
        if self.report is not None:
            self.query_one("#study-step", Static).update(Text(report_text(self.report)))
