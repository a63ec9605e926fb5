"""Studies: prepared first, measured second, resumed after an interruption without measuring
again what is done, repeats counted per cell, `force` to measure again."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from qtui.core import events as ev
from qtui.core.profile import InputSpec, LoadGenSpec, SweepSpec
from qtui.core.results import load_results
from qtui.core.study import StudyOptions, completed_runs, machine_identity, plan, run_study
from tests.conftest import small_profile


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests check resuming, not the machine's load: a study measures a run disturbed by
    other processes again (tests/core/test_disturbed.py), so on a busy test machine the counts
    below would change. No load warning here."""
    from qtui.core import machine_load

    monkeypatch.setattr(machine_load, "OTHER_CPU_WARN_FRACTION", 1e9)


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
    options = StudyOptions(repeats=2, results_root=root, quality=False)  # measuring only (quality: below)

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
    first = run_study(profile, StudyOptions(results_root=root))
    assert (first.runs_done, first.quality_done) == (1, 1)
    again = run_study(profile, StudyOptions(results_root=root))
    assert (again.runs_done, again.quality_done, again.quality_reused) == (0, 0, 1)
    forced = run_study(profile, StudyOptions(results_root=root, force=True))
    assert (forced.runs_done, forced.quality_done) == (1, 1)
    # another device label is another machine: its cells (and quality) are not measured yet
    labelled = run_study(profile, StudyOptions(results_root=root, device="pi-4"))
    assert (labelled.runs_done, labelled.quality_done) == (1, 1)
    assert labelled.results[-1].environment["device"] == "pi-4"


def test_a_preparation_failure_shows_before_measuring(tmp_path: Path, monkeypatch: Any) -> None:
    import qtui.core.prepare.for_profile as for_profile

    real = for_profile.prepare_only

    def failing(profile: Any, on_event: Any = None, stop: Any = None) -> Any:
        if profile.precision == "int8_static":
            raise RuntimeError("calibration exploded")
        return real(profile, on_event, stop)

    monkeypatch.setattr(for_profile, "prepare_only", failing)
    events: list[Any] = []
    report = run_study(_study_profile(), StudyOptions(results_root=tmp_path / "r", quality=False), events.append)
    (failed,) = report.prepare_failures
    assert failed.profile.precision == "int8_static" and "calibration exploded" in (failed.prepare_error or "")
    error = next(i for i, e in enumerate(events) if isinstance(e, ev.Log) and "calibration exploded" in e.text)
    first_run = next(i for i, e in enumerate(events) if isinstance(e, ev.Started))
    assert error < first_run and report.runs_done == 1


def test_quality_is_checked_once_per_artifact_before_measuring_and_resumed(tmp_path: Path) -> None:
    from qtui.core.recommend import recommend

    profile = replace(_study_profile(), sweep=SweepSpec(precisions=("int8_static", "fp32"), scenarios=("SingleStream", "Offline")))
    root = tmp_path / "results"

    # interrupted during the first quality run: nothing is measured, the study says so
    stop = threading.Event()
    first: list[Any] = []

    def stop_at_first_run(event: Any) -> None:
        # inside the first quality run, before its LoadGen pass: a stop at `Started` raced a short
        # accuracy pass, which may finish first and is then kept (never lost), not cancelled
        first.append(event)
        checking = any(isinstance(e, ev.StudyStep) and e.phase == "checking quality" for e in first)
        if checking and isinstance(event, ev.Preparing) and event.step == "loading samples":
            stop.set()

    cut = run_study(profile, StudyOptions(results_root=root), stop_at_first_run, stop)
    assert cut.cancelled and (cut.quality_done, cut.runs_done) == (0, 0)
    assert [r.profile.mode for r in cut.quality_results] == ["accuracy"] and cut.quality_results[0].status == "cancelled"

    # resumed: one accuracy run per artifact (2 precisions, whatever the scenarios), all of them
    # before the first measurement, then the 4 cells
    events: list[Any] = []
    report = run_study(profile, StudyOptions(results_root=root), events.append)
    assert not report.cancelled and (report.quality_done, report.quality_failed, report.runs_done) == (2, 0, 4)
    checks = [e for e in events if isinstance(e, ev.StudyStep) and e.phase == "checking quality"]
    measuring = [e for e in events if isinstance(e, ev.StudyStep) and e.phase == "measuring"]
    assert [(e.index, e.total) for e in checks] == [(1, 2), (2, 2)]
    assert events.index(checks[-1]) < events.index(measuring[0])
    # the quality runs measured each artifact's speed: the time left is known from the first run
    assert measuring[0].eta_s is not None and measuring[0].eta_s > 0
    assert sorted(r.profile.precision for r in report.quality_results) == ["fp32", "int8_static"]
    assert all(r.profile.mode == "accuracy" and r.status == "ok" for r in report.quality_results)
    int8 = next(r for r in report.quality_results if r.profile.precision == "int8_static")
    assert int8.accuracy is not None and "sqnr_db" in int8.accuracy["fidelity"]

    # recommend now judges every cell's quality (fidelity: random weights, synthetic data)
    results = load_results(root)
    recs = recommend(results)
    assert len(recs) == 2  # SingleStream and Offline
    for rec in recs:
        assert rec.best is not None and not rec.quality_unmeasured
        options = [o for o in (rec.best, rec.runner_up, *rec.over_budget) if o is not None]
        assert sorted(o.quality.evidence for o in options) == ["fidelity", "reference"]

    # again: every artifact already checked on this machine, nothing runs
    again = run_study(profile, StudyOptions(results_root=root))
    assert (again.quality_done, again.quality_reused, again.runs_done) == (0, 2, 0)
    # quality = false in the profile (or the option): no accuracy runs at all
    from qtui.core.profile import StudySpec

    off = run_study(replace(profile, study=StudySpec(quality=False)), StudyOptions(results_root=tmp_path / "off", repeats=1))
    assert (off.quality_done, off.quality_reused, off.runs_done) == (0, 0, 4) and not off.quality_results


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


