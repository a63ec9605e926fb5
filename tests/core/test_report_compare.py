"""`qtui report --format html --compare-to A`: the report's results (less A's runs) compared as
B against A, in the section `qtui compare --format html` writes (one included template): two
devices of one folder, B 10 % slower; text from result files (a hostile device label) stays
text; `--compare-to` with another format, or naming nothing, is bad input."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui.cli import main
from tests.core.test_compare import _stream

HOSTILE = '<script>alert("pi")</script><img src=x onerror=alert(1)>'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(autouse=True)
def _no_charts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison is what is tested here, not the charts (matplotlib's time)."""
    monkeypatch.setattr("qtui.core.report_html.charts_available", lambda: False)


def _write(root: Path, device_a: str, device_b: str) -> None:
    _stream("a-ss", 10.0, 1, root, device=device_a)
    _stream("a-int8", 5.0, 2, root, device=device_a, precision="int8_static")
    _stream("b-ss", 11.0, 3, root, device=device_b)


def _report(root: Path, page: Path, *extra: str) -> _Tags:
    out = CliRunner().invoke(main, ["report", "--results-dir", str(root), "--format", "html", "-o", str(page), *extra])
    assert out.exit_code == 0, out.output
    parsed = _Tags()
    parsed.feed(page.read_text(encoding="utf-8"))
    return parsed


def test_report_html_has_the_comparison_section_against_a_device(tmp_path: Path) -> None:
    _write(tmp_path / "r", "pi-4", "pi-5")
    parsed = _report(tmp_path / "r", tmp_path / "report.html", "--compare-to", "pi-4")
    text = " ".join(parsed.text)
    assert ("section", {"id": "compare"}) in parsed.tags
    assert "Compared with device pi-4 (A): B is this report's results" in text
    assert "A: device pi-4 (2 results)" in text and "B: this report's results (1 result)" in text
    rows = [attrs.get("class") for tag, attrs in parsed.tags if tag == "tr" and attrs.get("class")]
    assert rows == ["slower", "other"]  # FP32 SingleStream slower, INT8 only in A
    assert "only in A" in text and "Geometric mean over 1 cell" in text
    # without --compare-to: no section
    plain = _report(tmp_path / "r", tmp_path / "plain.html")
    assert ("section", {"id": "compare"}) not in plain.tags


def test_a_hostile_device_label_stays_text_in_the_comparison_section(tmp_path: Path) -> None:
    _write(tmp_path / "r", HOSTILE, "pi-5")
    page = tmp_path / "report.html"
    parsed = _report(tmp_path / "r", page, "--compare-to", HOSTILE)
    assert [t for t, _ in parsed.tags if t in ("script", "img")] == []
    html = page.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#34;pi&#34;)&lt;/script&gt;" in html
    section = html[html.index('<section id="compare">'):]
    assert HOSTILE not in section and "device &lt;script&gt;" in section


def test_compare_to_is_bad_input_with_another_format_or_naming_nothing(tmp_path: Path) -> None:
    _write(tmp_path / "r", "pi-4", "pi-5")
    runner = CliRunner()
    for args, says in (
        (["--format", "csv", "--compare-to", "pi-4"], "--compare-to: only with --format html"),
        (["--format", "html", "--compare-to", "pi-9"], "not a results folder, a run id, a device or a study"),
        (["--format", "html", "--device", "pi-4", "--compare-to", "pi-4"], "all in A"),
    ):
        out = runner.invoke(main, ["report", "--results-dir", str(tmp_path / "r"), *args, "-o", str(tmp_path / "x.html")])
        assert out.exit_code == 2 and says in out.output, (args, out.output)
    assert not (tmp_path / "x.html").exists()
