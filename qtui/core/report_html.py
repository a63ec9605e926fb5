"""The HTML report: one self-contained file with the devices, the recommendation, the study tables
(the same cells as `qtui report --format study`, with Δ versus FP32 and the executed precision)
and, per model × scenario, two charts inline as SVG: speed-up over FP32 per framework × precision
(bars with their 95 % interval as whiskers, one panel per device) and the latency distributions
(each cell's newest run's histogram, one panel per framework).

Nothing is fetched when the file is opened: no scripts, no external links, images or fonts (the
SVG text names local font families, ending with the generic `sans-serif`). The charts need
matplotlib (the optional `report` extra, drawn with the Agg backend into SVG); without it the
file is still written, with the tables and a note saying how to get the charts.

The page is the Jinja2 template `templates/report.html.j2` (package data), autoescaped: every
value the template writes is escaped (and made one line), so text read from result files can only
ever be text; the one exception is the charts' SVG, marked `Markup`, whose text matplotlib escapes.
A study cell is a list of lines, each with a CSS class (`figure-line` never breaks, `ran` wraps):
a per-cell note goes in the template's `study_cell` macro. Per-layer profiles saved with the
results (`qtui explain`) add a line to each quantized cell they cover ("int8 94 %") and a section
with the profiles side by side per model (`explain.offline`), read without any runtime.
"""

from __future__ import annotations

import datetime as _dt
import functools
import io
import re
from collections.abc import Iterable
from typing import Any

from markupsafe import Markup

from qtui.core.catalog import FRAMEWORK_TITLES, MODEL_TITLES, PRECISION_TITLES
from qtui.core.compare import COMPARE_CSS, Comparison, html_context
from qtui.core.identity import device_label
from qtui.core.model_source import model_label
from qtui.core.recommend import Budgets, Recommendation, recommend
from qtui.core.results import RunResult
from qtui.core.study_tables import STUDY_PRECISION_LABELS, StudyTable, study_notes, study_tables
from qtui.core.text import one_line

