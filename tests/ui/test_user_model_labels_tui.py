"""The TUI's results table and model filter name a user TFLite file and a file entry point by
their names, never their folders (the ONNX file: tests/ui/test_user_model_results.py)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from textual.widgets import Select

from qtui.core.results import save_result
from qtui.ui.app import QtuiApp
from tests.ui.conftest import fake_result, open_results, screen_text

MODELS = ("/home/someone/private/models/net.tflite", "/home/someone/private/src/nets.py:build")


async def test_results_table_and_filter_show_file_names() -> None:
    root = Path(os.environ["QTUI_RESULTS_DIR"])
    for i, model in enumerate(MODELS):
        result = fake_result(f"u{i}", f"2026-01-03T10:0{i}:00+00:00")
        result.profile = replace(result.profile, model=model)
        save_result(result, root / result.run_id)
    app = QtuiApp()
    async with app.run_test(size=(100, 24)) as pilot:
        screen = await open_results(pilot)
        text = screen_text(app)
        assert "net.tflite" in text and "nets.py:build" in text and "/home/someone" not in text, text
        menu = screen.query_one("#filter-model", Select)
        shown = [str(prompt) for prompt, value in menu._options if value in MODELS]
        assert sorted(shown) == ["net.tflite", "nets.py:build"], menu._options
