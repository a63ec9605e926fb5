"""The answer to the study's question, for the results the results screen shows: the
recommendation (`AnswerScreen`, key `a`) and the charts (`ChartsScreen`, key `g`).

- `answer_recommendations` is `qtui.core.recommend.recommend` over the shown results (the
  screen's filters), with baselines, repeats and accuracy runs from every saved result and the
  default budgets, exactly as `qtui recommend --model M --scenario S` calls it; a framework or
  precision filter narrows the candidates, and the "not measured" lines to them (the filtered-out
  cells were measured, only not shown). `answer_lines` prints the core's text
  (`recommendations_text`, what `qtui recommend` prints) wrapped to the width, each continuation
  indented under its line.
  The speed-up charts of the same results follow the text.
- `ChartsScreen`: per model × scenario (the core's study tables of the shown results), the
  speed-up over FP32 per framework × precision with its interval, and the latency distributions
  of the runs ticked in a list (by default one framework's precisions) on one axis
  (`qtui.ui.widgets.charts`).

Text from result files is drawn as `rich.text.Text`, never as markup.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.events import Resize
from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from qtui.core import labels
from qtui.core.catalog import FRAMEWORK_TITLES, MODEL_TITLES, PRECISION_TITLES
from qtui.core.recommend import (
    RANDOM_WEIGHTS_CAVEAT,
    UNLABELLED_CAVEAT,
    Recommendation,
    recommend,
    recommendations_text,
)
from qtui.core.results import RunResult
from qtui.core.sinks import shell_command
from qtui.core.study_tables import STUDY_PRECISION_LABELS, StudyTable, study_tables
from qtui.core.text import one_line
from qtui.ui.widgets.charts import (
    SHORT_FRAMEWORKS,
    LatencyComparison,
    LatencySeries,
    SpeedupChart,
    fit,
)
from qtui.ui.widgets.footer import KeysFooter


# -- the recommendation -----------------------------------------------------------------------------
def answer_recommendations(
    results: Iterable[RunResult], pool: Iterable[RunResult], filters: dict[str, str] | None = None
) -> list[Recommendation]:
    """`recommend(results, pool)` with the default budgets (what `qtui recommend` does for the
    same results). With a framework or precision filter the combinations it hides are left out
    of "not measured": they may well have been measured."""
    recs = recommend(list(results), list(pool))
    wanted = {k: v for k, v in (filters or {}).items() if k in ("framework", "precision")}
    if not wanted:
        return recs
    return [
        replace(rec, not_measured=tuple(
            (fw, prec, why) for fw, prec, why in rec.not_measured
            if wanted.get("framework", fw) == fw and wanted.get("precision", prec) == prec
        ))
        for rec in recs
    ]


def recommend_command(results_root: Path, filters: dict[str, str]) -> str:
    """The `qtui recommend` command that prints what the view shows (framework and precision
    filters have no equivalent there)."""
    argv = ["qtui", "recommend", "--results-dir", str(results_root)]
    for key in ("model", "scenario"):
        if key in filters:
            argv += [f"--{key}", filters[key]]
    try:
        return shell_command(argv)  # every argument quoted: a folder name may hold anything
    except ValueError:  # a control character in the folder's name: no command can show it
        return "qtui recommend --results-dir FOLDER (this folder's name cannot be shown)"


@dataclass(frozen=True)
class AnswerLine:
    """One drawn line of the recommendation and what it says ("title", "best", "none", "runner",
    "caveat", "warn", "over", "missing", "budgets", "text", "blank")."""

    text: str
    kind: str


def line_kind(line: str) -> str:
    """What a line of `Recommendation.text_lines` says, from how the core words it."""
    text = line.strip()
    if not text:
        return "blank"
    if text.startswith("budgets:"):
        return "budgets"
    if not line.startswith(" "):
        return "title"
    for prefix, kind in (
        ("recommended:", "best"), ("no recommendation", "none"), ("runner-up:", "runner"),
        ("faster, but quality not measured", "warn"), ("no confidence interval", "warn"),
        ("unstable:", "warn"), ("over budget", "over"), ("not measured", "missing"),
        ("quality not measured (slower)", "missing"),
    ):
        if text.startswith(prefix):
            return kind
    if text in (RANDOM_WEIGHTS_CAVEAT, UNLABELLED_CAVEAT) or (text.startswith("top-1 ") and "measured, but" in text):
        return "caveat"
    return "text"


#: Continuations are indented this much more than their line: the core indents by 0, 2 and 4,
#: so a continuation (odd indent) never looks like a line of its own.
CONTINUATION_INDENT = 3


def wrap_line(line: str, width: int) -> list[str]:
    """`line` in lines of at most `width` cells, words kept whole where they fit; continuations
    indented `CONTINUATION_INDENT` more than the line."""
    indent = len(line) - len(line.lstrip(" "))
    body = line.strip()
    if not body:
        return [""]
    first = " " * indent
    rest = " " * min(indent + CONTINUATION_INDENT, max(0, width // 2))
    return textwrap.wrap(
        body, width=max(8, width), initial_indent=first, subsequent_indent=rest,
        break_long_words=True, break_on_hyphens=False,
    ) or [first]


def answer_lines(text: str, width: int) -> list[AnswerLine]:
    """The recommendations' text (`recommendations_text`) wrapped to `width`."""
    out = []
    for line in text.splitlines():
        kind = line_kind(line)
        out += [AnswerLine(piece, kind) for piece in wrap_line(line, width)]
    return out


