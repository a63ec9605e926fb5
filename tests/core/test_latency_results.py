"""Latency recorder, fidelity maths, results files (strict validation, clean text), the matching
FP32 run and speed-up, and tables."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qtui.core.fidelity import fidelity, sqnr_db, topk_accuracy
from qtui.core.latency import LatencyRecorder, exact_percentiles, histogram
from qtui.core.matching import fp32_baseline, speedup, speedup_vs_fp32
from qtui.core.profile import DatasetSpec, LoadGenSpec, RunProfile, WeightsSpec
from qtui.core.results import (
    SCENARIO_METRICS,
    ResultError,
    RunResult,
    atomic_write_text,
    load_results,
    save_result,
    scenario_metric,
    validate_result_dict,
)
from qtui.core.run_table import table_rows, to_csv, to_markdown
from qtui.core.text import clean_text, one_line


def test_percentiles_follow_loadgen_index_rule() -> None:
    data = np.arange(1, 101, dtype=np.int64) * 1_000_000  # 1..100 ms
    p = exact_percentiles(data)
    assert p["p50"] == 51.0 and p["p90"] == 91.0 and p["p99"] == 100.0


def test_histogram_is_log_spaced_and_counts_everything() -> None:
    rng = np.random.default_rng(0)
    data = (rng.lognormal(1.0, 0.5, 5000) * 1e6).astype(np.int64)
    h = histogram(data, bins=30)
    edges = np.array(h.edges_ms)
    assert len(edges) == 31 and sum(h.counts) == 5000
    ratios = edges[1:] / edges[:-1]
    assert np.allclose(ratios, ratios[0])  # constant ratio = log spacing
    assert edges[0] <= data.min() / 1e6 and edges[-1] >= data.max() / 1e6


def test_recorder_is_thread_safe_and_incremental() -> None:
    rec = LatencyRecorder()

    def worker(offset: int) -> None:
        for i in range(5000):
            rec.record(offset + i, 2)

    threads = [threading.Thread(target=worker, args=(k * 10_000,)) for k in range(4)]
    for t in threads:
        t.start()
    snaps = [rec.snapshot() for _ in range(5)]
    for t in threads:
        t.join()
    final = rec.snapshot()
    assert final.queries == 20_000 and final.samples == 40_000
    assert all(s.queries <= 20_000 for s in snaps)
    assert sorted(rec.array().tolist()) == sorted(k * 10_000 + i for k in range(4) for i in range(5000))


def test_fidelity_metrics() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(200, 1000)).astype(np.float32)
    assert sqnr_db(ref, ref) == float("inf")
    noisy = ref + rng.normal(scale=0.1, size=ref.shape).astype(np.float32)
    f = fidelity(ref, noisy)
    assert f["sqnr_db"] == pytest.approx(20.0, abs=0.5)  # signal 1, noise 0.01 → 20 dB
    assert 0.99 < f["cosine"] < 1.0
    assert f["centred_distinct_classes"] > 100
    labels = np.argmax(ref, axis=1)
    assert topk_accuracy(ref, labels, 1) == 1.0
    assert topk_accuracy(ref, (labels + 1) % 1000, 1) == 0.0


def _result(run_id: str, precision: str, p90: float, created: str = "2026-01-01T00:00:00") -> RunResult:
    return RunResult(
        run_id=run_id,
        created=created,
        status="ok",
        profile=RunProfile(precision=precision),
        latency_ms={"p50": p90 * 0.9, "p90": p90, "p99": p90 * 1.2},
        throughput={"samples_per_s": 1000 / p90},
        loadgen={"validity": "VALID"},
        artifact={"size_bytes": 14_000_000},
    )


def test_save_load_and_damaged_files_are_skipped(tmp_path: Path) -> None:
    a = _result("a", "fp32", 4.0)
    save_result(a, tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "result.json").write_text("{ truncated")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "result.json").write_text(json.dumps({"schema_version": 99}))
    warnings: list[str] = []
    loaded = load_results(tmp_path, warn=warnings.append)
    assert [r.run_id for r in loaded] == ["a"]
    assert loaded[0].profile == a.profile and loaded[0].latency_ms == a.latency_ms
    assert len(warnings) == 2 and all("skipping damaged result" in w for w in warnings)


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "result.json"
    atomic_write_text(target, "old")

    def boom(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left


def test_speedup_and_tables() -> None:
    fp32 = _result("f", "fp32", 4.0)
    int8 = _result("i", "int8_static", 1.0)
    assert fp32_baseline(int8, [fp32, int8]) is fp32
    assert fp32_baseline(fp32, [_result("g", "fp32", 2.0, "2027-01-01"), fp32]) is fp32  # its own
    assert speedup(int8, fp32) == pytest.approx(4.0)
    rows = table_rows([fp32, int8])
    assert rows[1]["speedup_vs_fp32"] == pytest.approx(4.0)
    md = to_markdown(rows)
    assert md.splitlines()[0].startswith("| run_id |") and "int8_static" in md
    csv_text = to_csv(rows)
    assert csv_text.splitlines()[0].startswith("run_id,model,")
    assert len(csv_text.strip().splitlines()) == 3


def test_study_table_layout() -> None:
    from qtui.core.study_tables import study_markdown, study_tables

    fp32 = _result("f", "fp32", 4.0)
    int8 = _result("i", "int8_static", 1.0)
    torch_fp32 = _result("t", "fp32", 8.0)
    torch_fp32.profile = replace(torch_fp32.profile, framework="torch")
    (table,) = study_tables([fp32, int8, torch_fp32])
    assert (table.model, table.scenario, table.precisions) == ("mobilenet_v2", "SingleStream", ("fp32", "int8_static"))
    assert table.header == ["framework", "FP32", "INT8s"]
    assert table.text_rows() == [[("ONNX Runtime",), ("4",), ("1 ×4.00",)], [("PyTorch",), ("8",), ("–",)]]
    cell = table.rows[0][1][1]
    assert cell is not None and (cell.run_id, cell.value, cell.speedup) == ("i", 1.0, pytest.approx(4.0))
    md = study_markdown([fp32, int8])
    assert "### MobileNetV2 · SingleStream: p90 ms, ×FP32" in md and "| ONNX Runtime | 4 | 1 ×4.00 |" in md


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.5234, "0.523"), (38.54, "38.5"), (99.94, "99.9"), (99.96, "100"), (245.3, "245"), (999.7, "1000"), (1234.4, "1234"), (None, "")],
)
def test_figures_have_about_three_significant_digits(value: float | None, text: str) -> None:
    from qtui.core.run_table import format_figure

    assert format_figure(value) == text  # 245.3 was "245.3", 999.7 would be "1e+03" with .3g


# -- the matching FP32 run -------------------------------------------------------------------------
def _setup_result(run_id: str, precision: str, p90: float, status: str = "ok", created: str = "2026-01-01T00:00:00+00:00", **env: object) -> RunResult:
    r = _result(run_id, precision, p90, created)
    r.status = status
    r.environment = {"hostname": "bench-1", "machine": "x86_64", "cpu_model": "Test CPU", "threads": 2,
                     "frameworks": {"onnxruntime": "1.20.0"}} | env
    r.profile = replace(r.profile, threads=2)
    return r


def _changed(result: RunResult, **profile_changes: object) -> RunResult:
    result.profile = replace(result.profile, **profile_changes)  # type: ignore[arg-type]
    return result


DIFFERENT_SETUPS = {
    "threads": lambda r: _changed(r, threads=1) and r.environment.update(threads=1),
    "batch size": lambda r: _changed(r, batch_size=16),
    "scenario": lambda r: _changed(r, scenario="MultiStream"),
    "mode": lambda r: _changed(r, mode="accuracy"),
    "warm-up": lambda r: _changed(r, warmup_queries=4),
    "weights seed": lambda r: _changed(r, weights=WeightsSpec(seed=1)),
    "dataset count": lambda r: _changed(r, dataset=DatasetSpec(count=64)),
    "dataset seed": lambda r: _changed(r, dataset=DatasetSpec(seed=3)),
    "dataset source": lambda r: _changed(r, dataset=DatasetSpec(source="/data/imagenet")),
    "performance sample count": lambda r: _changed(r, dataset=DatasetSpec(performance_sample_count=64)),
    "loadgen preset": lambda r: _changed(r, loadgen=LoadGenSpec(preset="mlperf")),
    "loadgen override": lambda r: _changed(r, loadgen=LoadGenSpec(min_query_count=1024)),
    "device (host)": lambda r: r.environment.update(hostname="raspberrypi"),
    "device (cpu)": lambda r: r.environment.update(cpu_model="Other CPU"),
    "device (label)": lambda r: r.environment.update(device="laptop on battery"),
    "runtime version": lambda r: r.environment.update(frameworks={"onnxruntime": "1.21.0"}),
    "weights digest": lambda r: r.provenance.update(weights_digest="bbbb"),
}


@pytest.mark.parametrize("difference", list(DIFFERENT_SETUPS))
def test_fp32_run_differing_in_anything_but_precision_is_no_baseline(difference: str) -> None:
    fp32 = _setup_result("f", "fp32", 4.0)
    fp32.provenance["weights_digest"] = "aaaa"
    int8 = _setup_result("i", "int8_static", 1.0)
    int8.provenance["weights_digest"] = "aaaa"
    assert fp32_baseline(int8, [fp32, int8]) is fp32  # the same setup: matched
    DIFFERENT_SETUPS[difference](fp32)
    assert fp32_baseline(int8, [fp32, int8]) is None
    assert speedup_vs_fp32(int8, [fp32, int8]) is None
    assert table_rows([int8], [fp32, int8])[0]["speedup_vs_fp32"] is None


def test_baseline_ignores_name_calibration_and_auto_threads() -> None:
    """What does not change the measurement: the profile's name (a sweep names each run),
    calibration_count (only INT8 static calibrates) and threads=0 that resolved to the same count."""
    fp32 = _changed(_setup_result("f", "fp32", 4.0), name="study/fp32", threads=0)
    int8 = _changed(_setup_result("i", "int8_static", 1.0), name="study/int8",
                    dataset=DatasetSpec(calibration_count=64))
    assert fp32_baseline(int8, [fp32]) is fp32
    assert speedup_vs_fp32(int8, [fp32]) == pytest.approx(4.0)


@pytest.mark.parametrize("status", ["cancelled", "invalid", "failed"])
def test_a_run_that_is_not_ok_gets_no_speedup(status: str) -> None:
    fp32 = _setup_result("f", "fp32", 4.0)
    int8 = _setup_result("i", "int8_static", 1.0, status=status)
    assert speedup(int8, fp32) is None
    assert table_rows([fp32, int8])[1]["speedup_vs_fp32"] is None


@pytest.mark.parametrize("status", ["cancelled", "invalid", "failed"])
def test_the_baseline_must_be_ok(status: str) -> None:
    old_ok = _setup_result("f1", "fp32", 4.0, created="2026-01-01T00:00:00+00:00")
    newer = _setup_result("f2", "fp32", 1.0, status=status, created="2026-01-02T00:00:00+00:00")
    int8 = _setup_result("i", "int8_static", 2.0)
    assert fp32_baseline(int8, [old_ok, newer, int8]) is old_ok
    assert fp32_baseline(int8, [newer, int8]) is None
    assert fp32_baseline(newer, [newer]) is None  # a non-ok FP32 run is not even its own baseline
    assert speedup(int8, newer) is None


def test_newest_baseline_is_by_time_not_by_string() -> None:
    # 10:00+02:00 is 08:00 UTC: older than 09:00 UTC although its string sorts later
    early = _setup_result("early", "fp32", 4.0, created="2026-01-01T10:00:00+02:00")
    late = _setup_result("late", "fp32", 2.0, created="2026-01-01T09:00:00+00:00")
    int8 = _setup_result("i", "int8_static", 1.0)
    assert fp32_baseline(int8, [late, early]) is late
    assert fp32_baseline(int8, [early, late]) is late


def test_scenario_metric_rule() -> None:
    assert {s: (m.key, m.label, m.percentile) for s, m in SCENARIO_METRICS.items()} == {
        "SingleStream": ("p90", "p90 ms", 90.0),
        "MultiStream": ("p99", "p99 ms", 99.0),
        "Offline": ("samples_per_s", "samples/s", None),
    }
    r = _result("x", "fp32", 4.0)
    assert r.metric == ("p90 ms", 4.0)
    r.profile = replace(r.profile, scenario="Offline")
    assert r.metric == ("samples/s", 250.0) and scenario_metric("Offline").higher_is_better


# -- validation and clean text ---------------------------------------------------------------------
def _valid_dict() -> dict:
    return json.loads(_result("a", "fp32", 4.0).to_json())


BAD_FIELDS = {
    "status": ("status", "done"),
    "schema_version": ("schema_version", True),
    "run_id": ("run_id", 7),
    "created": ("created", "yesterday"),
    "message": ("message", None),
    "profile": ("profile", []),
    "environment": ("environment", None),
    "latency_ms": ("latency_ms", {"p90": "fast"}),
    "latency_ms.p99": ("latency_ms", {"p99": float("inf")}),
    "throughput": ("throughput", {"samples_per_s": [1]}),
    "histogram": ("histogram", {"edges_ms": [1.0, 2.0], "counts": [1, 2]}),
    "histogram.counts": ("histogram", {"edges_ms": [1.0, 2.0], "counts": [-1]}),
    "accuracy": ("accuracy", {"top1": "high"}),
    "accuracy.fidelity": ("accuracy", {"fidelity": {"centred_top1_agreement": None, "sqnr_db": "x"}}),
    "loadgen.invalid_reasons": ("loadgen", {"invalid_reasons": [1, 2]}),
    "environment.frameworks": ("environment", {"frameworks": {"onnxruntime": 1.2}}),
    "artifact.size_bytes": ("artifact", {"size_bytes": 10**400}),
}


@pytest.mark.parametrize("case", list(BAD_FIELDS))
def test_validation_names_the_bad_field(case: str) -> None:
    key, value = BAD_FIELDS[case]
    data = _valid_dict()
    data[key] = value
    with pytest.raises(ResultError, match=key.split(".")[0]):
        validate_result_dict(data)


@pytest.mark.parametrize("value", [[], None, "result", 3, [{"schema_version": 1}]])
def test_validation_refuses_json_that_is_not_an_object(value: object) -> None:
    with pytest.raises(ResultError, match="not a result"):
        RunResult.from_dict(value)


def test_validation_cleans_text_but_not_the_profile() -> None:
    data = _valid_dict()
    data["run_id"] = "run\x1b[31m-1\n"
    data["message"] = "line 1\nline \x1b]0;title\x07two \x9b2J[bold]x[/bold]"
    data["environment"] = {"cpu_model": "CPU\x07\x00", "warnings": ["\x1bc reset"]}
    r = RunResult.from_dict(data)
    assert r.run_id == "run-1 "
    assert r.message == "line 1\nline two [bold]x[/bold]"
    assert r.environment == {"cpu_model": "CPU", "warnings": [" reset"]}
    data["profile"]["model"] = "mobilenet_v2\x1b[31m"  # the replayable profile is never edited
    with pytest.raises(ResultError, match="profile"):
        RunResult.from_dict(data)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain [bold]text[/bold]", "plain [bold]text[/bold]"),
        ("\x1b[1;31mred\x1b[0m", "red"),
        ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("bell\x07 del\x7f c1\x85 csi\x9b31m", "bell del c1 csi"),
        ("\x1bPdcs\x1b\\after", "after"),
        ("rtl\u202eevil", "rtlevil"),
        ("lone \ud800 surrogate", "lone ? surrogate"),
        ("tab\tand\nnewline\r", "tab\tand\nnewline"),
        ("trailing escape \x1b", "trailing escape "),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean
    assert one_line(raw) == clean.replace("\t", " ").replace("\n", " ")
