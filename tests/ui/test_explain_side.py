"""`w` on the study view at 80×24: pick a cell to open its artifact's per-layer profile, or see
the cells' saved profiles side by side (one row per source layer, one column per artifact),
scrolled with the keys; cells without a saved profile are named. No runtime is used: the
profiles are saved ones."""

from __future__ import annotations

import os
from pathlib import Path

from qtui.core import explain as ex
from qtui.core.results import RunResult, save_result
from qtui.ui.app import QtuiApp
from qtui.ui.screens.explain import ExplainScreen
from qtui.ui.screens.explain_side import ExplainCellsScreen, SideBySideScreen
from qtui.ui.screens.results import StudyTablesScreen
from tests.ui.conftest import fake_result, open_study, screen_text, wait_for, wait_for_text

#: More layers than 24 rows show, so the table must scroll.
LAYERS = [f"features.{i}.0" for i in range(30)]


def _saved(root: Path) -> list[RunResult]:
    fp32 = fake_result("s-fp32", "2026-01-02T10:00:00+00:00", "fp32", p90=10.0)
    int8 = fake_result("s-int8s", "2026-01-02T10:01:00+00:00", "int8_static", p90=5.0)
    dyn = fake_result("s-int8d", "2026-01-02T10:02:00+00:00", "int8_dynamic", p90=30.0)
    for run, key in ((fp32, "a" * 24), (int8, "b" * 24), (dyn, "e" * 24)):
        run.artifact["key"] = key
        save_result(run, root / run.run_id)
    for precision, key, op, prec in (("fp32", "a" * 24, "Conv", "f32"), ("int8_static", "b" * 24, "QLinearConv", "int8")):
        rows = [ex.LayerRow(layer, f"n{i}", op, "CPU EP", prec, 100.0 + i) for i, layer in enumerate(LAYERS)]
        ex.save(ex.Profile("onnxruntime", precision, "mobilenet_v2", key, "rt", "cpu", 2, 5, ex.with_shares(rows)), root / "explain")
    return [fp32, int8, dyn]


async def test_study_cells_side_by_side_scroll_at_80x24() -> None:
    root = Path(os.environ["QTUI_RESULTS_DIR"])
    _saved(root)
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_study(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, ExplainCellsScreen))
        await pilot.press("enter")  # the first option: every cell side by side
        await wait_for(pilot, lambda: isinstance(app.screen, SideBySideScreen))
        text = await wait_for_text(pilot, app, "ORT FP32")
        assert "ORT INT8s" in text and "f0.0" in text and "conv f32 0.10" in text and "qconv i8 0.10" in text
        assert "f29.0" not in text  # below the fold
        assert "not profiled yet" not in text
        await pilot.press("end")
        text = await wait_for_text(pilot, app, "f29.0")
        assert "qconv i8 0.13" in text
        assert "not profiled yet: ONNX Runtime INT8 dynamic" in " ".join(text.split())  # no saved profile of it
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ExplainCellsScreen))
        await pilot.press("down", "enter")  # the FP32 cell: its own profile (saved: no profiling)
        await wait_for(pilot, lambda: isinstance(app.screen, ExplainScreen))
        screen = app.screen
        assert isinstance(screen, ExplainScreen)
        text = await wait_for_text(pilot, app, "saved profile")
        assert screen.worker is None and screen.result.run_id == "s-fp32"
        assert "compute layers: 30 in f32" in text
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, StudyTablesScreen))
        assert all(len(line) <= 80 for line in screen_text(app).splitlines())


async def test_the_study_view_cites_saved_profiles() -> None:
    """The TUI's study table, as the terminal's and the HTML report's: the INT8 static cell says
    what its artifact executed (its profile saved with the results), FP32 and the unprofiled
    INT8 dynamic cell say nothing."""
    root = Path(os.environ["QTUI_RESULTS_DIR"])
    _saved(root)
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_study(pilot)
        text = await wait_for_text(pilot, app, "int8 100\u00a0%")
        assert text.count("int8 100\u00a0%") == 1, text
