"""Adaptive repeats (`[study] min_repeats` < `repeats`): every cell gets `min_repeats` runs,
slowest first; then cells whose 95 % interval is wider than `target_width` get more runs, fastest
first, until settled or at `repeats`; a 1-run cell takes the run-to-run spread pooled over the
cells with repeats; resuming uses the same rule. A stand-in runner returns figures the test sets
(each cell's next value from its own list) and saves each result where the study looks for it."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from qtui.core import events as ev
from qtui.core.environment import capture_environment
from qtui.core.profile import RunProfile, StudySpec, SweepSpec
from qtui.core.results import RunResult, save_result
from qtui.core.study import DEFAULT_TARGET_WIDTH, StudyOptions, run_study
from qtui.core.study_tables import STUDY_POOLED_MARK, STUDY_POOLED_NOTE, study_notes, study_tables


class StandIn:
    """`runner.run` and `prepare_only` for a study: each cell's p90 latency comes from
    `figures[(framework, precision)]`, one value per run in order; `speed` is its samples/s in
    the quality run's stead (what the study predicts each run's seconds from)."""

    def __init__(self, root: Path, figures: dict[tuple[str, str], list[float]]) -> None:
        self.root, self.figures = root, {k: list(v) for k, v in figures.items()}
        self.order: list[tuple[str, str]] = []

    def prepare_only(self, p: RunProfile, emit: Any, stop: Any) -> tuple[Any, bool]:
        return SimpleNamespace(meta={"key": f"{p.framework}-{p.precision}"}), True

    def run(self, p: RunProfile, emit: Any, stop: Any, options: Any) -> RunResult:
        cell = (p.framework, p.precision)
        self.order.append(cell)
        value = self.figures[cell].pop(0)
        run_id = f"run-{len(self.order):03d}-{p.framework}-{p.precision}"
        env = {**capture_environment(frameworks=[p.framework]), "threads": p.threads or os.cpu_count() or 1}
        result = RunResult(
            run_id=run_id, created=f"2026-12-07T10:{len(self.order):02d}:00+00:00", status="ok", profile=p,
            environment=env, loadgen={"validity": "VALID"},
            latency_ms={"basis": "per query", "p50": value * 0.9, "p90": value, "p99": value},
            throughput={"samples_per_s": 1000.0 / value, "duration_s": value / 10.0},
            artifact={"key": f"{p.framework}-{p.precision}", "executed_precision": p.precision.upper()},
        )
        save_result(result, self.root / run_id)
        return result


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    from qtui.core import machine_load, runner
    from qtui.core.prepare import for_profile

    monkeypatch.setattr(machine_load, "OTHER_CPU_WARN_FRACTION", 1e9)  # figures the test sets, no load

    def make(figures: dict[tuple[str, str], list[float]]) -> StandIn:
        fake = StandIn(tmp_path / "results", figures)
        monkeypatch.setattr(runner, "run", fake.run)
        monkeypatch.setattr(for_profile, "prepare_only", fake.prepare_only)
        return fake

    return make


def _profile(min_repeats: int | None, repeats: int = 3, target: float | None = None) -> RunProfile:
    return replace(
        RunProfile(name="adaptive", scenario="SingleStream"),
        sweep=SweepSpec(frameworks=("onnxruntime", "openvino"), precisions=("fp32", "int8_static")),
        study=StudySpec(repeats=repeats, min_repeats=min_repeats, target_width=target, quality=False),
    )


# Run-to-run spread ~1 % on every cell: four cells of figures, more than any cell needs.
STEADY = {
    ("onnxruntime", "fp32"): [20.0, 20.2, 19.8, 20.1, 19.9],
    ("onnxruntime", "int8_static"): [8.0, 8.08, 7.92, 8.04, 7.96],
    ("openvino", "fp32"): [18.0, 18.2, 17.8, 18.1, 17.9],
    ("openvino", "int8_static"): [5.0, 5.05, 4.95, 5.02, 4.98],
}


def test_without_min_repeats_every_cell_gets_its_repeats(stand_in: Any, tmp_path: Path) -> None:
    fake = stand_in(STEADY)
    report = run_study(_profile(None), StudyOptions(results_root=tmp_path / "results"))
    assert report.runs_done == 12 and sorted(set(fake.order)) == sorted(STEADY)
    assert all(fake.order.count(c) == 3 for c in STEADY)


def test_steady_cells_stop_early_and_their_interval_is_pooled(stand_in: Any, tmp_path: Path) -> None:
    """One run each, then one more of the fastest cells until the pooled spread (3 degrees of
    freedom) settles every cell within 10 %: 7 runs instead of 12, and the tables show the pooled
    intervals (marked ~, with the note that says what they assume)."""
    fake = stand_in(STEADY)
    events: list[Any] = []
    report = run_study(_profile(1), StudyOptions(results_root=tmp_path / "results"), events.append)
    assert not report.cancelled and report.runs_failed == 0
    # round 1: every cell once, slowest first (no prediction here: plan order), then the fastest
    # cells (the ones with the smallest predicted seconds; unpredicted: plan order) get a 2nd run
    assert fake.order[:4] == [("onnxruntime", "fp32"), ("onnxruntime", "int8_static"), ("openvino", "fp32"), ("openvino", "int8_static")]
    assert report.runs_done == 7 and len(fake.order) == 7, fake.order
    measuring = [e for e in events if isinstance(e, ev.StudyStep) and e.phase == "measuring"]
    assert [e.index for e in measuring] == list(range(1, 8))
    assert "(run 1, 1–3 by its interval)" in measuring[0].label
    tables = study_tables(report.results)
    cells = tables[0].cells()
    assert any(c.estimate is not None and c.estimate.pooled for c in cells)
    one_run = [c for c in cells if c.repeats == 1]
    assert one_run and all(STUDY_POOLED_MARK in c.metric_text() for c in one_run)
    assert all(c.has_interval and (c.estimate.high - c.estimate.low) / c.value <= DEFAULT_TARGET_WIDTH for c in cells)
    assert STUDY_POOLED_NOTE in study_notes(tables)


def test_a_noisy_cell_goes_on_to_its_maximum(stand_in: Any, tmp_path: Path) -> None:
    """With two runs a cell, one whose runs disagree far more than the others' (an F test
    against the pooled spread) does not borrow it: it runs until its own interval is narrow
    enough, here never (so to its maximum, 5)."""
    figures = dict(STEADY)
    figures[("openvino", "int8_static")] = [5.0, 6.5, 4.0, 5.8, 4.4]
    fake = stand_in(figures)
    report = run_study(_profile(2, repeats=5), StudyOptions(results_root=tmp_path / "results"))
    assert fake.order.count(("openvino", "int8_static")) == 5, fake.order
    assert report.runs_done == len(fake.order)
    # the steady cells were settled at their minimum
    assert all(fake.order.count(c) == 2 for c in STEADY if c != ("openvino", "int8_static"))
    noisy = next(c for c in study_tables(report.results)[0].cells() if (c.framework, c.precision) == ("openvino", "int8_static"))
    assert noisy.repeats == 5 and not noisy.estimate.pooled and STUDY_POOLED_MARK not in noisy.metric_text()


def test_a_resumed_adaptive_study_measures_nothing_settled_again(stand_in: Any, tmp_path: Path) -> None:
    fake = stand_in({k: v * 2 for k, v in STEADY.items()})
    options = StudyOptions(results_root=tmp_path / "results")
    first = run_study(_profile(1), options)
    ran = len(fake.order)
    again = run_study(_profile(1), options)
    assert again.runs_done == 0 and len(fake.order) == ran
    assert sum(c.reused for c in again.cells) == first.runs_done


def test_min_repeats_three_gives_every_cell_its_own_interval(stand_in: Any, tmp_path: Path) -> None:
    fake = stand_in(STEADY)
    report = run_study(_profile(3, repeats=5, target=0.5), StudyOptions(results_root=tmp_path / "results"))
    assert all(fake.order.count(c) == 3 for c in STEADY)
    assert not any(c.estimate.pooled for c in study_tables(report.results)[0].cells())


def test_the_slowest_cells_run_first(stand_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With each cell's speed known (here: its earlier seconds), round one runs the slowest first
    and the extra runs go to the fastest first."""
    from qtui.core import study

    speed = {("onnxruntime", "fp32"): 3.0, ("onnxruntime", "int8_static"): 1.0, ("openvino", "fp32"): 9.0, ("openvino", "int8_static"): 0.5}
    monkeypatch.setattr(study._Study, "predicted_seconds", lambda self, p: speed[(p.framework, p.precision)])
    fake = stand_in(STEADY)
    run_study(_profile(1), StudyOptions(results_root=tmp_path / "results"))
    assert fake.order[:4] == sorted(speed, key=lambda c: -speed[c])
    assert fake.order[4] == ("openvino", "int8_static")  # the fastest cell builds the pooled spread


