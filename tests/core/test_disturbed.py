"""A disturbed measurement never looks clean downstream: the warnings a run recorded (other
processes' load, throttling, the governor, …) travel with every figure built on it — the study
cell (`StudyCell.warnings`, a `⚠` and one legend line per kind naming the runs), `recommend`'s
text and `--json`, and its verdict — and a study never reuses a disturbed run as a clean
repeat (it measures it again and keeps the old file)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from qtui.cli import main
from qtui.core.recommend import recommend, recommendations_text
from qtui.core.results import RunResult, warning_kind
from qtui.core.study import completed_runs, machine_identity
from qtui.core.study_tables import STUDY_WARNING_MARK, study_markdown, study_notes, study_tables
from tests.core.test_study_table import fidelity, make_run, repeats, save_all

LOAD = (
    "other processes kept 1.65 of 2 cores busy during the measurement (83 % of the CPU): figures "
    "are likely low; rerun on a quiet machine"
)
THROTTLED = "the CPU was throttled during the measurement (thermal throttle count +3)"
GOVERNOR = "CPU governor is 'powersave' (not 'performance'): latency may vary"


def _warn(run: RunResult, *texts: str) -> RunResult:
    run.environment["warnings"] = list(texts)
    return run


def _cells(runs: list[RunResult]) -> dict[str, object]:
    (table,) = study_tables(runs)
    return {c.precision: c for c in table.cells()}


def test_warning_kinds_are_named() -> None:
    assert warning_kind(LOAD) == "load"
    assert warning_kind(THROTTLED) == "throttling"
    assert warning_kind(GOVERNOR) == "governor"
    assert warning_kind("threads = 8 is more than the 2 cores here: threads compete") == "threads"


def test_a_study_cell_carries_its_runs_warnings_and_is_marked() -> None:
    fp32 = repeats("f", "fp32", [20.0, 21.0, 19.0])
    int8 = repeats("i", "int8_static", [8.0, 8.2, 7.8])
    _warn(int8[0], LOAD)
    _warn(int8[1], LOAD)
    _warn(int8[2], LOAD, THROTTLED)
    cells = _cells(fp32 + int8)
    quiet, loaded = cells["fp32"], cells["int8_static"]
    assert quiet.warnings == () and not quiet.disturbed
    assert loaded.disturbed and loaded.warning_kinds == ("load", "throttling")
    assert [(w.run_id, w.kind) for w in loaded.warnings] == [
        ("i-0", "load"), ("i-1", "load"), ("i-2", "load"), ("i-2", "throttling"),
    ]
    assert loaded.warned_runs == ("i-0", "i-1", "i-2")
    assert STUDY_WARNING_MARK in loaded.metric_text() and STUDY_WARNING_MARK not in quiet.metric_text()
    # the speed-up (the charts' figure) rests on the cell's runs too
    assert STUDY_WARNING_MARK in loaded.speedup_text()
    notes = "\n".join(study_notes(study_tables(fp32 + int8)))
    # one line per kind, naming its runs once
    assert "other processes kept the CPU busy: runs i-0, i-1, i-2" in notes
    assert "the CPU was throttled: run i-2" in notes
    md = study_markdown(fp32 + int8)
    assert STUDY_WARNING_MARK in md and "i-0, i-1, i-2" in md


def test_a_disturbed_fp32_baseline_marks_the_speedup_it_feeds() -> None:
    fp32 = repeats("f", "fp32", [20.0, 21.0, 19.0])
    int8 = repeats("i", "int8_static", [8.0, 8.2, 7.8])
    for run in fp32:
        _warn(run, LOAD)
    cell = _cells(fp32 + int8)["int8_static"]
    assert cell.disturbed and [(w.run_id, w.baseline) for w in cell.warnings] == [
        ("f-0", True), ("f-1", True), ("f-2", True),
    ]
    assert STUDY_WARNING_MARK in cell.speedup_text() and STUDY_WARNING_MARK not in cell.metric_text()
    # one disturbed FP32 repeat among quiet ones is left out of the baseline
    fp32 = repeats("f", "fp32", [20.0, 21.0, 19.0])
    _warn(fp32[1], LOAD)
    assert _cells(fp32 + int8)["int8_static"].warnings == ()


def test_clean_repeats_are_preferred_and_the_disturbed_one_is_left_out_but_named() -> None:
    fp32 = repeats("f", "fp32", [20.0, 21.0, 19.0])
    old = _warn(make_run("i-old", "int8_static", 30.0), LOAD)
    int8 = repeats("i", "int8_static", [8.0, 8.2, 7.8])
    cell = _cells(fp32 + [old] + int8)["int8_static"]
    assert cell.run_ids == ("i-0", "i-1", "i-2") and cell.left_out == ("i-old",)
    assert not cell.disturbed and STUDY_WARNING_MARK not in cell.metric_text()
    assert "i-old" in "\n".join(study_notes(study_tables(fp32 + [old] + int8)))


def _answer_runs() -> list[RunResult]:
    runs = (
        repeats("f", "fp32", [20.0, 21.0, 19.0])
        + repeats("i", "int8_static", [8.0, 8.2, 7.8])
        + repeats("d", "int8_dynamic", [12.0, 12.5, 11.5])
        + [
            make_run("i-acc", "int8_static", 1.0, mode="accuracy", accuracy=fidelity(28.0, 0.85)),
            make_run("d-acc", "int8_dynamic", 1.0, mode="accuracy", accuracy=fidelity(25.0, 0.80)),
        ]
    )
    return runs


def test_recommend_says_its_verdict_rests_on_disturbed_runs_text_and_json() -> None:
    clean = recommendations_text(recommend(_answer_runs(), unavailable=lambda f, p: None, this_host="x"))
    assert "faster at 95 % confidence\n" in clean + "\n" and "disturbed" not in clean
    runs = _answer_runs()
    by_id = {r.run_id: r for r in runs}
    for run_id in ("i-0", "i-1", "i-2"):
        _warn(by_id[run_id], LOAD)
    (answer,) = recommend(runs, unavailable=lambda f, p: None, this_host="x")
    text = "\n".join(answer.text_lines())
    assert (
        "faster at 95 % confidence — but 3 of 6 runs were disturbed (other processes kept the CPU "
        "busy): re-measure on a quiet machine"
    ) in text
    assert "⚠ 3 of 3 runs disturbed (other processes kept the CPU busy): runs i-0, i-1, i-2" in text
    data = answer.to_dict()
    assert [w["run_id"] for w in data["recommended"]["warnings"]] == ["i-0", "i-1", "i-2"]
    assert data["recommended"]["warnings"][0] == {"run_id": "i-0", "kind": "load", "text": LOAD, "baseline": False}
    assert data["runner_up"]["warnings"] == []
    assert data["margin_verdict"].endswith("faster at 95 % confidence — but 3 of 6 runs were disturbed (other processes kept the CPU busy): re-measure on a quiet machine")
    json.dumps(data)


def test_recommend_json_from_the_command_carries_warnings(tmp_path: Path) -> None:
    runs = _answer_runs()
    for run in runs[3:6]:  # i-0 … i-2
        _warn(run, LOAD)
    save_all(tmp_path, runs)
    out = CliRunner().invoke(main, ["recommend", "--results-dir", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    (data,) = json.loads(out.stdout)
    assert data["recommended"]["warnings"][0]["run_id"] == "i-0"


def test_a_study_never_reuses_a_disturbed_run_as_a_clean_repeat() -> None:
    cell = make_run("c", "fp32", 10.0)
    machine = machine_identity(cell.environment)
    clean = make_run("clean", "fp32", 10.0)
    loaded = _warn(make_run("loaded", "fp32", 10.0), LOAD)
    throttled = _warn(make_run("throttled", "fp32", 10.0), THROTTLED)
    # a lasting condition of this machine: measuring again would not remove it
    governed = _warn(make_run("governed", "fp32", 10.0), GOVERNOR)
    done = completed_runs(cell.profile, None, machine, [clean, loaded, throttled, governed])
    assert [r.run_id for r in done] == ["clean", "governed"]


def test_a_study_reuses_only_what_it_would_measure_itself() -> None:
    """Runtime version, architecture and the threads used are part of what a run measured (the
    artifact key, checked beside this, carries the weights' digest and the calibration data)."""
    cell = make_run("c", "fp32", 10.0)
    here = cell.environment  # the machine the study runs on
    machine = machine_identity(here)
    same = make_run("same", "fp32", 10.0, name="offline")  # another profile, identical measurement
    other_runtime = make_run("ort-new", "fp32", 10.0)
    other_runtime.environment["frameworks"] = {"onnxruntime": "1.99"}
    other_arch = make_run("arm", "fp32", 10.0)
    other_arch.environment["machine"] = "aarch64"
    more_threads = make_run("threads", "fp32", 10.0)
    more_threads.environment["threads"] = 4
    pool = [same, other_runtime, other_arch, more_threads]
    done = completed_runs(cell.profile, None, machine, pool, here=here)
    assert [r.run_id for r in done] == ["same"]
    # LoadGen settings, mode, weights and data are in the profile's measured identity
    for change in (
        {"loadgen": replace(cell.profile.loadgen, preset="mlperf")},
        {"loadgen": replace(cell.profile.loadgen, min_query_count=1024)},
        {"mode": "accuracy"},
        {"weights": replace(cell.profile.weights, seed=1)},
        {"dataset": replace(cell.profile.dataset, count=128)},
        {"threads": 1},
        {"batch_size": 4},
    ):
        other = make_run("other", "fp32", 10.0)
        other.profile = replace(other.profile, **change)
        assert completed_runs(cell.profile, None, machine, [other], here=here) == [], change


def test_a_cells_repeats_share_the_runtime_version_and_threads() -> None:
    """The study table aggregates as repeats only what a study would reuse as repeats."""
    from qtui.core.matching import repeats_of

    runs = repeats("f", "fp32", [20.0, 21.0, 19.0])
    upgraded = make_run("f-new", "fp32", 10.0)
    upgraded.environment["frameworks"] = {"onnxruntime": "1.99"}
    assert [r.run_id for r in repeats_of(runs[0], [*runs, upgraded])] == ["f-0", "f-1", "f-2"]
    more = make_run("f-4t", "fp32", 10.0)
    more.environment["threads"] = 4
    assert more not in repeats_of(runs[0], [*runs, more])