class RecommendationText(Widget):
    """Lines of text wrapped to the widget's width with hanging indents, coloured by what they say
    (the recommended cell, caveats, cells over budget, what was not measured)."""

    COMPONENT_CLASSES = {f"answer--{k}" for k in (
        "title", "best", "none", "runner", "caveat", "warn", "over", "missing", "budgets", "note",
    )}
    DEFAULT_CSS = """
    RecommendationText { height: auto; width: 1fr; }
    RecommendationText > .answer--title { text-style: bold underline; }
    RecommendationText > .answer--best { color: $success; text-style: bold; }
    RecommendationText > .answer--none { color: $warning; text-style: bold; }
    RecommendationText > .answer--runner { text-style: bold; }
    RecommendationText > .answer--caveat { color: $warning; }
    RecommendationText > .answer--warn { color: $warning; }
    RecommendationText > .answer--over { color: $error; }
    RecommendationText > .answer--missing { color: $text-muted; }
    RecommendationText > .answer--budgets { color: $text-muted; }
    RecommendationText > .answer--note { color: $text-muted; }
    """

    def __init__(self, text: str, *, note: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = text
        self.note = note

    def lines_for(self, width: int) -> list[AnswerLine]:
        if width <= 0:
            return []
        lines = answer_lines(self.text, width)
        return [AnswerLine(x.text, "note") for x in lines] if self.note else lines

    def lines(self) -> list[AnswerLine]:
        """What the widget draws now, at its width."""
        return self.lines_for(self.content_size.width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines_for(width))

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="crop", end="")
        lines = self.lines()
        styles: dict[str, Style] = {}
        for index, line in enumerate(lines):
            style = Style()
            if line.kind not in ("text", "blank"):
                if line.kind not in styles:
                    styles[line.kind] = self.get_component_rich_style(f"answer--{line.kind}")
                style = styles[line.kind]
            out.append(line.text, style=style)
            if index < len(lines) - 1:
                out.append("\n")
        return out


def _filters_text(filters: dict[str, str]) -> str:
    titles = {"model": MODEL_TITLES, "framework": FRAMEWORK_TITLES, "precision": PRECISION_TITLES}
    return ", ".join(
        f"{key} {titles.get(key, {}).get(value) or labels.title(value)}" for key, value in filters.items()
    )


