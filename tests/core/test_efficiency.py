"""How close a run came to the CPU's limit, as a result records it: the environment keeps the
CPU's max clock, the runner records GOP/s achieved (2 × counted MACs × the run's samples/s) and
the share of the nominal peak for what executed, results saved before that still load (damaged
ones are skipped), and the tables show it on demand (`qtui report --efficiency`, csv columns).

Nothing here asserts a CPU-specific figure: CI runs on Intel Xeon (AMX, avx512_fp16) and AMD Zen 4
(avx512_vnni, avx512_bf16); the peak is recomputed from the result's own environment."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui.cli import main
from qtui.core import ops
from qtui.core.environment import capture_environment
from qtui.core.profile import LoadGenSpec
from qtui.core.results import RunResult, load_result, load_results
from qtui.core.run_table import TABLE_COLUMNS, table_rows, to_csv
from qtui.core.runner import run
from qtui.core.study_tables import STUDY_EFFICIENCY_NOTE, study_markdown
from tests.conftest import small_profile
from tests.core.test_study_table import make_run, save_all


# -- the environment -------------------------------------------------------------------------------
def test_environment_records_the_max_clock_the_peak_reads(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: avx2 avx512f avx512_vnni\ncpu MHz\t\t: 2600.0\n"
    )
    freq = tmp_path / "sys/devices/system/cpu/cpu0/cpufreq"
    freq.mkdir(parents=True)
    (freq / "cpuinfo_max_freq").write_text("3700000\n")
    env = capture_environment(threads=1, frameworks=[], root=tmp_path)
    assert env["cpu_max_mhz"] == pytest.approx(3700.0)
    env.update(machine="x86_64", cores_physical=4)  # live facts: pin them for the figure below
    peak = ops.nominal_peak_gops(env, "fp32")
    assert peak is not None
    assert peak[0] == pytest.approx(1 * 3.7 * 32) and "3.70 GHz (max clock)" in peak[1]
    assert env["cpu_max_mhz_source"] == "cpufreq"
    # no cpufreq (a VM): /proc/cpuinfo's clock, labelled as what it may be
    (freq / "cpuinfo_max_freq").unlink()
    vm = capture_environment(threads=1, frameworks=[], root=tmp_path)
    assert (vm["cpu_max_mhz"], vm["cpu_max_mhz_source"]) == (pytest.approx(2600.0), "cpuinfo")
    vm.update(machine="x86_64", cores_physical=4)
    vm_peak = ops.nominal_peak_gops(vm, "fp32")
    assert vm_peak is not None and "2.60 GHz (clock in /proc/cpuinfo, no cpufreq: may be the base clock)" in vm_peak[1]
    nothing = capture_environment(frameworks=[], root=tmp_path / "nothing")
    assert nothing["cpu_max_mhz"] is None and nothing["cpu_max_mhz_source"] is None


# -- the runner ------------------------------------------------------------------------------------
#: An Intel AVX-512 server CPU (two full 512-bit FMA units per core), 2 cores at 3.0 GHz max.
FIXED_CPU: dict[str, Any] = {
    "machine": "x86_64", "cpu_model": "Intel(R) Xeon(R) Test CPU", "board_model": None,
    "cores_physical": 2, "cores_logical": 4, "cpu_max_mhz": 3000.0, "cpu_max_mhz_source": "cpufreq",
    "isa": {"avx2": True, "avx512f": True, "avx512_vnni": True, "avx_vnni": False, "amx_int8": False,
            "avx512_fp16": False, "amx_fp16": False},
    "cpu_flags_relevant": ["avx2", "avx512f", "avx512_vnni"],
}
#: FP32 peak by hand: 2 cores × 3.0 GHz × (2 FMA units × 16 FP32 lanes × 2 ops) = 384 GOP/s.
FIXED_CPU_FP32_PEAK = 2 * 3.0 * (2 * 16 * 2)
#: MobileNetV2 at 224×224: 300.8 M multiply-accumulates per image (its paper quotes 300 M).
MOBILENET_V2_GMACS = 0.3008
@pytest.fixture(scope="module")
def fp32_run(tmp_path_factory: pytest.TempPathFactory, session_cache: Path) -> RunResult:
    """One MobileNetV2 ONNX Runtime FP32 Offline run (module-scoped: the autouse fixture's
    folders are per test, so this sets its own)."""
    from qtui.core import runner

    real_capture = runner.capture_environment

    def fixed_cpu(*args: Any, **kwargs: Any) -> dict[str, Any]:
        # the CPU facts the peak is derived from, pinned (the rest is this machine's): the
        # expected peak below is then a hand-computed number, not the code under test's
        env = real_capture(*args, **kwargs)
        env.update(FIXED_CPU)
        return env

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "capture_environment", fixed_cpu)
        mp.setenv("QTUI_CACHE_DIR", str(session_cache))
        mp.setenv("QTUI_RESULTS_DIR", str(tmp_path_factory.mktemp("efficiency-results")))
        profile = small_profile(framework="onnxruntime", precision="fp32", scenario="Offline",
                                loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=16))
        return run(profile)


def test_runner_records_efficiency_of_an_ok_run(fp32_run: RunResult) -> None:
    r = fp32_run
    assert r.status == "ok", r.message
    eff = r.efficiency
    assert eff is not None
    sps = r.throughput["samples_per_s"]
    assert sps > 0
    assert eff["model_gmacs"] == pytest.approx(MOBILENET_V2_GMACS, rel=1e-3)
    assert eff["achieved_gops"] == pytest.approx(2 * MOBILENET_V2_GMACS * sps, rel=1e-3)
    assert eff["compute_precision"] == "fp32"
    assert eff["rate_basis"] == "LoadGen's Offline samples/s"
    # the peak is the recorded CPU's (FIXED_CPU), computed by hand
    assert eff["nominal_peak_gops"] == pytest.approx(FIXED_CPU_FP32_PEAK)
    assert eff["fraction_of_nominal_peak"] == pytest.approx(eff["achieved_gops"] / FIXED_CPU_FP32_PEAK)
    assert eff["peak_basis"] == "nominal: 2 cores × 3.00 GHz (max clock) × 64 ops/cycle (AVX-512 FMA: 2 units × 16 lanes × 2)"
    # saved as recorded
    saved = load_result(Path(r.loadgen["log_dir"]) / "result.json")
    assert saved.efficiency == eff


# -- loading ---------------------------------------------------------------------------------------
def _saved_dict(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    run_ = make_run("e1", "fp32", 10.0)
    run_.efficiency = ops.run_efficiency("mobilenet_v2", 100.0, {}, "fp32", None, "onnxruntime", "basis")
    data = json.loads(run_.to_json())
    data.update(changes)
    return data


def _write(root: Path, name: str, data: dict[str, Any]) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "result.json").write_text(json.dumps(data))


def test_old_results_without_the_field_still_load(tmp_path: Path) -> None:
    old = _saved_dict(tmp_path)
    del old["efficiency"]
    old["environment"].pop("cpu_max_mhz", None)
    _write(tmp_path, "old", old)
    warnings: list[str] = []
    (loaded,) = load_results(tmp_path, warn=warnings.append)
    assert loaded.efficiency is None and warnings == []
    assert table_rows([loaded])[0]["achieved_gops"] is None


@pytest.mark.parametrize(
    "efficiency",
    [[], "fast", {"achieved_gops": "fast"}, {"fraction_of_nominal_peak": float("inf")}, {"peak_basis": 3}],
)
def test_damaged_efficiency_is_skipped_with_a_warning(tmp_path: Path, efficiency: Any) -> None:
    data = _saved_dict(tmp_path, run_id="bad")
    data["efficiency"] = efficiency
    _write(tmp_path, "bad", data)
    _write(tmp_path, "good", _saved_dict(tmp_path, run_id="good"))
    warnings: list[str] = []
    loaded = load_results(tmp_path, warn=warnings.append)
    assert [r.run_id for r in loaded] == ["good"]
    assert len(warnings) == 1 and "efficiency" in warnings[0]


# -- tables ----------------------------------------------------------------------------------------
def _with_efficiency(run_: RunResult, gops: float, fraction: float | None) -> RunResult:
    run_.efficiency = {"achieved_gops": gops, "fraction_of_nominal_peak": fraction,
                       "nominal_peak_gops": None if fraction is None else gops / fraction,
                       "compute_precision": "int8", "peak_basis": "nominal: test", "rate_basis": "test"}
    return run_


def _runs() -> list[RunResult]:
    return [
        _with_efficiency(make_run("f", "fp32", 20.0), 30.1, 0.123),
        _with_efficiency(make_run("i", "int8_static", 8.0), 75.2, None),
        make_run("t", "fp32", 30.0, framework="torch"),  # saved before efficiency existed
    ]


def test_study_efficiency_on_demand() -> None:
    runs = _runs()
    plain = study_markdown(runs)
    assert "GOP/s" not in plain
    shown = study_markdown(runs, efficiency=True)
    assert "30.1 GOP/s, 12 % of nominal peak" in shown
    assert "75.2 GOP/s" in shown and "75.2 GOP/s," not in shown  # no peak: no share
    assert STUDY_EFFICIENCY_NOTE in shown


def test_efficiency_columns_in_the_run_table_and_csv() -> None:
    rows = table_rows(_runs())
    assert {"achieved_gops", "fraction_of_nominal_peak"} <= set(TABLE_COLUMNS)
    by_id = {row["run_id"]: row for row in rows}
    assert by_id["f"]["achieved_gops"] == pytest.approx(30.1)
    assert by_id["f"]["fraction_of_nominal_peak"] == pytest.approx(0.123)
    assert by_id["i"]["fraction_of_nominal_peak"] is None and by_id["t"]["achieved_gops"] is None
    parsed = {row["run_id"]: row for row in csv.DictReader(io.StringIO(to_csv(rows)))}
    assert float(parsed["f"]["fraction_of_nominal_peak"]) == pytest.approx(0.123)
    assert parsed["t"]["achieved_gops"] == ""


def test_report_efficiency_flag_and_json(tmp_path: Path) -> None:
    save_all(tmp_path, _runs())
    cli = CliRunner()
    shown = cli.invoke(main, ["report", "--results-dir", str(tmp_path), "--format", "study", "--efficiency"])
    assert shown.exit_code == 0, shown.output
    assert "30.1 GOP/s, 12 % of nominal peak" in shown.output and STUDY_EFFICIENCY_NOTE in shown.output
    plain = cli.invoke(main, ["report", "--results-dir", str(tmp_path), "--format", "study"])
    assert plain.exit_code == 0 and "GOP/s" not in plain.output
    as_json = cli.invoke(main, ["report", "--results-dir", str(tmp_path), "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    by_id = {d["run_id"]: d for d in json.loads(as_json.output)}
    assert by_id["f"]["efficiency"]["fraction_of_nominal_peak"] == pytest.approx(0.123)
    assert by_id["t"]["efficiency"] is None


def test_run_details_show_the_compute_line() -> None:
    from qtui.ui.screens.results import details_renderables

    r = make_run("f", "fp32", 20.0)
    r.efficiency = ops.run_efficiency(
        "mobilenet_v2", 50.0,
        {"machine": "x86_64", "cpu_model": "AMD EPYC", "cores_physical": 2, "threads": 2, "cpu_max_mhz": 2600.0,
         "isa": {"avx2": True}},
        "fp32", None, "onnxruntime", "basis",
    )
    from rich.console import Console

    console = Console(width=400, record=True)
    for part in details_renderables(r, None):
        console.print(part)
    text = console.export_text()
    # no cpufreq source recorded: the clock may be below the real one, the share an upper bound
    assert "compute" in text and "30.1 GOP/s achieved, ≤18 % of a nominal 166 GOP/s fp32 peak (nominal: 2 cores" in text


def _env(source: str | None) -> dict[str, Any]:
    """An AMD Zen 4-like machine with 2 cores at 2.6 GHz, its clock from `source`."""
    return {
        "machine": "x86_64", "cpu_model": "AMD EPYC 9B14", "cores_physical": 2, "threads": 2,
        "isa": {"avx2": True, "avx512f": True, "avx512_vnni": True},
        "cpu_max_mhz": 2600.0 if source else None, "cpu_max_mhz_source": source,
    }


def test_share_is_an_upper_bound_when_the_clock_may_be_below_the_real_one() -> None:
    """The bug: on a VM (no cpufreq) the peak used /proc/cpuinfo's clock, often the base clock,
    and the share printed as a plain figure: a MobileNetV2 FP32 run showed 92 % of peak. The
    share is now marked ≤ wherever the clock is not cpufreq's maximum."""
    vm = ops.run_efficiency("mobilenet_v2", 240.0, _env("cpuinfo"), "fp32", None, "onnxruntime", "test")
    host = ops.run_efficiency("mobilenet_v2", 240.0, _env("cpufreq"), "fp32", None, "onnxruntime", "test")
    assert vm is not None and host is not None
    assert vm["fraction_of_nominal_peak"] == pytest.approx(host["fraction_of_nominal_peak"])
    assert vm["fraction_is_upper_bound"] is True and host["fraction_is_upper_bound"] is False
    assert "≤" in ops.efficiency_text(vm) and "≤" not in ops.efficiency_text(host)
    share = ops.percent_text(vm["fraction_of_nominal_peak"])
    assert f"≤{share} % of a nominal" in ops.efficiency_text(vm)
    # in the study cell too
    marked = make_run("b", "fp32", 20.0)
    marked.efficiency = vm
    assert f"≤{share} % of nominal peak" in study_markdown([marked], efficiency=True)
    # a model-name clock is the base clock
    named = dict(_env(None), cpu_model="Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz")
    named_eff = ops.run_efficiency("mobilenet_v2", 240.0, named, "fp32", None, "onnxruntime", "test")
    assert named_eff is not None and named_eff["fraction_is_upper_bound"] is True
    assert "base clock in the model name" in named_eff["peak_basis"]


def test_share_above_the_peak_says_the_peak_is_too_low() -> None:
    eff = ops.run_efficiency("mobilenet_v2", 1000.0, _env("cpufreq"), "fp32", None, "onnxruntime", "test")
    assert eff is not None and eff["fraction_of_nominal_peak"] > 1
    assert "this nominal peak is too low" in eff["peak_basis"]
    sane = ops.run_efficiency("mobilenet_v2", 100.0, _env("cpufreq"), "fp32", None, "onnxruntime", "test")
    assert sane is not None and "too low" not in sane["peak_basis"]
