"""The app as a whole: ANSI colours, SSH mode (nothing blinks or animates), the UI starts without
importing any ML framework, and every screen's actions have a key shown in the footer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Input

from qtui.ui.app import QtuiApp, project_profile_dirs
from tests.ui.conftest import screen_text, write_fake_results

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("torch", "onnxruntime", "openvino", "ai_edge_litert", "tensorflow", "mlperf_loadgen")


async def test_ansi_flag_uses_the_terminal_colours() -> None:
    app = QtuiApp(ansi=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.ansi_color is True
        assert app.current_theme.ansi


async def test_over_ssh_nothing_animates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22")
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.animation_level == "none"
        assert all(not box.cursor_blink for box in app.screen.query(Input))


def test_project_profiles_are_found() -> None:
    assert any((folder / "quick.toml").exists() for folder in project_profile_dirs())


def test_the_ui_starts_without_importing_a_framework(tmp_path: Path) -> None:
    code = (
        "import asyncio, json, sys\n"
        "from qtui.ui.app import QtuiApp\n"
        "async def main():\n"
        "    app = QtuiApp()\n"
        "    async with app.run_test(size=(80, 24)) as pilot:\n"
        "        await pilot.press('ctrl+t')\n"
        "        await pilot.pause()\n"
        "asyncio.run(main())\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=120, check=True, env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)})
    modules = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not modules & set(FRAMEWORKS), modules & set(FRAMEWORKS)


async def test_footer_shows_the_keys_of_every_screen() -> None:
    write_fake_results(Path(os.environ["QTUI_RESULTS_DIR"]))
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        footer = screen_text(app).splitlines()[-1]
        for shown in ("^q Quit", "f1 Keys", "^r Run", "^s Save profile", "^o Profiles", "^t Results", "^y Study"):
            assert shown in footer
        await pilot.press("ctrl+t")
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        for shown in ("^q Quit", "f1 Keys", "esc Back", "⏎ Details", "c Compare", "s Study", "e Export"):
            assert shown in footer
