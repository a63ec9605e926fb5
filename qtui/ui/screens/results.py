"""The results screens: the table of saved runs (filter, compare with FP32, export, replay), the
details of one run, and the "study" view, framework × precision per scenario for one model. The
answer (`a`: the recommendation) and the charts (`g`) of the results shown are
`qtui.ui.screens.answer`'s screens.

Everything shown comes from the saved result files (`load_results`, which skips damaged ones with
a warning) and the core's table helpers (`table_rows`, `fp32_baseline`, `speedup`,
`accuracy_delta`, `study_tables`, `study_markdown`, `to_markdown`, `to_csv`): this module only
renders them, so the TUI, `qtui report` and the exports agree. Text from result files is drawn as
`rich.text.Text`, never as markup.

The screens use the room they have: the results table draws the richest of `LAYOUTS` whose
cells fit the screen (full names and p50/p99 at 120 columns, short names at 80) and redraws its
columns when a resize crosses a line; its status line sits under the filters, where no
notification covers it; the study view keeps titles on one line and draws each table in the
first form that fits (`StudyTableView`), its notes folded under their text.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.styled import Styled
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.geometry import Size
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Header, Select, Static

from qtui.core import labels
from qtui.core.catalog import FRAMEWORK_TITLES, MODEL_TITLES, PRECISION_TITLES, SCENARIO_TITLES
from qtui.core.events import HistogramSnapshot
from qtui.core.matching import accuracy_delta, fp32_baseline, speedup
from qtui.core.model_source import is_user_model, model_label, model_slug
from qtui.core.profile import FRAMEWORKS, MODELS, PRECISIONS, SCENARIOS, RunProfile
from qtui.core.results import RunResult, load_results, measurement_warnings
from qtui.core.run_table import (
    accuracy_text,
    fidelity_short,
    format_figure,
    table_rows,
    to_csv,
    to_markdown,
)
from qtui.core.sinks import for_terminal
from qtui.core.study_tables import StudyTable, study_markdown, study_notes, study_tables
from qtui.core.text import clean_text, one_line
from qtui.ui.widgets.footer import KeysFooter
from qtui.ui.widgets.histogram import LatencyHistogram

STATUS_SHORT = {"cancelled": "cancel"}
FILTERS = (("model", MODELS, MODEL_TITLES), ("framework", FRAMEWORKS, FRAMEWORK_TITLES),
           ("precision", PRECISIONS, PRECISION_TITLES), ("scenario", SCENARIOS, SCENARIO_TITLES))


def model_options(pool: list[RunResult], also: str | None = None) -> list[tuple[RenderableType, str]]:
    """The model menus' entries: the built-ins, then the user's model files measured in `pool`
    (and `also`), each file by its name (its folder only tells two of one name apart)."""
    files = sorted({r.profile.model for r in pool if is_user_model(r.profile.model)} | (
        {also} if also is not None and is_user_model(also) else set()
    ))
    names = [model_label(f) for f in files]
    return [(MODEL_TITLES[m], m) for m in MODELS] + [
        (Text(for_terminal(model_label(f) if names.count(model_label(f)) == 1 else f)), f) for f in files
    ]


@dataclass(frozen=True)
class TableLayout:
    """The results table's columns: full names (MobileNetV2, ONNX Runtime, INT8 static,
    SingleStream) or short ones (MNetV2, ORT, INT8s, SS), with or without p50 and p99, and on
    the widest screens the tail: p99.9 and max."""

    full_names: bool
    percentiles: bool
    tails: bool = False

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        """(label, key) of each column, left to right."""
        names = (("model", "model"), ("framework", "fw"), ("precision", "prec"), ("scenario", "scen"))
        if not self.full_names:
            names = (("model", "model"), ("fw", "fw"), ("prec", "prec"), ("scen", "scen"))
        figures: tuple[tuple[str, str], ...] = (("p50 ms", "p50"), ("p99 ms", "p99")) if self.percentiles else ()
        figures += (("p99.9 ms", "p99.9"), ("max ms", "max")) if self.tails else ()
        return (*names, ("status", "status"), ("metric", "metric"), *figures,
                ("×FP32", "speedup"), ("Δacc", "delta"), ("when", "when"))


#: Richest first: the table draws the first layout whose cells fit the screen's width.
LAYOUTS = (TableLayout(True, True, True), TableLayout(True, True), TableLayout(True, False), TableLayout(False, True), TableLayout(False, False))
#: A DataTable cell has one blank column either side of its text.
CELL_PADDING = 1
#: The rows of the results screen that are not the table's rows: header, filters, status line
#: (up to two), the table's column titles, footer.
TABLE_CHROME_ROWS = 6


def short(value: str) -> str:
    """A value's words in the narrow layouts (`qtui.core.labels`): a framework's short name
    (ORT, OpenVINO), any other value's narrow label (MNetV2, INT8s, SS)."""
    return labels.short(value) if value in FRAMEWORKS else labels.narrow(value)


