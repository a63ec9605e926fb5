"""Charts of saved results drawn with Unicode block characters, fitted to the width they get (80
columns included): speed-up over FP32 per framework × precision as horizontal bars with the 95 %
interval, and latency distributions compared on one log-scaled axis.

- `speedup_chart(table, width)`: the bars of a study table (`qtui.core.study_tables.StudyTable`):
  one per framework × precision other than FP32 (devices one under the other), the bar to the
  speed-up, the interval shaded (`▓` from its low end to the speed-up, `░` beyond it to its high
  end), `│` at ×1 (FP32), and the study table's own text beside it (`StudyCell.speedup_text`).
- `latency_chart(series, width, band_rows)`: a band per run, every band on the same log-spaced
  millisecond axis (each run's saved histogram re-binned onto it), the p50/p90/p99 markers under
  each band, the axis once at the bottom.

Both return `ChartLine`s (plain text and what each span is, testable without a terminal);
`SpeedupChart` and `LatencyComparison` are the widgets that draw them, as high as their lines.
The vertical bars, markers and ms axis are `qtui.ui.widgets.histogram`'s (the live histogram's)
drawing helpers. No plotting library: textual-plotext was measured against this module (import
after Textual about 3 times as long and 1.6 MB against 1.0 MB; a horizontal bar chart built in
about 5 ms against 0.04 ms; and no interval whiskers on horizontal bars). Charts are drawn on
the results screens only, never during a run, and imported only when opened.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from qtui.core import labels
from qtui.core.catalog import FRAMEWORK_TITLES
from qtui.core.frameworks import TABLE as FRAMEWORK_TABLE
from qtui.core.study_tables import STUDY_POOLED_MARK, STUDY_PRECISION_LABELS, StudyCell, StudyTable
from qtui.ui.widgets.histogram import (
    MARKED_PERCENTILES,
    _axis_row,
    _bar_rows,
    _marker_row,
    format_ms,
)

#: Left-aligned eighths of a cell, for the end of a horizontal bar.
LEFT_EIGHTHS = "▏▎▍▌▋▊▉"
FULL = "█"
CI_BELOW = "▓"  # the bar between the interval's low end and the speed-up
CI_ABOVE = "░"  # beyond the bar, up to the interval's high end
REFERENCE = "│"  # ×1: as fast as FP32
BAR_CHARS = frozenset(LEFT_EIGHTHS + FULL + CI_BELOW + CI_ABOVE)
SHORT_FRAMEWORKS = {f.id: f.short for f in FRAMEWORK_TABLE}
#: Bars narrower than this switch the labels to short names (and shorter device names).
MIN_BAR_WIDTH = 16
_STEPS = (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0, 200.0, 500.0, 1000.0)


@dataclass(frozen=True)
class ChartLine:
    """One drawn line: its text, what it is ("title", "bar", "band", "marker", "axis", "legend",
    "header", "note"), the precision it draws (for its colour), where its bar is in `text`, and
    for a speed-up bar the cell it draws."""

    text: str
    kind: str
    precision: str = ""
    span: tuple[int, int] = (0, 0)
    cell: StudyCell | None = field(default=None, compare=False)


def fit(text: str, width: int) -> str:
    """`text` cut to `width` cells with "…" when longer."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


# -- speed-up bars ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpeedupBar:
    """One framework × precision cell on one device: its speed-up (None without one) and the text
    beside its bar, the study table's (`×2.50 [2.41–2.58]`) or why there is no speed-up."""

    framework: str
    precision: str
    device: str
    cell: StudyCell

    @property
    def text(self) -> str:
        if self.cell.speedup is not None:
            return self.cell.speedup_text()
        if self.cell.status != "ok":
            return "INVALID: no speed-up"
        return "no matching FP32 run"

    @property
    def interval(self) -> tuple[float, float] | None:
        est = self.cell.speedup_estimate
        if est is None or not est.has_interval or est.low is None or est.high is None:
            return None
        return est.low, est.high


def speedup_bars(table: StudyTable) -> list[SpeedupBar]:
    """Every cell of `table` but FP32 (the reference), by framework, then precision, then device
    (a framework × precision's devices next to each other)."""
    out = []
    for framework in dict.fromkeys(row.framework for row in table.rows):
        rows = [row for row in table.rows if row.framework == framework]
        for index, precision in enumerate(table.precisions):
            if precision == "fp32":
                continue
            for row in rows:
                cell = row.cells[index]
                if cell is not None:
                    out.append(SpeedupBar(framework, precision, row.device, cell))
    return out


