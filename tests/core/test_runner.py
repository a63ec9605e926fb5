"""End-to-end runs with the real LoadGen and real ONNX Runtime / PyTorch: every scenario,
accuracy mode, percentiles against LoadGen's summary, cancel, backend failures and hangs,
throttled progress events."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qtui.core import events as ev
from qtui.core.latency import exact_percentiles
from qtui.core.loadgen_log import parse_accuracy_log, parse_detail_log
from qtui.core.profile import LoadGenSpec
from qtui.core.raw_latencies import latency_summary
from qtui.core.results import load_result
from qtui.core.runner import RunOptions, run
from tests.conftest import small_profile

ROOT = Path(__file__).resolve().parents[2]


def _run(profile: Any, **kwargs: Any) -> tuple[Any, list[Any]]:
    events: list[Any] = []
    result = run(profile, events.append, **kwargs)
    return result, events


def _loadgen_pct(result: Any, key: str) -> float:
    return result.loadgen["percentiles_ms"][key]


def _assert_close_to_loadgen(ours: float, theirs: float) -> None:
    """qtui times from the top of `issue_queries` to just before completing; LoadGen from its own
    issue timestamp to receiving the completion, so it adds its dispatch time: a few µs on a
    quiet machine (0.09-0.23 % measured), 0.13-0.27 ms when CI ran the emulated Pi beside the
    tests (1-2 % at p50/p90). qtui's figure must not exceed LoadGen's, nor trail it by more
    than 1 % or 0.5 ms."""
    assert ours <= theirs * 1.01, (ours, theirs)
    assert theirs - ours <= max(0.01 * theirs, 0.5), (ours, theirs)


def _assert_tail_matches(result: Any) -> None:
    """LoadGen's p99 against qtui's. With a few hundred queries p99 sits between the last few
    ranks, where neighbouring latencies can be far apart on a busy machine, and LoadGen picks
    its rank slightly differently (a CI run under load: 12.15 vs 11.88 ms, 2 %). So: LoadGen's
    p99 must lie between qtui's p97 and p99.9 (1 % slack), which still catches a wrong unit,
    definition or scenario."""
    theirs = _loadgen_pct(result, "99.00")
    lat = result.latency_ms
    assert lat["p97"] * 0.99 <= theirs <= lat["p99.9"] * 1.01, (lat, theirs)


def _assert_raw_latencies_round_trip(result: Any) -> None:
    """The run's per-query latencies beside its result give back, with numpy alone, exactly the
    percentiles, max, mean and std the result records (and as many as it counted)."""
    folder = Path(result.loadgen["log_dir"])
    with np.load(folder / "latencies.npz", allow_pickle=False) as npz:
        lat = npz["latency_ns"]
        assert int(npz["total"]) == lat.size and int(npz["stride"]) == 1
    assert lat.dtype == np.int64 and lat.size == result.throughput["queries"]
    recorded = load_result(folder / "result.json")
    assert recorded.raw_latencies == result.raw_latencies
    assert recorded.raw_latencies["saved"] == lat.size and recorded.raw_latencies["capped"] is False
    assert recorded.latency_ms == {"basis": result.latency_ms["basis"], **exact_percentiles(lat), **latency_summary(lat)}
    assert recorded.latency_ms["std"] == pytest.approx(float(np.std(lat)) / 1e6)
    assert recorded.latency_ms["p99.9"] > 0 and recorded.latency_ms["max"] == float(lat.max()) / 1e6


@pytest.mark.parametrize("framework", ["onnxruntime", "torch"])
def test_singlestream_valid_and_percentiles_match_loadgen(framework: str) -> None:
    profile = small_profile(framework=framework, loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=200))
    result, events = _run(profile)
    assert result.status == "ok", result.message
    assert result.loadgen["validity"] == "VALID"
    assert result.throughput["queries"] == 200 and result.throughput["samples"] == 200
    for ours, theirs in (("p50", "50.00"), ("p90", "90.00")):
        _assert_close_to_loadgen(result.latency_ms[ours], _loadgen_pct(result, theirs))
    _assert_tail_matches(result)
    # the scenario metric is LoadGen's p90
    assert result.loadgen["scenario_metric"]["value"] == pytest.approx(_loadgen_pct(result, "90.00"))
    saved = json.loads((Path(result.loadgen["log_dir"]) / "result.json").read_text())
    assert saved["status"] == "ok" and saved["profile"]["framework"] == framework
    assert saved["environment"]["frameworks"][framework]
    assert "seeded random weights" in saved["provenance"]["weights"]
    assert "synthetic" in saved["provenance"]["data"]
    assert isinstance(events[-1], ev.Finished) and events[-1].status == "ok"
    assert any(isinstance(e, ev.Started) for e in events)
    _assert_raw_latencies_round_trip(result)


def test_multistream_valid_with_p99_cross_check() -> None:
    profile = small_profile(
        scenario="MultiStream", loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, samples_per_query=2)
    )
    result, _ = _run(profile)
    assert result.status == "ok", result.message
    assert result.throughput["queries"] == 662
    assert result.throughput["samples"] == 2 * 662
    _assert_tail_matches(result)
    assert result.metric[0] == "p99 ms"
    _assert_raw_latencies_round_trip(result)


def test_offline_batches_and_throughput() -> None:
    profile = small_profile(scenario="Offline", batch_size=4, loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=64))
    result, _ = _run(profile)
    assert result.status == "ok", result.message
    assert result.throughput["samples"] == 64
    assert result.throughput["queries"] == 16  # batches of 4
    assert result.throughput["samples_per_s"] == pytest.approx(result.loadgen["samples_per_second"])
    assert result.latency_ms["basis"] == "per batch"
    _assert_raw_latencies_round_trip(result)


def test_invalid_run_reports_reasons() -> None:
    profile = small_profile(
        scenario="MultiStream", loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, samples_per_query=2, min_query_count=20)
    )
    result, _ = _run(profile)
    assert result.status == "invalid"
    assert result.loadgen["validity"] == "INVALID"
    assert any("early-stopping" in r for r in result.loadgen["invalid_reasons"])
    assert result.latency_ms["p99"] > 0


def test_accuracy_mode_writes_reference_log_and_fidelity() -> None:
    profile = small_profile(scenario="Offline", mode="accuracy")
    result, _ = _run(profile)
    assert result.status == "ok", result.message
    acc = result.accuracy
    assert acc["samples"] == 32 and acc["logged_responses"] == 32
    assert "top1" not in acc  # synthetic data has no labels: never call fidelity accuracy
    fid = acc["fidelity"]
    assert fid["sqnr_db"] > 60 and fid["cosine"] > 0.9999
    assert fid["centred_top1_agreement"] == 1.0
    assert result.efficiency is None  # an accuracy run is no performance measurement
    assert fid["centred_distinct_classes"] >= 2
    logged = parse_accuracy_log(Path(result.loadgen["log_dir"]) / "mlperf_log_accuracy.json")
    assert sorted(logged) == list(range(32))
    assert all(float(v).is_integer() and 0 <= v < 1000 for v in logged.values())


def test_accuracy_top1_with_labels(tmp_path: Path) -> None:
    """An MLPerf-layout folder whose labels are the FP32 model's own predictions → top-1 = 100 %."""
    from PIL import Image

    from qtui.core.synthetic import synthetic_image_u8

    folder = tmp_path / "val"
    folder.mkdir()
    names = []
    for i in range(12):
        Image.fromarray(synthetic_image_u8(5, i)).resize((256, 256)).save(folder / f"img{i}.JPEG", quality=95)
        names.append(f"img{i}.JPEG")
    (folder / "val_map.txt").write_text("".join(f"{n} 0\n" for n in names))
    profile = small_profile(scenario="SingleStream", mode="accuracy")
    profile = replace(profile, dataset=replace(profile.dataset, source=str(folder), count=12))
    first, _ = _run(profile)
    assert first.status == "ok", first.message
    predicted = parse_accuracy_log(Path(first.loadgen["log_dir"]) / "mlperf_log_accuracy.json")
    (folder / "val_map.txt").write_text("".join(f"{n} {int(predicted[i])}\n" for i, n in enumerate(names)))
    second, _ = _run(profile)
    assert second.accuracy["top1"] == 1.0 and second.accuracy["top5"] == 1.0
    assert "ImageNet validation folder" in second.provenance["data"]
    assert second.provenance["data_has_labels"] is True