def metric_text(result: RunResult) -> str:
    """The run's headline figure, short: "p90 38.5ms", "245/s", or for accuracy runs "top1 71.2%"."""
    if result.profile.mode == "accuracy":
        text = fidelity_short(result)
        return text.replace("top-1 ", "top1 ").replace(" dB", "dB") if text else "accuracy –"
    label, value = result.metric
    if not isinstance(value, (int, float)):
        return "–"
    if label == "samples/s":
        return f"{value:.4g}/s"
    return f"{label.split()[0]} {value:.3g}ms"


def speedup_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _when(result: RunResult) -> str:
    return result.created[5:16].replace("T", " ")


def _percentile_text(result: RunResult, key: str) -> str:
    """A latency percentile in ms for the table ("–" for accuracy runs and where none was measured)."""
    value = result.latency_ms.get(key)
    if result.profile.mode == "accuracy" or not isinstance(value, (int, float)):
        return "–"
    return format_figure(float(value))


@dataclass(frozen=True)
class RowCells:
    """A result's row of the results table in every layout: each name in full and short."""

    names: tuple[tuple[str, str], ...]  # (full, short) for model, framework, precision, scenario
    status: Text
    figures: dict[str, str]  # by column key: metric, p50, p99, speedup, delta, when

    def cells(self, layout: TableLayout) -> list[Text]:
        out = [Text(full if layout.full_names else brief) for full, brief in self.names]
        out.append(self.status.copy())
        out += [Text(self.figures[key]) for _, key in layout.columns[5:]]
        return out


def row_cells(result: RunResult, baseline: RunResult | None) -> RowCells:
    """The table row of `result` (`baseline`: its FP32 run, for the speed-up and Δ)."""
    p = result.profile
    status = Text(
        STATUS_SHORT.get(result.status, result.status) + (" ⚠" if measurement_warnings(result) else ""),
        style=_status_style(result.status),
    )
    names = tuple(
        (labels.title(v), short(v)) for v in (p.model, p.framework, p.precision, p.scenario)
    )
    figures = {
        "metric": metric_text(result), "p50": _percentile_text(result, "p50"), "p99": _percentile_text(result, "p99"),
        "p99.9": _percentile_text(result, "p99.9"), "max": _percentile_text(result, "max"),
        "speedup": speedup_text(speedup(result, baseline)), "delta": accuracy_delta(result, baseline),
        "when": _when(result),
    }
    return RowCells(names, status, figures)


def table_width(layout: TableLayout, rows: Iterable[RowCells]) -> int:
    """The cells the results table takes in `layout`: each column as wide as its label or its
    widest cell, plus the padding either side."""
    widths = [cell_len(label) for label, _ in layout.columns]
    for row in rows:
        widths = [max(w, cell.cell_len) for w, cell in zip(widths, row.cells(layout), strict=True)]
    return sum(w + 2 * CELL_PADDING for w in widths)


def choose_layout(rows: Iterable[RowCells], width: int) -> TableLayout:
    """The richest layout whose cells all fit `width` columns; the narrowest when none does."""
    rows = list(rows)
    return next((lay for lay in LAYOUTS if table_width(lay, rows) <= width), LAYOUTS[-1])


