"""Every run's raw per-query latencies: saved beside the result, compressed and bounded (a
100 000-query run stays within its size bound, a longer one keeps an evenly spaced sample and
says so), read back with numpy alone, refused when the file is not one qtui wrote, recorded in
the result (`raw_latencies`, optional: older results load as before) and exported by `qtui
report --format percentiles|latencies`. The round trip through real runs of every scenario is
in tests/core/test_runner.py (`_assert_raw_latencies_round_trip`)."""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from qtui.cli import main
from qtui.core.latency import exact_percentiles
from qtui.core.raw_latencies import (
    MAX_FILE_BYTES,
    LatencyFileError,
    latency_summary,
    load_latencies,
    save_latencies,
)
from qtui.core.results import ResultError, load_result, save_result, validate_result_dict
from tests.core.test_study_table import make_run


def _six_ms(n: int, seed: int = 0) -> np.ndarray:
    """`n` latencies around 6 ms: 100 000 of them are a 600-s SingleStream run."""
    return np.random.default_rng(seed).lognormal(np.log(6e6), 0.3, n).astype(np.int64)


def test_a_600_s_run_of_100_000_queries_is_saved_whole_within_its_bound(tmp_path: Path) -> None:
    lat = _six_ms(100_000)
    record = save_latencies(tmp_path, lat)
    size = (tmp_path / "latencies.npz").stat().st_size
    assert record == {"file": "latencies.npz", "unit": "ns", "total": 100_000, "saved": 100_000, "stride": 1,
                      "capped": False, "bytes": size}
    assert size <= 8 * 100_000  # compressed: never more than the int64 values themselves
    with np.load(tmp_path / "latencies.npz", allow_pickle=False) as npz:  # numpy alone
        assert np.array_equal(npz["latency_ns"], lat)


def test_a_longer_run_keeps_an_evenly_spaced_sample_and_says_so(tmp_path: Path) -> None:
    lat = _six_ms(2_500)
    record = save_latencies(tmp_path, lat, cap=1_000)
    assert record["capped"] is True and record["stride"] == 3 and record["saved"] == 834 <= 1_000
    raw = load_latencies(tmp_path / "latencies.npz")
    assert raw.capped and raw.total == 2_500 and np.array_equal(raw.latency_ns, lat[::3])


def test_summary_has_std_and_the_percentiles_reach_p99_9() -> None:
    lat = np.arange(1, 1001, dtype=np.int64) * 1000  # 1 µs .. 1 ms
    summary = latency_summary(lat)
    assert summary["std"] == pytest.approx(float(np.std(lat)) / 1e6) and summary["max"] == 1.0
    assert exact_percentiles(lat)["p99.9"] == 1.0 and exact_percentiles(lat)["p50"] == 0.501
    assert latency_summary(np.array([], dtype=np.int64)) == {"min": None, "mean": None, "max": None, "std": None}


def _npz(path: Path, **arrays: object) -> Path:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize(
    ("arrays", "reason"),
    [
        ({"latency_ns": np.array([1.5, 2.5]), "total": np.int64(2), "stride": np.int64(1)}, "not a 1-D int64"),
        ({"latency_ns": np.array([[1, 2]]), "total": np.int64(2), "stride": np.int64(1)}, "not a 1-D int64"),
        ({"latency_ns": np.array([1, -2]), "total": np.int64(2), "stride": np.int64(1)}, "negative"),
        ({"latency_ns": np.array([1, 2]), "total": np.int64(5), "stride": np.int64(1)}, "do not match"),
        ({"latency_ns": np.array([1, 2]), "total": np.int64(2)}, "no 'stride'"),
        ({"latency_ns": np.array([{"x": 1}], dtype=object), "total": np.int64(1), "stride": np.int64(1)}, "not a numpy array"),
    ],
)
def test_a_file_that_is_not_a_latencies_file_is_refused(tmp_path: Path, arrays: dict, reason: str) -> None:
    with pytest.raises(LatencyFileError, match=reason):
        load_latencies(_npz(tmp_path / "latencies.npz", **arrays))