class _CancelWatch:
    """Wraps a backend and counts the samples it is asked to compute once `cancelled` is set.

    Offline goes through `predict_stream`, which is re-implemented here (as the base class does
    it) so that its batches pass through this wrapper's `predict` too."""

    def __init__(self, inner: Any, cancelled: threading.Event) -> None:
        self.inner = inner
        self.max_batch = inner.max_batch
        self.cancelled = cancelled
        self.samples_after_cancel = 0
        self.samples = 0

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.samples += len(batch)
        if self.cancelled.is_set():
            self.samples_after_cancel += len(batch)
        return self.inner.predict(batch)

    def predict_stream(self, batches: Any, on_result: Any) -> None:
        from qtui.core.backends import predict_in_chunks

        for key, batch in batches:
            on_result(key, predict_in_chunks(self, batch))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


CANCELLING = "cancelling: completing outstanding queries"


@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream", "Offline"])
def test_cancel_drains_the_run_and_saves_it_as_cancelled(scenario: str) -> None:
    """Asserted on events and counts, not on a clock: the runner notices the cancel (its
    "cancelling" log comes after the stop and before Finished), and from then on the backend
    computes at most the one query (Offline: the one batch) already in flight; every later
    query is completed at once without inference."""
    # The official 600 s rules: only a cancel ends this run early.
    profile = small_profile(
        scenario=scenario, loadgen=LoadGenSpec(preset="mlperf", samples_per_query=2)
    )
    stop = threading.Event()
    drained = threading.Event()  # set when the runner says it is cancelling
    events: list[Any] = []
    watch: list[_CancelWatch] = []

    def on_event(event: Any) -> None:
        events.append(event)
        if isinstance(event, ev.Progress) and event.completed_queries > 0 and not stop.is_set():
            events.append("stop")
            stop.set()
        if isinstance(event, ev.Log) and event.text == CANCELLING:
            drained.set()

    def wrap(backend: Any) -> _CancelWatch:
        watch.append(_CancelWatch(backend, drained))
        return watch[-1]

    result = run(profile, on_event, stop, RunOptions(wrap_backend=wrap))
    assert result.status == "cancelled", result.message
    kinds = [e if isinstance(e, str) else e.text if isinstance(e, ev.Log) else type(e).__name__ for e in events]
    assert kinds.count(CANCELLING) == 1
    assert kinds.index("stop") < kinds.index(CANCELLING) < kinds.index("Finished")
    assert kinds[-1] == "Finished" and events[-1].status == "cancelled"
    one_query = {"SingleStream": 1, "MultiStream": 2, "Offline": profile.batch_size}[scenario]
    assert watch[0].samples_after_cancel <= one_query, (watch[0].samples_after_cancel, one_query)
    # the queries the cancel completed at once are not measured: only computed samples count
    assert 1 <= result.throughput["samples"] <= watch[0].samples
    saved = json.loads((Path(result.loadgen["log_dir"]) / "result.json").read_text())
    assert saved["status"] == "cancelled"
    assert saved["throughput"]["queries"] >= 1


