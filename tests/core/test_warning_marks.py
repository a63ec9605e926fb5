"""A disturbed measurement is marked wherever its figures are shown: the run table (⚠ and the
warning under it), every export (a warnings column) and the results screen."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from qtui import cli
from qtui.core.results import load_results, save_result
from qtui.core.run_table import table_rows, to_csv
from tests.ui.conftest import fake_result

LOADED = "other processes kept 1.65 of 2 cores busy during the measurement (83 % of the CPU)"


def _results(root: Path) -> None:
    quiet = fake_result("r1-quiet", "2026-01-02T10:00:00+00:00", "fp32", p90=20.0)
    loaded = fake_result("r2-loaded", "2026-01-02T10:05:00+00:00", "int8_static", p90=9.0)
    loaded.environment["warnings"] = [LOADED]
    for r in (quiet, loaded):
        save_result(r, root / r.run_id)


def test_table_and_exports_carry_the_warning(tmp_path: Path) -> None:
    _results(tmp_path)
    rows = {r["run_id"]: r for r in table_rows(load_results(tmp_path))}
    assert rows["r1-quiet"]["warnings"] == "" and rows["r2-loaded"]["warnings"] == LOADED
    assert LOADED in to_csv(list(rows.values()))
    out = CliRunner().invoke(cli.main, ["report", "--results-dir", str(tmp_path)]).stdout
    lines = out.splitlines()
    assert any("INT8s" in ln and "ok ⚠" in ln for ln in lines)
    assert any("FP32" in ln and "ok ⚠" not in ln for ln in lines)
    assert f"⚠ r2-loaded: {LOADED}" in " ".join(out.split())


async def test_results_screen_marks_the_run(tmp_path: Path) -> None:
    from qtui.ui.app import QtuiApp
    from qtui.ui.screens.results import ResultsScreen
    from tests.ui.conftest import screen_text

    _results(tmp_path)
    app = QtuiApp(results_dir=str(tmp_path))
    async with app.run_test(size=(100, 24)) as pilot:
        app.push_screen(ResultsScreen(tmp_path))
        await pilot.pause()
        text = screen_text(app)
        assert "ok ⚠" in text and text.count("⚠") == 1
