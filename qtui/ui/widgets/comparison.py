"""A comparison (`qtui.core.compare`) drawn with Rich: what each side is and what differs between
them, the per-cell table in the richest form that fits the width (full names, else short, else
narrow without the A/B figures and the per-cell differences, which then follow the table), the
geometric mean and the notes. `qtui compare` prints it; the TUI's compare view shows it. Every
piece of text is a `Text` through `for_terminal`, never markup."""

from __future__ import annotations

from collections.abc import Callable

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from qtui.core import labels
from qtui.core.compare import COLUMNS, Comparison, cell_row, footer_lines, header_lines
from qtui.core.sinks import for_terminal

#: Columns drawn on the right.
RIGHT = frozenset({"A", "B", "B/A time", "interval"})
NAMES = ("model", "framework", "precision", "scenario")


def _names(length: str) -> Callable[[str], str]:
    return {"full": labels.title, "short": labels.short, "narrow": labels.narrow}[length]


def build_table(cmp: Comparison, length: str, columns: tuple[str, ...]) -> Table:
    """The cells as a table of `columns`, names at `length` ("full", "short", "narrow")."""
    names = _names(length)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
    for col in columns:
        header = {"framework": "fw", "precision": "prec", "scenario": "scen"}.get(col, col) if length == "narrow" else col
        table.add_column(header, justify="right" if col in RIGHT else "left", no_wrap=True, overflow="ellipsis")
    for row in (cell_row(c) for c in cmp.cells):
        cells = []
        for col in columns:
            value = row[col]
            if col in NAMES:
                value = names(value)
            cells.append(Text(for_terminal(value) or "–"))
        table.add_row(*cells)
    return table


def fitted_table(cmp: Comparison, console: Console, width: int) -> tuple[Table, tuple[str, ...]]:
    """The richest table that fits `width`, and its columns."""
    differs = any(c.differs for c in cmp.cells)
    full = COLUMNS if differs else tuple(c for c in COLUMNS if c != "differs")
    narrow = tuple(c for c in full if c not in ("A", "B", "differs"))
    table = build_table(cmp, "narrow", narrow)
    for length, columns in (("full", full), ("short", full), ("short", narrow), ("narrow", narrow)):
        table = build_table(cmp, length, columns)
        if console.measure(table, options=console.options.update_width(10**6)).maximum <= width:
            return table, columns
    return table, narrow


def hidden_differences(cmp: Comparison, columns: tuple[str, ...]) -> list[str]:
    """The per-cell differences as lines, when the table has no room for its `differs` column."""
    if "differs" in columns:
        return []
    out = []
    for cell in cmp.cells:
        row = cell_row(cell)
        if row["differs"]:
            what = " ".join(labels.narrow(row[k]) for k in NAMES)
            out.append(f"differs: {what}: {row['differs']}")
    return out


class ComparisonView:
    """The whole comparison as one renderable, fitted to the width it is drawn in."""

    def __init__(self, cmp: Comparison) -> None:
        self.cmp = cmp

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in header_lines(self.cmp):
            yield Text(for_terminal(line))
        table, columns = fitted_table(self.cmp, console, options.max_width)
        yield table
        for line in [*hidden_differences(self.cmp, columns), *footer_lines(self.cmp)]:
            yield Text(for_terminal(line))
