"""The setup screen with the user's ONNX model loaded from a profile: the model menu shows the
file by its name, and the grid and the reason refuse the cells an ONNX model cannot fill."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Select

from qtui.core import model_table
from qtui.core.profile import PRECISIONS
from qtui.ui.app import QtuiApp
from qtui.ui.screens.setup import SetupScreen
from tests.conftest import small_profile
from tests.ui.conftest import screen_text


async def test_an_onnx_model_refuses_the_cells_its_source_cannot_fill(tmp_path: Path) -> None:
    model = str(tmp_path / "deep" / "folder" / "my_net.onnx")
    app = QtuiApp(profile=small_profile(model=model))
    kind = model_table.source_kind("onnx")
    async with app.run_test(size=(100, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        assert screen.query_one("#model", Select).value == model
        await pilot.pause()
        assert "my_net.onnx" in screen_text(app) and "deep/folder" not in screen_text(app)
        for framework, precision in (("tflite", "fp32"), ("torch", "int8_static"), ("openvino", "int8_dynamic")):
            assert not screen.availability[(framework, precision)].available
            screen.query_one("#framework", Select).value = framework
            screen.query_one("#precision", Select).value = precision
            await pilot.pause()
            shown = " ".join(str(screen.query_one("#reason").content).split())
            assert "cannot run here" in shown and kind.reason(framework, precision) in shown
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)  # refused, not started
        # a built-in again: the machine's own cells
        screen.query_one("#model", Select).value = "mobilenet_v2"
        await pilot.pause()
        assert screen.availability[("openvino", "int8_dynamic")].reason != kind.reason("openvino", "int8_dynamic")


def test_a_results_row_names_a_model_file_by_its_name_in_both_layouts() -> None:
    from dataclasses import replace

    from qtui.core.model_table import TABLE
    from qtui.ui.screens.results import row_cells
    from tests.ui.conftest import fake_result

    mine = fake_result("r-mine", "2026-01-02T10:00:00+00:00")
    mine = replace(mine, profile=replace(mine.profile, model="/home/me/deep/my_net.onnx"))
    assert row_cells(mine, None).names[0] == ("my_net.onnx", "my_net.onnx")
    for m in TABLE:
        builtin = replace(mine, profile=replace(mine.profile, model=m.id))
        assert row_cells(builtin, None).names[0] == (m.title, m.short)


async def test_the_grid_asks_the_user_models_own_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without the TFLite converter (a Pi): the built-ins' TFLite cells are refused, a
    .tflite file's are not (it needs no converter); an entry point's PyTorch FP32 is a
    TorchScript trace, said in the reason line, not the built-ins' eager note."""
    from qtui.core.prepare import tflite as tfl_prep
    from qtui.core.prepare import torch as torch_prep

    # an empty cache: a built-in's TFLite artifact cached by an earlier test runs without the
    # converter ("runs cached artifact"), which is true, but not the case this test asks about
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(tfl_prep, "unavailable_reason", lambda precision: "no converter here (test)")
    monkeypatch.setattr(tfl_prep, "_present", lambda name: True)
    app = QtuiApp(profile=small_profile(model=str(tmp_path / "deep" / "net.tflite"), framework="tflite"))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        await pilot.pause()
        assert all(screen.availability[("tflite", p)].available for p in PRECISIONS)
        assert "✗" not in str(screen.query_one("#precision", Select)._options)
        screen.query_one("#model", Select).value = "mobilenet_v2"
        await pilot.pause()
        assert screen.availability[("tflite", "fp32")].reason == "no converter here (test)"

        screen.load_profile(small_profile(model="qtui_no_such_pkg.nets:build", framework="torch", precision="fp32"))
        await pilot.pause()
        shown = " ".join(str(screen.query_one("#reason").content).split())
        assert torch_prep.SOURCE_PRECISION_NOTES["entry"]["fp32"] in shown, shown


#: The setup screen in a child without torch (tests/core/no_torch.py's way): a built-in's
#: ONNX Runtime cell refused with the reason, then the user's ONNX file's offered.
SETUP_WITHOUT_TORCH = '''
import asyncio, sys
sys.modules["torch"] = None
from qtui.ui.app import QtuiApp
from tests.conftest import small_profile

async def main():
    app = QtuiApp(profile=small_profile(model="mobilenet_v2"))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        print("BUILTIN", screen.availability[("onnxruntime", "fp32")].available,
              " ".join(str(screen.query_one("#reason").content).split()))
        screen.load_profile(small_profile(model=sys.argv[1]))
        await pilot.pause()
        print("ONNX", screen.availability[("onnxruntime", "fp32")].available,
              " ".join(str(screen.query_one("#reason").content).split()))
    print("TORCH", sys.modules.get("torch") is not None)

asyncio.run(main())
'''


def test_the_grid_without_torch_refuses_the_built_ins_and_offers_an_onnx_file(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    pytest.importorskip("onnxruntime")
    model = tmp_path / "net.onnx"
    model.write_bytes(b"")  # the menu names the file; the grid asks its kind of source only
    env = {**os.environ, "QTUI_CACHE_DIR": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", SETUP_WITHOUT_TORCH, str(model)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = {line.split(" ", 1)[0]: line for line in done.stdout.splitlines()}
    assert lines["BUILTIN"].startswith("BUILTIN False ") and "cannot run here" in lines["BUILTIN"]
    assert "needs torch" in lines["BUILTIN"] and "pip install 'qtui[torch]'" in lines["BUILTIN"], lines
    assert lines["ONNX"].startswith("ONNX True ") and "the ONNX file as it is" in lines["ONNX"], lines
    assert lines["TORCH"] == "TORCH False"