def test_oversized_fifo_and_zip_bomb_files_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.npz"
    with open(big, "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(LatencyFileError, match="more than a latencies file"):
        load_latencies(big)
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("latency_ns.npy", b"\0" * (8 * 1_000_000 + 2048))
    with pytest.raises(LatencyFileError, match="uncompressed"):
        load_latencies(bomb)
    with pytest.raises(LatencyFileError, match="not a .npz"):
        load_latencies(_text(tmp_path / "text.npz"))
    os.mkfifo(tmp_path / "fifo.npz")
    with pytest.raises(OSError, match="FIFO"):  # never opened for reading: that would block
        load_latencies(tmp_path / "fifo.npz")


def _text(path: Path) -> Path:
    path.write_text("not a zip")
    return path


def test_the_result_records_the_file_and_older_results_load_as_before(tmp_path: Path) -> None:
    run = make_run("r1")
    (tmp_path / "r1").mkdir()
    run.raw_latencies = save_latencies(tmp_path / "r1", _six_ms(50))
    save_result(run, tmp_path / "r1")
    assert load_result(tmp_path / "r1" / "result.json").raw_latencies == run.raw_latencies
    data = json.loads((tmp_path / "r1" / "result.json").read_text())
    del data["raw_latencies"]  # a result saved before the field existed
    assert validate_result_dict(data).get("raw_latencies") is None
    data["raw_latencies"] = {"saved": "many"}
    with pytest.raises(ResultError, match="'raw_latencies.saved' must be an integer"):
        validate_result_dict(data)


def test_report_exports_percentiles_in_microseconds_and_every_latency(tmp_path: Path) -> None:
    root = tmp_path / "results"
    lat = np.array([1_000, 2_500, 1_234_567, 3_000], dtype=np.int64)
    for run_id in ("r1", "old"):
        run = make_run(run_id)
        if run_id == "r1":
            (root / run_id).mkdir(parents=True)
            run.raw_latencies = save_latencies(root / run_id, lat)
            run.latency_ms = {"basis": "per query", **exact_percentiles(lat), **latency_summary(lat)}
        save_result(run, root / run_id)
    out = CliRunner().invoke(main, ["report", "--results-dir", str(root), "--format", "percentiles"])
    rows = {r["run_id"]: r for r in csv.DictReader(io.StringIO(out.output))}
    assert rows["r1"]["p99.9_us"] == "1234.567" and rows["r1"]["p50_us"] == "3.0" and rows["r1"]["max_us"] == "1234.567"
    assert float(rows["r1"]["std_us"]) == pytest.approx(np.std(lat) / 1000, abs=1e-3)
    assert rows["r1"]["raw_saved"] == "4" and rows["old"]["raw_saved"] == "" and rows["old"]["std_us"] == ""
    result = CliRunner().invoke(main, ["report", "--results-dir", str(root), "--format", "latencies"])
    assert result.exit_code == 0
    assert "old: no raw latencies saved" in result.output  # CliRunner mixes stderr in
    lines = [line for line in result.output.splitlines() if line.startswith(("run_id", "r1,"))]
    assert lines == ["run_id,query,latency_us", "r1,0,1.0", "r1,1,2.5", "r1,2,1234.567", "r1,3,3.0"]


def test_a_latencies_file_that_cannot_be_written_costs_only_the_file(tmp_path: Path) -> None:
    """The runner keeps the run when `latencies.npz` cannot be written (here: its folder is
    gone), records why, and says so in the log; the record is a valid result field."""
    import threading

    from qtui.core import events as ev
    from qtui.core.runner import RunOptions, _Run
    from tests.conftest import small_profile

    events: list[object] = []
    run = _Run(small_profile(), events.append, threading.Event(), RunOptions(results_root=tmp_path / "results"))
    record = run._save_latencies(_six_ms(10))
    assert record["file"] is None and record["total"] == 10 and "raw latencies not saved" in record["error"]
    assert any(isinstance(e, ev.Log) and e.level == "warning" and "raw latencies not saved" in e.text for e in events)
    result = make_run("r")
    result.raw_latencies = record
    assert validate_result_dict(json.loads(result.to_json()))["raw_latencies"] == record
