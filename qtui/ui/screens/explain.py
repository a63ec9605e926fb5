"""Why is this result's INT8 (not) faster (`w` on the results table): the per-layer profile of
the artifact it ran, summary first, then the per-layer table, scrollable at 80×24.

The profile saved for that artifact under the results folder's `explain/` (by `qtui explain` or
an earlier `w`) opens at once, with no runtime. Without one the screen makes it: the profiling
pass (`qtui.core.explain.profiling.profile_and_save`: the artifact from the cache, or prepared, then a few
batch-1 inferences with the runtime's profiler on; never a timed run) runs in a worker thread,
the screen shows its steps, and `esc` cancels it (nothing is saved). `p` profiles again."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from qtui.core import events as ev
from qtui.core import labels
from qtui.core.results import RunResult
from qtui.core.sinks import for_terminal
from qtui.ui.messages import RunLog, RunPreparing, wrap
from qtui.ui.widgets.footer import KeysFooter

#: Profiled batch-1 inferences per profiling pass (as `qtui explain`'s default).
RUNS = 5


def render_wrapped(lines: list[str], width: int) -> list[str]:
    """Lines wrapped at `width` as the profile's summary is."""
    from qtui.core.explain import render

    return render.wrapped(lines, width)


def profile_lines(profile: Any, width: int) -> list[str]:
    """A profile as the screen shows it: the summary, then the per-layer table."""
    from qtui.core.explain import render

    return [*render.wrapped(render.summary_lines(profile), width), "",
            *render.aligned(render.LAYER_HEADERS, render.layer_rows(profile), width)]


class ExplainScreen(ModalScreen[None]):
    """The per-layer profile of the selected result's artifact (saved, or made now)."""

    BINDINGS = [
        Binding("escape,w,q", "close", "Close", id="explain.close"),
        Binding("p", "profile", "Profile again", id="explain.profile"),
    ]
    AUTO_FOCUS = "#explain-body"

    def __init__(self, result: RunResult, results_root: Path, runs: int = RUNS) -> None:
        super().__init__()
        self.result = result
        self.results_root = results_root
        self.runs = runs
        self.stop = threading.Event()
        self.worker: Worker[Any] | None = None
        #: where the profile shown was read from or saved to (None while there is none)
        self.path: Path | None = None

    def compose(self) -> ComposeResult:
        p = self.result.profile
        with Vertical(classes="dialog", id="explain-dialog"):
            title = f"Why, per layer: {labels.title(p.model)} · {labels.title(p.framework)} · {labels.title(p.precision)}"
            yield Static(Text(for_terminal(title), no_wrap=True, overflow="ellipsis"), classes="dialog-title")
            yield Static(id="explain-status")
            with VerticalScroll(id="explain-body"):
                yield Static(id="explain-text")
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        from qtui.core import explain as ex
        from qtui.core.explain.cite import saved_profile

        path = saved_profile(self.result, self.results_root)
        if path is None:
            self.action_profile()
            return
        try:
            profile = ex.load(path)
        except ex.ExplainError as exc:
            self._status(f"{exc}\np: profile it again")
            return
        self.path = path
        self._status(f"saved profile {self._shown_path(path)} (p: profile again)")
        self._show(profile_lines(profile, self._width()))

    # -- the profiling pass ---------------------------------------------------------------------
    @property
    def profiling(self) -> bool:
        return self.worker is not None and self.worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def action_profile(self) -> None:
        if self.profiling:
            return
        self.stop = threading.Event()
        self._status("profiling this run's artifact (a profiling pass, not a timed run; esc cancels)…")
        self.worker = self._profile(self.stop)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`p` is offered only while no profiling pass runs."""
        return not (action == "profile" and self.profiling)

    @work(thread=True, exclusive=True, exit_on_error=False, group="explain")
    def _profile(self, stop: threading.Event) -> tuple[Any, Path]:
        from qtui.core.explain import profiling

        return profiling.profile_and_save(self.result.profile, self.results_root / "explain", self.runs, self._on_event, stop)

    def _on_event(self, event: ev.Event) -> None:
        """Called on the worker's threads: post and return at once."""
        if isinstance(event, (ev.Preparing, ev.Log)):
            self.post_message(wrap(event))

    @on(RunPreparing)
    def _preparing(self, message: RunPreparing) -> None:
        if self.profiling and not self.stop.is_set():
            fraction = message.event.fraction
            done = f" {fraction * 100:.0f} %" if fraction is not None else ""
            self._status(f"{message.event.step}{done}… (esc cancels)")

    @on(RunLog)
    def _logged(self, message: RunLog) -> None:
        if message.event.level != "info":
            self._status(f"{message.event.level}: {message.event.text}")

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.worker:
            return
        self.refresh_bindings()
        if event.state == WorkerState.SUCCESS:
            made = event.worker.result
            if made is None:
                return
            profile, path = made
            self.path = path
            self._status(f"profiled now, saved as {self._shown_path(path)} (p: profile again)")
            self._show(profile_lines(profile, self._width()))
        elif event.state == WorkerState.ERROR:
            from qtui.core.threads import Cancelled

            error = event.worker.error
            if isinstance(error, Cancelled) or self.stop.is_set():
                self._status("profiling cancelled: nothing saved (p: profile)")
            else:
                self._status("profiling failed (p: try again)")
                self._show(render_wrapped([f"profiling failed: {type(error).__name__}: {error}", "",
                                           f"the same from a shell: {self._command()}"], self._width()))

    def action_close(self) -> None:
        self.stop.set()
        self.dismiss(None)

    def on_unmount(self) -> None:
        self.stop.set()

    # -- drawing --------------------------------------------------------------------------------
    def _command(self) -> str:
        from qtui.core.explain.cite import explain_command

        return explain_command(self.result) or "qtui explain PROFILE (the profile this run was made from)"

    def _shown_path(self, path: Path) -> str:
        """`path` under the results folder as 'explain/…' (the folder is in the results title)."""
        try:
            return str(path.relative_to(self.results_root))
        except ValueError:
            return str(path)

    def _width(self) -> int:
        """Text width inside the dialog (its border, padding and scrollbar)."""
        return max(40, self.app.size.width - 6)

    def _status(self, text: str) -> None:
        self.query_one("#explain-status", Static).update(Text(for_terminal(text, multiline=True)))

    def _show(self, lines: list[str]) -> None:
        text = Text("\n".join(for_terminal(line) for line in lines), no_wrap=True, overflow="ellipsis")
        self.query_one("#explain-text", Static).update(text)
