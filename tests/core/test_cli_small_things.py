"""Smaller things a newcomer hit: counts read "1 run", "1 repeat"; every budget of `recommend`
is checked against its range (and NaN) with exit 2; the machine's load is said once with one
figure (the result's), not live with another figure and again at the end."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core import events as ev
from qtui.core.study import CellStatus, StudyReport, study_summary
from qtui.core.text import plural
from tests.core.test_study_table import make_run, save_all


def test_counts_are_pluralised() -> None:
    assert (plural(1, "run"), plural(0, "run"), plural(3, "repeat")) == ("1 run", "0 runs", "3 repeats")
    report = StudyReport([CellStatus(make_run("x").profile)], runs_done=1, quality_done=1)
    text = study_summary(report)
    assert text.startswith("1 run measured,") and "quality of 1 artifact:" in text


@pytest.mark.parametrize(
    ("option", "good", "bad"),
    [
        ("--budget-sqnr-db", ["0", "200", "20"], ["-5", "-0.1", "200.5", "nan", "inf"]),
        ("--budget-top1-drop", ["0", "100", "1"], ["-1", "100.1", "nan"]),
        ("--budget-agreement", ["0", "100", "70"], ["-1", "101", "nan"]),
    ],
)
def test_every_budget_is_checked_against_its_range(tmp_path: Path, option: str, good: list[str], bad: list[str]) -> None:
    save_all(tmp_path, [make_run("f", "fp32", 20.0), make_run("i", "int8_static", 8.0)])
    for value in good:
        out = CliRunner().invoke(cli.main, ["recommend", "--results-dir", str(tmp_path), option, value])
        assert out.exit_code == 0, (value, out.output)
    for value in bad:
        out = CliRunner().invoke(cli.main, ["recommend", "--results-dir", str(tmp_path), option, value])
        assert out.exit_code == 2, (value, out.output)
        assert option in out.output


def test_the_load_is_said_once_with_the_results_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qtui.core import machine_load, runner
    from qtui.core.profile import LoadGenSpec
    from tests.conftest import small_profile

    # every check sees a busy machine
    monkeypatch.setattr(machine_load, "OTHER_CPU_WARN_FRACTION", -1.0)
    monkeypatch.setattr(machine_load, "OTHER_CPU_WARN_MIN_CORES", -1.0)
    monkeypatch.setattr(runner, "LOAD_CHECK_S", 0.2)
    profile = small_profile(loadgen=LoadGenSpec(preset="quick", min_duration_ms=1500))
    events: list[Any] = []
    result = runner.run(replace(profile, scenario="SingleStream"), events.append, options=runner.RunOptions(results_root=tmp_path))
    assert result.status == "ok", result.message
    (recorded,) = [w for w in result.environment["warnings"] if w.startswith("other processes")]
    said = [e.text for e in events if isinstance(e, ev.Log) and "other processes" in e.text]
    assert said == [f"machine load: {machine_load.LIVE_LOAD_NOTICE}"]  # once, live, with no figure of its own
    assert "cores busy" in recorded  # the figure is the result's
