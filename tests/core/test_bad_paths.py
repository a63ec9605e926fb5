"""A data or weights path that is not there is bad input, refused before any work (exit 2, the key
named, nothing saved) — not a run that starts, fails with exit 1 and leaves a failed result in
every report."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core.profile import ProfileError, RunProfile, WeightsSpec, check_sources


@pytest.fixture()
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QTUI_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize(
    ("command", "key", "value"),
    [
        (["run", "quick"], "dataset.source", "/nonexistent"),
        (["run", "quick"], "weights.source", "/nonexistent/weights.pth"),
        (["study", "paper-matrix"], "dataset.source", "/nonexistent"),
        (["prepare", "quick"], "weights.source", "/nonexistent/weights.pth"),
    ],
)
def test_a_missing_path_is_refused_before_any_work(dirs: Path, command: list[str], key: str, value: str) -> None:
    out = CliRunner().invoke(cli.main, [*command, "--set", f"{key}={value}"])
    assert out.exit_code == 2, out.output
    assert f"key '{key}'" in out.output and value in out.output
    assert not list((dirs / "results").glob("*/result.json"))  # no failed result left behind


def test_what_a_data_folder_and_a_weights_file_must_be(tmp_path: Path) -> None:
    folder = tmp_path / "imagenet"
    folder.mkdir()
    base = RunProfile()
    with pytest.raises(ProfileError, match="neither a folder nor a file"):
        check_sources(_data(base, tmp_path / "missing"))
    # a folder or a file is fine here: what it holds is checked when it opens (qtui.core.data)
    check_sources(_data(base, folder))
    with pytest.raises(ProfileError, match="not a file"):
        check_sources(_weights(base, tmp_path))  # a folder is no weights file
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"")
    with pytest.raises(ProfileError, match="empty"):
        check_sources(_weights(base, weights))
    weights.write_bytes(b"x")
    check_sources(_weights(base, weights))
    check_sources(base)  # synthetic data, random weights
    check_sources(_weights(base, "torchvision"))


def test_an_empty_data_folder_is_refused_before_any_work(dirs: Path) -> None:
    empty = dirs / "empty"
    empty.mkdir()
    out = CliRunner().invoke(cli.main, ["run", "quick", "--set", f"dataset.source={empty}"])
    assert out.exit_code == 2, out.output
    assert str(empty) in out.output
    assert not list((dirs / "results").glob("*/result.json"))


def _data(profile: RunProfile, folder: Path) -> RunProfile:
    from dataclasses import replace

    return replace(profile, dataset=replace(profile.dataset, source=str(folder)))


def _weights(profile: RunProfile, source: Path | str) -> RunProfile:
    from dataclasses import replace

    return replace(profile, weights=WeightsSpec(source=str(source)))


def test_a_mistyped_command_gets_did_you_mean(dirs: Path) -> None:
    out = CliRunner().invoke(cli.main, ["reprot", "--format", "csv"])
    assert out.exit_code == 2, out.output
    assert "did you mean `qtui report`?" in out.output
    out = CliRunner().invoke(cli.main, ["--results-dir", str(dirs), "recomend"])
    assert out.exit_code == 2 and "did you mean `qtui recommend`?" in out.output