class ResultsScreen(Screen[None]):
    """Saved results: filter, compare with the FP32 run, study tables, the answer and charts for
    the results shown, export, replay."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="results.back"),
        Binding("d", "details", "Details", key_display="⏎", id="results.details"),
        Binding("c", "compare", "Compare", id="results.compare"),
        Binding("s", "study", "Study", id="results.study"),
        Binding("a", "answer", "Answer", id="results.answer"),
        Binding("g", "charts", "Charts", id="results.charts"),
        Binding("e", "export", "Export", id="results.export"),
        Binding("r", "replay", "Replay", id="results.replay"),
        Binding("f5", "reload", "Reload", show=False, id="results.reload"),
        Binding("w", "why", "Why (per layer)", show=False, id="results.why"),
        Binding("b", "mark", "Mark as A", show=False, id="results.mark"),
        Binding("v", "versus", "Compare A/B", show=False, id="results.versus"),
    ]
    AUTO_FOCUS = "#results-table"

    def __init__(self, results_root: Path, select: str | None = None) -> None:
        super().__init__()
        self.results_root = results_root
        self.select_run = select
        self.pool: list[RunResult] = []
        self.shown: list[RunResult] = []
        self.warnings: list[str] = []
        self.last_export = ""
        #: each result's row (by run id), made when the results are loaded
        self.rows: dict[str, RowCells] = {}
        #: the columns drawn now: the richest that fit the screen (`choose_layout`)
        self.table_layout: TableLayout | None = None
        #: the run marked as A of a comparison (`b`; `v` compares it with the selected run)
        self.marked: RunResult | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters"):
            for key, values, titles in FILTERS:
                yield Select([(titles.get(v, v), v) for v in values], prompt=f"any {key}", id=f"filter-{key}", compact=True)
        # under the filters, where no notification (bottom right) can cover it
        yield Static(id="results-status")
        table: DataTable[str] = DataTable(
            id="results-table", cursor_type="row", zebra_stripes=True, cell_padding=CELL_PADDING,
        )
        yield table
        yield KeysFooter(show_command_palette=False, compact=True)  # every key fits 80 columns

    def on_mount(self) -> None:
        self.sub_title = f"results in {self.results_root}"
        self.reload()

    def on_resize(self, event: Resize) -> None:
        if self._lay_out(event.size):
            self._fill()

    def _lay_out(self, size: Size) -> bool:
        """Draw the columns that fit a screen of `size`; True when they changed (the rows must be
        redrawn)."""
        # a column is kept for the scrollbar when the runs do not all fit under the table's
        # header (the screen less header, filters, status line, column titles and footer)
        scrollbar = len(self.rows) > size.height - TABLE_CHROME_ROWS
        layout = choose_layout(self.rows.values(), size.width - (1 if scrollbar else 0))
        if layout == self.table_layout:
            return False
        if self.select_run is None:  # the cursor stays on its run
            self.select_run = self.selected_run_id()
        self.table_layout = layout
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for label, key in layout.columns:
            table.add_column(label, key=key)
        return True

    # -- data -----------------------------------------------------------------------------------
    def reload(self) -> None:
        before = self.warnings
        self.warnings = []
        self.pool = load_results(self.results_root, warn=self.warnings.append)
        if self.warnings and self.warnings != before:
            shown = "\n".join(self.warnings[:3]) + (f"\n… and {len(self.warnings) - 3} more" if len(self.warnings) > 3 else "")
            self.notify(shown, title="Damaged results skipped", severity="warning", markup=False)
        self.rows = {r.run_id: row_cells(r, fp32_baseline(r, self.pool)) for r in self.pool}
        menu = self.query_one("#filter-model", Select)
        options = model_options(self.pool)
        if len(options) != len(MODELS):  # the user's model files measured here
            chosen = menu.value
            menu.set_options(options)
            if chosen in {v for _, v in options}:
                menu.value = chosen
        self._lay_out(self.app.size)
        self._fill()

    def filters(self) -> dict[str, str]:
        out = {}
        for key, _, _ in FILTERS:
            value = self.query_one(f"#filter-{key}", Select).value
            if value is not Select.NULL:
                out[key] = str(value)
        return out

    def _matches(self, result: RunResult, wanted: dict[str, str]) -> bool:
        return all(getattr(result.profile, key) == value for key, value in wanted.items())

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        keep = self.select_run or self.selected_run_id()
        wanted = self.filters()
        self.shown = [r for r in reversed(self.pool) if self._matches(r, wanted)]  # newest first
        layout = self.table_layout or LAYOUTS[-1]
        table.clear()
        for r in self.shown:
            table.add_row(*self.rows[r.run_id].cells(layout), key=r.run_id)
        if keep is not None:
            for index, r in enumerate(self.shown):
                if r.run_id == keep:
                    table.move_cursor(row=index)
        self.select_run = None
        self._status()

    def _status(self, extra: str = "") -> None:
        parts = [f"{len(self.shown)} of {len(self.pool)} runs"]
        if self.warnings:
            parts.append(f"{len(self.warnings)} damaged file(s) skipped")
        if not self.pool:
            parts = [f"no results yet in {self.results_root}: run one from the setup screen (ctrl+r)"]
        if extra or self.last_export:
            parts.append(extra or self.last_export)
        if self.marked is not None:
            parts.append(f"A: {self.marked.run_id[:8]} (v compares)")
        self.query_one("#results-status", Static).update(Text(one_line(" · ".join(parts))))

    def selected_run_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.shown or table.cursor_row < 0 or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row].run_id

    def selected(self) -> RunResult | None:
        run_id = self.selected_run_id()
        return next((r for r in self.shown if r.run_id == run_id), None)

    @on(Select.Changed)
    def _filter_changed(self) -> None:
        self._fill()

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_details()

    # -- actions --------------------------------------------------------------------------------
    def action_back(self) -> None:
        self.dismiss(None)

    def action_reload(self) -> None:
        self.reload()

    def action_details(self) -> None:
        result = self.selected()
        if result is not None:
            self.app.push_screen(DetailsScreen(result, fp32_baseline(result, self.pool)), self._after_details)

    def _after_details(self, replay: RunProfile | None) -> None:
        if replay is not None:
            self._replay(replay)

    def action_why(self) -> None:
        from qtui.ui.screens.explain import ExplainScreen

        result = self.selected()
        if result is not None:
            self.app.push_screen(ExplainScreen(result, self.results_root))

    def action_compare(self) -> None:
        result = self.selected()
        if result is not None:
            self.app.push_screen(CompareScreen(result, fp32_baseline(result, self.pool)))

    def action_mark(self) -> None:
        result = self.selected()
        same = result is not None and self.marked is not None and result.run_id == self.marked.run_id
        self.marked = None if result is None or same else result
        self._status()

    def action_versus(self) -> None:
        from qtui.ui.screens.compare_sides import CompareSidesScreen

        result, marked = self.selected(), self.marked
        runs = [r for r in (marked, result) if r is not None]
        a = ("run", marked.run_id) if marked is not None else None
        b = ("run", result.run_id) if marked is not None and result is not None and result.run_id != marked.run_id else None
        self.app.push_screen(CompareSidesScreen(self.pool, self.results_root, runs, a, b))

    def action_study(self) -> None:
        result = self.selected()
        model = self.filters().get("model") or (result.profile.model if result else MODELS[0])
        self.app.push_screen(StudyTablesScreen(self.pool, model, self.results_root))

    def action_answer(self) -> None:
        from qtui.ui.screens.answer import AnswerScreen

        self.app.push_screen(AnswerScreen(self.shown, self.pool, self.results_root, self.filters()))

    def action_charts(self) -> None:
        from qtui.core.identity import device_label
        from qtui.ui.screens.answer import ChartsScreen

        result = self.selected()
        p = result.profile if result is not None else None
        self.app.push_screen(ChartsScreen(
            self.shown, self.pool, (p.model, p.scenario) if p else None,
            p.framework if p else None, device_label(result) if result is not None else None,
        ))

    def action_replay(self) -> None:
        result = self.selected()
        if result is not None:
            self._replay(result.profile)

    def _replay(self, profile: RunProfile) -> None:
        from qtui.ui.screens.run import RunOutcome, RunScreen

        def done(outcome: RunOutcome | None) -> None:
            self.select_run = outcome.run_id if outcome else None
            self.reload()

        self.app.push_screen(RunScreen(profile, self.results_root), done)

    def action_export(self) -> None:
        from qtui.ui.screens.dialogs import ExportScreen

        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        stem = self.results_root / f"qtui-results-{stamp}"
        self.app.push_screen(ExportScreen(stem, len(self.shown)), self._export_to)

    def _export_to(self, request: Any) -> None:
        from qtui.ui.screens.dialogs import ConfirmScreen

        if request is None:
            return
        rows = table_rows(list(reversed(self.shown)), self.pool)
        text = to_markdown(rows) if request.fmt == "markdown" else to_csv(rows)
        if request.path.exists():
            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._write_export(request.path, text, len(rows))
                else:
                    self.notify(f"not exported: {request.path} exists", severity="warning", markup=False)

            self.app.push_screen(ConfirmScreen(f"{request.path} already exists.\nReplace it?", yes="Replace"), confirmed)
            return
        self._write_export(request.path, text, len(rows))

    def _write_export(self, path: Path, text: str, count: int) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            self.notify(f"could not write {path}: {exc}", title="Export", severity="error", markup=False)
            return
        self.notify(f"wrote {count} rows to {path}", title="Export", markup=False)
        # the status line names a file in the results folder (the header's) by its name alone
        shown = path.relative_to(self.results_root) if path.is_relative_to(self.results_root) else path
        self.last_export = f"wrote {count} rows to {shown}"
        self._status()


def _status_style(status: str) -> str:
    return {"ok": "green", "invalid": "yellow", "cancelled": "yellow", "failed": "red"}.get(status, "")


# -- compare --------------------------------------------------------------------------------------
def _figure(value: Any, fmt: str = "{:.4g}") -> str:
    return fmt.format(value) if isinstance(value, (int, float)) else "–"


def compare_table(result: RunResult, baseline: RunResult | None) -> Table:
    """This run next to its FP32 baseline, with speed-up and accuracy delta."""
    table = Table(box=None, padding=(0, 1), show_edge=False, expand=True)
    table.add_column("", style="bold", no_wrap=True, min_width=11)
    table.add_column("this run", no_wrap=True, overflow="ellipsis", ratio=1)
    table.add_column("FP32 baseline", no_wrap=True, overflow="ellipsis", ratio=1)
    runs = [result, baseline]

    def row(label: str, get: Any) -> None:
        table.add_row(Text(label), *[Text(get(r) if r is not None else "–") for r in runs])

    row("precision", lambda r: PRECISION_TITLES.get(r.profile.precision, r.profile.precision))
    row("run of", _when)
    row("status", lambda r: f"{r.status} ({one_line(r.loadgen.get('validity') or '–')})")
    label, _ = result.metric
    if label != "samples/s":  # Offline's metric is the samples/s row below
        row(label, lambda r: _figure(r.metric[1]))
    for key in ("p50", "p90", "p99"):
        row(f"{key} ms", lambda r, key=key: _figure(r.latency_ms.get(key)))
    row("samples/s", lambda r: _figure(r.throughput.get("samples_per_s")))
    row("accuracy", lambda r: accuracy_text(r) or "–")
    row("artifact MB", lambda r: _figure((r.artifact.get("size_bytes") or 0) / 1e6 or None, "{:.1f}"))
    row("executed", lambda r: one_line(r.artifact.get("executed_precision") or "–"))
    return table


class CompareScreen(ModalScreen[None]):
    """The selected run against the FP32 run of the same model, framework, scenario and mode."""

    BINDINGS = [Binding("escape,c,q", "dismiss(None)", "Close")]

    def __init__(self, result: RunResult, baseline: RunResult | None) -> None:
        super().__init__()
        self.result = result
        self.baseline = baseline

    def compose(self) -> ComposeResult:
        r, base = self.result, self.baseline
        p = r.profile
        with Vertical(classes="dialog", id="compare-dialog"):
            yield Static(Text(f"Compare: {labels.title(p.model)} · {FRAMEWORK_TITLES.get(p.framework, p.framework)} · {p.scenario} · {p.mode}"), classes="dialog-title")
            if base is None:
                yield Static(
                    Text("No ok FP32 run with the same setup (model, framework, scenario, mode, threads, "
                         "batch size, weights, data, LoadGen settings, machine): run one (precision FP32) "
                         "to compare against." if r.status == "ok" else
                         f"This run is {r.status}: it gets no speed-up."),
                    id="compare-summary",
                )
            else:
                sp = speedup(r, base)
                summary = Text()
                summary.append(f"speed-up ×{sp:.2f}" if sp is not None else f"speed-up – ({r.status} run)" if r.status != "ok" else "speed-up –", style="bold")
                delta = accuracy_delta(r, base)
                summary.append(f" · accuracy Δ {delta}" if delta else " · accuracy Δ – (accuracy-mode runs needed)")
                if base is r:
                    summary = Text("this is an FP32 run: it is its own baseline")
                yield Static(summary, id="compare-summary")
            yield Static(compare_table(r, base), id="compare-table")
        yield KeysFooter(show_command_palette=False)


# -- details ---------------------------------------------------------------------------------------
def _kv_table(rows: Iterable[tuple[str, Any]]) -> Table:
    table = Table(box=None, padding=(0, 1), show_header=False, show_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        if value not in (None, "", [], {}):
            table.add_row(Text(key), Text(clean_text(value)))
    return table


def details_renderables(result: RunResult, baseline: RunResult | None) -> list[RenderableType]:
    """Everything about one run, in sections (the histogram is drawn by the widget)."""
    from qtui.core.environment import describe_isa
    from qtui.core.ops import efficiency_text

    p, lg, env = result.profile, result.loadgen, result.environment
    mark = {"ok": "✓", "invalid": "!", "cancelled": "■", "failed": "✗"}.get(result.status, "?")
    head = Text(f"{mark} {result.status.upper()}", style=f"bold {_status_style(result.status)}")
    head.append(f"  {p.title}", style="bold")
    if result.message:
        head.append(f"\n{clean_text(result.message)}")
    metric = lg.get("scenario_metric") or {}
    verdict = _kv_table([
        ("LoadGen verdict", lg.get("validity")),
        ("why", "; ".join(lg.get("invalid_reasons") or [])),
        ("warnings", "; ".join(str(w) for w in lg.get("warnings") or [])),
        ("MLPerf metric", f"{metric.get('name')}: {_figure(metric.get('value'))}" if metric else None),
        ("early stopping", " ".join(str(metric.get("early_stopping") or "").split())),
        ("LoadGen", lg.get("version")),
        ("settings", ", ".join(f"{k}={v}" for k, v in (lg.get("settings") or {}).items() if k not in ("scenario", "mode"))),
    ])
    lat = result.latency_ms
    figures = _kv_table([
        (f"latency ms ({lat.get('basis', '')})", "  ".join(f"{k} {_figure(lat[k])}" for k in ("p50", "p90", "p95", "p99", "p99.9") if k in lat)),
        ("min/mean/max ms", " / ".join(_figure(lat.get(k)) for k in ("min", "mean", "max")) if lat else None),
        ("throughput", f"{_figure(result.throughput.get('samples_per_s'))} samples/s, {result.throughput.get('queries')} queries, {result.throughput.get('samples')} samples in {result.throughput.get('duration_s')} s" if result.throughput else None),
        ("compute", efficiency_text(result.efficiency)),
        ("accuracy", accuracy_text(result)),
        ("vs FP32", f"×{_figure(speedup(result, baseline), '{:.2f}')} {accuracy_delta(result, baseline)}".strip() if baseline is not None and baseline is not result else None),
    ])
    art = result.artifact
    prov = result.provenance
    artifact = _kv_table([
        ("executed precision", art.get("executed_precision")),
        ("runtime", art.get("runtime_version")),
        ("artifact", f"{art.get('format') or ''} {_figure((art.get('size_bytes') or 0) / 1e6 or None, '{:.1f}')} MB, {'cached' if art.get('cache_hit') else 'prepared'}" if art else None),
        ("weights", prov.get("weights")),
        ("weights digest", prov.get("weights_digest")),
        ("data", prov.get("data")),
        ("labels", "yes" if prov.get("data_has_labels") else "no" if prov else None),
        ("peak RSS", f"{result.memory['peak_rss_bytes'] / 1e6:.0f} MB" if result.memory.get("peak_rss_bytes") else None),
    ])
    fw = env.get("frameworks") or {}
    machine = _kv_table([
        ("CPU", env.get("board_model") or env.get("cpu_model")),
        ("cores", f"{env.get('cores_logical')} logical / {env.get('cores_physical')} physical, {env.get('threads')} threads used" if env else None),
        ("max clock", (f"{env['cpu_max_mhz']:.0f} MHz" + (" (/proc/cpuinfo, no cpufreq: may be the base clock)" if env.get("cpu_max_mhz_source") == "cpuinfo" else ""))
         if isinstance(env.get("cpu_max_mhz"), (int, float)) else None),
        ("ISA", describe_isa(env) if env else None),
        ("OS", env.get("os")),
        ("governor", env.get("governor")),
        ("temperature", f"{env['temperature_c']} °C" if env.get("temperature_c") is not None else None),
        ("frameworks", ", ".join(f"{k} {v}" for k, v in fw.items() if v)),
        ("warnings", "; ".join(env.get("warnings") or [])),
    ])
    files = _kv_table([("run id", result.run_id), ("created", result.created), ("logs", lg.get("log_dir"))])
    return [
        head,
        Text("\nLoadGen", style="bold underline"), verdict,
        Text("\nFigures", style="bold underline"), figures,
        Text("\nArtifact and provenance", style="bold underline"), artifact,
        Text("\nMachine", style="bold underline"), machine,
        Text("\nFiles", style="bold underline"), files,
    ]


class DetailsScreen(Screen[RunProfile | None]):
    """One result in full; `r` replays its exact profile."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Back", id="details.back"),
        Binding("r", "replay", "Replay", id="details.replay"),
    ]
    AUTO_FOCUS = "#details"

    def __init__(self, result: RunResult, baseline: RunResult | None) -> None:
        super().__init__()
        self.result = result
        self.baseline = baseline

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="details"):
            sections = details_renderables(self.result, self.baseline)
            yield Static(Group(*sections[:5]), id="details-head")
            h = self.result.histogram or {}
            snapshot = HistogramSnapshot(tuple(h.get("edges_ms") or ()), tuple(h.get("counts") or ()))
            pct = {k: v for k, v in self.result.latency_ms.items() if k.startswith("p") and isinstance(v, (int, float))}
            offline = self.result.profile.scenario == "Offline"
            histogram = LatencyHistogram(
                snapshot, pct, empty_text="no latencies recorded",
                counted="batches" if offline else "queries", id="details-histogram",
            )
            histogram.border_title = f"latency per {'batch' if offline else 'query'} (log scale)"
            yield histogram
            yield Static(Group(*sections[5:]), id="details-rest")
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = self.result.run_id

    def action_replay(self) -> None:
        self.dismiss(self.result.profile)


