"""Results of the user's own model file in the TUI: the results screen's model filter, the
study view's model menu and its export, the titles: the file by its name, never its folder."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from textual.widgets import Select

from qtui.core.results import save_result
from qtui.ui.app import QtuiApp
from qtui.ui.screens.results import StudyTablesScreen
from tests.ui.conftest import fake_result, open_results, screen_text, select_row, write_fake_results

USER_MODEL = "/home/someone/private/models/my_net.onnx"


def _write_user_results(root: Path) -> None:
    write_fake_results(root)
    for run_id, precision, p90 in (("u1-ort-fp32-ss", "fp32", 12.0), ("u2-ort-int8-ss", "int8_static", 4.0)):
        result = fake_result(run_id, "2026-01-03T10:00:00+00:00", precision, p90=p90)
        result.profile = replace(result.profile, model=USER_MODEL)
        save_result(result, root / run_id)


async def test_study_view_of_a_user_model_has_it_in_the_menu_and_exports_by_file_name() -> None:
    root = Path(os.environ["QTUI_RESULTS_DIR"])
    _write_user_results(root)
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot)
        assert "my_net.onnx" in screen_text(app) and "/home/someone" not in screen_text(app)
        menu = screen.query_one("#filter-model", Select)
        menu.value = USER_MODEL  # the results filter offers the file measured here
        await pilot.pause()
        assert {r.run_id for r in screen.shown} == {"u1-ort-fp32-ss", "u2-ort-int8-ss"}
        select_row(screen, "u2-ort-int8-ss")
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, StudyTablesScreen)
        text = screen_text(app)
        assert "my_net.onnx · SingleStream" in text and "×3.00" in text and "/home/someone" not in text
        models = app.screen.query_one("#study-model", Select)
        assert models.value == USER_MODEL
        await pilot.press("e")
        await pilot.pause()
        exported = list(root.glob("qtui-study-my_net-*.md"))
        assert len(exported) == 1 and "my_net.onnx" in exported[0].read_text()
        assert "/home/someone" not in exported[0].read_text()