def _nice_scale(top: float, bar_width: int) -> tuple[float, float]:
    """(scale maximum, tick step): round ticks at least 7 columns apart covering `top`."""
    most = max(1, min(6, bar_width // 7))
    for step in _STEPS:
        if math.ceil(top / step - 1e-9) <= most:
            return math.ceil(top / step - 1e-9) * step, step
    step = 10 ** math.ceil(math.log10(top))
    return math.ceil(top / step) * step, step


def _hbar(value: float | None, interval: tuple[float, float] | None, unit: float, width: int, reference: int) -> str:
    cells = [" "] * width
    if value is not None and value > 0:
        if interval is None:
            eighths = max(1, round(value / unit * 8))
            full, part = divmod(min(eighths, width * 8), 8)
            cells[:full] = [FULL] * full
            if part and full < width:
                cells[full] = LEFT_EIGHTHS[part - 1]
        else:
            low, high = interval
            end = min(width, max(1, round(value / unit)))
            low_col = math.floor(low / unit)
            for i in range(end):
                cells[i] = FULL if i < low_col else CI_BELOW
            for i in range(end, min(width, math.ceil(high / unit))):
                cells[i] = CI_ABOVE
    if 0 <= reference < width and cells[reference] == " ":
        cells[reference] = REFERENCE
    return "".join(cells)


def _ticks_row(scale: float, step: float, unit: float, width: int) -> str:
    line = [" "] * width
    count = round(scale / step)
    for k in range(count + 1):
        value = k * step
        label = "0" if k == 0 else f"{value:g}×"
        start = min(round(value / unit), width - len(label))
        if start < 0 or any(c != " " for c in line[max(0, start - 2) : start + len(label) + 1]):
            continue
        line[start : start + len(label)] = list(label)
    return "".join(line)


def speedup_chart(table: StudyTable, width: int) -> list[ChartLine]:
    """The speed-up chart of `table` in `width` columns (see the module docstring)."""
    metric = table.metric.label
    title = f"{labels.title(table.model)} · {table.scenario}: speed-up over FP32 (from {metric})"
    out = [ChartLine(fit(title, width), "title")]
    bars = speedup_bars(table)
    if not bars:
        out.append(ChartLine(fit("only FP32 was measured: no speed-up to draw", width), "note"))
        return out
    value_w = max(len(b.text) for b in bars if b.cell.speedup is not None) if any(b.cell.speedup is not None for b in bars) else 0
    prec_w = max(len(STUDY_PRECISION_LABELS.get(b.precision, b.precision)) for b in bars)
    devices = table.by_device

    def layout(short: bool, device_cap: int) -> tuple[dict[str, str], int, int, int]:
        names = {b.framework: (SHORT_FRAMEWORKS if short else FRAMEWORK_TITLES).get(b.framework, b.framework) for b in bars}
        fw_w = max(len(n) for n in names.values())
        dev_w = min(device_cap, max(len(b.device) for b in bars)) if devices else 0
        label_w = fw_w + 1 + prec_w + 1 + (dev_w + 1 if devices else 0)
        return names, fw_w, dev_w, width - label_w - (value_w + 1 if value_w else 0)

    names, fw_w, dev_w, bar_w = layout(False, max(8, width // 5))
    if bar_w < MIN_BAR_WIDTH:
        names, fw_w, dev_w, bar_w = layout(True, max(6, width // 8))
    bar_w = max(bar_w, 4)
    label_w = fw_w + 1 + prec_w + 1 + (dev_w + 1 if devices else 0)
    top = 1.04 * max(
        [1.0]
        + [b.cell.speedup for b in bars if b.cell.speedup is not None]
        + [iv[1] for b in bars if (iv := b.interval) is not None]
    )
    scale, step = _nice_scale(top, bar_w)
    unit = scale / bar_w
    reference = min(bar_w - 1, math.floor(1.0 / unit))
    shown: set[tuple[str, str]] = set()
    for b in bars:
        fw = names[b.framework] if b.framework not in {k[0] for k in shown} else ""
        prec = STUDY_PRECISION_LABELS.get(b.precision, b.precision) if (b.framework, b.precision) not in shown else ""
        shown.add((b.framework, b.precision))
        label = f"{fw:<{fw_w}} {prec:<{prec_w}} " + (f"{fit(b.device, dev_w):<{dev_w}} " if devices else "")
        if b.cell.speedup is None:
            bar = _hbar(None, None, unit, bar_w, reference)
            reason = f"({b.text})"
            bar = (reason + bar[len(reason):]) if len(reason) <= bar_w else fit(reason, bar_w)
            text = label + bar
            out.append(ChartLine(fit(text, width), "bar", b.precision, (len(label), len(label)), b.cell))
            continue
        bar = _hbar(b.cell.speedup, b.interval, unit, bar_w, reference)
        text = label + bar + (" " + b.text if value_w else "")
        out.append(ChartLine(fit(text, width), "bar", b.precision, (len(label), len(label) + bar_w), b.cell))
    out.append(ChartLine(fit(" " * label_w + _ticks_row(scale, step, unit, bar_w), width), "axis"))
    legend = f"{FULL} speed-up (median of the repeats)"
    if any(b.interval is not None for b in bars):
        legend += f"  {CI_BELOW}{CI_ABOVE} 95 % CI"
    if any(b.cell is not None and b.cell.speedup_estimate is not None and b.cell.speedup_estimate.pooled for b in bars):
        legend += f" ({STUDY_POOLED_MARK} pooled spread)"
    legend += f"  {REFERENCE} ×1 = FP32"
    out.append(ChartLine(fit(legend, width), "legend"))
    return out


# -- latency distributions ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LatencySeries:
    """One run's saved latency histogram (log-spaced `edges_ms`, `counts`) and percentiles, and
    how the chart names it."""

    label: str
    edges_ms: tuple[float, ...]
    counts: tuple[int, ...]
    percentiles: Mapping[str, float] = field(default_factory=dict)
    precision: str = ""
    detail: str = ""

    @property
    def total(self) -> int:
        return sum(self.counts) if len(self.edges_ms) == len(self.counts) + 1 else 0


def common_edges(series: Sequence[LatencySeries], width: int) -> list[float]:
    """`width + 1` log-spaced edges (ms) from the lowest to the highest occupied bin of every
    series: one axis for all of them ([] when none has a latency)."""
    lows, highs = [], []
    for s in series:
        occupied = [i for i, c in enumerate(s.counts) if c > 0] if s.total else []
        if occupied and s.edges_ms[occupied[0]] > 0:
            lows.append(s.edges_ms[occupied[0]])
            highs.append(s.edges_ms[occupied[-1] + 1])
    if not lows or width <= 0:
        return []
    lo, hi = min(lows), max(highs)
    if hi <= lo * 1.0001:
        hi = lo * 10 ** 0.25
    ratio = math.log(hi / lo)
    return [lo * math.exp(ratio * k / width) for k in range(width + 1)]


def rebin(edges: Sequence[float], counts: Sequence[int], columns: Sequence[float]) -> list[float]:
    """`counts` over `edges` spread onto the bins `columns` (edges too), each bin's count shared
    by the log-width overlap (the histograms are log-spaced): nothing is lost inside the range."""
    out = [0.0] * max(0, len(columns) - 1)
    if not out:
        return out
    logs = [math.log(c) for c in columns]
    for i, count in enumerate(counts):
        lo, hi = edges[i], edges[i + 1]
        if count <= 0 or lo <= 0 or hi <= lo:
            continue
        a, b = math.log(lo), math.log(hi)
        first = max(0, _index_of(logs, a))
        for k in range(first, len(out)):
            left, right = max(a, logs[k]), min(b, logs[k + 1])
            if logs[k] >= b:
                break
            if right > left:
                out[k] += count * (right - left) / (b - a)
    return out


def _index_of(logs: Sequence[float], value: float) -> int:
    """The bin of `logs` (edges) holding `value` (-1 below the first edge)."""
    lo, hi = 0, len(logs) - 1
    if value < logs[0]:
        return -1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if logs[mid] <= value:
            lo = mid
        else:
            hi = mid
    return lo


def _percentile_text(percentiles: Mapping[str, float]) -> str:
    marks = [f"{k} {format_ms(percentiles[k])}" for k in MARKED_PERCENTILES if k in percentiles]
    return "  ".join(marks) + " ms" if marks else ""


def latency_chart(
    series: Sequence[LatencySeries], width: int, band_rows: int = 2, counted: str = "queries"
) -> list[ChartLine]:
    """Every series as a band of `band_rows` bar rows on one log-scaled ms axis (see the module
    docstring): a header (label, percentiles, detail), the bars, the percentile markers; then
    the axis and a legend."""
    if not series:
        return [ChartLine(fit("no run chosen: pick runs to compare", width), "note")]
    edges = common_edges(series, width)
    bounds = list(zip(edges, edges[1:], strict=False))
    out: list[ChartLine] = []
    for s in series:
        head = "  ".join(x for x in (s.label, _percentile_text(s.percentiles)) if x)
        if s.detail and len(head) + 2 + len(s.detail) <= width:
            head += "  " + s.detail
        out.append(ChartLine(fit(head, width), "header", s.precision))
        if not s.total or not bounds:
            out.append(ChartLine(fit("  no latencies recorded", width), "note"))
            continue
        shares = rebin(s.edges_ms, s.counts, edges)
        levels = [math.ceil(v * 1000) if v > 0 else 0 for v in shares]
        rows, _ = _bar_rows(levels, max(1, band_rows))
        out += [ChartLine(row, "band", s.precision, (0, width)) for row in rows]
        out.append(ChartLine(_marker_row(dict(s.percentiles), bounds, width), "marker", s.precision))
    if bounds:
        out.append(ChartLine(_axis_row(bounds, width), "axis"))
    legend = f"share of {counted} per bin, each band scaled to its own peak; ▲ p50 p90 p99; log-scaled ms"
    if len(legend) > width:
        legend = f"{counted} per bin, own peak; ▲ p50 p90 p99"
    out.append(ChartLine(fit(legend, width), "legend"))
    return out


# -- widgets ----------------------------------------------------------------------------------------
class Chart(Widget):
    """A chart as high as its lines: subclasses say what the lines are for a width."""

    COMPONENT_CLASSES = {
        "chart--title", "chart--header", "chart--axis", "chart--legend", "chart--note",
        "chart--marker", "chart--reference", "chart--fp32", "chart--fp16",
        "chart--int8_dynamic", "chart--int8_static",
    }
    DEFAULT_CSS = """
    Chart {
        height: auto;
        width: 1fr;
    }
    Chart > .chart--title { text-style: bold; }
    Chart > .chart--header { text-style: bold; }
    Chart > .chart--axis { color: $text-muted; }
    Chart > .chart--legend { color: $text-muted; }
    Chart > .chart--note { color: $text-muted; }
    Chart > .chart--marker { color: $warning; text-style: bold; }
    Chart > .chart--reference { color: $text-muted; }
    Chart > .chart--fp32 { color: $text; }
    Chart > .chart--fp16 { color: $warning; }
    Chart > .chart--int8_dynamic { color: $success; }
    Chart > .chart--int8_static { color: $accent; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._styles: dict[tuple[str, str], Style] = {}

    def lines_for(self, width: int) -> list[ChartLine]:
        raise NotImplementedError

    def lines(self) -> list[ChartLine]:
        """What the widget draws now, at its width."""
        return self.lines_for(self.content_size.width)

    def changed(self) -> None:
        """The data changed: measure and draw again."""
        self.clear_cached_dimensions()
        self.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines_for(width))

    def _style(self, name: str) -> Style:
        key = (self.app.theme, name)
        if key not in self._styles:
            self._styles[key] = self.get_component_rich_style(name)
        return self._styles[key]

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="crop", end="")
        lines = self.lines()
        for index, line in enumerate(lines):
            piece = Text(line.text, no_wrap=True, end="")
            if line.kind in ("title", "header", "axis", "legend", "note", "marker"):
                piece.stylize(self._style(f"chart--{line.kind}"))
            elif line.kind in ("bar", "band"):
                start, end = line.span
                colour = self._style(f"chart--{line.precision}") if line.precision else Style()
                reference = self._style("chart--reference")
                run_start, run_style = start, None
                for x in range(start, min(end, len(line.text)) + 1):
                    ch = line.text[x] if x < min(end, len(line.text)) else ""
                    style = reference if ch == REFERENCE and line.kind == "bar" else colour if ch not in ("", " ") else None
                    if style is not run_style:  # one span per run of one style
                        if run_style is not None:
                            piece.stylize(run_style, run_start, x)
                        run_start, run_style = x, style
            text.append_text(piece)
            if index < len(lines) - 1:
                text.append("\n")
        return text


class SpeedupChart(Chart):
    """`speedup_chart` of one study table (None: nothing to draw yet)."""

    def __init__(self, table: StudyTable | None = None, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.table = table

    def show(self, table: StudyTable | None) -> None:
        self.table = table
        self.changed()

    def lines_for(self, width: int) -> list[ChartLine]:
        if self.table is None or width <= 0:
            return []
        return speedup_chart(self.table, width)


class LatencyComparison(Chart):
    """`latency_chart` of the chosen runs; the bands get taller when the terminal has the room
    (`rows_for_bands`: the screen's rows left for them)."""

    def __init__(
        self,
        series: Sequence[LatencySeries] = (),
        *,
        counted: str = "queries",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.series = list(series)
        self.counted = counted
        self.rows_for_bands = 12

    def show(self, series: Sequence[LatencySeries], counted: str = "queries") -> None:
        self.series = list(series)
        self.counted = counted
        self.changed()

    def band_rows(self) -> int:
        """Bar rows per band: what fits `rows_for_bands` with every band's header and markers,
        between 1 and 6."""
        n = max(1, len(self.series))
        return max(1, min(6, self.rows_for_bands // n - 2))

    def lines_for(self, width: int) -> list[ChartLine]:
        if width <= 0:
            return []
        return latency_chart(self.series, width, self.band_rows(), self.counted)
