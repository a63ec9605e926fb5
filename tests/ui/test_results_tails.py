"""The results table's tail columns: p99.9 and max (ms) on the widest screens, after p50 and
p99; an 80- or 120-column screen keeps its layout."""

from __future__ import annotations

import os
from pathlib import Path

from qtui.core.results import fp32_baseline, save_result
from qtui.ui.app import QtuiApp
from qtui.ui.screens.results import TableLayout, choose_layout, row_cells, table_width
from tests.ui.conftest import fake_result, open_results, screen_text, write_fake_results


def _with_tail(root: Path) -> list:
    results = write_fake_results(root)
    tail = fake_result("r9-ort-fp32-tail", "2026-01-02T11:00:00+00:00", p90=10.0)
    tail.latency_ms = {**tail.latency_ms, "p99.9": 41.25, "max": 97.5}
    save_result(tail, root / tail.run_id)
    return [*results, tail]


def test_p999_and_max_are_columns_where_they_fit(tmp_path: Path) -> None:
    results = _with_tail(tmp_path)
    rows = {r.run_id: row_cells(r, fp32_baseline(r, results)) for r in results}
    wide = TableLayout(True, True, True)
    assert [label for label, _ in wide.columns][6:10] == ["p50 ms", "p99 ms", "p99.9 ms", "max ms"]
    cells = [c.plain for c in rows["r9-ort-fp32-tail"].cells(wide)]
    assert cells[6:10] == ["8", "13", "41.2", "97.5"]
    assert [c.plain for c in rows["r1-ort-fp32-ss"].cells(wide)][8:10] == ["–", "–"]  # not recorded
    width = table_width(wide, rows.values())
    assert choose_layout(rows.values(), width) == wide
    assert choose_layout(rows.values(), 120) == TableLayout(True, True)
    assert choose_layout(rows.values(), 80) == TableLayout(False, False)


async def test_the_wide_results_screen_shows_the_tail() -> None:
    _with_tail(Path(os.environ["QTUI_RESULTS_DIR"]))
    app = QtuiApp()
    async with app.run_test(size=(160, 30)) as pilot:
        await open_results(pilot)
        text = screen_text(app)
        assert "p99.9 ms" in text and "max ms" in text
        (line,) = [x for x in text.splitlines() if "97.5" in x]
        assert "41.2" in line