# -- study ------------------------------------------------------------------------------------------
def render_study_table(
    study: StudyTable, full_names: bool = False, rules: bool = True, wrap: bool = False,
    rows: list[list[tuple[str, ...]]] | None = None,
) -> Table:
    """The core's study table as a Rich table: the same cells `qtui report --format study` and
    the Markdown export print, a cell's lines one under the other. `full_names`: precisions as
    the app names them (INT8 static) rather than the core's short header (INT8s); `rules`: a
    rule under the titles and between the columns (each costs a column); `wrap`: cells may fold
    onto more lines (else each line of a cell stays one line). Column titles never wrap."""
    table = Table(padding=(0, 1), show_edge=False, box=box.HEAVY_HEAD if rules else None)
    for index, header in enumerate(study.header):
        label = index < study.label_columns
        if full_names and not label:
            header = PRECISION_TITLES.get(study.precisions[index - study.label_columns], header)
        table.add_column(
            Text(header, no_wrap=True), justify="left" if label else "right",
            no_wrap=not wrap or index == 0, min_width=cell_len(header), overflow="fold",
        )
    for row in study.text_rows() if rows is None else rows:  # `rows`: its cells with more lines
        table.add_row(*(Text("\n".join(lines)) for lines in row))
    return table


#: Wide enough to measure a table's natural width.
UNBOUNDED_WIDTH = 10_000


