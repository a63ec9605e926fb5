"""Options of the default command (the TUI) work at the top level: `qtui --ansi`,
`qtui --ansi PROFILE`, `qtui --results-dir DIR`, and `qtui --help` lists them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui import cli


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import qtui.ui.app as app_module

    calls: list[dict[str, Any]] = []

    class FakeApp:
        def __init__(
            self,
            profile: Any = None,
            results_dir: str | None = None,
            ansi: bool = False,
            fleet_source: Any = None,
        ) -> None:
            calls.append({"profile": profile, "results_dir": results_dir, "ansi": ansi, "fleet": fleet_source})

        def run(self) -> None:
            pass

    monkeypatch.setattr(app_module, "QtuiApp", FakeApp)
    return calls


@pytest.mark.parametrize(
    "argv, ansi, profile_name, results",
    [
        (["--ansi"], True, None, None),
        (["--ansi", "quick"], True, "quick", None),
        (["quick", "--ansi"], True, "quick", None),
        (["--results-dir", "R", "--ansi", "offline"], True, "offline", "R"),
        (["--results-dir=R"], False, None, "R"),
        (["tui", "--ansi"], True, None, None),
        ([], False, None, None),
    ],
)
def test_tui_options_work_at_the_top_level(
    opened: list[dict[str, Any]], argv: list[str], ansi: bool, profile_name: str | None, results: str | None
) -> None:
    result = CliRunner().invoke(cli.main, argv)
    assert result.exit_code == 0, result.output
    (call,) = opened
    assert call["ansi"] is ansi and call["results_dir"] == results
    assert (call["profile"].name if call["profile"] else None) == profile_name
    # the TUI is handed the fleet view's status source (ctrl+f), or None without the fleet extra
    has_fleet = importlib.util.find_spec("ansible_runner") is not None
    assert callable(call["fleet"]) if has_fleet else call["fleet"] is None


def test_help_lists_the_top_level_options() -> None:
    text = CliRunner().invoke(cli.main, ["--help"]).output
    assert "--ansi" in text and "--results-dir" in text


def test_ansi_with_another_command_is_refused() -> None:
    result = CliRunner().invoke(cli.main, ["--ansi", "doctor"])
    assert result.exit_code == 2 and "--ansi is an option of the terminal UI" in result.output


def test_top_level_results_dir_reaches_other_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QTUI_RESULTS_DIR", raising=False)
    target = tmp_path / "elsewhere"
    result = CliRunner().invoke(cli.main, ["--results-dir", str(target), "report", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert target.is_dir()  # report read (and created) the folder it was given
