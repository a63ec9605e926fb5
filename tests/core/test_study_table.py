"""The study table with repeats and devices: a cell is the median of its ok repeats (same profile,
artifact and machine) with a 95 % bootstrap interval from 3 repeats on, the speed-up over the
matching FP32 cell's repeats with its interval, an unstable flag above the stated spread, Δ and
executed precision on demand; results from several folders put devices side by side, a run
copied into two folders counts once; `qtui report` reads several folders and filters a device.

Every result is made here, with known values: the intervals below are worked out independently
(tests/core/intervals.py: Student's t on the logs of 3 repeats, Welch for a speed-up); they are
wider than the repeats' range, which a 95 % interval from 3 repeats must be."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui.cli import main
from qtui.core.identity import device_label
from qtui.core.matching import repeats_of
from qtui.core.profile import LoadGenSpec, RunProfile
from qtui.core.results import RunResult, load_results_dirs, save_result
from qtui.core.stats import UNSTABLE_SPREAD
from qtui.core.study_tables import (
    STUDY_REPEATS_NOTE,
    STUDY_UNSTABLE_NOTE,
    study_markdown,
    study_notes,
    study_tables,
)
from tests.core.intervals import log_t, pooled_one, speedup_text, text, welch

_MINUTE = [0]


def make_run(
    run_id: str,
    precision: str = "fp32",
    value: float = 10.0,
    *,
    framework: str = "onnxruntime",
    scenario: str = "SingleStream",
    mode: str = "performance",
    status: str = "ok",
    host: str = "bench-1",
    device: str | None = None,
    cpu: str = "Test CPU",
    board: str | None = None,
    accuracy: dict[str, Any] | None = None,
    weights: str = "random",
    labelled: bool = False,
    name: str = "study/cell",
    executed: str | None = None,
    **profile_changes: Any,
) -> RunResult:
    """A result with `value` as its scenario metric (p90 ms for SingleStream, p99 for
    MultiStream, samples/s for Offline), made one minute after the previous one."""
    _MINUTE[0] += 1
    created = f"2026-03-01T{_MINUTE[0] // 60:02d}:{_MINUTE[0] % 60:02d}:00+00:00"
    profile = replace(
        RunProfile(name=name, threads=2, loadgen=LoadGenSpec(preset="quick", min_duration_ms=0)),
        framework=framework, precision=precision, scenario=scenario, mode=mode,
        weights=replace(RunProfile().weights, source=weights), **profile_changes,
    )
    env: dict[str, Any] = {
        "hostname": host, "cpu_model": cpu, "machine": "x86_64", "threads": 2, "cores_logical": 2,
        "cores_physical": 2, "frameworks": {"onnxruntime": "1.20", "openvino": "2025.1", "tflite": "1.4", "torch": "2.13"},
    }
    if device is not None:
        env["device"] = device
    if board is not None:
        env["board_model"] = board
    latency = {"basis": "per query", "p50": value * 0.9, "p90": value, "p99": value} if scenario != "Offline" else {"p90": 5.0}
    edges = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    return RunResult(
        run_id=run_id,
        created=created,
        status=status,
        profile=profile,
        environment=env,
        loadgen={"validity": "VALID" if status == "ok" else "INVALID"},
        latency_ms=latency,
        throughput={"samples_per_s": value if scenario == "Offline" else 1000 / value},
        histogram={"edges_ms": edges, "counts": [1, 5, 20, 5, 1]},
        accuracy=accuracy,
        provenance={"weights": weights, "data": "synthetic" if not labelled else "imagenet", "data_has_labels": labelled},
        artifact={"executed_precision": executed or precision.upper(), "size_bytes": 1_000_000},
    )


def fidelity(sqnr: float, agreement: float, classes: int = 48) -> dict[str, Any]:
    return {"samples": 256, "logged_responses": 256,
            "fidelity": {"sqnr_db": sqnr, "centred_top1_agreement": agreement, "centred_distinct_classes": classes, "samples": 256}}


def repeats(prefix: str, precision: str, values: list[float], **kw: Any) -> list[RunResult]:
    return [make_run(f"{prefix}-{k}", precision, v, **kw) for k, v in enumerate(values)]


def save_all(root: Path, results: list[RunResult]) -> None:
    for r in results:
        save_result(r, root / r.run_id)


def _cell(tables: list, framework: str, precision: str, device: str | None = None) -> Any:
    (table,) = tables
    row = next(r for r in table.rows if r.framework == framework and (device is None or r.device == device))
    return row.cells[table.precisions.index(precision)]


# -- repeats and intervals ---------------------------------------------------------------------------
def test_one_run_per_cell_looks_as_before() -> None:
    runs = [make_run("f", "fp32", 20.0), make_run("i", "int8_static", 8.0)]
    (table,) = study_tables(runs)
    assert table.text_rows() == [[("ONNX Runtime",), ("20",), ("8 ×2.50",)]]
    assert study_notes([table]) == [study_notes([table])[0]]  # only the × note: no repeats
    assert "CI" not in study_markdown(runs)


def test_repeats_give_median_interval_and_speedup_interval() -> None:
    runs = repeats("f", "fp32", [20.0, 21.0, 19.0]) + repeats("i", "int8_static", [8.0, 8.2, 7.8])
    tables = study_tables(runs)
    fp32, int8 = _cell(tables, "onnxruntime", "fp32"), _cell(tables, "onnxruntime", "int8_static")
    f_ci, i_ci, s_ci = log_t([20.0, 21.0, 19.0]), log_t([8.0, 8.2, 7.8]), welch([20.0, 21.0, 19.0], [8.0, 8.2, 7.8])
    assert (fp32.value, fp32.repeats) == (20.0, 3) and (fp32.estimate.low, fp32.estimate.high) == pytest.approx(f_ci)
    assert int8.value == 8.0 and (int8.estimate.low, int8.estimate.high) == pytest.approx(i_ci)
    assert int8.estimate.low < 7.8 and int8.estimate.high > 8.2  # wider than the repeats' range
    # latency: speed-up = FP32 latency / this latency, Welch's t on the two cells' logs
    assert int8.speedup == pytest.approx(2.5)
    assert (int8.speedup_estimate.low, int8.speedup_estimate.high) == pytest.approx(s_ci)
    assert tables[0].text_rows() == [[("ONNX Runtime",), (text(20.0, f_ci),), (text(8.0, i_ci), speedup_text(2.5, s_ci))]]
    markdown = study_markdown(runs)
    assert f"| ONNX Runtime | {text(20.0, f_ci)} | {text(8.0, i_ci)}<br>{speedup_text(2.5, s_ci)} |" in markdown
    assert "95 % CI over the repeats (Student's t on the logarithms" in markdown and STUDY_REPEATS_NOTE in markdown


def test_throughput_speedup_is_this_over_fp32() -> None:
    runs = repeats("f", "fp32", [100.0, 110.0, 90.0], scenario="Offline") + repeats("i", "int8_dynamic", [300.0, 330.0, 270.0], scenario="Offline")
    int8 = _cell(study_tables(runs), "onnxruntime", "int8_dynamic")
    assert int8.speedup == pytest.approx(3.0)
    # throughput: this ÷ FP32
    assert (int8.speedup_estimate.low, int8.speedup_estimate.high) == pytest.approx(welch([300.0, 330.0, 270.0], [100.0, 110.0, 90.0]))


def test_two_repeats_give_a_median_but_no_interval() -> None:
    runs = repeats("f", "fp32", [20.0, 22.0]) + [make_run("i", "int8_static", 10.0)]
    tables = study_tables(runs)
    fp32, int8 = _cell(tables, "onnxruntime", "fp32"), _cell(tables, "onnxruntime", "int8_static")
    assert fp32.value == 21.0 and not fp32.has_interval
    assert int8.lines() == ("10 ×2.10",)
    assert STUDY_REPEATS_NOTE in study_notes(tables)


def test_unstable_cells_are_flagged_with_the_stated_threshold() -> None:
    # median 11, MAD 1: spread 1.4826 / 11 = 13 % > 10 %; the FP32 cell: 1.4826 × 0.2 / 20 = 1.5 %
    runs = repeats("f", "fp32", [20.0, 20.2, 19.8]) + repeats("d", "int8_dynamic", [10.0, 13.0, 11.0])
    tables = study_tables(runs)
    fp32, int8 = _cell(tables, "onnxruntime", "fp32"), _cell(tables, "onnxruntime", "int8_dynamic")
    assert int8.unstable and int8.estimate.spread == pytest.approx(1.4826 / 11)
    assert not fp32.unstable
    assert int8.lines()[0] == text(11.0, log_t([10.0, 13.0, 11.0])) + "!"
    assert fp32.lines()[0] == text(20.0, log_t([20.0, 20.2, 19.8]))
    assert UNSTABLE_SPREAD == 0.10 and "more than 10 %" in STUDY_UNSTABLE_NOTE
    assert STUDY_UNSTABLE_NOTE in study_notes(tables)


def test_a_cell_aggregates_only_ok_repeats_of_one_measurement() -> None:
    """INVALID and cancelled runs are not repeats; a run with another setup (here more warm-up
    queries) is another measurement: the cell shows the newest ok run's group, and the speed-up
    uses the FP32 group that matches the INT8 runs' setup."""
    fp32 = repeats("f", "fp32", [20.0, 21.0, 19.0])
    int8 = repeats("i", "int8_static", [8.0, 8.2, 7.8])
    noise = [
        make_run("i-invalid", "int8_static", 2.0, status="invalid"),
        make_run("i-cancel", "int8_static", 1.0, status="cancelled"),
    ]
    other_setup = make_run("f-warm", "fp32", 50.0, warmup_queries=4)  # newest FP32 run
    tables = study_tables(fp32 + int8 + noise + [other_setup])
    cell = _cell(tables, "onnxruntime", "int8_static")
    assert cell.run_ids == ("i-0", "i-1", "i-2") and cell.value == 8.0
    assert cell.speedup == pytest.approx(2.5)  # not 50 / 8
    shown_fp32 = _cell(tables, "onnxruntime", "fp32")
    assert shown_fp32.run_ids == ("f-warm",) and shown_fp32.value == 50.0
    assert [r.run_id for r in repeats_of(int8[0], fp32 + int8 + noise)] == ["i-0", "i-1", "i-2"]


