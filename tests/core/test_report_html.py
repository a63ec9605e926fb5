"""The HTML report: one self-contained file (no scripts, no external links, images or fonts: the
HTML is parsed with html.parser and every SVG with xml.etree), with the study tables, the
recommendation and the charts, whose figures are the table's; without matplotlib the file is
still written, with the tables and how to get the charts."""

from __future__ import annotations

import functools
import json
import re
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui.cli import main
from qtui.core.report_html import CHARTS_HINT, inline_svg, render_html
from qtui.core.results import ResultError, RunResult
from qtui.core.study_tables import study_tables
from tests.core.test_study_table import fidelity, make_run, repeats, save_all


@pytest.fixture
def charts() -> None:
    pytest.importorskip("matplotlib")  # the `report` extra: CI installs it (qtui[all])


class _Page(HTMLParser):
    """Every start tag with its attributes, the text, and the table cells of class "figure"."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "td" and dict(attrs).get("class") == "figure":
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _two_devices() -> list[RunResult]:
    out: list[RunResult] = []
    for device, host, scale in (("laptop", "lap", 1.0), ("pi4", "raspberrypi", 5.0)):
        kw = {"device": device, "host": host}
        out += repeats(f"{device}-f", "fp32", [20.0 * scale, 21.0 * scale, 19.0 * scale], **kw)
        out += repeats(f"{device}-i", "int8_static", [8.0 * scale, 8.2 * scale, 7.8 * scale], **kw)
        out += [
            make_run(f"{device}-d", "int8_dynamic", 12.0 * scale, **kw),
            make_run(f"{device}-t", "fp32", 30.0 * scale, framework="torch", **kw),
            make_run(f"{device}-acc", "int8_static", 1.0, mode="accuracy", accuracy=fidelity(28.0, 0.85), **kw),
        ]
    return out


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.S)


def _check_self_contained(page: str) -> _Page:
    parsed = _parse(page)
    lowered = page.lower()
    assert "http" not in lowered and "//" not in page and "src=" not in lowered
    assert "@import" not in lowered and "url(" not in lowered.replace("url(#", "")
    for tag, attrs in parsed.tags:
        assert tag not in ("script", "link", "img", "iframe", "object", "embed", "image"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), name  # no event handlers either
            if name in ("href", "xlink:href"):
                assert value is not None and value.startswith("#"), value
    return parsed


def test_report_is_self_contained_with_tables_recommendation_and_charts(charts: None) -> None:
    results = _two_devices()
    page = render_html(results)
    parsed = _check_self_contained(page)
    figures = [a for tag, a in parsed.tags if tag == "figure"]
    assert [(f["data-kind"], f["data-scenario"]) for f in figures] == [("speedup", "SingleStream"), ("latency", "SingleStream")]
    svgs = _svgs(page)
    assert len(svgs) == 2
    ids: list[str] = []
    for svg in svgs:
        root = ET.fromstring(svg)  # well-formed XML with no namespace prefix left unbound
        assert root.tag == "svg"
        ids += [e.attrib["id"] for e in root.iter() if "id" in e.attrib]
    assert len(ids) == len(set(ids))  # several charts in one page: no id twice
    for ref in re.findall(r'href="#([^"]+)"', page) + re.findall(r"url\(#([^)]+)\)", page):
        assert ref in ids, ref
    # the tables: the same cells as the study table (with Δ and the executed precision)
    (table,) = study_tables(results, executed=True, delta=True)
    expected = ["\n".join(lines) for row in table.text_rows() for lines in row[table.label_columns:]]
    assert parsed.cells == expected
    text = " ".join(parsed.text)
    assert "recommended: ONNX Runtime INT8 static" in text and "random weights: fidelity only" in text
    assert [a["data-device"] for tag, a in parsed.tags if tag == "article"] == ["laptop", "pi4"]


def test_the_charts_show_the_tables_figures(charts: None) -> None:
    results = _two_devices()
    page = render_html(results)
    speedup_svg = _svgs(page)[0]
    labels = [t.text for t in ET.fromstring(speedup_svg).iter("text") if t.text and t.text.startswith("×")]
    (table,) = study_tables(results)
    in_table = [c.speedup_text().split(" ")[0] for c in table.cells() if c.speedup is not None]
    assert sorted(labels) == sorted(in_table) == ["×1.67", "×1.67", "×2.50", "×2.50"]
    panels = [t.text for t in ET.fromstring(speedup_svg).iter("text") if t.text in ("laptop", "pi4")]
    assert panels == ["laptop", "pi4"]  # devices side by side
    latency = ET.fromstring(_svgs(page)[1])
    titles = {t.text for t in latency.iter("text")}
    assert {"ONNX Runtime", "PyTorch", "FP32 · laptop", "INT8s · pi4"} <= titles


def test_text_from_result_files_stays_text(charts: None) -> None:
    results = _two_devices()
    for r in results:
        if r.environment.get("device") == "pi4":
            r.environment["device"] = "<script>alert(1)</script> $x$ & co"
    page = render_html(results)
    parsed = _check_self_contained(page)
    assert "<script>alert(1)</script> $x$ &amp; co" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; $x$ &amp; co" in page
    assert any("<script>alert(1)</script> $x$ & co" in t for t in parsed.text)
    # in the charts too, drawn literally ("$x$" is not typeset as mathtext)
    panel_titles = [t.text for t in ET.fromstring(_svgs(page)[0]).iter("text")]
    assert "<script>alert(1)</script> $x$ & co" in panel_titles


def test_without_matplotlib_the_tables_are_written_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    page = render_html(_two_devices())
    parsed = _check_self_contained(page)
    assert "<svg" not in page and CHARTS_HINT in " ".join(parsed.text)
    assert [tag for tag, _ in parsed.tags].count("table") == 2  # devices and the study table


def test_inline_svg_drops_namespaces_and_prefixes_ids() -> None:
    svg = ('<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/x.dtd">\n'
           '<svg xmlns:xlink="http://www.w3.org/1999/xlink" xmlns="http://www.w3.org/2000/svg"><!-- a -->'
           '<defs><path id="p1" d="M 0 0"/></defs><use xlink:href="#p1"/><g clip-path="url(#p1)"/></svg>')
    assert inline_svg(svg, "c0") == '<svg><defs><path id="c0-p1" d="M 0 0"/></defs><use href="#c0-p1"/><g clip-path="url(#c0-p1)"/></svg>'


def test_report_command_writes_the_html_file(tmp_path: Path, charts: None) -> None:
    laptop, pi = tmp_path / "laptop", tmp_path / "pi"
    results = _two_devices()
    save_all(laptop, [r for r in results if r.environment["device"] == "laptop"])
    save_all(pi, [r for r in results if r.environment["device"] == "pi4"])
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    out = CliRunner().invoke(main, ["report", "--results-dir", str(laptop), "--results-dir", str(pi), "--format", "html", "-o", str(target)])
    assert out.exit_code == 0, out.output
    assert out.stdout == "" and f"wrote the HTML report of {len(results)} results to {target}" in out.stderr
    page = target.read_text(encoding="utf-8")
    _check_self_contained(page)
    assert len(_svgs(page)) == 2 and page.startswith("<!DOCTYPE html>")


# -- issue 19: escaped by construction: every string field of a result, poisoned ----------------------
POISONS = ("<script>alert(1)</script>", '"><svg onload=alert(1)>')


def _hostile_base() -> list[RunResult]:
    """The two-device set with every kind of text a result carries filled in: a failed run's
    message and traceback, measurement warnings, LoadGen's reasons, the executed precision,
    provenance, board, OS and framework versions."""
    results = _two_devices()
    results.append(make_run("laptop-broken", "fp16", 1.0, status="failed", device="laptop", host="lap"))
    results.append(make_run("laptop-invalid", "fp32", 9.0, framework="openvino", status="invalid", device="laptop", host="lap"))
    for r in results:
        r.environment.update({"os": "Linux 6.1", "board_model": "Test board", "python": "3.11.2",
                              "warnings": ["other processes kept the CPU busy: figures are likely low"]})
        r.loadgen["invalid_reasons"] = ["min queries not met"]
        r.artifact.update({"executed_precision": "INT8 (VNNI)", "key": "abc", "kind": "onnx"})
        r.provenance.update({"weights": "seeded random", "data": "synthetic"})
    results[-2].message = "the runtime refused the model"
    results[-2].traceback = "Traceback (most recent call last): boom"
    return results


@functools.cache
def _hostile_dicts() -> tuple[str, ...]:
    """The base set as the JSON files `qtui report` reads (made once: `make_run` stamps each run
    one minute after the previous one)."""
    return tuple(json.dumps(r.to_dict()) for r in _hostile_base())


def _string_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _string_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _string_paths(v, (*path, i))]
    return []


def _every_string_field() -> list[tuple[Any, ...]]:
    seen: dict[tuple[Any, ...], None] = {}
    for text in _hostile_dicts():
        for p in _string_paths(json.loads(text)):
            seen.setdefault(p, None)
    return list(seen)


def _poisoned(paths: list[tuple[Any, ...]], poison: str) -> tuple[list[RunResult], list[tuple[Any, ...]]]:
    """The base set with `poison` in every given string field, loaded as `qtui report` loads a
    file; and the paths a result carrying the poison is refused for (such text never reaches
    the report)."""
    out, refused = [], []
    for text in _hostile_dicts():
        data = json.loads(text)
        for path in paths:
            node = data
            try:
                for key in path[:-1]:
                    node = node[key]
                if isinstance(node[path[-1]], str):
                    node[path[-1]] = poison + " " + node[path[-1]]
            except (KeyError, IndexError, TypeError):
                continue
        try:
            out.append(RunResult.from_dict(data))
        except ResultError:
            refused.append(path)
    return out, refused


#: the fields the report shows (the rest are kept in the file, not written into the page)
SHOWN = {
    ("message",), ("artifact", "executed_precision"), ("environment", "device"), ("environment", "hostname"),
    ("environment", "os"), ("environment", "board_model"), ("environment", "frameworks", "onnxruntime"),
}


def _assert_no_markup_from(page: str, poison: str) -> None:
    assert poison not in page
    assert "<script" not in page.lower() and "<svg onload" not in page.lower()
    _check_self_contained(page)  # no script element, no on* attribute, nothing fetched


@pytest.mark.parametrize("poison", POISONS)
@pytest.mark.parametrize("path", _every_string_field(), ids=lambda p: ".".join(map(str, p)))
def test_every_string_field_of_a_result_stays_text(path: tuple[Any, ...], poison: str) -> None:
    results, refused = _poisoned([path], poison)
    if not results:
        assert refused, path  # refused at load: such a file never reaches the report
        return
    page = render_html(results, charts=False)
    _assert_no_markup_from(page, poison)
    if path in SHOWN:  # the report shows this field: as text (what a browser reads)
        assert poison in " ".join(_parse(page).text), path


@pytest.mark.parametrize("poison", POISONS)
def test_every_string_field_at_once_stays_text_in_the_tables_and_charts(poison: str, charts: None) -> None:
    paths = [p for p in _every_string_field() if not _poisoned([p], poison)[1]]  # those a file may carry
    assert ("message",) in paths and ("artifact", "executed_precision") in paths and ("profile", "name") in paths
    results, refused = _poisoned(paths, poison)
    assert results and not refused
    page = render_html(results)
    assert len(_svgs(page)) >= 2  # the charts are there, with the poisoned labels in them
    _assert_no_markup_from(page, poison)
    assert poison in " ".join(_parse(page).text)  # shown, as text


# -- issue 19: the latency panels' axes and captions -------------------------------------------------
def _narrow_latencies(scenario: str) -> list[RunResult]:
    """FP32 and INT8 on two frameworks whose histograms span less than a decade (7-15 ms), as real
    runs' do (the edges run from the fastest to the slowest query)."""
    out = []
    for framework in ("onnxruntime", "torch"):
        for precision, value in (("fp32", 12.0), ("int8_static", 8.0)):
            r = make_run(f"{framework}-{precision}-{scenario}", precision, value, framework=framework, scenario=scenario)
            edges = [7.0 * (15.0 / 7.0) ** (k / 12) for k in range(13)]
            r.histogram = {"edges_ms": edges, "counts": [1, 3, 8, 20, 31, 18, 9, 4, 2, 1, 0, 1]}
            out.append(r)
    return out