def test_cancel_before_loadgen() -> None:
    stop = threading.Event()
    stop.set()
    result, events = _run(small_profile(), stop=stop)
    assert result.status == "cancelled"
    assert result.message == "cancelled before LoadGen started"
    assert not any(isinstance(e, ev.Started) for e in events)  # LoadGen never ran
    assert isinstance(events[-1], ev.Finished) and events[-1].status == "cancelled"


class _FailingBackend:
    def __init__(self, inner: Any, fail_after: int) -> None:
        self.inner = inner
        self.calls = 0
        self.fail_after = fail_after
        self.max_batch = inner.max_batch

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls > self.fail_after:
            raise RuntimeError("simulated runtime crash")
        return self.inner.predict(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_backend_error_fails_run_cleanly() -> None:
    profile = small_profile(loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=100))
    result, events = _run(profile, options=RunOptions(wrap_backend=lambda b: _FailingBackend(b, 10)))
    assert result.status == "failed"
    assert "simulated runtime crash" in result.message
    assert isinstance(events[-1], ev.Failed)
    # the process is still healthy: the next run works
    again, _ = _run(small_profile())
    assert again.status == "ok"


def test_hung_backend_is_caught_by_watchdog(tmp_path: Path) -> None:
    """In a subprocess: the hung backend call stays blocked (LoadGen can't be reused there)."""
    script = textwrap.dedent(
        """
        import json, sys, threading
        from qtui.core.runner import RunOptions, run
        from tests.conftest import small_profile
        from qtui.core.profile import LoadGenSpec

        class Hang:
            def __init__(self, inner):
                self.inner, self.calls, self.max_batch = inner, 0, inner.max_batch
            def predict(self, batch):
                self.calls += 1
                if self.calls > 5:
                    threading.Event().wait()  # never returns
                return self.inner.predict(batch)
            def __getattr__(self, name):
                return getattr(self.inner, name)

        r = run(small_profile(loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=100)), None, None,
                RunOptions(hang_timeout_s=1.0, wrap_backend=Hang))
        print(json.dumps({"status": r.status, "message": r.message}))
        sys.stdout.flush()
        import os; os._exit(0)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["status"] == "failed"
    assert "stopped answering" in data["message"]


@pytest.mark.parametrize(("ssh", "limit_hz"), [(False, 4.0), (True, 2.0)])
def test_progress_is_throttled(monkeypatch: pytest.MonkeyPatch, ssh: bool, limit_hz: float) -> None:
    if ssh:
        monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22")
    profile = small_profile(loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=600))
    result, events = _run(profile)
    progress = [e for e in events if isinstance(e, ev.Progress)]
    duration = result.timings_s["loadgen"]
    assert result.throughput["queries"] == 600
    assert len(progress) >= 1
    assert len(progress) <= duration * limit_hz + 1
    last = progress[-1]
    assert last.histogram.counts and sum(last.histogram.counts) == last.completed_queries


def test_second_run_reuses_artifact() -> None:
    first, _ = _run(small_profile())
    second, events = _run(small_profile())
    assert second.artifact["cache_hit"] is True
    assert second.artifact["path"] == first.artifact["path"]
    assert not any(isinstance(e, ev.Preparing) and "export" in e.step for e in events)


def test_detail_log_parsing(tmp_path: Path) -> None:
    log = tmp_path / "mlperf_log_detail.txt"
    log.write_text(
        ':::MLLOG {"key": "result_validity", "value": "INVALID"}\n'
        ':::MLLOG {"key": "result_min_duration_met", "value": false}\n'
        'garbage line\n:::MLLOG {not json}\n'
        ':::MLLOG {"key": "error", "value": "boom"}\n'
    )
    parsed = parse_detail_log(log)
    assert parsed["result_validity"] == "INVALID"
    assert parsed["result_min_duration_met"] is False
    assert parsed["_errors"] == ["boom"]


def test_user_message_keeps_the_reason_behind_runtime_location_lines() -> None:
    """OpenVINO's errors start with where they were raised; the reason is on the last line."""
    from qtui.core.runner import _user_message

    ov = RuntimeError(
        "Exception from src/inference/src/cpp/core.cpp:112:\n"
        "Exception from src/inference/src/dev/plugin.cpp:53:\n"
        "Exception from src/plugins/intel_cpu/src/node.cpp:1012:\n"
        "[CPU] Convolution node with name 'conv_1' is not initialized\n"
    )
    msg = _user_message(ov)
    assert msg == "RuntimeError: [CPU] Convolution node with name 'conv_1' is not initialized"
    assert _user_message(ValueError("bad shape\nexpected 224x224")) == "ValueError: bad shape expected 224x224"
    assert _user_message(KeyError()) == "KeyError: "


def test_user_message_long_keeps_first_and_last_line() -> None:
    from qtui.core.runner import _user_message

    exc = RuntimeError("headline\n" + "\n".join("x" * 80 for _ in range(20)) + "\nthe actual reason")
    msg = _user_message(exc)
    assert len(msg) <= 500
    assert msg.startswith("RuntimeError: headline")
    assert msg.endswith("the actual reason")


def test_cancel_during_a_long_uninterruptible_preparation_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Esc while an export is inside one long call (no progress checkpoint): the run returns
    "cancelled" while that call is still running (it is left to end in the background), and the
    next run waits for it first. Asserted on events: no clock."""
    import qtui.core.prepare.onnxruntime as ort_prep
    from qtui.core import runner as runner_mod

    release = threading.Event()
    entered = threading.Event()
    left = threading.Event()  # the long call returned
    real_prepare = ort_prep.prepare

    def long_export(loaded: Any, precision: str, out_dir: Path, batches: Any, progress: Any) -> dict[str, Any]:
        if precision != "int8_dynamic":
            return real_prepare(loaded, precision, out_dir, batches, progress)
        entered.set()
        release.wait(600)  # one long call, like torch.onnx.export: no progress in between
        left.set()
        progress("after the long call", None)  # the next checkpoint
        raise AssertionError("a cancelled preparation went past its next checkpoint")

    monkeypatch.setattr(ort_prep, "prepare", long_export)
    profile = small_profile(precision="int8_dynamic", weights=replace(small_profile().weights, seed=11))
    stop = threading.Event()
    events: list[ev.Event] = []
    box: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: box.setdefault("r", run(profile, events.append, stop)))
    try:
        worker.start()
        assert entered.wait(300), "preparation never started"
        stop.set()
        worker.join(300)  # a hang guard only: the assertion is on `left` below
        assert not worker.is_alive()
        assert box["r"].status == "cancelled"
        # the run ended while the long call was still inside: it did not wait for it
        assert not left.is_set()
        warnings = [e for e in events if isinstance(e, ev.Log) and "ends in the background" in e.text]
        assert len(warnings) == 1 and isinstance(events[-1], ev.Finished)
        assert events[-1].status == "cancelled"
        assert len(runner_mod.pending_preparations()) == 1

        # the next run waits for the leftover before it starts (and can itself be cancelled then)
        waiting = threading.Event()
        events2: list[ev.Event] = []

        def on_event2(event: ev.Event) -> None:
            events2.append(event)
            if isinstance(event, ev.Preparing) and "cancelled preparation" in event.step:
                waiting.set()

        second = threading.Thread(target=lambda: box.setdefault("r2", run(small_profile(), on_event2, threading.Event())))
        second.start()
        assert waiting.wait(300), "the next run did not wait for the cancelled preparation"
        assert not left.is_set()
        release.set()  # the long call returns; its next checkpoint ends it
        second.join(600)
        assert left.is_set()
        assert box["r2"].status == "ok", box["r2"].message
        assert runner_mod.pending_preparations() == []
    finally:
        release.set()


class _ThreadRecorder:
    """Wraps a backend and notes which thread each predict call ran on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.max_batch = inner.max_batch
        self.threads: set[str] = set()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        return self.inner.predict(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream"])
def test_warmup_and_loadgen_predict_on_one_thread(scenario: str) -> None:
    """Runtimes keep per-thread state (PyTorch's OpenMP team: a second live team made torch 2-4x
    slower under LoadGen than in a plain loop); every backend call of a run uses one thread."""
    wrapped: list[_ThreadRecorder] = []

    def wrap(backend: Any) -> _ThreadRecorder:
        wrapped.append(_ThreadRecorder(backend))
        return wrapped[-1]

    profile = small_profile(
        scenario=scenario, loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=16, samples_per_query=2)
    )
    result, _ = _run(profile, options=RunOptions(wrap_backend=wrap))
    # 16 queries are too few for LoadGen's early stopping (SingleStream needs 64, MultiStream
    # 662): INVALID on every machine, and the run still went through LoadGen to its end
    assert result.status == "invalid", result.message
    assert any("early-stopping" in r for r in result.loadgen["invalid_reasons"])
    assert wrapped[0].threads == {"qtui-inference"}


class _CloseRecorder(_ThreadRecorder):
    """Also notes when (on which thread, after how many predicts) the backend was closed."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.closed = threading.Event()
        self.close_thread = ""
        self.predicts_before_close = -1
        self.predicts = 0

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.predicts += 1
        return super().predict(batch)

    def close(self) -> None:
        self.close_thread = threading.current_thread().name
        self.predicts_before_close = self.predicts
        self.inner.close()
        self.closed.set()


@pytest.mark.parametrize("fail", [False, True])
def test_runtime_closed_after_loadgen_on_inference_thread(fail: bool) -> None:
    """A study or a TUI session makes many runs in one process: each run releases its runtime
    once LoadGen is done (on the thread that made it), and also when LoadGen failed."""
    wrapped: list[_CloseRecorder] = []

    def wrap(backend: Any) -> Any:
        wrapped.append(_CloseRecorder(backend))
        return _FailingBackend(wrapped[-1], 3) if fail else wrapped[-1]

    profile = small_profile(scenario="SingleStream", loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=16))
    result, _ = _run(profile, options=RunOptions(wrap_backend=wrap))
    assert result.status == ("failed" if fail else "invalid"), result.message
    rec = wrapped[0]
    assert rec.closed.wait(30), "the backend was never closed"
    assert rec.close_thread == "qtui-inference"
    assert rec.predicts_before_close == rec.predicts >= 1  # after the last predict, not before


@pytest.mark.parametrize("scenario", ["Offline", "SingleStream"])
def test_quick_preset_lasts_long_enough_for_a_stable_figure_and_the_live_histogram(
    monkeypatch: pytest.MonkeyPatch, scenario: str
) -> None:
    """The bug: a quick Offline run of MobileNetV2 lasted about half a second — its throughput
    spread 13 % between runs and the live histogram never appeared over SSH (2 Hz). The preset
    now asks LoadGen for at least 2 s (SingleStream) or 1 s with a query sized for 2.2 s at the
    warm-up's rate (Offline); the run is VALID and the UI receives histograms while it runs."""
    from qtui.core.loadgen import SHORT_OFFLINE_QPS_MARGIN

    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22")
    profile = small_profile(scenario=scenario, loadgen=LoadGenSpec(preset="quick"))
    result, events = _run(profile)
    assert result.status == "ok", result.message
    settings = result.loadgen["settings"]
    minimum = 1000 if scenario == "Offline" else 2000
    assert settings["min_duration_ms"] == minimum
    assert result.timings_s["loadgen"] >= minimum / 1000
    if scenario == "Offline":
        # twice the warm-up's rate: LoadGen's query holds 2.2 s of work at that rate
        per_sample = result.loadgen["warmup_batch_ms"] / 1000 / profile.batch_size
        assert settings["expected_qps"] == pytest.approx(SHORT_OFFLINE_QPS_MARGIN / per_sample, rel=1e-3)
    shown = [e for e in events if isinstance(e, ev.Progress) and e.histogram.counts and sum(e.histogram.counts) > 0]
    assert len(shown) >= 3, f"{len(shown)} histogram updates"
