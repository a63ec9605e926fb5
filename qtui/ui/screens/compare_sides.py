"""Did it get faster? `qtui compare A B` in the TUI (`v` on the results table): pick A and B —
a device, a study (the runs one study or sweep made) or a run of the results folder, or another
results folder (`f`) — and see
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
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Header, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from qtui.core import labels
from qtui.core.compare import Comparison, Side, compare, side_from, side_from_results, sides_in
from qtui.core.results import RunResult, load_results
from qtui.core.sinks import for_terminal
from qtui.ui.widgets.comparison import ComparisonView
from qtui.ui.widgets.footer import KeysFooter

#: A side as the menus hold it: (kind, name), kind "device", "study", "run" or "folder" (a path).
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
        Binding("f", "folder", "Folder…", id="sides.folder"),
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
        skipped: list[str] = []
        cmp = compare(self._side(a, skipped), self._side(b, skipped))
        cmp.notes += skipped
        return cmp

    def _side(self, choice: SideChoice, skipped: list[str]) -> Side:
        """A menu's side; a folder's results are read here, in the worker (its damaged files
        skipped, each said in `skipped`)."""
        kind, name = choice
        if kind == "folder":
            folder = Path(name)
            results = load_results(folder, warn=skipped.append)
            return side_from_results(name, "results folder", results, [folder])
        return side_from(kind, name, self.pool, [self.results_root])

    # -- another results folder (`f`) -----------------------------------------------------------
    def action_folder(self) -> None:
        self.app.push_screen(FolderSideScreen(), self._add_folder)

    def _add_folder(self, answer: tuple[str, Path] | None) -> None:
        if answer is None:
            return
        which, folder = answer
        choice: SideChoice = ("folder", str(folder))
        if choice not in [v for _, v in self.options]:
            self.options.append((Text(for_terminal(f"folder {folder}")), choice))
        if which == "A":
            self.side_a = choice
        else:
            self.side_b = choice
        with self.prevent(Select.Changed):
            for menu_id, value in (("#sides-a", self.side_a), ("#sides-b", self.side_b)):
                menu = self.query_one(menu_id, Select)
                menu.set_options(self.options)
                if value is not None:
                    menu.value = value
        self._start()

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


class FolderSideScreen(ModalScreen[tuple[str, Path] | None]):
    """Ask for another results folder (a study's, last month's) and the side it takes."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="folder-dialog"):
            yield Label("Compare with another results folder", classes="dialog-title")
            with Horizontal(classes="field"):
                yield Label("Side")
                yield Select([("B", "B"), ("A", "A")], value="B", allow_blank=False, id="folder-side", compact=True)
            with Horizontal(classes="field"):
                yield Label("Folder")
                yield Input(id="folder-path", placeholder="a folder of run folders (…/RUN_ID/result.json)", compact=True)
            yield Static(id="folder-error", classes="error")
            yield Static("enter: compare · esc: cancel", classes="hint")
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#folder-path", Input).focus()

    @on(Input.Submitted, "#folder-path")
    def _submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        folder = Path(text).expanduser()
        if not folder.is_dir():
            self.query_one("#folder-error", Static).update(Text(for_terminal(f"{text}: not a folder")))
            return
        self.dismiss((str(self.query_one("#folder-side", Select).value), folder))
