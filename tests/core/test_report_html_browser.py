"""Issue 11: the HTML report opened in a real browser. `qtui report --format html` writes the
file from saved results, then headless Chromium (Debian's `chromium` package) opens it with
name resolution cut off (`--host-resolver-rules`), twice:

- a copy with a small probe script appended (the report itself has no script) is loaded with
  `--dump-dom`: the probe writes, as JSON into the DOM, the title, every resource the page
  fetched (Resource Timing lists failed fetches too), each chart's rendered size, whether every
  `<use>` resolved its `href` and every `<text>` has a width;
- the report itself is loaded with `--screenshot` of the whole page: the pixels inside each
  chart's box must not be blank and must show the bars' and lines' colours.

Without Chromium the tests skip, saying how to install it; CI installs it (.ci/run) and sets
QTUI_CI_BROWSER=1, under which a missing browser (or matplotlib) fails instead."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui.cli import main
from qtui.core.report_html import PRECISION_COLOURS
from qtui.core.study_tables import study_tables
from tests.core.test_report_html import _check_self_contained, _parse, _two_devices
from tests.core.test_study_table import save_all

REQUIRED = os.environ.get("QTUI_CI_BROWSER") == "1"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = "apt-get install --no-install-recommends chromium"
WIDTH = 1280

PROBE = """<script>
window.addEventListener("load", () => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left + scrollX, r.top + scrollY, r.width, r.height]; };
  const out = {
    title: document.title,
    height: document.documentElement.scrollHeight,
    resources: performance.getEntriesByType("resource").map(e => e.name),
    best: [...document.querySelectorAll("li.best")].map(e => e.innerText),
    charts: [...document.querySelectorAll("figure.chart")].map(f => {
      const svg = f.querySelector("svg");
      return {
        kind: f.dataset.kind,
        namespace: svg ? svg.namespaceURI : null,
        box: svg ? box(svg) : null,
        uses: f.querySelectorAll("use").length,
        unresolved: [...f.querySelectorAll("use")].filter(u => { const b = u.getBBox(); return b.width + b.height === 0; }).map(u => u.getAttribute("href")),
        texts: f.querySelectorAll("text").length,
        empty_texts: [...f.querySelectorAll("text")].filter(t => t.textContent.trim() && t.getBBox().width === 0).map(t => t.textContent),
      };
    }),
  };
  const pre = document.createElement("pre");
  pre.id = "qtui-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    reason = f"no headless Chromium installed ({INSTALL})"
    if REQUIRED:
        pytest.fail(f"QTUI_CI_BROWSER=1 but {reason}: CI must open the HTML report in a browser")
    pytest.skip(reason)


def _chromium(browser: str, home: Path, height: int, *args: str, width: int = WIDTH) -> str:
    """Run headless Chromium on one page with the network cut off; its stdout."""
    cmd = [
        browser, "--headless=new", "--disable-gpu",
        "--no-sandbox",  # root (CI) and containers have no usable sandbox; the page is our own
        f"--user-data-dir={home / 'profile'}", "--no-first-run", "--no-default-browser-check",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: nothing can leave the file
        "--force-device-scale-factor=1", "--hide-scrollbars", f"--window-size={width},{height}",
        *args,
    ]
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc.stdout