def test_a_cell_with_only_invalid_runs_shows_the_newest_without_speedup() -> None:
    runs = [make_run("f", "fp32", 20.0), make_run("i1", "int8_static", 9.0, status="invalid"),
            make_run("i2", "int8_static", 8.0, status="invalid")]
    cell = _cell(study_tables(runs), "onnxruntime", "int8_static")
    assert (cell.run_id, cell.speedup, cell.lines()) == ("i2", None, ("8*",))


def test_delta_and_executed_precision_on_demand() -> None:
    runs = [
        make_run("f", "fp32", 20.0, executed="f32 everywhere"),
        make_run("i", "int8_static", 8.0, executed="QLinearConv x52 (int8)"),
        make_run("fa", "fp32", 20.0, mode="accuracy", accuracy={"top1": 0.712}),
        make_run("ia", "int8_static", 8.0, mode="accuracy", accuracy={"top1": 0.705}),
    ]
    plain = _cell(study_tables(runs), "onnxruntime", "int8_static")
    assert plain.lines() == ("8 ×2.50", "top-1 70.5%")
    tables = study_tables(runs, executed=True, delta=True)
    assert tables[0].text_rows()[0][1:] == [
        ("20", "top-1 71.2%", "ran: f32 everywhere"),
        ("8 ×2.50", "top-1 70.5%", "Δ -0.7pt", "ran: QLinearConv x52 (int8)"),
    ]
    markdown = study_markdown(runs, executed=True, delta=True)
    assert "Δ: top-1 (points)" in markdown and "ran: the precision the runtime reported" in markdown
    assert "Δ" not in study_markdown(runs)