def _labelled_xticks_per_panel(svg: str) -> list[list[str]]:
    root = ET.fromstring(svg)
    panels = []
    for axes in (g for g in root.iter("g") if re.search(r"-axes_\d+$", g.get("id", ""))):
        labels = []
        for tick in (g for g in axes.iter("g") if re.search(r"-xtick_\d+$", g.get("id", ""))):
            labels += [t.text.strip() for t in tick.iter("text") if t.text and t.text.strip()]
        panels.append(labels)
    return panels


@pytest.mark.parametrize("scenario", ["SingleStream", "Offline"])
def test_each_latency_panel_has_several_labelled_ticks(scenario: str, charts: None) -> None:
    page = render_html(_narrow_latencies(scenario))
    latency = [svg for svg in _svgs(page) if "latency per" in svg]
    assert len(latency) == 1
    panels = _labelled_xticks_per_panel(latency[0])
    assert len(panels) == 2, panels  # one per framework
    for labels in panels:
        assert len(labels) >= 3, labels  # not the one decade tick a 7-15 ms span gave
        values = [float(v) for v in labels]
        assert values == sorted(values) and all(7.0 <= v <= 15.0 for v in values), labels


@pytest.mark.parametrize(("scenario", "counted", "unit"), [("SingleStream", "queries", "query"), ("Offline", "batches", "batch")])
def test_the_latency_caption_says_what_the_axis_says(scenario: str, counted: str, unit: str, charts: None) -> None:
    page = render_html(_narrow_latencies(scenario))
    parsed = _parse(page)
    figures = [a for tag, a in parsed.tags if tag == "figure" and a.get("data-kind") == "latency"]
    assert len(figures) == 1
    caption = re.search(r'data-kind="latency".*?<figcaption>(.*?)</figcaption>', page, flags=re.S)
    assert caption is not None
    svg_texts = {t.text for svg in _svgs(page) for t in ET.fromstring(svg).iter("text") if t.text}
    assert f"share of {counted}" in svg_texts and f"latency per {unit} (ms)" in svg_texts
    assert f"share of {counted} per bin" in caption.group(1) and f"per {unit}" in caption.group(1)
    other = "batches" if counted == "queries" else "queries"
    assert other not in caption.group(1)


def test_the_template_ships_inside_the_package() -> None:
    import fnmatch

    import tomllib

    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["qtui"]
    templates = [p.relative_to(root / "qtui").as_posix() for p in (root / "qtui").rglob("*.j2")]
    assert templates and all(any(fnmatch.fnmatch(t, pat) for pat in patterns) for t in templates), templates