def test_time_left_follows_each_combination_then_its_prediction_then_its_scenario() -> None:
    from qtui.core.study import runs_time_left

    base = small_profile()
    ms_fp32 = replace(base, scenario="MultiStream")
    ms_int8 = replace(ms_fp32, precision="int8_static")
    ss_fp32 = replace(base, scenario="SingleStream")
    off_fp32 = replace(base, scenario="Offline")
    assert runs_time_left([ms_fp32], []) is None  # nothing timed, nothing predicted
    timed = [(ms_fp32, 100.0), (ms_fp32, 120.0), (ms_int8, 40.0), (ss_fp32, 5.0)]
    # a repeat of a timed combination: its own mean; another precision in a timed scenario: the
    # scenario's mean; a scenario never timed: the mean of every run
    assert runs_time_left([ms_fp32], timed) == 110.0
    assert runs_time_left([replace(ss_fp32, precision="int8_static")], timed) == 5.0
    assert runs_time_left([off_fp32], timed) == (100 + 120 + 40 + 5) / 4
    # the sum: 2 MultiStream repeats and 10 SingleStream runs, not 12 × the mean of all runs
    assert runs_time_left([ms_fp32, ms_int8] + [ss_fp32] * 10, timed) == 110 + 40 + 50
    # a prediction (LoadGen's seconds from the artifact's speed) + the runs' overhead comes before
    # the scenario's mean, never before the combination's own timed runs; it also gives an
    # estimate before any run was timed
    guess = {("Offline", "fp32"): 2.2, ("MultiStream", "fp32"): 999.0}
    def predicted(p: Any) -> float | None:
        return guess.get((p.scenario, p.precision))

    assert runs_time_left([off_fp32, ms_fp32, ms_int8], timed, predicted, overhead_s=3.0) == (2.2 + 3.0) + 110 + 40
    assert runs_time_left([off_fp32], [], predicted, overhead_s=3.0) == 5.2
    assert runs_time_left([off_fp32, ss_fp32], [], predicted) is None  # SingleStream: no estimate at all


def test_expected_loadgen_seconds_follow_the_stopping_rule() -> None:
    from qtui.core.study import expected_loadgen_s

    quick = LoadGenSpec(preset="quick")
    # quick MultiStream: 662 queries of 8 images; at 18.6 images/s (ONNX Runtime INT8 dynamic on
    # an AMD EPYC: its runs took 285 s and 281 s) that is minutes; at 5000/s the 2 s minimum rules
    ms = small_profile(scenario="MultiStream", loadgen=quick)
    assert abs(expected_loadgen_s(ms, 18.6) - 662 * 8 / 18.6) < 1e-6
    assert abs(expected_loadgen_s(ms, 5000.0) - 2.0) < 0.01
    # quick Offline: one query sized for 2.2 s at the measured rate (2× margin over 1 s × 1.1)
    assert abs(expected_loadgen_s(small_profile(scenario="Offline", loadgen=quick), 500.0) - 2.2) < 0.01
    # quick SingleStream: 2 s, or 64 queries when each takes longer than 31 ms
    ss = small_profile(scenario="SingleStream", loadgen=quick)
    assert abs(expected_loadgen_s(ss, 300.0) - 2.0) < 0.01
    assert abs(expected_loadgen_s(ss, 10.0) - 6.4) < 1e-6
    # a max duration caps it
    capped = replace(ms, loadgen=replace(quick, max_duration_ms=60_000))
    assert expected_loadgen_s(capped, 18.6) == 60.0