# -- devices ----------------------------------------------------------------------------------------
def test_device_label_is_the_user_label_else_board_or_cpu_with_host() -> None:
    assert device_label(make_run("a", device="laptop")) == "laptop"
    assert device_label(make_run("b", host="bench-1")) == "Test CPU (bench-1)"
    pi = make_run("c", host="pi", board="Raspberry Pi 4 Model B Rev 1.4", cpu="Cortex-A72")
    assert device_label(pi) == "Raspberry Pi 4 Model B Rev 1.4 (pi)"


def _two_devices(tmp_path: Path) -> tuple[Path, Path]:
    laptop, pi = tmp_path / "laptop", tmp_path / "pi"
    save_all(laptop, repeats("l-f", "fp32", [20.0, 21.0, 19.0], device="laptop", host="lap")
             + repeats("l-i", "int8_static", [8.0, 8.2, 7.8], device="laptop", host="lap")
             + [make_run("l-t", "fp32", 30.0, framework="torch", device="laptop", host="lap")])
    save_all(pi, repeats("p-f", "fp32", [100.0, 104.0, 96.0], device="pi4", host="raspberrypi", board="Raspberry Pi 4")
             + repeats("p-i", "int8_static", [25.0, 26.0, 24.0], device="pi4", host="raspberrypi", board="Raspberry Pi 4"))
    return laptop, pi


LAPTOP_FP32, LAPTOP_INT8 = text(20.0, log_t([20.0, 21.0, 19.0])), text(8.0, log_t([8.0, 8.2, 7.8]))
LAPTOP_SPEEDUP = speedup_text(2.5, welch([20.0, 21.0, 19.0], [8.0, 8.2, 7.8]))
# PyTorch FP32 measured once on the laptop: the laptop's pooled spread (2 cells × 2 df, t(4))
LAPTOP_TORCH = text(30.0, pooled_one(30.0, [[20.0, 21.0, 19.0], [8.0, 8.2, 7.8]], 2.776445105)) + "~"
PI_FP32, PI_INT8 = text(100.0, log_t([100.0, 104.0, 96.0])), text(25.0, log_t([25.0, 26.0, 24.0]))
PI_SPEEDUP = speedup_text(4.0, welch([100.0, 104.0, 96.0], [25.0, 26.0, 24.0]))


