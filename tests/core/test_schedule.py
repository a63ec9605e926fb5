"""LoadGen's stopping rule as `qtui.core.schedule` states it, checked against the real LoadGen
with a no-op SUT, and the time left it gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qtui.core.loadgen_log import parse_detail_log
from qtui.core.schedule import expected_samples, stop_rule, time_left


def _loadgen(settings: dict[str, Any], tmp_path: Path, delay_s: float = 0.0) -> dict[str, Any]:
    """Run the real LoadGen on a SUT that answers at once (or after `delay_s`): its detail log."""
    import time

    import mlperf_loadgen as lg

    from qtui.core.loadgen import build_test_settings

    def issue(samples: list[Any]) -> None:
        if delay_s:
            time.sleep(delay_s)
        lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in samples])

    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(64, 64, lambda x: None, lambda x: None)
    out = lg.LogOutputSettings()
    out.outdir = str(tmp_path)
    out.copy_summary_to_stdout = False
    log = lg.LogSettings()
    log.log_output = out
    try:
        lg.StartTestWithLogSettings(sut, qsl, build_test_settings(settings), log, str(tmp_path / "none"))
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
    return parse_detail_log(tmp_path / "mlperf_log_detail.txt")


def _settings(scenario: str, **values: Any) -> dict[str, Any]:
    base = {
        "scenario": scenario, "mode": "performance", "min_duration_ms": 0, "max_duration_ms": 0,
        "min_query_count": 64, "samples_per_query": 8 if scenario == "MultiStream" else 1,
        "target_latency_percentile": 90.0, "performance_sample_count": 64,
        "expected_latency_ms": 1.0, "expected_qps": 1000.0,
    }
    return base | values


@pytest.mark.parametrize(
    "values",
    [
        {"min_duration_ms": 2000, "min_query_count": 100, "expected_qps": 1000.0},  # 2200
        {"min_duration_ms": 2000, "min_query_count": 5000, "expected_qps": 1000.0},  # count wins
        {"min_duration_ms": 1000, "min_query_count": 100, "expected_qps": 7777.0},
    ],
)
def test_offline_query_size_is_loadgens(values: dict[str, Any], tmp_path: Path) -> None:
    settings = _settings("Offline", **values)
    detail = _loadgen(settings, tmp_path)
    assert detail["generated_samples_per_query"] == stop_rule(settings).total_samples
    assert expected_samples(settings) == detail["generated_samples_per_query"]


def test_streams_stop_at_min_duration_and_count(tmp_path: Path) -> None:
    """A SUT slower than expected: LoadGen stops at min_duration, not after its generated count."""
    settings = _settings("SingleStream", min_duration_ms=500, min_query_count=64, expected_latency_ms=0.5)
    detail = _loadgen(settings, tmp_path, delay_s=0.002)
    assert detail["generated_query_count"] == 2 * 500 / 0.5 + 1  # what LoadGen generated
    issued = detail["result_query_count"]
    assert 64 <= issued < detail["generated_query_count"] / 2  # ...and stopped at 0.5 s
    assert detail["result_validity"] == "VALID"


def test_time_left_follows_the_rule() -> None:
    # the mlperf preset, Offline: 24 576 samples at least, sized for 600 s at 1000/s → 660 000
    offline = _settings("Offline", min_duration_ms=600_000, min_query_count=24_576, expected_qps=1000.0)
    assert stop_rule(offline).total_samples == 660_000
    assert time_left(offline, 2.0, 1, 2000) == pytest.approx((660_000 - 2000) / 1000)
    assert "660000 samples in one query" in stop_rule(offline).describe()
    assert "queries" not in stop_rule(offline).describe()
    # SingleStream: min duration dominates while it lasts, then the count
    stream = _settings("SingleStream", min_duration_ms=600_000, min_query_count=1024)
    assert time_left(stream, 2.0, 500, 500) == pytest.approx(598.0)
    assert time_left(stream, 600.0, 1000, 1000) == pytest.approx(24 * 0.6)
    assert time_left(stream, 601.0, 1024, 1024) == 0.0
    assert stop_rule(stream).describe() == "≥ 1024 queries, ≥ 10m00s"
    # max_duration caps it; nothing known before the first completion
    capped = _settings("SingleStream", min_duration_ms=600_000, max_duration_ms=10_000)
    assert time_left(capped, 2.0, 500, 500) == pytest.approx(8.0)
    assert time_left(stream, 0.5, 0, 0) is None


def test_short_offline_runs_ask_for_twice_the_warm_up_rate() -> None:
    """A short Offline run (quick: 1 s) is sized for twice the warm-up's rate, so a run faster
    than its warm-up (a busy machine calming down) still lasts its minimum; a long one (mlperf:
    600 s) keeps the 10 % margin — twice the rate would double its length."""
    from qtui.core.loadgen import SHORT_OFFLINE_QPS_MARGIN, resolve_settings
    from qtui.core.profile import LoadGenSpec, RunProfile

    batch_s, batch = 0.02, 8  # 400 samples/s
    quick = resolve_settings(RunProfile(scenario="Offline", batch_size=batch, loadgen=LoadGenSpec(preset="quick")), 64, batch_s)
    long = resolve_settings(RunProfile(scenario="Offline", batch_size=batch, loadgen=LoadGenSpec(preset="mlperf")), 64, batch_s)
    stream = resolve_settings(RunProfile(scenario="SingleStream", batch_size=batch, loadgen=LoadGenSpec(preset="quick")), 64, batch_s)
    assert quick["expected_qps"] == pytest.approx(SHORT_OFFLINE_QPS_MARGIN * 400)
    assert long["expected_qps"] == pytest.approx(1.1 * 400)
    assert stream["expected_qps"] == pytest.approx(1.1 * 400)
    pinned = resolve_settings(
        RunProfile(scenario="Offline", batch_size=batch, loadgen=LoadGenSpec(preset="quick", expected_qps=123.0)), 64, batch_s
    )
    assert pinned["expected_qps"] == 123.0  # the profile's own figure is kept
