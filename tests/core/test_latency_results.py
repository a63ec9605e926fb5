"""Latency recorder, fidelity maths, results files and tables."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from qtui.core.fidelity import fidelity, sqnr_db, topk_accuracy
from qtui.core.latency import LatencyRecorder, exact_percentiles, histogram
from qtui.core.profile import RunProfile
from qtui.core.results import (
    RunResult,
    atomic_write_text,
    fp32_baseline,
    load_results,
    save_result,
    speedup,
    table_rows,
    to_csv,
    to_markdown,
)


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
    from dataclasses import replace

    from qtui.core.results import study_markdown, study_table

    fp32 = _result("f", "fp32", 4.0)
    int8 = _result("i", "int8_static", 1.0)
    torch_fp32 = _result("t", "fp32", 8.0)
    torch_fp32.profile = replace(torch_fp32.profile, framework="torch")
    header, rows = study_table([fp32, int8, torch_fp32], "mobilenet_v2", "SingleStream")
    assert header[1:] == ["fp32", "fp16", "int8_dynamic", "int8_static"]
    assert rows[0][0] == "onnxruntime" and rows[0][1] == "4" and rows[0][4] == "1 ×4.00"
    assert rows[1] == ["torch", "8", "", "", ""]
    assert "| mobilenet_v2 SingleStream (p90 ms) |" in study_markdown([fp32, int8])