class AnswerScreen(Screen[None]):
    """The recommendation for the results shown: what `qtui recommend` prints for them, then the
    speed-up chart of each model × scenario it covers (below the fold at 80×24)."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Back", id="answer.back"),
        Binding("g", "charts", "Charts", id="answer.charts"),
    ]
    AUTO_FOCUS = "#answer"
    DEFAULT_CSS = """
    AnswerScreen #answer { padding: 0 1; scrollbar-size-vertical: 1; }
    AnswerScreen #answer-about { margin-bottom: 1; }
    AnswerScreen .answer-chart { margin-top: 1; }
    """

    def __init__(
        self,
        results: list[RunResult],
        pool: list[RunResult],
        results_root: Path,
        filters: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.results = results
        self.pool = pool
        self.results_root = results_root
        self.filters = dict(filters or {})
        self.recommendations = answer_recommendations(results, pool, self.filters)
        #: the speed-up charts under the recommendation (where the terminal has the room)
        self.tables = [t for t in study_tables(results, pool) if any(p != "fp32" for p in t.precisions)]

    def about(self) -> str:
        """Which results the answer is for, and the command that prints it."""
        shown = f"the {len(self.results)} results shown" + (f" ({_filters_text(self.filters)})" if self.filters else "")
        text = f"The fastest framework × precision within the quality budget, for {shown}."
        if any(k in self.filters for k in ("framework", "precision")):
            return text + " The framework/precision filter narrows the candidates (qtui recommend compares them all)."
        return text + f" The same as: {recommend_command(self.results_root, self.filters)}"

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="answer"):
            yield RecommendationText(self.about(), note=True, id="answer-about")
            text = recommendations_text(self.recommendations) or (
                "no ok or INVALID performance runs to recommend from: run a study first "
                "(qtui study PROFILE, or runs from the setup screen)"
            )
            yield RecommendationText(text, id="answer-text")
            for index, table in enumerate(self.tables):
                yield SpeedupChart(table, id=f"answer-chart-{index}", classes="answer-chart")
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "answer: the fastest framework × precision within budget"

    def action_charts(self) -> None:
        first = self.recommendations[0] if self.recommendations else None
        focus = (first.model, first.scenario) if first else None
        best = first.best.cell.framework if first and first.best else None
        self.app.push_screen(ChartsScreen(self.results, self.pool, focus, best, first.device if first else None))


# -- the charts -------------------------------------------------------------------------------------
def cell_key(framework: str, device: str, precision: str) -> str:
    return "\x1f".join((framework, device, precision))


def latency_series(
    table: StudyTable, keys: Iterable[str], by_id: dict[str, RunResult], short: bool = False
) -> list[LatencySeries]:
    """The saved histogram of each chosen cell's newest run (cells as `cell_key`s), in the table's
    order: framework, device, precision; `short`: short framework names (ORT)."""
    wanted = set(keys)
    out = []
    for row in table.rows:
        for precision, cell in zip(table.precisions, row.cells, strict=True):
            if cell is None or cell_key(row.framework, row.device, precision) not in wanted:
                continue
            run = by_id.get(cell.run_id)
            if run is None:
                continue
            hist = run.histogram or {}
            names = SHORT_FRAMEWORKS if short else FRAMEWORK_TITLES
            label = f"{names.get(row.framework, row.framework)} {STUDY_PRECISION_LABELS.get(precision, precision)}"
            if table.by_device:
                label += f" · {row.device}"
            detail = run.created[5:16].replace("T", " ")
            if cell.repeats > 1:
                detail = f"newest of {cell.repeats}, {detail}"
            if run.status != "ok":
                detail += f", {run.status.upper()}"
            pct = {k: float(v) for k, v in run.latency_ms.items() if k.startswith("p") and isinstance(v, (int, float))}
            out.append(LatencySeries(
                label, tuple(hist.get("edges_ms") or ()), tuple(hist.get("counts") or ()), pct, precision, detail,
            ))
    return out


def default_cells(table: StudyTable, framework: str | None, device: str | None) -> list[str]:
    """One framework's precisions on one device: the given ones when the table has them, else the
    first row's."""
    rows = [r for r in table.rows if r.framework == framework and (device is None or r.device == device)]
    row = rows[0] if rows else table.rows[0]
    return [cell_key(row.framework, row.device, p) for p, c in zip(table.precisions, row.cells, strict=True) if c is not None]


