"""`qtui run PROFILE` with a `[sweep]` says, before the first run, how many combinations it is
about to run and roughly how long (from earlier runs of the same settings here), as `qtui study`
does; a single run says nothing extra."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core.environment import capture_environment
from qtui.core.profile import expand_sweep, load
from qtui.core.profile_store import resolve
from qtui.core.results import save_result
from tests.core.test_study_table import make_run

PROFILE = """schema_version = 1
name = "two"
threads = 2

[sweep]
precisions = ["fp32", "int8_static"]
"""


@pytest.fixture()
def fake_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """`qtui run` without measuring: each run returns a finished result at once."""
    import qtui.core.runner as runner

    ran: list[Any] = []

    def run(profile: Any, on_event: Any = None, stop: Any = None, options: Any = None) -> Any:
        ran.append(profile)
        return make_run(f"fake-{len(ran)}", profile.precision, 10.0)

    monkeypatch.setattr(runner, "run", run)
    monkeypatch.setenv("QTUI_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "cache"))
    return ran


def test_a_sweep_says_how_many_runs_before_it_starts(tmp_path: Path, fake_runs: list[Any]) -> None:
    path = tmp_path / "two.toml"
    path.write_text(PROFILE)
    out = CliRunner().invoke(cli.main, ["run", str(path)])
    assert len(fake_runs) == 2
    assert "run two: 2 combinations, one run each; how long is not known until they have run here once" in out.stderr


def test_the_estimate_comes_from_earlier_runs_of_the_same_settings(tmp_path: Path, fake_runs: list[Any]) -> None:
    path = tmp_path / "two.toml"
    path.write_text(PROFILE)
    env = capture_environment()
    for precision, seconds in (("fp32", 90.0), ("int8_static", 30.0)):
        cell = next(p for p in expand_sweep(load(path)) if p.precision == precision)
        earlier = make_run(f"earlier-{precision}", precision, 10.0)
        earlier.profile = cell
        earlier.environment = {**env, "threads": 2}
        earlier.timings_s = {"prepare": 1.0, "load": 2.0, "loadgen": seconds - 3.0}
        save_result(earlier, tmp_path / "results" / earlier.run_id)
    out = CliRunner().invoke(cli.main, ["run", str(path)])
    assert "run two: 2 combinations, one run each; about 2m00s from earlier runs of the same settings here" in out.stderr


def test_one_run_says_nothing_more(tmp_path: Path, fake_runs: list[Any]) -> None:
    out = CliRunner().invoke(cli.main, ["run", str(resolve("quick"))])
    assert len(fake_runs) == 1 and "combination" not in out.stderr
