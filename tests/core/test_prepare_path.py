"""The preparation path needs no run: `qtui prepare` (and `prepare_only`) prepare an artifact
without creating, or even resolving, the results folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui import cli
from tests.conftest import small_profile

TINY = """schema_version = 1
name = "tiny"
model = "mobilenet_v2"
framework = "onnxruntime"
precision = "fp32"
threads = 2
batch_size = 4

[dataset]
count = 32
performance_sample_count = 32
calibration_count = 16
"""


def test_qtui_prepare_leaves_a_missing_results_folder_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = tmp_path / "no-results-here"
    monkeypatch.setenv("QTUI_RESULTS_DIR", str(results))
    profile = tmp_path / "tiny.toml"
    profile.write_text(TINY)
    out = CliRunner().invoke(cli.main, ["prepare", str(profile)])
    assert out.exit_code == 0, out.output
    assert out.stdout.split(":")[0] in ("prepared", "cached")
    assert "mobilenet_v2 onnxruntime fp32 → " in out.stdout
    assert not results.exists()


def test_prepare_only_resolves_no_results_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unusable results folder (a file in its place) does not stop a preparation."""
    from qtui.core.prepare.for_profile import prepare_only

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("QTUI_RESULTS_DIR", str(blocker / "results"))
    artifact, _hit = prepare_only(small_profile())
    assert artifact.path.exists()
    assert blocker.read_text() == "not a folder"
