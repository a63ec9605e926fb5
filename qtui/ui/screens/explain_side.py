"""Why, per layer, from the study tables (`w` on the study view): pick a cell to see (or make)
its artifact's per-layer profile (`ExplainScreen`), or see every cell's saved profile side by
side — one row per source layer, one column per artifact, as `qtui explain` prints it — scrollable
at 80×24. Side by side shows only profiles already saved under the results folder's `explain/`
(no runtime needed); the cells without one are named, with how to make it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from qtui.core import labels
from qtui.core.results import RunResult
from qtui.core.sinks import for_terminal
from qtui.core.study_tables import StudyTable
from qtui.ui.widgets.footer import KeysFooter

#: The first option of the cell picker.
SIDE_BY_SIDE = "side"


def cell_runs(tables: list[StudyTable], pool: list[RunResult]) -> list[tuple[str, RunResult]]:
    """(label, newest run) of every cell of `tables`, as the tables list them."""
    by_id = {r.run_id: r for r in pool}
    out = []
    for table in tables:
        for row in table.rows:
            for cell in row.cells:
                run = by_id.get(cell.run_id) if cell is not None else None
                if cell is None or run is None:
                    continue
                device = f" · {row.device}" if table.by_device else ""
                label = (f"{table.scenario} · {labels.title(cell.framework)} · {labels.title(cell.precision)}"
                         f"{device}: {cell.metric_text()} {cell.speedup_text()}").rstrip()
                out.append((label, run))
    return out


def side_by_side_lines(runs: list[RunResult], results_root: Path, width: int) -> list[str]:
    """The saved profiles of `runs`' artifacts side by side at `width`: a line per artifact
    (what it executed), the table, its legend, then the cells with no saved profile."""
    from qtui.core import explain as ex
    from qtui.core.explain import cite, render

    profiles: list[Any] = []
    missing: list[str] = []
    seen: set[str] = set()
    for run in runs:
        key = cite.artifact_key(run)
        if key is not None and key in seen:
            continue
        seen.add(key or run.run_id)
        path = cite.saved_profile(run, results_root)
        name = f"{labels.title(run.profile.framework)} {labels.title(run.profile.precision)}"
        if path is None:
            missing.append(name)
            continue
        try:
            profiles.append(ex.load(path))
        except ex.ExplainError as exc:
            missing.append(f"{name} ({exc})")
    lines: list[str] = []
    for p in profiles:
        lines.append(f"{render.narrow_label(p)}: {cite.reason_text(p.summary())}")
    if profiles:
        lines = render.wrapped(lines, width)
        lines += ["", *render.aligned(render.side_headers(profiles), render.side_rows(profiles), width)]
        lines += ["", *render.wrapped([render.LEGEND], width)]
    else:
        lines.append("no saved per-layer profile of these cells yet")
    if missing:
        lines += ["", *render.wrapped([f"not profiled yet: {', '.join(missing)} (esc, then choose its cell: "
                                       "that profiles it; or qtui explain with its profile)"], width)]
    return lines


class ExplainCellsScreen(ModalScreen[None]):
    """The cells of the study view's tables: one's per-layer profile, or all side by side."""

    BINDINGS = [Binding("escape,q", "dismiss(None)", "Close", id="explain-cells.close")]

    def __init__(self, tables: list[StudyTable], pool: list[RunResult], results_root: Path) -> None:
        super().__init__()
        self.cells = cell_runs(tables, pool)
        self.results_root = results_root

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="explain-cells-dialog"):
            yield Static("Why, per layer: choose a cell", classes="dialog-title")
            options = [Option("All cells side by side (saved profiles)", id=SIDE_BY_SIDE)]
            options += [Option(Text(for_terminal(label), no_wrap=True, overflow="ellipsis"), id=str(i))
                        for i, (label, _) in enumerate(self.cells)]
            yield OptionList(*options, id="explain-cells")
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == SIDE_BY_SIDE:
            self.app.push_screen(SideBySideScreen([run for _, run in self.cells], self.results_root))
            return
        from qtui.ui.screens.explain import ExplainScreen

        self.app.push_screen(ExplainScreen(self.cells[int(event.option.id or 0)][1], self.results_root))


class SideBySideScreen(ModalScreen[None]):
    """The saved per-layer profiles of the given runs' artifacts side by side, scrollable."""

    BINDINGS = [Binding("escape,q", "dismiss(None)", "Close", id="explain-side.close")]
    AUTO_FOCUS = "#explain-side-body"

    def __init__(self, runs: list[RunResult], results_root: Path) -> None:
        super().__init__()
        self.runs = runs
        self.results_root = results_root

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="explain-side-dialog"):
            yield Static("Per layer, side by side (saved profiles)", classes="dialog-title")
            with VerticalScroll(id="explain-side-body"):
                yield Static(id="explain-side-text")
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        width = max(40, self.app.size.width - 6)  # the dialog's border, padding and scrollbar
        lines = side_by_side_lines(self.runs, self.results_root, width)
        text = Text("\n".join(for_terminal(line) for line in lines), no_wrap=True, overflow="ellipsis")
        self.query_one("#explain-side-text", Static).update(text)