@dataclass
class Rendered:
    page: str  # the file qtui wrote
    dom: str  # the DOM after load, probe included
    probe: dict[str, Any]
    screenshot: Path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    browser = _browser()
    if REQUIRED:
        import matplotlib  # noqa: F401  # CI installs qtui[all]: the charts must be there
    else:
        pytest.importorskip("matplotlib")
    tmp = tmp_path_factory.mktemp("html-browser")
    results = _two_devices()
    laptop, pi = tmp / "laptop", tmp / "pi"
    save_all(laptop, [r for r in results if r.environment["device"] == "laptop"])
    save_all(pi, [r for r in results if r.environment["device"] == "pi4"])
    report = tmp / "report.html"
    out = CliRunner().invoke(main, ["report", "--results-dir", str(laptop), "--results-dir", str(pi),
                                    "--format", "html", "-o", str(report)])
    assert out.exit_code == 0, out.output
    page = report.read_text(encoding="utf-8")
    assert page.count("</body>") == 1
    probed = tmp / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")

    dom = _chromium(browser, tmp, 1000, "--virtual-time-budget=5000", "--dump-dom", probed.as_uri())
    match = re.search(r'<pre id="qtui-probe">(.*?)</pre>', dom, flags=re.S)
    assert match, f"the probe did not run: the page did not load\n{dom[:2000]}"
    probe = json.loads(html.unescape(match.group(1)))
    # the whole page in one screenshot, at the same width, so the probe's boxes are its pixels
    shot = tmp / "report.png"
    _chromium(browser, tmp, int(probe["height"]) + 8, "--virtual-time-budget=5000", f"--screenshot={shot}", report.as_uri())
    assert shot.is_file() and shot.stat().st_size > 0
    return Rendered(page, dom, probe, shot)


def test_the_page_loads_with_the_tables_and_the_recommendation(rendered: Rendered) -> None:
    assert rendered.probe["title"] == "qtui report"
    dom = _parse(rendered.dom)
    (table,) = study_tables(_two_devices(), executed=True, delta=True)
    expected = ["\n".join(lines) for row in table.text_rows() for lines in row[table.label_columns:]]
    assert dom.cells == expected  # the study table, as the browser built it
    assert [a["data-device"] for tag, a in dom.tags if tag == "article"] == ["laptop", "pi4"]
    best = rendered.probe["best"]
    assert len(best) == 2 and all(b.startswith("recommended: ONNX Runtime INT8 static") for b in best)


def test_nothing_is_fetched(rendered: Rendered) -> None:
    assert rendered.probe["resources"] == []  # no image, style sheet, font or script requested
    _check_self_contained(rendered.page)


def test_every_chart_is_drawn(rendered: Rendered) -> None:
    charts = rendered.probe["charts"]
    assert [c["kind"] for c in charts] == ["speedup", "latency"]
    for chart in charts:
        assert chart["namespace"] == "http://www.w3.org/2000/svg", chart  # parsed as SVG, not as unknown HTML
        _x, _y, width, height = chart["box"]
        assert width > 300 and height > 150, chart  # a real size on the page
        assert chart["uses"] > 0 and chart["unresolved"] == [], chart  # every href="#id" found its target
        assert chart["texts"] > 0 and chart["empty_texts"] == [], chart  # labels drawn with a font


def _pixels(shot: Path, box: list[float]) -> list[tuple[int, int, int]]:
    from PIL import Image  # matplotlib's dependency

    with Image.open(shot) as image:
        x, y, w, h = (round(v) for v in box)
        assert x + w <= image.width and y + h <= image.height, (box, image.size)
        return list(image.convert("RGB").crop((x, y, x + w, y + h)).getdata())


def _near(pixels: list[tuple[int, int, int]], colour: str, tolerance: int = 24) -> int:
    want = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return sum(1 for p in pixels if all(abs(a - b) <= tolerance for a, b in zip(p, want, strict=True)))


def test_the_screenshot_shows_the_charts(rendered: Rendered) -> None:
    speedup, latency = rendered.probe["charts"]
    bars = _pixels(rendered.screenshot, speedup["box"])
    ink = sum(1 for p in bars if p != (255, 255, 255))
    assert ink > 0.05 * len(bars), f"the speed-up chart is (nearly) blank: {ink} of {len(bars)} pixels"
    # four bars per colour pair (INT8d, INT8s × two devices), each thousands of pixels
    assert _near(bars, PRECISION_COLOURS["int8_dynamic"]) > 2000
    assert _near(bars, PRECISION_COLOURS["int8_static"]) > 2000
    lines = _pixels(rendered.screenshot, latency["box"])
    ink = sum(1 for p in lines if p != (255, 255, 255))
    assert ink > 0.01 * len(lines), f"the latency chart is (nearly) blank: {ink} of {len(lines)} pixels"
    for precision in ("fp32", "int8_static"):
        assert _near(lines, PRECISION_COLOURS[precision], tolerance=48) > 50, precision
    # and the page around the charts is the page, not a blank screenshot with boxes elsewhere
    page = _pixels(rendered.screenshot, [0, 0, WIDTH, speedup["box"][1]])
    assert sum(1 for p in page if p != (255, 255, 255)) > 0.005 * len(page)


