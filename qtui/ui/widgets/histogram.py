"""The latency histogram: log-spaced bins drawn as vertical bars, percentile markers and an axis
labelled in milliseconds, fitted to whatever width the widget has (80 columns included).

`histogram_lines()` is the drawing itself (plain text, testable without a terminal);
`LatencyHistogram` is the widget that shows it for a `HistogramSnapshot` and redraws only when the
snapshot or its size changes; it draws as many bar rows as its height allows (the run screen
gives it the room the terminal has), and says why when there is nothing to draw. Nothing else in
qtui knows how the histogram is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from qtui.core.events import HistogramSnapshot

EIGHTHS = " ▁▂▃▄▅▆▇█"
MARKED_PERCENTILES = ("p50", "p90", "p99")
MARKER = "▲"


@dataclass(frozen=True)
class HistogramPicture:
    """The drawn histogram: bar rows (top first), the percentile marker row and the axis row."""

    bars: list[str]
    markers: str
    axis: str
    peak: int
    total: int

    @property
    def lines(self) -> list[str]:
        return [*self.bars, self.markers, self.axis]


def format_ms(value: float) -> str:
    """A latency in ms with about three significant digits: 0.52, 3.16, 31.6, 316."""
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:.0f}"


def _columns(
    edges: Sequence[float], counts: Sequence[int], width: int
) -> tuple[list[int], list[tuple[float, float]]]:
    """Counts and (low, high) edges per screen column: bins stretched over the width when they
    are fewer than the columns, several bins merged per column when they are more."""
    n = len(counts)
    if n == 0 or width <= 0 or len(edges) != n + 1:
        return [], []
    if n <= width:
        index = [x * n // width for x in range(width)]
        return [counts[i] for i in index], [(edges[i], edges[i + 1]) for i in index]
    m = math.ceil(n / width)
    starts = range(0, n, m)
    return (
        [sum(counts[s : s + m]) for s in starts],
        [(edges[s], edges[min(s + m, n)]) for s in starts],
    )


def _bar_rows(cols: list[int], rows: int) -> tuple[list[str], int]:
    peak = max(cols, default=0)
    if peak <= 0 or rows <= 0:
        return [" " * len(cols) for _ in range(max(rows, 0))], peak
    levels = [0 if c <= 0 else max(1, round(c / peak * rows * 8)) for c in cols]
    out = []
    for r in range(rows):
        floor = (rows - 1 - r) * 8
        out.append("".join(EIGHTHS[min(8, max(0, lv - floor))] for lv in levels))
    return out, peak


def _column_of(value: float, bounds: list[tuple[float, float]]) -> int:
    for x, (_, hi) in enumerate(bounds):
        if value < hi:
            return x
    return len(bounds) - 1


def _place(line: list[str], start: int, text: str, *, right_of_marker: bool) -> bool:
    """Write `text` at `start` if its cells are blank and it does not touch another label."""
    end = start + len(text)
    if start < 0 or end > len(line) or any(c != " " for c in line[start:end]):
        return False
    outer = end if right_of_marker else start - 1
    if 0 <= outer < len(line) and line[outer] != " ":
        return False
    line[start:end] = list(text)
    return True


def _marker_row(
    percentiles: Mapping[str, float], bounds: list[tuple[float, float]], width: int
) -> str:
    line = [" "] * width
    marks = [(key, percentiles[key]) for key in MARKED_PERCENTILES if key in percentiles]
    columns = [(key, _column_of(value, bounds)) for key, value in marks]
    for _, x in columns:
        line[x] = MARKER
    for key, x in columns:
        if not _place(line, x + 1, key, right_of_marker=True):
            _place(line, x - len(key), key, right_of_marker=False)
    return "".join(line)


def _axis_row(bounds: list[tuple[float, float]], width: int) -> str:
    """Tick labels (low edge of a bin) every few columns; the top edge and unit at the right."""
    line = [" "] * width
    if not bounds:
        return "".join(line)
    last = format_ms(bounds[-1][1]) + " ms"
    reserved = width - len(last)
    gap = max(8, width // 6)
    next_free = 0
    for x, (lo, _) in enumerate(bounds):
        label = format_ms(lo)
        starts_bin = x == 0 or bounds[x - 1][0] != lo
        if starts_bin and x >= next_free and x + len(label) < reserved:
            line[x : x + len(label)] = list(label)
            next_free = x + max(gap, len(label) + 2)
    if reserved >= 0:
        line[reserved:] = list(last)
    return "".join(line)


def histogram_lines(
    histogram: HistogramSnapshot | None,
    percentiles: Mapping[str, float] | None,
    width: int,
    height: int,
) -> HistogramPicture:
    """Draw the histogram into `width` × `height` cells (the last two rows: markers and axis)."""
    bar_rows = max(1, height - 2)
    edges = histogram.edges_ms if histogram else ()
    counts = histogram.counts if histogram else ()
    cols, bounds = _columns(edges, counts, width)
    if not cols:
        blank = " " * width
        return HistogramPicture([blank] * bar_rows, blank, blank, 0, 0)
    pad = width - len(cols)
    bars, peak = _bar_rows(cols, bar_rows)
    markers = _marker_row(percentiles or {}, bounds, len(cols))
    axis = _axis_row(bounds, len(cols))
    return HistogramPicture(
        [row + " " * pad for row in bars],
        markers + " " * pad,
        axis + " " * pad,
        peak,
        sum(counts),
    )


class LatencyHistogram(Widget):
    """Live (or saved) latency histogram; call `show()` with each new snapshot."""

    COMPONENT_CLASSES = {
        "histogram--bar",
        "histogram--marker",
        "histogram--axis",
        "histogram--empty",
    }
    DEFAULT_CSS = """
    LatencyHistogram {
        height: 8;
        width: 1fr;
    }
    LatencyHistogram > .histogram--bar { color: $accent; }
    LatencyHistogram > .histogram--marker { color: $warning; text-style: bold; }
    LatencyHistogram > .histogram--axis { color: $text-muted; }
    LatencyHistogram > .histogram--empty { color: $text-muted; }
    """

    def __init__(
        self,
        histogram: HistogramSnapshot | None = None,
        percentiles: Mapping[str, float] | None = None,
        *,
        empty_text: str = "waiting for the first timed queries…",
        counted: str = "queries",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._histogram = histogram
        self._percentiles = dict(percentiles or {})
        self.empty_text = empty_text
        self.counted = counted
        self._styles: dict[tuple[str, str], Style] = {}
        self._update_subtitle()

    @property
    def snapshot(self) -> HistogramSnapshot | None:
        return self._histogram

    def say(self, text: str) -> None:
        """What the widget says while it has no timed queries to draw ("waiting for…" during a
        run; after a run that ended without any, why: failed, cancelled before LoadGen…)."""
        if text != self.empty_text:
            self.empty_text = text
            self.refresh()

    def show(
        self, histogram: HistogramSnapshot | None, percentiles: Mapping[str, float] | None = None
    ) -> None:
        """Show a new snapshot; no repaint when nothing changed (minimal repaint over SSH)."""
        fresh = dict(percentiles or {})
        if histogram == self._histogram and fresh == self._percentiles:
            return
        self._histogram = histogram
        self._percentiles = fresh
        self._update_subtitle()
        self.refresh()

    def _update_subtitle(self) -> None:
        total = sum(self._histogram.counts) if self._histogram else 0
        self.border_subtitle = f"{total} {self.counted}" if total else ""

    def _style(self, name: str) -> Style:
        """Component styles, looked up once per theme (they are costly to resolve each frame)."""
        key = (self.app.theme, name)
        if key not in self._styles:
            self._styles[key] = self.get_component_rich_style(name)
        return self._styles[key]

    def render(self) -> Text:
        width, height = self.content_size
        picture = histogram_lines(self._histogram, self._percentiles, width, height)
        if not picture.total:
            empty = self._style("histogram--empty")
            lines = [""] * max(0, height // 2 - 1) + [self.empty_text.center(width)]
            return Text("\n".join(lines), style=empty, no_wrap=True, overflow="crop")
        text = Text(no_wrap=True, overflow="crop", end="")
        bar = self._style("histogram--bar")
        for row in picture.bars:
            text.append(row + "\n", style=bar)
        text.append(picture.markers + "\n", style=self._style("histogram--marker"))
        text.append(picture.axis, style=self._style("histogram--axis"))
        return text