def test_two_results_folders_make_one_side_by_side_table(tmp_path: Path) -> None:
    laptop, pi = _two_devices(tmp_path)
    pool = load_results_dirs([laptop, pi])
    (table,) = study_tables(pool)
    assert table.devices == ("laptop", "pi4") and table.header == ["framework", "device", "FP32", "INT8s"]
    assert table.text_rows() == [
        [("ONNX Runtime",), ("laptop",), (LAPTOP_FP32,), (LAPTOP_INT8, LAPTOP_SPEEDUP)],
        [("ONNX Runtime",), ("pi4",), (PI_FP32,), (PI_INT8, PI_SPEEDUP)],
        [("PyTorch",), ("laptop",), (LAPTOP_TORCH,), ("–",)],
    ]


def test_a_run_copied_into_two_folders_counts_once(tmp_path: Path) -> None:
    laptop, pi = _two_devices(tmp_path)
    shutil.copytree(laptop / "l-i-0", pi / "l-i-0")  # the laptop's run, copied with the Pi's
    warnings: list[str] = []
    pool = load_results_dirs([laptop, pi, laptop], warn=warnings.append)
    assert len(pool) == 13 and len({r.run_id for r in pool}) == 13
    assert warnings == []  # the same run in two folders is no damage
    assert _cell(study_tables(pool), "onnxruntime", "int8_static", "laptop").repeats == 3


def _markdown_rows(text: str) -> list[list[str]]:
    rows = [line.strip()[2:-2].split(" | ") for line in text.splitlines() if line.startswith("| ")]
    return [row for row in rows if not all(set(c) <= set("-:") for c in row)]


def test_report_reads_several_folders_and_filters_a_device(tmp_path: Path) -> None:
    laptop, pi = _two_devices(tmp_path)
    both = CliRunner().invoke(main, ["report", "--results-dir", str(laptop), "--results-dir", str(pi), "--format", "study"])
    assert both.exit_code == 0, both.output
    assert _markdown_rows(both.stdout) == [
        ["framework", "device", "FP32", "INT8s"],
        ["ONNX Runtime", "laptop", LAPTOP_FP32, f"{LAPTOP_INT8}<br>{LAPTOP_SPEEDUP}"],
        ["ONNX Runtime", "pi4", PI_FP32, f"{PI_INT8}<br>{PI_SPEEDUP}"],
        ["PyTorch", "laptop", LAPTOP_TORCH, "–"],
    ]
    one = CliRunner().invoke(main, ["report", "--results-dir", str(pi), "--format", "study"])
    assert one.exit_code == 0 and _markdown_rows(one.stdout)[0] == ["framework", "FP32", "INT8s"]
    for wanted in ("PI4", "raspberrypi", "Raspberry Pi 4"):  # label, host name, board: any case
        only = CliRunner().invoke(main, ["report", "--results-dir", str(laptop), "--results-dir", str(pi), "--format", "study", "--device", wanted])
        assert only.exit_code == 0 and only.stdout == one.stdout
    table = CliRunner().invoke(main, ["report", "--results-dir", str(laptop), "--results-dir", str(pi), "--format", "csv"])
    assert table.stdout.splitlines()[0].endswith(",device,warnings") and table.stdout.count(",pi4,\n") == 6


def test_report_refuses_an_unknown_device_or_folder(tmp_path: Path) -> None:
    laptop, pi = _two_devices(tmp_path)
    out = CliRunner().invoke(main, ["report", "--results-dir", str(laptop), "--results-dir", str(pi), "--device", "jetson"])
    assert out.exit_code == 2
    assert "--device jetson: no results from that device; devices: laptop, pi4" in out.stderr
    missing = CliRunner().invoke(main, ["report", "--results-dir", str(tmp_path / "typo")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_the_run_table_names_devices_when_there_are_several(tmp_path: Path) -> None:
    laptop, pi = _two_devices(tmp_path)
    out = CliRunner().invoke(main, ["report", "--results-dir", str(laptop), "--results-dir", str(pi)])
    assert out.exit_code == 0
    lines = out.stdout.splitlines()
    assert lines[1].split()[0] == "device"
    assert sum(line.split()[0] == "pi4" for line in lines[3:] if line.strip()) == 6
    single = CliRunner().invoke(main, ["report", "--results-dir", str(pi)])
    assert "device" not in single.stdout.splitlines()[1]
