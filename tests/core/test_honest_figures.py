"""Figures a user decides on must be honest: a cancelled run reports only what really ran (never
LoadGen's figures, which count the queries the cancel completed at once), and the machine's load
during the measurement is recorded as a warning."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qtui.core import events as ev
from qtui.core.loadgen_log import parse_detail_log
from qtui.core.machine_load import CpuCounters, LoadMonitor, load_warnings, other_cpu_cores
from qtui.core.profile import LoadGenSpec
from qtui.core.runner import RunOptions, run
from tests.conftest import small_profile

#: Each predict call of the slowed backend sleeps at least this long, so no honest figure can
#: exceed one batch per SLEEP_S, whatever the machine's load.
SLEEP_S = 0.005


class _Slowed:
    """The real backend, each predict at least SLEEP_S long; sets `stop` after `cancel_after`
    predictions, so the cancel lands in the middle of the timed part."""

    def __init__(self, inner: Any, stop: threading.Event, cancel_after: int) -> None:
        self._inner = inner
        self._stop = stop
        self._cancel_after = cancel_after
        self.calls = 0

    def predict(self, batch: np.ndarray) -> np.ndarray:
        out = self._inner.predict(batch)
        time.sleep(SLEEP_S)
        self.calls += 1
        if self.calls >= self._cancel_after:
            self._stop.set()
        return out

    def predict_stream(self, batches: Any, on_result: Any) -> None:
        for key, batch in batches:
            on_result(key, self.predict(batch))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _cancelled_run(scenario: str, cancel_after: int) -> tuple[Any, list[Any]]:
    stop = threading.Event()
    profile = small_profile(
        scenario=scenario,
        warmup_queries=2,
        loadgen=LoadGenSpec(preset="quick", min_query_count=100_000, min_duration_ms=0),
    )
    # warm-up makes max(2, warmup_queries) calls before LoadGen starts
    wrap = lambda b: _Slowed(b, stop, cancel_after + 2)  # noqa: E731
    events: list[Any] = []
    result = run(profile, events.append, stop, RunOptions(wrap_backend=wrap))
    return result, events


class _Spans:
    """Each recorded query's own start and end (perf_counter ns, taken here) and samples: the
    test's independent account of the completed part."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int, int]] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from qtui.core import runner

        spans = self.spans

        class _Spy(runner._SpanRecorder):
            def record(self, latency_ns: int, samples: int = 1) -> None:
                end = time.perf_counter_ns()
                spans.append((end - latency_ns, end, samples))
                super().record(latency_ns, samples)

        monkeypatch.setattr(runner, "_SpanRecorder", _Spy)

    def rate(self) -> float:
        """Samples per second from the first query's start to the last one's end."""
        first = min(s for s, _, _ in self.spans)
        last = max(e for _, e, _ in self.spans)
        return sum(n for _, _, n in self.spans) / ((last - first) / 1e9)


@pytest.mark.parametrize("scenario", ["Offline", "SingleStream", "MultiStream"])
def test_cancelled_run_reports_only_the_completed_part(scenario: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spans = _Spans()
    spans.install(monkeypatch)
    result, events = _cancelled_run(scenario, cancel_after=20)
    assert result.status == "cancelled", result.message
    per_call = 4 if scenario == "Offline" else (8 if scenario == "MultiStream" else 1)
    ceiling = per_call / SLEEP_S  # samples/s no honest figure can exceed
    lg = result.loadgen
    # LoadGen's own figures for this run count the drained queries: they are not presented
    assert lg["validity"] is None and lg["invalid_reasons"] == [] and lg["percentiles_ms"] == {}
    assert lg["samples_per_second"] is None and "early_stopping" not in lg["scenario_metric"]
    assert "cancel" in lg["verdict_withheld"]
    assert "completed part" in lg["scenario_metric"]["source"]
    # what is shown comes from what really ran
    assert 20 <= result.throughput["queries"] <= 40
    assert result.throughput["samples"] == result.throughput["queries"] * per_call
    assert 0 < result.throughput["samples_per_s"] <= ceiling
    # exactly the completed part: its samples over the time from the first query's start to the
    # last one's end (LoadGen's wall time also holds the drain and the cancel's grace period)
    assert result.throughput["samples"] == sum(n for _, _, n in spans.spans)
    assert result.throughput["samples_per_s"] == pytest.approx(spans.rate(), rel=0.01)
    assert result.latency_ms["p50"] >= SLEEP_S * 1000
    if scenario == "Offline":
        assert lg["scenario_metric"]["value"] == pytest.approx(result.throughput["samples_per_s"])
        # before the fix this run was reported at LoadGen's figure, far above what ran
        detail = parse_detail_log(Path(lg["log_dir"]) / "mlperf_log_detail.txt")
        assert detail["result_samples_per_second"] > 2 * ceiling
    else:
        key = "p90" if scenario == "SingleStream" else "p99"
        assert lg["scenario_metric"]["value"] == result.latency_ms[key]
        assert lg["scenario_metric"]["value"] >= SLEEP_S * 1000
    finished = [e for e in events if isinstance(e, ev.Finished)]
    assert finished and finished[-1].status == "cancelled"


def _counters(wall: float, busy: float, own: float) -> CpuCounters:
    return CpuCounters(wall_s=wall, machine_busy_s=busy, process_s=own)


def test_other_processes_cores_is_machine_busy_minus_own() -> None:
    # 10 s of wall time: the machine was busy 15 core-seconds, this process 9 → others 0.6 cores
    assert other_cpu_cores(_counters(0, 100, 50), _counters(10, 115, 59)) == pytest.approx(0.6)
    # counters from different sources can cross slightly: never negative
    assert other_cpu_cores(_counters(0, 100, 50), _counters(10, 109, 59.5)) == 0.0
    assert other_cpu_cores(_counters(0, None, 50), _counters(10, 115, 59)) is None  # type: ignore[arg-type]


def test_load_warnings_name_the_load_and_oversubscribed_threads() -> None:
    assert load_warnings(0.1, 2, 2) == []  # 5 % of a 2-core machine: quiet enough
    (busy,) = load_warnings(0.9, 2, 2)
    assert "0.90 of 2 cores" in busy and "45 %" in busy
    (threads,) = load_warnings(0.0, 2, 3)
    assert "threads = 3" in threads and "2 cores" in threads
    assert load_warnings(None, 2, None) == []


def test_monitor_summary_from_injected_counters() -> None:
    readings = iter([_counters(0, 0, 0), _counters(4, 6, 2)])
    monitor = LoadMonitor(threads=2, cores=2, read=lambda: next(readings))
    monitor.start()
    monitor.stop()
    summary = monitor.summary()
    assert summary["other_processes_cores"] == pytest.approx(1.0)
    assert summary["measured_s"] == pytest.approx(4.0)
    assert len(summary["warnings"]) == 1 and "1.00 of 2 cores" in summary["warnings"][0]


def test_a_run_beside_a_busy_process_is_marked() -> None:
    """Two spinning processes on this machine's cores during the measurement: the result, the
    run's log and its warnings say so."""
    import os

    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 2)
    ]
    try:
        time.sleep(0.3)
        profile = small_profile(loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=300))
        events: list[Any] = []
        result = run(profile, events.append)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    load = result.environment["load"]
    assert load["other_processes_cores"] > load["warn_above_cores"]
    assert any("other processes kept" in w for w in result.environment["warnings"])
    assert any(isinstance(e, ev.Log) and "other processes are keeping the CPU busy" in e.text for e in events)


