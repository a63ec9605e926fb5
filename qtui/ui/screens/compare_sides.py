"""Did it get faster? `qtui compare A B` in the TUI (`v` on the results table): pick A and B —
a device, a study (the runs one study or sweep made) or a run of the results folder — and see
what `qtui compare` prints: what differs between A and B at the top, the per-cell table (time
ratio B/A, its 95 % interval and the verdict; cells on one side only listed), the geometric mean.

The comparison reads the runs' saved per-query latencies and bootstraps them, so it runs in a
worker thread (the newest choice wins: an older comparison still running is dropped when it
ends); the screen stays usable meanwhile. The body scrolls, and the table takes the richest
form that fits the screen (`qtui.ui.widgets.comparison`), so it reads at 80×24.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Select, Static
from textual.worker import Worker, WorkerState

from qtui.core import labels
from qtui.core.compare import Comparison, compare, side_from, sides_in
from qtui.core.results import RunResult
from qtui.core.sinks import for_terminal
from qtui.ui.widgets.comparison import ComparisonView
from qtui.ui.widgets.footer import KeysFooter

#: A side as the menus hold it: (kind, name), kind "device", "study" or "run".
SideChoice = tuple[str, str]


def run_title(result: RunResult) -> str:
    """A run as a menu names it: its cell in short words, when it was made, its id's start."""
    p = result.profile
    what = " ".join(labels.narrow(v) for v in (p.model, p.framework, p.precision, p.scenario))
    return f"run {what} {result.created[5:16].replace('T', ' ')} {result.run_id[:8]}"


def side_options(pool: list[RunResult], runs: list[RunResult]) -> list[tuple[Text, SideChoice]]:
    """The menus' entries: each device and study of `pool`, then `runs` (the marked and the
    selected run), each label one line of terminal-safe text."""
    out = [(Text(for_terminal(f"{kind} {name}")), (kind, name)) for kind, name in sides_in(pool)]
    seen = set()
    for r in runs:
        if r.run_id not in seen:
            seen.add(r.run_id)
            out.append((Text(for_terminal(run_title(r))), ("run", r.run_id)))
    return out


def default_sides(options: list[SideChoice], a: SideChoice | None, b: SideChoice | None) -> tuple[SideChoice | None, SideChoice | None]:
    """A and B as the screen opens: the ones asked for; with neither, the first two devices (a
    Pi 4 against a Pi 5), else the first two studies; else the first entries left."""
    if a is None and b is None:
        for kind in ("device", "study"):
            of_kind = [o for o in options if o[0] == kind]
            if len(of_kind) >= 2:
                return of_kind[0], of_kind[1]
    if a is None:
        a = next((o for o in options if o != b), None)
    if b is None:
        b = next((o for o in options if o != a), None)
    return a, b


class CompareSidesScreen(Screen[None]):
    """Two sides picked from the results folder, compared cell by cell."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Back", id="sides.back"),
        Binding("x", "swap", "Swap A/B", id="sides.swap"),
    ]
    AUTO_FOCUS = "#sides-body"

    def __init__(
        self, pool: list[RunResult], results_root: Path, runs: list[RunResult],
        a: SideChoice | None = None, b: SideChoice | None = None,
    ) -> None:
        super().__init__()
        self.pool = pool
        self.results_root = results_root
        self.options = side_options(pool, runs)
        self.side_a, self.side_b = default_sides([v for _, v in self.options], a, b)
        self.worker: Worker[Any] | None = None
        #: the comparison shown (None while none is)
        self.comparison: Comparison | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="sides-menus"):
            for name, value in (("A", self.side_a), ("B", self.side_b)):
                yield Select(
                    self.options, prompt=f"{name}: pick a side", id=f"sides-{name.lower()}", compact=True,
                    value=Select.NULL if value is None else value,
                )
        yield Static(id="sides-status")
        with VerticalScroll(id="sides-body"):
            yield Static(id="sides-text")
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "compare: B against A"
        self._start()

    @on(Select.Changed)
    def _changed(self, event: Select.Changed) -> None:
        value = event.value
        chosen = None if value is Select.NULL else value
        if event.select.id == "sides-a":
            if chosen == self.side_a:
                return
            self.side_a = chosen  # type: ignore[assignment]
        else:
            if chosen == self.side_b:
                return
            self.side_b = chosen  # type: ignore[assignment]
        self._start()

    def action_swap(self) -> None:
        self.side_a, self.side_b = self.side_b, self.side_a
        with self.prevent(Select.Changed):
            for menu_id, value in (("#sides-a", self.side_a), ("#sides-b", self.side_b)):
                menu = self.query_one(menu_id, Select)
                if value is None:
                    menu.clear()
                else:
                    menu.value = value
        self._start()

    # -- the comparison, in a worker ----------------------------------------------------------
    def _start(self) -> None:
        a, b = self.side_a, self.side_b
        if not self.options:
            self._status(f"no results in {self.results_root} to compare: measure some first")
            return
        if a is None or b is None:
            self._status("pick A and B (tab to the menus)")
            return
        if a == b:
            self._status("A and B are the same: pick another B")
            self._show(None)
            return
        self._status(f"comparing {a[0]} {a[1]} → {b[0]} {b[1]}…")
        self.worker = self._compare(a, b)

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare")
    def _compare(self, a: SideChoice, b: SideChoice) -> Comparison:
        roots = [self.results_root]
        return compare(side_from(*a, self.pool, roots), side_from(*b, self.pool, roots))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.worker:
            return  # an older choice's comparison: the newest wins
        if event.state == WorkerState.SUCCESS:
            cmp = event.worker.result
            assert isinstance(cmp, Comparison)
            self.comparison = cmp
            self._status(f"A: {cmp.a.what} {cmp.a.name} · B: {cmp.b.what} {cmp.b.name} · x swaps, tab the menus")
            self._show(cmp)
        elif event.state == WorkerState.ERROR:
            error = event.worker.error
            self._status(f"the comparison failed: {type(error).__name__}: {error}")
            self._show(None)

    # -- drawing --------------------------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.query_one("#sides-status", Static).update(Text(for_terminal(text), no_wrap=True, overflow="ellipsis"))

    def _show(self, cmp: Comparison | None) -> None:
        self.query_one("#sides-text", Static).update(ComparisonView(cmp) if cmp is not None else "")