# -- issue 19: the study tables fit the page ---------------------------------------------------------
#: what ONNX Runtime reports executing (a real result's text): a long "ran: …" line in every cell
_RAN = ("{op}×52 ({kind}), Gemm×1 ({kind}); other: GlobalAveragePool×1, ReorderOutput×1, Flatten×1; "
        "input float32 [CPUExecutionProvider, optimised graph]")

FIT_PROBE = """<script>
window.addEventListener("load", () => {
  const root = document.documentElement;
  const out = {
    page: [root.scrollWidth, root.clientWidth],
    tables: [...document.querySelectorAll("table")].map(t => ({
      cls: t.className, scroll: t.scrollWidth, width: t.getBoundingClientRect().width,
      container: t.parentElement.clientWidth,
      cells: [...t.querySelectorAll("td")].filter(c => c.scrollWidth > c.clientWidth).length,
    })),
  };
  const pre = document.createElement("pre");
  pre.id = "qtui-fit";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _wide_results() -> list[Any]:
    """Four frameworks × four precisions on two devices, each cell with the executed precision's
    full text, as a real study's report has them."""
    from tests.core.test_study_table import make_run

    out = []
    for device in ("laptop", "raspberry-pi-4-model-b"):
        for framework in ("onnxruntime", "openvino", "tflite", "torch"):
            for precision, value in (("fp32", 20.0), ("fp16", 15.0), ("int8_dynamic", 12.0), ("int8_static", 8.0)):
                op, kind = ("QLinearConv", "int8") if precision.startswith("int8") else ("Conv", "float32")
                out.append(make_run(f"{device}-{framework}-{precision}", precision, value, framework=framework,
                                    device=device, host=device, executed=_RAN.format(op=op, kind=kind)))
    return out


@pytest.mark.parametrize("width", [1280, 800])
def test_no_table_runs_off_the_page(width: int, tmp_path: Path) -> None:
    browser = _browser()
    results = _wide_results()
    assert any(len(r.artifact.get("executed_precision", "")) > 100 for r in results)
    root = tmp_path / "results"
    save_all(root, results)
    report = tmp_path / "report.html"
    out = CliRunner().invoke(main, ["report", "--results-dir", str(root), "--format", "html", "-o", str(report)])
    assert out.exit_code == 0, out.output
    page = report.read_text(encoding="utf-8")
    assert "ran: QLinearConv×52 (int8)" in page
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", FIT_PROBE + "</body>"), encoding="utf-8")
    dom = _chromium(browser, tmp_path, 900, "--virtual-time-budget=5000", "--dump-dom", probed.as_uri(), width=width)
    match = re.search(r'<pre id="qtui-fit">(.*?)</pre>', dom, flags=re.S)
    assert match, f"the probe did not run\n{dom[:2000]}"
    fit = json.loads(html.unescape(match.group(1)))
    study = [t for t in fit["tables"] if t["cls"] == "study"]
    assert study, fit
    for table in fit["tables"]:
        # the whole table inside its container: no metric, speed-up or SQNR hidden off the right
        assert table["scroll"] <= table["container"] and table["width"] <= table["container"], (width, table)
        assert table["cells"] == 0, (width, table)  # no cell's text cut inside it either
    scroll, client = fit["page"]
    assert scroll <= client, (width, fit["page"])  # the page never scrolls sideways