class ChartsScreen(Screen[None]):
    """Per model × scenario: speed-up over FP32 per framework × precision, and the latency
    distributions of the runs ticked in the list, compared on one axis."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Back", id="charts.back"),
        Binding("left_square_bracket", "table(-1)", "Prev table", key_display="[", id="charts.prev"),
        Binding("right_square_bracket", "table(1)", "Next table", key_display="]", id="charts.next"),
    ]
    AUTO_FOCUS = "#latency-runs"
    DEFAULT_CSS = """
    ChartsScreen #charts-bar { height: 1; padding: 0 1; }
    ChartsScreen #charts-label { width: 7; color: $text-muted; }
    ChartsScreen #charts-table { width: 40; }
    ChartsScreen #charts { padding: 0 1; scrollbar-size-vertical: 1; }
    ChartsScreen #latency-title { margin-top: 1; text-style: bold; }
    ChartsScreen #latency-row { height: auto; }
    ChartsScreen #latency-runs { width: 24; height: auto; max-height: 16; border: none; padding: 0; margin-right: 1; }
    ChartsScreen #charts-empty { color: $text-muted; }
    """

    def __init__(
        self,
        results: list[RunResult],
        pool: list[RunResult],
        focus: tuple[str, str] | None = None,
        framework: str | None = None,
        device: str | None = None,
    ) -> None:
        super().__init__()
        self.pool = pool
        self.tables = study_tables(results, pool)
        self.by_id = {r.run_id: r for r in pool}
        self.framework = framework
        self.device = device
        self.index = next(
            (i for i, t in enumerate(self.tables) if focus is not None and (t.model, t.scenario) == focus), 0
        )

    @property
    def table(self) -> StudyTable | None:
        return self.tables[self.index] if self.tables else None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="charts-bar"):
            yield Static("Table", id="charts-label")
            options = [(f"{labels.title(t.model)} · {t.scenario}", str(i)) for i, t in enumerate(self.tables)]
            yield Select(options, value=str(self.index) if options else Select.NULL, allow_blank=not options,
                         id="charts-table", compact=True)
        with VerticalScroll(id="charts"):
            if not self.tables:
                yield Static("no ok or INVALID performance runs among the results shown: nothing to chart", id="charts-empty")
            yield SpeedupChart(id="speedup-chart")
            yield Static("Latency distributions: tick runs with space", id="latency-title")
            with Horizontal(id="latency-row"):
                yield SelectionList[str](id="latency-runs")
                yield LatencyComparison(id="latency-chart")
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "charts: speed-up over FP32 and latency distributions"
        if not self.tables:
            self.query_one("#latency-title").display = False
            self.query_one("#latency-row").display = False
        self._draw()

    def _draw(self) -> None:
        table = self.table
        self.query_one(SpeedupChart).show(table)
        runs = self.query_one("#latency-runs", SelectionList)
        runs.clear_options()
        if table is None:
            return
        chosen = set(default_cells(table, self.framework, self.device))
        options = []
        for row in table.rows:
            for precision, cell in zip(table.precisions, row.cells, strict=True):
                if cell is None:
                    continue
                key = cell_key(row.framework, row.device, precision)
                label = f"{SHORT_FRAMEWORKS.get(row.framework, row.framework)} {STUDY_PRECISION_LABELS.get(precision, precision)}"
                if table.by_device:
                    label += f" {row.device}"
                options.append(Selection(Text(fit(one_line(label), 20)), key, key in chosen))
        runs.add_options(options)
        self._draw_latency()

    def chosen(self) -> list[str]:
        """The cells ticked in the list (`cell_key`s)."""
        return list(self.query_one("#latency-runs", SelectionList).selected)

    def _draw_latency(self) -> None:
        table = self.table
        chart = self.query_one(LatencyComparison)
        if table is None:
            chart.show([])
            return
        chart.rows_for_bands = self._rows_for_bands()
        short = self.app.size.width < 100
        chart.show(latency_series(table, self.chosen(), self.by_id, short), "batches" if table.scenario == "Offline" else "queries")

    def _rows_for_bands(self) -> int:
        """The rows left for the latency bands when the speed-up chart and the rest are on screen
        (at least 6: below that the view scrolls)."""
        chart = self.query_one(SpeedupChart)
        width = max(1, self.app.size.width - 3)
        used = len(chart.lines_for(width)) + 7  # header, bar, margin, latency title, axis, legend, footer
        return max(6, self.app.size.height - used)

    @on(SelectionList.SelectedChanged, "#latency-runs")
    def _runs_changed(self) -> None:
        self._draw_latency()

    @on(Select.Changed, "#charts-table")
    def _table_changed(self, event: Select.Changed) -> None:
        if event.value is not Select.NULL and int(str(event.value)) != self.index:
            self.index = int(str(event.value))
            self._draw()

    def on_resize(self, event: Resize) -> None:
        if self.tables:
            self._draw_latency()

    def action_table(self, step: int) -> None:
        if len(self.tables) > 1:
            self.index = (self.index + step) % len(self.tables)
            self.query_one("#charts-table", Select).value = str(self.index)
            self._draw()