# -- every field of a cell's identity ---------------------------------------------------------------
def _leaf_fields() -> list[str]:
    """Every profile field, nested tables as `table.field`, but for the labels, `threads_over_cores` (a permission, not a setting) and the study's
    own settings (the README's list, written here, not read from the code under test): each
    one decides what a run measures."""
    import dataclasses
    import typing

    from qtui.core.profile import RunProfile

    hints = typing.get_type_hints(RunProfile)
    out = []
    for f in dataclasses.fields(RunProfile):
        if f.name in ("name", "sweep", "study", "device", "threads_over_cores"):
            continue
        if dataclasses.is_dataclass(hints[f.name]):
            out += [f"{f.name}.{g.name}" for g in dataclasses.fields(hints[f.name])]
        else:
            out.append(f.name)
    return out


#: A different value for each measured field (the `test_the_changes_cover_every_field` guard
#: makes a new profile field fail until it is listed here).
_CHANGES: dict[str, Any] = {
    "model": "resnet18", "framework": "openvino", "precision": "int8_static", "scenario": "Offline",
    "mode": "accuracy", "threads": 1, "batch_size": 2, "warmup_queries": 3, "schema_version": 0,
    "weights.source": "torchvision", "weights.seed": 1,
    "dataset.source": "/data/imagenet", "dataset.count": 64, "dataset.seed": 1,
    "dataset.performance_sample_count": 16, "dataset.calibration_count": 8,
    "dataset.kind": "images", "dataset.classes": "sorted", "dataset.calibration": "synthetic",
    "input": InputSpec(resize=288),
    "loadgen.preset": "mlperf", "loadgen.min_duration_ms": 1, "loadgen.max_duration_ms": 60_000,
    "loadgen.min_query_count": 65, "loadgen.max_query_count": 1000, "loadgen.expected_latency_ms": 3.5,
    "loadgen.expected_qps": 250.0, "loadgen.samples_per_query": 4,
}


def _changed(profile: Any, dotted: str) -> Any:
    value = _CHANGES[dotted]
    if "." not in dotted:
        assert getattr(profile, dotted) != value
        return replace(profile, **{dotted: value})
    table, name = dotted.split(".")
    sub = getattr(profile, table)
    assert getattr(sub, name) != value
    return replace(profile, **{table: replace(sub, **{name: value})})


def test_the_changes_cover_every_field() -> None:
    assert sorted(_CHANGES) == sorted(_leaf_fields())


@pytest.mark.parametrize("dotted", _leaf_fields())
def test_changing_any_measured_field_makes_a_different_cell(dotted: str) -> None:
    """A result whose profile differs from the cell's in one measured field (the LoadGen settings
    included: a quick run is no finished mlperf cell) is not one of the cell's runs; with every
    field equal it is."""
    from qtui.core.results import RunResult
    from qtui.core.study import measured_identity, quality_runs_done

    cell = small_profile(loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=64))
    env = {"hostname": "bench-1", "cpu_model": "Test CPU"}
    machine = machine_identity(env)

    def result(profile: Any, run_id: str, mode: str = "performance") -> RunResult:
        return RunResult(run_id=run_id, created="2026-03-01T00:00:00+00:00", status="ok",
                         profile=replace(profile, mode=mode), environment=env, artifact={"key": "a1"})

    other = _changed(cell, dotted)
    assert measured_identity(other) != measured_identity(cell)
    same, changed = result(cell, "same"), result(other, "changed", other.mode)
    assert [r.run_id for r in completed_runs(cell, "a1", machine, [same, changed])] == ["same"]
    if dotted not in ("mode", "scenario"):  # accuracy does not depend on the scenario
        acc, acc_changed = result(cell, "acc", "accuracy"), result(other, "acc-changed", "accuracy")
        assert [r.run_id for r in quality_runs_done(cell, "a1", machine, [acc, acc_changed])] == ["acc"]


@pytest.mark.parametrize("where", ["hostname", "cpu_model", "device", "artifact"])
def test_another_machine_or_artifact_makes_a_different_cell(where: str) -> None:
    from qtui.core.results import RunResult

    cell = small_profile()
    env = {"hostname": "bench-1", "cpu_model": "Test CPU"}
    changed_env = {**env, where: "other"} if where != "artifact" else env
    r = RunResult(run_id="r", created="2026-03-01T00:00:00+00:00", status="ok", profile=cell,
                  environment=changed_env, artifact={"key": "other" if where == "artifact" else "a1"})
    assert completed_runs(cell, "a1", machine_identity(env), [r]) == []
    if where != "artifact":
        assert [x.run_id for x in completed_runs(cell, "a1", machine_identity(changed_env), [r])] == ["r"]