def test_recommend_says_which_interval_is_pooled(stand_in: Any, tmp_path: Path) -> None:
    from qtui.core.recommend import _speed

    stand_in(STEADY)
    report = run_study(_profile(1), StudyOptions(results_root=tmp_path / "results"))
    cells = study_tables(report.results)[0].cells()
    once = next(c for c in cells if c.repeats == 1)
    text = _speed(once, "p90 ms")
    assert f"]{STUDY_POOLED_MARK} p90 ms" in text and "pooled over the table's cells" in text, text
    twice = next(c for c in cells if c.repeats == 2)
    assert STUDY_POOLED_MARK in _speed(twice, "p90 ms")


def test_cells_stop_once_as_narrow_as_the_fixed_study_would_show(stand_in: Any, tmp_path: Path) -> None:
    """A spread of about 4 % a run: no interval gets within the 5 % target, but once the pooled
    spread has 6 degrees of freedom a cell measured once already has an interval no wider than
    3 runs of its own would give (t(2) × sd ÷ √3 against t(6) × sd): the study stops there,
    and never at fewer runs than that."""
    import math

    from qtui.core.stats import pooled_spread
    from qtui.core.study import fixed_study_width

    noisy = {
        ("onnxruntime", "fp32"): [20.0, 21.6, 18.7, 20.9, 19.4],
        ("onnxruntime", "int8_static"): [8.0, 8.5, 7.6, 8.3, 7.8],
        ("openvino", "fp32"): [18.0, 19.3, 17.1, 18.6, 17.5],
        ("openvino", "int8_static"): [5.0, 5.35, 4.75, 5.2, 4.85],
    }
    fake = stand_in(noisy)
    report = run_study(_profile(1, repeats=3), StudyOptions(results_root=tmp_path / "results"))
    assert len(fake.order) < 12, fake.order
    cells = study_tables(report.results)[0].cells()
    pooled = pooled_spread([list(c.values) for c in cells])
    assert pooled is not None
    fixed = fixed_study_width(pooled, 3)
    for c in cells:
        assert c.has_interval
        width = (c.estimate.high - c.estimate.low) / c.value
        assert width > DEFAULT_TARGET_WIDTH and width <= fixed * 1.0001, (c.framework, c.precision, width, fixed)
    assert fixed == pytest.approx(2 * math.sinh(4.302652730 * pooled.sd / math.sqrt(3)))
