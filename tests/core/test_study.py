"""Studies: prepared first, measured second, resumed after an interruption without measuring
again what is done, repeats counted per cell, `force` to measure again."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from qtui.core import events as ev
from qtui.core.profile import LoadGenSpec, SweepSpec
from qtui.core.results import load_results
from qtui.core.study import StudyOptions, completed_runs, machine_identity, plan, run_study
from tests.conftest import small_profile


def _study_profile() -> Any:
    return replace(
        small_profile(loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=64)),
        sweep=SweepSpec(precisions=("int8_static", "fp32"), scenarios=("SingleStream",)),
    )


def test_plan_filters_and_puts_fp32_first() -> None:
    profile = replace(small_profile(), sweep=SweepSpec(frameworks=("torch", "onnxruntime"), precisions=("int8_static", "fp32")))
    cells = plan(profile, StudyOptions())
    assert [(p.framework, p.precision) for p in cells] == [
        ("onnxruntime", "fp32"), ("onnxruntime", "int8_static"), ("torch", "fp32"), ("torch", "int8_static"),
    ]
    only = plan(profile, StudyOptions(frameworks=("torch",), precisions=("fp32",)))
    assert [(p.framework, p.precision) for p in only] == [("torch", "fp32")]


def test_interrupted_study_resumes_and_repeats_only_what_is_missing(tmp_path: Path) -> None:
    profile = _study_profile()
    root = Path(tmp_path / "results")
    options = StudyOptions(repeats=2, results_root=root)

    # 1. interrupted in the middle of the second run (killed, disconnected, Ctrl-C)
    stop = threading.Event()
    events: list[Any] = []

    def interrupt_second_run(event: Any) -> None:
        events.append(event)
        if isinstance(event, ev.Started) and sum(isinstance(e, ev.Started) for e in events) == 2:
            stop.set()

    report = run_study(profile, options, interrupt_second_run, stop)
    assert report.cancelled and report.runs_done == 1
    assert [r.status for r in report.results] == ["ok", "cancelled"]
    preparing = [e for e in events if isinstance(e, ev.StudyStep) and e.phase == "preparing"]
    measuring = [e for e in events if isinstance(e, ev.StudyStep) and e.phase == "measuring"]
    assert len(preparing) == 2 and events.index(preparing[-1]) < events.index(measuring[0])  # prepared first
    assert [e.index for e in measuring] == [1, 2] and all(e.total == 4 for e in measuring)

    # 2. the same study again: the completed run is kept, the three missing ones are measured
    again: list[Any] = []
    report = run_study(profile, options, again.append)
    assert not report.cancelled and report.runs_done == 3 and sum(c.reused for c in report.cells) == 1
    assert [e.index for e in again if isinstance(e, ev.StudyStep) and e.phase == "measuring"] == [2, 3, 4]
    assert any(isinstance(e, ev.StudyStep) and e.eta_s is not None for e in again)  # ETA once timed

    # 3. nothing left: no run at all
    report = run_study(profile, options)
    assert report.runs_done == 0 and all(c.reused == 2 for c in report.cells)

    # the results: each cell measured exactly twice (the cancelled run kept apart)
    results = load_results(root)
    assert sorted(r.status for r in results).count("cancelled") == 1
    machine = machine_identity(results[0].environment)
    for cell in report.cells:
        assert len(completed_runs(cell.profile, cell.artifact_key, machine, results)) == 2


def test_force_measures_again_and_device_labels_separate_machines(tmp_path: Path) -> None:
    profile = replace(_study_profile(), sweep=SweepSpec(precisions=("fp32",), scenarios=("SingleStream",)))
    root = tmp_path / "results"
    assert run_study(profile, StudyOptions(results_root=root)).runs_done == 1
    assert run_study(profile, StudyOptions(results_root=root)).runs_done == 0
    assert run_study(profile, StudyOptions(results_root=root, force=True)).runs_done == 1
    # another device label is another machine: its cells are not measured yet
    labelled = run_study(profile, StudyOptions(results_root=root, device="pi-4"))
    assert labelled.runs_done == 1
    assert labelled.results[-1].environment["device"] == "pi-4"


def test_a_preparation_failure_shows_before_measuring(tmp_path: Path, monkeypatch: Any) -> None:
    import qtui.core.runner as runner

    real = runner.prepare_only

    def failing(profile: Any, on_event: Any = None) -> Any:
        if profile.precision == "int8_static":
            raise RuntimeError("calibration exploded")
        return real(profile, on_event)

    monkeypatch.setattr(runner, "prepare_only", failing)
    events: list[Any] = []
    report = run_study(_study_profile(), StudyOptions(results_root=tmp_path / "r"), events.append)
    (failed,) = report.prepare_failures
    assert failed.profile.precision == "int8_static" and "calibration exploded" in (failed.prepare_error or "")
    error = next(i for i, e in enumerate(events) if isinstance(e, ev.Log) and "calibration exploded" in e.text)
    first_run = next(i for i, e in enumerate(events) if isinstance(e, ev.Started))
    assert error < first_run and report.runs_done == 1


def test_options_come_from_the_profile_unless_given() -> None:
    from qtui.core.profile import StudySpec

    profile = replace(small_profile(), device="pi-4", study=StudySpec(repeats=3, cooldown_below_c=55.0))
    resolved = StudyOptions().resolved(profile)
    assert (resolved.repeats, resolved.device, resolved.cooldown_below_c, resolved.cooldown_max_wait_s) == (3, "pi-4", 55.0, 300.0)
    given = StudyOptions(repeats=1, device="laptop", cooldown_below_c=0).resolved(profile)
    assert (given.repeats, given.device, given.cooldown_below_c) == (1, "laptop", 0)
    assert StudyOptions().resolved(small_profile()).repeats == 1


def test_labels_and_study_settings_do_not_change_what_a_cell_is() -> None:
    from qtui.core.profile import StudySpec
    from qtui.core.study import measured_identity

    plain = small_profile()
    assert measured_identity(replace(plain, device="x", study=StudySpec(repeats=5), name="other")) == measured_identity(plain)
    assert measured_identity(replace(plain, threads=1)) != measured_identity(plain)