CHARTS_HINT = "Charts need matplotlib: pip install 'qtui[report]' and write the report again."
PRECISION_COLOURS = {"fp32": "#4c72b0", "fp16": "#dd8452", "int8_dynamic": "#55a868", "int8_static": "#c44e52"}
DEVICE_STYLES = ("-", "--", ":", "-.")

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ccc; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; vertical-align: top; }
th { background: #f2f2f2; } td.figure { text-align: right; }
td.figure span.figure-line { white-space: nowrap; }
td.figure span.ran { display: inline-block; text-align: left; font-size: 0.8rem; color: #555; overflow-wrap: anywhere; }
caption { text-align: left; font-weight: bold; padding: 0.3rem 0; }
figure { margin: 0.5rem 0 1.5rem; } figure svg { max-width: 100%; height: auto; }
figcaption, .note, .meta { color: #555; font-size: 0.85rem; }
ul.recommendation { list-style: none; padding-left: 0; } ul.recommendation li.sub { padding-left: 1.5rem; }
li.best { font-weight: bold; } .missing { color: #8a6d00; }
table.layers td { font-family: ui-monospace, monospace; font-size: 0.8rem; white-space: nowrap; }
ul.explain-summary { font-size: 0.85rem; }
"""


# -- SVG charts ------------------------------------------------------------------------------------
def charts_available() -> bool:
    """Whether matplotlib can be imported (the `report` extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _mpl_text(value: str) -> str:
    """Text for matplotlib drawn literally ("$" would start mathtext)."""
    return one_line(value).replace("$", r"\$")


def _rc() -> Any:  # matplotlib types its keys as literals
    return {
        "svg.fonttype": "none",  # text as <text>, local font families ending in "sans-serif"
        "svg.hashsalt": "qtui",  # the same report gives the same ids
        "font.family": "sans-serif",
        "font.size": 9,
        "axes.formatter.use_mathtext": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }


def _to_svg(fig: Any) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    return buf.getvalue()


def inline_svg(svg: str, prefix: str) -> str:
    """A standalone SVG made fit to sit inside HTML: no XML prolog, DOCTYPE, comments or
    namespace declarations (HTML needs none, and they are URLs), `xlink:href` as `href`, and
    every id (and reference to it) prefixed so that several charts in one page never clash."""
    body = svg[svg.index("<svg"):]
    body = re.sub(r"<!--.*?-->", "", body, flags=re.S)
    body = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", body)
    body = body.replace("xlink:href=", "href=")
    body = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', body)
    body = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', body)
    body = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", body)
    return body.strip()


def speedup_svg(table: StudyTable) -> str | None:
    """Speed-up over FP32 per framework × precision, one panel per device: a bar per cell with a
    speed-up, its 95 % interval as a whisker, the figure ("×2.50", as in the table) above it.
    None when no cell has a speed-up."""
    precisions = [p for p in table.precisions if p != "fp32"]
    panels = []
    for device in table.devices:
        rows = [
            r for r in table.rows
            if r.device == device and any(c is not None and c.speedup is not None for c in r.cells)
        ]
        if rows:
            panels.append((device, rows))
    if not panels or not precisions:
        return None
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_rc()):
        width = max(3.4, 1.1 + 0.55 * len(precisions) * max(len(rows) for _, rows in panels))
        fig = Figure(figsize=(min(width * len(panels), 12.0), 3.4), layout="constrained")
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        bar = 0.8 / len(precisions)
        for ax, (device, rows) in zip(axes, panels, strict=True):
            labelled: set[str] = set()
            ax.axhline(1.0, color="#888", linewidth=0.8, linestyle="--")
            for j, prec in enumerate(precisions):
                index = table.precisions.index(prec)
                for i, row in enumerate(rows):
                    cell = row.cells[index]
                    if cell is None or cell.speedup is None:
                        continue
                    x = i - 0.4 + bar * (j + 0.5)
                    est = cell.speedup_estimate
                    err = None
                    if est is not None and est.has_interval:
                        assert est.low is not None and est.high is not None
                        err = [[max(cell.speedup - est.low, 0.0)], [max(est.high - cell.speedup, 0.0)]]
                    ax.bar(x, cell.speedup, bar * 0.9, color=PRECISION_COLOURS.get(prec, "#777"),
                           yerr=err, capsize=3, error_kw={"linewidth": 0.9},
                           label=None if prec in labelled else STUDY_PRECISION_LABELS.get(prec, prec))
                    labelled.add(prec)
                    top = est.high if err is not None and est is not None and est.high is not None else cell.speedup
                    ax.text(x, top, f"×{cell.speedup:.2f}", ha="center", va="bottom", fontsize=7)
            ax.set_xticks(range(len(rows)), [_mpl_text(FRAMEWORK_TITLES.get(r.framework, r.framework)) for r in rows])
            ax.set_title(_mpl_text(device), fontsize=9)
            ax.margins(y=0.15)
        axes[0].set_ylabel("speed-up over FP32 (×)")
        seen: dict[str, Any] = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                seen.setdefault(label, handle)
        fig.legend(list(seen.values()), list(seen.keys()), loc="outside upper right", fontsize=8, frameon=False, ncols=len(seen))
        return _to_svg(fig)


def log_tick_subs(low: float, high: float, wanted: int = 3) -> tuple[float, ...]:
    """The multiples of each power of ten to label on a log axis from `low` to `high` ms: the
    fewest of 1; 1, 2, 5; 1 … 9 that give `wanted` labels (a latency histogram often spans less
    than a decade, where the decades alone gave a panel one tick)."""
    import math

    for subs in ((1.0,), (1.0, 2.0, 5.0), tuple(float(k) for k in range(1, 10))):
        ticks = [
            m * 10.0**e
            for e in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
            for m in subs
            if low <= m * 10.0**e <= high
        ]
        if len(ticks) >= wanted:
            return subs
    return tuple(float(k) for k in range(1, 10))


def latency_svg(table: StudyTable, by_id: dict[str, RunResult]) -> str | None:
    """Latency distributions compared side by side: one panel per framework, a line per precision
    (colour) and device (line style), from the histogram of each cell's newest run as the share
    of queries (Offline: batches) per bin, log-scaled latency. None without histograms."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    series: dict[str, list[tuple[str, str, list[float], list[float]]]] = {}
    for row in table.rows:
        for cell in row.cells:
            run = by_id.get(cell.run_id) if cell is not None else None
            if cell is None or run is None:
                continue
            hist = run.histogram or {}
            edges, counts = list(hist.get("edges_ms") or []), list(hist.get("counts") or [])
            total = sum(counts)
            if len(edges) != len(counts) + 1 or total <= 0:
                continue
            series.setdefault(row.framework, []).append((cell.precision, row.device, edges, [c / total for c in counts]))
    if not series:
        return None
    frameworks = [fw for fw in dict.fromkeys(r.framework for r in table.rows) if fw in series]
    offline = table.scenario == "Offline"
    with matplotlib.rc_context(_rc()):
        fig = Figure(figsize=(min(3.2 * len(frameworks), 12.0), 2.9), layout="constrained")
        axes = fig.subplots(1, len(frameworks), sharey=True, squeeze=False)[0]
        for ax, fw in zip(axes, frameworks, strict=True):
            for prec, device, edges, shares in series[fw]:
                style = DEVICE_STYLES[table.devices.index(device) % len(DEVICE_STYLES)] if device in table.devices else "-"
                label = STUDY_PRECISION_LABELS.get(prec, prec) + (f" · {device}" if table.by_device else "")
                ax.stairs(shares, edges, color=PRECISION_COLOURS.get(prec, "#777"), linestyle=style,
                          linewidth=1.3, label=_mpl_text(label))
            ax.set_xscale("log")
            low = min(e[0] for _p, _d, e, _s in series[fw])
            high = max(e[-1] for _p, _d, e, _s in series[fw])
            ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=log_tick_subs(low, high)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.3g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_title(_mpl_text(FRAMEWORK_TITLES.get(fw, fw)), fontsize=9)
            ax.set_xlabel(f"latency per {'batch' if offline else 'query'} (ms)")
            ax.legend(fontsize=7, frameon=False)
        axes[0].set_ylabel(f"share of {'batches' if offline else 'queries'}")
        return _to_svg(fig)


# -- HTML -----------------------------------------------------------------------------------------
def _one_line_unless_markup(value: object) -> object:
    """Every `{{ value }}` of the template as one line of text (the SVG charts, Markup, as they are)."""
    return value if isinstance(value, Markup) else one_line(value)


@functools.cache
def _template() -> Any:
    """The report's Jinja2 template (package data), autoescaped: text from result files is
    escaped by construction, wherever the template puts it."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("qtui.core", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_one_line_unless_markup,
        keep_trailing_newline=True,
    )
    return env.get_template("report.html.j2")


def _line_css(line: str) -> str:
    """A study cell's line: figures never break; the executed precision ("ran: …") wraps."""
    return "ran" if line.startswith("ran:") else "figure-line"


def _table_data(table: StudyTable, by_id: dict[str, RunResult], saved: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A study table for the template, each quantized cell with what its artifact executed
    where `qtui explain` saved its summary (`explain.cite`)."""
    from qtui.core.explain import cite

    rows = [
        [
            {
                "css": "label" if index < table.label_columns else "figure",
                "lines": [{"text": line, "css": _line_css(line)} for line in lines],
            }
            for index, lines in enumerate(row)
        ]
        for row in cite.cited_text_rows(table, by_id, saved)
    ]
    return {"model": model_label(table.model), "scenario": table.scenario, "title": table.title, "header": table.header,
            "rows": rows, "figures": []}


def _figure(svg: str, kind: str, index: int, caption: str) -> dict[str, Any]:
    """A chart: matplotlib's SVG (its text escaped by matplotlib, as the tests check) as Markup."""
    return {"kind": kind, "svg": Markup(inline_svg(svg, f"c{index}-{kind}")), "caption": caption}


def _devices(results: list[RunResult]) -> list[list[object]]:
    seen: dict[str, RunResult] = {}
    counts: dict[str, int] = {}
    for r in results:
        label = device_label(r)
        seen[label] = r  # the newest (results are oldest first)
        counts[label] = counts.get(label, 0) + 1
    rows: list[list[object]] = []
    for label in sorted(seen, key=str.casefold):
        env = seen[label].environment
        versions = ", ".join(f"{k} {v}" for k, v in (env.get("frameworks") or {}).items() if v)
        cores = f"{env.get('cores_logical')} logical / {env.get('cores_physical')} physical" if env.get("cores_logical") else ""
        rows.append([label, env.get("board_model") or env.get("cpu_model") or "", env.get("hostname") or "",
                     cores, env.get("os") or "", versions, counts[label]])
    return rows


def _recommendations(recs: list[Recommendation]) -> list[dict[str, Any]]:
    out = []
    for rec in recs:
        lines = rec.text_lines()
        items = []
        for line in lines[1:]:
            text = line.strip()
            css = ["sub"] if line.startswith("    ") else []
            if text.startswith("recommended:"):
                css.append("best")
            if text.startswith(("not measured", "quality not measured", "faster, but")):
                css.append("missing")
            items.append({"text": text, "css": " ".join(css)})
        out.append({"model": model_label(rec.model), "scenario": rec.scenario, "device": rec.device, "heading": lines[0], "entries": items})
    return out


def latency_caption(scenario: str) -> str:
    """The latency chart's caption, in the axis' words (Offline times batches, not queries)."""
    unit = "batch" if scenario == "Offline" else "query"
    counted = "batches" if scenario == "Offline" else "queries"
    return f"Latency distributions: each cell's newest run, share of {counted} per bin (log-scaled latency per {unit})."


def render_html(
    results: Iterable[RunResult],
    pool: Iterable[RunResult] | None = None,
    *,
    budgets: Budgets | None = None,
    recommendations: list[Recommendation] | None = None,
    title: str = "qtui report",
    charts: bool | None = None,
    generated: _dt.datetime | None = None,
    explained: list[Any] | None = None,
    comparison: Comparison | None = None,
) -> str:
    """The report as one HTML document (see the module docstring). `charts=None` draws them
    when matplotlib is installed; `recommendations` default to `recommend(results, pool,
    budgets)`; `comparison` (`report --compare-to A`) adds its section, the one `qtui compare
    --format html` writes (`templates/compare_section.html.j2`). `explained`: per-layer
    profiles saved with the results (`explain.offline`): the quantized cells cite what their
    artifacts executed, and a section shows them side by side per model."""
    from qtui.core.explain import cite, offline

    results = list(results)
    pool_list = list(pool) if pool is not None else results
    tables = study_tables(results, pool_list, executed=True, delta=True)
    recs = recommendations if recommendations is not None else recommend(results, pool_list, budgets)
    draw = charts_available() if charts is None else charts
    by_id = {r.run_id: r for r in pool_list}
    saved = offline.summaries(explained or [])
    when = (generated or _dt.datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z").strip()
    table_data = []
    for index, table in enumerate(tables):
        data = _table_data(table, by_id, saved)
        if draw:
            svg = speedup_svg(table)
            if svg is not None:
                data["figures"].append(_figure(svg, "speedup", index,
                                               "Speed-up over FP32 (×, median of the repeats); whiskers: 95 % CI, bootstrap over repeats; dashed line: FP32."))
            svg = latency_svg(table, by_id)
            if svg is not None:
                data["figures"].append(_figure(svg, "latency", index, latency_caption(table.scenario)))
        table_data.append(data)
    page: str = _template().render(
        title=title,
        css=Markup(_CSS + COMPARE_CSS),
        count=len(results),
        written=when,
        device_header=("device", "board / CPU", "host", "cores", "OS", "frameworks", "runs"),
        devices=_devices(results),
        recommendations=_recommendations(recs),
        budgets=recs[0].budgets.text() if recs else "",
        charts=draw,
        charts_hint=CHARTS_HINT,
        tables=table_data,
        notes=[*study_notes(tables), *cite.cited_notes(tables, by_id, saved)],
        explained=offline.html_sections(explained or [], {r.profile.model for r in results}),
        explain_legend=offline.HTML_LEGEND,
        precisions=", ".join(f"{STUDY_PRECISION_LABELS[p]} = {PRECISION_TITLES[p]}" for p in STUDY_PRECISION_LABELS),
        models=", ".join(MODEL_TITLES.values()),
        compare=None if comparison is None else html_context(
            comparison, f"Compared with {comparison.a.what} {comparison.a.name} (A): B is this report's results"
        ),
    )
    return page