def test_more_threads_than_cores_is_recorded_even_before_loadgen() -> None:
    import os

    stop = threading.Event()
    stop.set()  # cancelled at the first checkpoint
    profile = small_profile(threads=(os.cpu_count() or 2) + 1, threads_over_cores=True)
    result = run(profile, None, stop)
    assert result.status == "cancelled"
    assert any(f"threads = {profile.threads}" in w for w in result.environment["warnings"])


def test_samples_that_will_not_fit_are_refused_before_loading() -> None:
    """50 000 preprocessed samples are 30 GB: refused with the key to lower, nothing loaded."""
    from qtui.core.profile import DatasetSpec

    profile = small_profile(dataset=DatasetSpec(count=50_000, performance_sample_count=50_000, calibration_count=16))
    events: list[Any] = []
    result = run(profile, events.append)
    assert result.status == "failed"
    assert "loading samples: 50_000 samples" in result.message and "will not fit in memory" in result.message
    assert "lower dataset.performance_sample_count" in result.message
    assert not any(isinstance(e, ev.Preparing) and e.step == "loading samples" for e in events)


def test_a_capped_sample_count_is_said_and_kept() -> None:
    from qtui.core.profile import DatasetSpec

    profile = small_profile(
        dataset=DatasetSpec(count=16, performance_sample_count=64, calibration_count=16),
        loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=64),
    )
    result = run(profile)
    assert result.status == "ok", result.message
    text = "dataset.performance_sample_count is 64 but the data set has 16 images: LoadGen draws from all 16"
    assert text in result.environment["warnings"]


def test_throttling_during_the_measurement_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Firmware bits that appear between the start and the end of LoadGen mark the run."""
    import qtui.core.runner as runner_module

    readings = iter([
        {"firmware": {"raw": "0x0", "throttled_now": False, "throttled_occurred": False}, "counters": None},
        {"firmware": {"raw": "0x40004", "throttled_now": True, "throttled_occurred": True}, "counters": None},
    ])
    monkeypatch.setattr(runner_module, "read_throttle_state", lambda: next(readings))
    result = run(small_profile(loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=64)))
    during = result.environment["throttling_during_run"]
    assert during["throttled"] is True
    assert "firmware reports throttled during the run" in during["reasons"]
    assert any(w.startswith("the CPU was throttled during the measurement") for w in result.environment["warnings"])


def test_no_throttling_evidence_no_mark(monkeypatch: pytest.MonkeyPatch) -> None:
    import qtui.core.runner as runner_module

    quiet = {"firmware": None, "counters": {"core_throttle_count": 7, "package_throttle_count": 0}}
    monkeypatch.setattr(runner_module, "read_throttle_state", lambda: quiet)
    result = run(small_profile(loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=64)))
    during = result.environment["throttling_during_run"]
    assert during["throttled"] is False and during["reasons"] == []
    assert not any("throttled" in w for w in result.environment["warnings"])
