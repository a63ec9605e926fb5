"""A profile name means one thing everywhere: a path, a shipped profile, or one saved from the
TUI; the CLI and the UI both ask `qtui.core.profile_store`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core import profile_store
from qtui.core.profile import RunProfile, save


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("QTUI_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


def test_a_saved_profile_runs_by_its_name(config: Path) -> None:
    """The UI lists a saved `ov-int8-offline`; `qtui run ov-int8-offline` must find it."""
    saved = save(RunProfile(name="ov-int8-offline"), config / "profiles" / "ov-int8-offline.toml")
    assert profile_store.resolve("ov-int8-offline") == saved
    assert profile_store.resolve("ov-int8-offline.toml") == saved
    entries = {(e.name, e.origin) for e in profile_store.list_profiles()}
    assert ("ov-int8-offline", "saved") in entries and ("quick", "shipped") in entries


def test_shipped_names_come_first_and_are_known(config: Path) -> None:
    save(RunProfile(name="quick"), config / "profiles" / "quick.toml")
    assert profile_store.resolve("quick") == profile_store.shipped_dir() / "quick.toml"
    assert profile_store.is_shipped_name("quick") and profile_store.is_shipped_name("quick.toml")
    assert not profile_store.is_shipped_name("mine") and not profile_store.is_shipped_name("../quick")


def test_a_path_wins_over_a_name(config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    local = save(RunProfile(name="local"), tmp_path / "quick")
    assert profile_store.resolve("quick") == Path("quick") and local.exists()


def test_an_unknown_name_lists_the_known_ones(config: Path) -> None:
    with pytest.raises(profile_store.ProfileNotFound) as caught:
        profile_store.resolve("no-such-profile")
    assert "no-such-profile: no such profile file or profile name" in str(caught.value)
    assert "quick" in str(caught.value)
    result = CliRunner().invoke(cli.main, ["run", "no-such-profile"])
    assert result.exit_code == 2 and "no such profile file or profile name" in result.output


def test_the_ui_does_not_import_the_cli() -> None:
    """The UI asks the core for profile lookups (it imported qtui.cli: an import circle)."""
    import ast

    ui = Path(profile_store.__file__).resolve().parents[1] / "ui"
    for source in ui.rglob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
            assert not any(n == "qtui.cli" or n.startswith("qtui.cli.") for n in names), source


def test_qtui_config_dir_moves_saved_profiles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Profiles went to ~/.config even when the results and cache folders were moved."""
    monkeypatch.setenv("QTUI_CONFIG_DIR", str(tmp_path / "cfg"))
    assert profile_store.saved_dir() == tmp_path / "cfg" / "profiles"
    saved = save(RunProfile(name="mine"), profile_store.saved_dir() / "mine.toml")
    assert profile_store.resolve("mine") == saved


def test_qtui_config_dir_that_is_a_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from qtui.core.paths import DirectoryError, config_dir

    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("QTUI_CONFIG_DIR", str(tmp_path / "file"))
    with pytest.raises(DirectoryError, match=r"config folder \(QTUI_CONFIG_DIR\) .* is a file"):
        config_dir()