class StudyTableView:
    """One study table as drawn: its title on one line, then the table in the first form that
    fits the width: precisions in full (INT8 static), else short (INT8s), else short without
    lines, else that with the cells folded (nothing is cut off)."""

    def __init__(self, study: StudyTable, rows: list[list[tuple[str, ...]]] | None = None) -> None:
        self.study = study
        self.rows = rows  # the cells' lines when not the table's own (`explain.cite`)

    def table_for(self, console: Console, width: int) -> Table:
        """The table drawn at `width` columns."""
        unbounded = console.options.update_width(UNBOUNDED_WIDTH)  # its natural width, not clamped
        for full, rules in ((True, True), (False, True), (False, False)):
            table = render_study_table(self.study, full_names=full, rules=rules, rows=self.rows)
            if Measurement.get(console, unbounded, table).maximum <= width:
                return table
        return render_study_table(self.study, rules=False, wrap=True, rows=self.rows)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(self.study.title, style="italic", no_wrap=True, overflow="ellipsis")
        yield self.table_for(console, options.max_width)


def render_study_note(note: str) -> Table:
    """A note of the legend under the study tables, its text folded under its text, not under
    its mark ("×:", "Repeats:", "*")."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    mark, _, text = note.partition(" ")
    grid.add_row(Text(mark), Text(text))
    return grid


def study_markdown_for(
    pool: list[RunResult], model: str, *, executed: bool = False, delta: bool = False, efficiency: bool = False,
    saved: dict[str, dict[str, Any]] | None = None,
) -> str:
    """The Markdown export of the study view: `qtui report --format study --model MODEL`
    (with `--executed`, `--delta`, `--efficiency` as the view shows them, and the executed
    precision cited from the cache's summaries or `saved`, as the view cites it)."""
    return study_markdown(
        [r for r in pool if r.profile.model == model], pool, executed=executed, delta=delta, efficiency=efficiency,
        saved=saved,
    )


class StudyTablesScreen(Screen[None]):
    """The paper's tables for one model: framework × precision per scenario."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Back", id="study.back"),
        Binding("g", "charts", "Charts", id="study.charts"),
        Binding("x", "show('executed')", "Executed", id="study.executed"),
        Binding("v", "show('delta')", "ΔFP32", id="study.delta"),
        Binding("p", "show('efficiency')", "GOP/s", id="study.efficiency"),
        Binding("e", "export", "Export", id="study.export"),
        Binding("w", "why", "Why (per layer)", show=False, id="study.why"),
    ]

    def __init__(self, pool: list[RunResult], model: str, results_root: Path) -> None:
        super().__init__()
        self.pool = pool
        self.model = model
        self.results_root = results_root
        #: what the cells add on demand (as `qtui report --format study --executed --delta
        #: --efficiency`): the executed precision, the Δ versus FP32, GOP/s and % of peak
        self.shown = {"executed": False, "delta": False, "efficiency": False}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="study-bar"):
            yield Static("Model", id="study-label")
            yield Select(model_options(self.pool, self.model), value=self.model, allow_blank=False, id="study-model", compact=True)
        with VerticalScroll(id="study"):
            yield Static(id="study-tables")
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "study: framework × precision"
        self._draw()

    @on(Select.Changed, "#study-model")
    def _model_changed(self, event: Select.Changed) -> None:
        self.model = str(event.value)
        self._draw()

    def tables(self) -> list[StudyTable]:
        """What the view shows: the core's study tables for the chosen model."""
        return study_tables([r for r in self.pool if r.profile.model == self.model], self.pool, **self.shown)

    def action_show(self, what: str) -> None:
        """Show or hide a cell's executed precision, Δ versus FP32, or GOP/s and % of peak."""
        self.shown[what] = not self.shown[what]
        self._draw()

    def _draw(self) -> None:
        from qtui.core.explain import cite, offline

        studies = self.tables()
        by_id = {r.run_id: r for r in self.pool}
        # what each quantized cell executed, where qtui explain kept its summary or saved its profile
        saved = offline.summaries(offline.saved_profiles([self.results_root]))
        parts: list[RenderableType] = []
        for study in studies:
            parts += [StudyTableView(study, cite.cited_text_rows(study, by_id, saved)), Text("")]
        if not parts:
            parts = [Text(f"no ok or INVALID performance runs of {labels.title(self.model)} yet")]
        else:
            cited = cite.cited_notes(studies, by_id, saved)
            parts += [Styled(render_study_note(note), "dim") for note in [*study_notes(studies), *cited]]
        self.query_one("#study-tables", Static).update(Group(*parts))

    def action_charts(self) -> None:
        from qtui.ui.screens.answer import ChartsScreen

        self.app.push_screen(ChartsScreen([r for r in self.pool if r.profile.model == self.model], self.pool))

    def action_why(self) -> None:
        """Per layer: one cell's profile, or the cells' saved profiles side by side."""
        from qtui.ui.screens.explain_side import ExplainCellsScreen

        self.app.push_screen(ExplainCellsScreen(self.tables(), self.pool, self.results_root))

    def action_export(self) -> None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.results_root / f"qtui-study-{model_slug(self.model)}-{stamp}.md"  # a file's stem, no folder
        try:
            from qtui.core.explain import offline

            saved = offline.summaries(offline.saved_profiles([self.results_root]))
            path.write_text(study_markdown_for(self.pool, self.model, saved=saved, **self.shown), encoding="utf-8")
        except OSError as exc:
            self.notify(f"could not write {path}: {exc}", severity="error", markup=False)
            return
        self.notify(f"wrote {path}", title="Export", markup=False)
