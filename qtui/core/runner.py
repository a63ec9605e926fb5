"""One run end to end, without a UI: prepare (or reuse) the artifact, load the backend, warm up,
drive LoadGen, cross-check LoadGen's figures with ours, and save the result atomically.

`run(profile, on_event, stop)` is the single entry point for the TUI and `qtui run`. Progress
goes out through `on_event` from a reporter thread at ≤ 4 Hz (≤ 2 Hz when `SSH_CONNECTION` is
set), never once per sample. Setting `stop` cancels within a couple of seconds in every scenario:
the SUT completes every outstanding and later query at once and the result is saved as
`cancelled`. A backend that stops answering is caught by a watchdog, which drains the queries
and fails the run with a message instead of hanging forever.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import secrets
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qtui.core import events as ev
from qtui.core.environment import capture_environment
from qtui.core.latency import LatencyRecorder, exact_percentiles, histogram
from qtui.core.loadgen_log import loadgen_figures
from qtui.core.machine_load import LIVE_LOAD_NOTICE, LoadMonitor, load_warnings
from qtui.core.memory import LOADGEN_BYTES_PER_SAMPLE, PeakRSS, input_bytes_per_sample
from qtui.core.model_source import is_user_model, model_slug, source_kind
from qtui.core.paths import cache_dir, results_dir
from qtui.core.prepare import PrepareError
from qtui.core.prepare.for_profile import (
    dataset_identity,
    load_fp32_model,
    prepare_artifact,
    prepare_only,
)
from qtui.core.profile import RunProfile, threads_refusal
from qtui.core.raw_latencies import latency_summary, save_latencies
from qtui.core.results import RunResult, save_result
from qtui.core.thermal import read_state as read_throttle_state
from qtui.core.thermal import throttled_between
from qtui.core.threads import (
    Cancelled,
    InferenceThread,
    leave_behind,
    pending_preparations,
    run_cancellable,
    wait_for_abandoned,
)

#: `prepare_only` lives in `qtui.core.prepare.for_profile` (it needs no run); importable here too.
__all__ = ["RunError", "RunOptions", "pending_preparations", "prepare_only", "run"]

EventSink = Callable[[ev.Event], None]


@dataclass(frozen=True)
class RunOptions:
    """Knobs that are not part of a profile (they don't change what is measured)."""

    results_root: Path | None = None
    progress_hz: float | None = None  # default: 4, or 2 over SSH
    hang_timeout_s: float | None = None  # default: from the warm-up latency, at least 30 s
    cancel_grace_s: float = 2.0
    #: A label for this machine in results and device-vs-device tables (`--device`).
    device: str | None = None
    #: Tests wrap the backend (e.g. to make it hang); identity by default.
    wrap_backend: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class _WarmUp:
    """What the warm-up measured: the median batch time, the slowest, and LoadGen's settings
    sized from them."""

    batch_s: float
    slowest_s: float
    settings: dict[str, Any]


@dataclass(frozen=True)
class _Measured:
    """What the LoadGen stage leaves for collecting."""

    recorder: _SpanRecorder
    sut: Any
    settings: dict[str, Any]
    cancelled: bool
    #: LoadGen was still finishing after a cancel and was left to end in the background
    left_behind: bool = False


def default_progress_hz() -> float:
    return 2.0 if os.environ.get("SSH_CONNECTION") else 4.0


def resolve_threads(threads: int) -> int:
    return threads if threads > 0 else (os.cpu_count() or 1)


def new_run_id(profile: RunProfile) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{model_slug(profile.model)}-{profile.framework}-{profile.precision}-{profile.scenario}-{secrets.token_hex(2)}"


class RunError(Exception):
    """A run could not complete; the message is meant for the user (the result says "failed")."""


class _SpanRecorder(LatencyRecorder):
    """The recorder, plus when the first recorded query started and the last one ended: the
    wall time of the completed part, which is what a cancelled run's throughput divides by
    (LoadGen's own figures count the queries that the cancel completed at once)."""

    def __init__(self) -> None:
        super().__init__()
        self.first_start_ns: int | None = None
        self.last_end_ns: int | None = None

    def record(self, latency_ns: int, samples: int = 1) -> None:
        end = time.perf_counter_ns()
        super().record(latency_ns, samples)
        start = end - latency_ns
        if self.first_start_ns is None or start < self.first_start_ns:
            self.first_start_ns = start
        self.last_end_ns = end


#: The longest a cancel waits for LoadGen to drain its schedule before the completed part is
#: saved and LoadGen left to finish in the background (the next run waits for it).
CANCEL_WAIT_MAX_S = 10.0

#: How often the reporter checks the machine's load during the measurement (a live warning).
LOAD_CHECK_S = 2.0


def run(
    profile: RunProfile,
    on_event: EventSink | None = None,
    stop: threading.Event | None = None,
    options: RunOptions | None = None,
) -> RunResult:
    """Run the profile; always returns a saved RunResult (status ok/invalid/cancelled/failed)."""
    return _Run(profile, on_event or (lambda e: None), stop or threading.Event(), options or RunOptions()).execute()


class _Run:
    def __init__(self, profile: RunProfile, emit: EventSink, stop: threading.Event, options: RunOptions) -> None:
        self.profile = profile
        self.emit = emit
        self.stop = stop
        self.options = options
        self.run_id = new_run_id(profile)
        self.run_dir = results_dir(options.results_root) / self.run_id
        self.threads = resolve_threads(profile.threads)
        self.timings: dict[str, float] = {}
        self.result = RunResult(
            run_id=self.run_id,
            created=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            status="failed",
            profile=profile,
        )
        self._loaded_model: Any = None
        self._load_warned_live = False  # the reporter warned of the machine's load during the run
        self._inference: InferenceThread | None = None
        self._preloaded = 0
        self._loadgen_finished = False  # LoadGen's test is over: a cancel must keep its figures
        #: the accuracy pass finished but the cancel came while its FP32 reference was computed
        self._reference_cancelled = False

    # -- helpers ------------------------------------------------------------------------------
    def log(self, text: str, level: str = "info") -> None:
        self.emit(ev.Log(text, level))

    def step(self, name: str, fraction: float | None = None) -> None:
        self.emit(ev.Preparing(name, fraction))
        if self.stop.is_set():
            raise Cancelled()

    def _model(self) -> Any:
        """The FP32 model to prepare from (`prepare.for_profile.load_fp32_model`), loaded once."""
        if self._loaded_model is None:
            try:
                self._loaded_model = load_fp32_model(self.profile, self.step)
            except PrepareError as exc:  # the user's model cannot be read or built, or does not fit
                raise RunError(str(exc)) from None
        return self._loaded_model

    # -- the run --------------------------------------------------------------------------------
    def execute(self) -> RunResult:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # nothing measured yet: fail at once, nothing to save
            self.result.message = f"cannot create the run folder {self.run_dir}: {exc.strerror or exc}"
            self.emit(ev.Failed(self.result.message, ""))
            return self.result
        self.result.environment = capture_environment(
            threads=self.threads, frameworks=[self.profile.framework, "torch", "onnx"]
        )
        for warning in self.result.environment.get("warnings", []):
            self.log(f"environment: {warning}", "warning")
        try:
            with PeakRSS() as peak:
                try:
                    self._execute()
                finally:
                    if self._inference is not None:
                        self._inference.close()
            self.result.memory["peak_rss_bytes"] = peak.bytes
        except Cancelled:
            self.result.status = "cancelled"
            self.result.message = (
                "cancelled after LoadGen finished; figures measured so far are kept"
                if self._loadgen_finished
                else "cancelled before LoadGen started"
            )
        except RunError as exc:
            self.result.status = "failed"
            self.result.message = str(exc)
        except MemoryError:
            self.result.status = "failed"
            self.result.message = "out of memory: try a smaller model, batch size or sample count"
        except Exception as exc:  # any framework error: report, never crash the caller
            self.result.status = "failed"
            self.result.message = _user_message(exc)
            self.result.traceback = traceback.format_exc(limit=8)
        self.result.timings_s = self.timings
        # A result that cannot be written (disk full, folder made read-only) is still returned,
        # with a message saying where and why, so the caller can show and keep the figures.
        try:
            path = str(save_result(self.result, self.run_dir))
        except Exception as exc:  # noqa: BLE001 - never lose a measurement to a write error
            path = ""
            note = _not_saved_message(self.run_dir / "result.json", exc)
            self.result.message = f"{self.result.message}; {note}" if self.result.message else note
            self.log(note, "error")
        if self.result.status == "failed":
            self.emit(ev.Failed(self.result.message, path))
        else:
            from qtui.core.run_table import summary_line

            self.emit(ev.Finished(self.result.status, path, summary_line(self.result)))
        return self.result

    def _execute(self) -> None:
        """The run's stages, in order: each is one method below."""
        self.check_runnable()
        wait_for_abandoned(self.step, lambda text: self.log(text, "warning"))
        started = time.perf_counter()
        dataset = self.open_data()
        artifact = self.prepare(dataset)
        self.timings["prepare"] = time.perf_counter() - started
        backend = self.load_runtime(artifact)
        try:
            qsl = self.load_samples(dataset)
            warm = self.warm_up(backend, qsl)
            measured = self.drive_loadgen(backend, qsl, warm)
        finally:
            self.close_runtime(backend)
        self._loadgen_finished = True
        self.collect(measured, dataset)

    # -- stages ---------------------------------------------------------------------------------
    def check_runnable(self) -> None:
        """Refuse what cannot run here before any work; note what will distort the figures."""
        from qtui.core.catalog import unavailable_reason

        p = self.profile
        device = self.options.device or p.device
        if device:
            self.result.environment["device"] = device
        reason = unavailable_reason(p.framework, p.precision, p.model)
        if reason:
            raise RunError(f"{p.framework} {p.precision} cannot run here: {reason}")
        refusal = threads_refusal(p, os.cpu_count())
        if refusal:
            raise RunError(refusal)
        for text in load_warnings(None, os.cpu_count(), self.threads):
            self._warn(text)

    def open_data(self) -> Any:
        """The data set, its pictures checked (what it is goes into the result, without the
        user's full path)."""
        from qtui.core.data import DatasetError
        from qtui.core.profile_data import open_profile_dataset

        p = self.profile
        self.step("opening data set")
        try:
            dataset = open_profile_dataset(p, lambda f: self.step("checking data", f))
        except DatasetError as exc:
            raise RunError(str(exc)) from None
        self.result.provenance.update(data_provenance(p, dataset))
        capped = _capped_counts(p, dataset.count)
        if synthetic_calibration(p, dataset):  # calibrates on its own synthetic images
            capped = [t for t in capped if not t.startswith("dataset.calibration_count")]
        for text in capped + data_warnings(p, dataset):
            self._warn(text, prefix="")
        return dataset

    def prepare(self, dataset: Any) -> Any:
        """The artifact, from the cache or prepared now, in a worker thread a cancel can leave."""
        self.step("preparing artifact")
        try:
            artifact, hit = run_cancellable(
                "preparing",
                lambda: prepare_artifact(self.profile, dataset, self._model, self.step, self.stop),
                self.stop,
                lambda text: self.log(text, "warning"),
            )
        except PrepareError as exc:
            raise RunError(str(exc)) from None
        self.log(("reused cached artifact " if hit else "prepared artifact ") + str(artifact.directory))
        meta = artifact.meta
        self.result.provenance["weights"] = meta.get("weights_provenance", meta.get("weights"))
        self.result.provenance["weights_digest"] = meta.get("weights_digest")
        if is_user_model(self.profile.model):  # the file's name, digest and size, not its folder
            self.result.provenance["model"] = self._model().record()
        self.result.artifact = {
            "path": str(artifact.path),
            "key": meta.get("key"),
            "cache_hit": hit,
            "size_bytes": artifact.size_bytes,
            "format": meta.get("format"),
            "tools": meta.get("tools"),
            "prepare_seconds": meta.get("prepare_seconds"),
            "prepare_peak_rss_bytes": meta.get("prepare_peak_rss_bytes"),
            "prepare_start_rss_bytes": meta.get("prepare_start_rss_bytes"),
        }
        return artifact

    def load_runtime(self, artifact: Any) -> Any:
        """The framework's backend with the artifact loaded, on the run's inference thread."""
        from qtui.core.backends import BackendError, get_backend

        p = self.profile
        self.step("loading runtime")
        started = time.perf_counter()
        self._inference = InferenceThread()
        try:
            backend = get_backend(p.framework)
            self._inference.call(lambda: backend.load(artifact, self.threads, p.scenario))
        except BackendError as exc:
            raise RunError(str(exc)) from None
        except ImportError as exc:
            raise RunError(f"{p.framework} is not installed here: pip install 'qtui[{p.framework}]' ({exc})") from None
        if self.options.wrap_backend is not None:
            backend = self.options.wrap_backend(backend)
        self.timings["load"] = time.perf_counter() - started
        self.result.artifact["runtime_version"] = backend.version()
        self.result.artifact["executed_precision"] = backend.executed_precision()
        self.result.artifact["max_batch"] = backend.max_batch
        return backend

    def load_samples(self, dataset: Any) -> Any:
        """The QSL with its samples in memory (refused first when they would not fit)."""
        from qtui.core.loadgen import SampleLibrary, resolve_settings

        p = self.profile
        total = dataset.count if p.mode == "accuracy" else min(dataset.count, p.dataset.performance_sample_count)
        perf_count = min(total, p.dataset.performance_sample_count)
        # MultiStream queries are windows of LoadGen's load order, which repeats the first
        # samples_per_query - 1 samples at its end: room for them, so a query is a slice
        spare = 0
        if p.scenario == "MultiStream" and p.mode != "accuracy":
            spare = int(resolve_settings(p, perf_count)["samples_per_query"]) - 1
        qsl = SampleLibrary(dataset.get, total, perf_count, spare_rows=spare)
        preload = range(total if total <= 4096 else perf_count)
        _check_memory(
            len(preload), input_bytes_per_sample(), "loading samples",
            "dataset.performance_sample_count" if len(preload) == perf_count else "dataset.count",
        )
        self.step("loading samples", 0.0)
        qsl.preload(preload, lambda f: self.step("loading samples", f))
        self._preloaded = len(preload)
        return qsl

    def close_runtime(self, backend: Any) -> None:
        """Release the runtime (session, compiled model, interpreters, thread pools) once LoadGen
        is done, on the inference thread that made it, so that a study or a TUI session running
        many runs in one process does not keep every run's runtime alive. Queued behind the
        thread's current call and not waited for: a backend stuck in a call (the watchdog's
        case) must not hold the run's end up."""
        if self._inference is None:
            return
        close = getattr(backend, "close", None)
        if close is None:
            return

        def quietly() -> None:
            try:
                close()
            except Exception as exc:  # noqa: BLE001 - the figures are taken; only note it
                self.log(f"closing the {self.profile.framework} runtime failed: {_user_message(exc)}", "warning")

        self._inference.submit(quietly)

    def warm_up(self, backend: Any, qsl: Any) -> _WarmUp:
        """Untimed queries of the scenario's shape; their latency sizes LoadGen's schedule."""
        from qtui.core.backends import predict_in_chunks
        from qtui.core.loadgen import query_size, resolve_settings
        from qtui.core.schedule import expected_samples

        p = self.profile
        assert self._inference is not None
        self.step("warm-up", 0.0)
        warm_batch = qsl.batch([i % self._preloaded for i in range(query_size(p))])
        times: list[float] = []
        n_warm = max(2, p.warmup_queries)

        def timed_warm_batch() -> float:
            s = time.perf_counter()
            predict_in_chunks(backend, warm_batch)
            return time.perf_counter() - s

        for k in range(n_warm):
            times.append(self._inference.call(timed_warm_batch))
            self.step("warm-up", (k + 1) / n_warm)
        settled = times[len(times) // 2 :]
        if p.scenario != "Offline":
            measured = float(np.median(settled))
        else:
            # LoadGen's Offline query is sized from this (loadgen.SHORT_OFFLINE_QPS_MARGIN):
            # the fastest warm-up batch is the safe estimate
            measured = float(min(settled))
            if _has_async_stream(backend):
                # a runtime with an asynchronous queue (OpenVINO) runs several batches at a
                # time: sized from one synchronous batch, LoadGen's query would end before
                # min_duration and the run would be INVALID
                measured = min(measured, self._inference.call(lambda: _stream_batch_seconds(backend, warm_batch)))
        settings = resolve_settings(p, qsl.performance_count, measured)
        _check_memory(
            2 * expected_samples(settings), LOADGEN_BYTES_PER_SAMPLE, "LoadGen's query schedule",
            "loadgen.min_duration_ms or loadgen.min_query_count",
        )
        self.result.loadgen["settings"] = settings
        self.result.loadgen["warmup_batch_ms"] = round(measured * 1000, 4)
        return _WarmUp(measured, max(times), settings)

    def drive_loadgen(self, backend: Any, qsl: Any, warm: _WarmUp) -> _Measured:
        """LoadGen's test on the inference thread, watched from here: progress at the reporter's
        rate, cancel by draining, a watchdog for a backend that stops answering, the machine's
        load and throttling around it."""
        from qtui.core.backends import predict_in_chunks
        from qtui.core.loadgen import LogDirError, Sut, run_loadgen
        from qtui.core.schedule import expected_samples

        p = self.profile
        assert self._inference is not None
        accuracy = p.mode == "accuracy"
        settings = warm.settings
        recorder = _SpanRecorder()
        sut = Sut(
            lambda b: predict_in_chunks(backend, b), backend.predict_stream, qsl, recorder, p.scenario, accuracy, p.batch_size
        )
        hang_timeout = self.options.hang_timeout_s or max(30.0, 50 * warm.slowest_s)
        expected = (
            expected_samples(settings, warm.batch_s if p.scenario != "Offline" else None)
            if not accuracy
            else qsl.total
        )
        self.emit(ev.Started(self.run_id, p.scenario, p.mode, settings, expected))

        done = threading.Event()
        loadgen_error: list[BaseException] = []

        def loadgen_call() -> None:
            try:
                run_loadgen(sut, qsl, settings, self.run_dir)
            except BaseException as exc:  # noqa: BLE001
                loadgen_error.append(exc)
            finally:
                done.set()

        reporter_stop = threading.Event()
        throttle_before = read_throttle_state()
        load = LoadMonitor(self.threads)
        load.start()
        started = time.perf_counter()
        reporter = threading.Thread(
            target=self._report,
            args=(recorder, started, expected, reporter_stop, load, None if accuracy else settings),
            name="qtui-reporter",
            daemon=True,
        )
        self._inference.submit(loadgen_call)
        reporter.start()
        cancelled = False
        hung = False
        cancel_at: float | None = None
        while not done.wait(0.2):
            if self.stop.is_set() and not sut.draining:
                cancelled = True
                cancel_at = time.monotonic()
                sut.drain()
                self.log("cancelling: completing outstanding queries")
            if sut.state.error is not None and not sut.draining:
                sut.drain()
            if (
                not sut.draining
                and sut.pending_count > 0
                and time.monotonic() - sut.state.last_activity > hang_timeout
            ):
                hung = True
                cancel_at = time.monotonic()
                sut.drain()
                self.log(f"backend did not answer for {hang_timeout:.0f} s: stopping the run", "error")
            if cancel_at is not None:
                # After a cancel LoadGen drains its whole schedule (a long run's is hundreds of
                # thousands of queries, each completed on arrival): wait while it keeps issuing;
                # when it stops issuing, it is stuck behind a backend call that never returns,
                # and is left behind.
                # A schedule of millions of queries takes minutes to drain (measured: a million
                # SingleStream queries in 14 s on a 2-core Xeon): after CANCEL_WAIT_MAX_S the
                # completed part is saved and LoadGen left to finish in the background.
                now = time.monotonic()
                quiet_for = now - max(cancel_at, sut.state.last_activity)
                if quiet_for > max(self.options.cancel_grace_s, 5.0 if hung else 0):
                    break
                if cancelled and now - cancel_at > max(CANCEL_WAIT_MAX_S, self.options.cancel_grace_s):
                    break
        load.stop()
        reporter_stop.set()
        reporter.join(timeout=2)
        self.timings["loadgen"] = time.perf_counter() - started
        self._record_load(load)
        self._record_throttling(throttle_before, read_throttle_state())

        if hung:
            raise RunError(
                f"the {p.framework} backend stopped answering (no completion for {hang_timeout:.0f} s); "
                "the run was stopped. Restart qtui before the next run if this repeats."
            )
        if sut.state.error is not None:
            err = sut.state.error
            if isinstance(err, MemoryError):
                raise RunError("out of memory during inference: try a smaller batch size or model")
            raise RunError(f"{p.framework} failed during inference: {_user_message(err)}")
        if loadgen_error and isinstance(loadgen_error[0], LogDirError):
            # refused right before StartTest: LoadGen would have crashed the process
            raise RunError(f"not saved: results folder not writable: {loadgen_error[0]}")
        if loadgen_error:
            raise RunError(f"LoadGen failed: {loadgen_error[0]}")
        if not done.is_set():
            # LoadGen still drains a long schedule (millions of queries) or waits for a slow call
            # (threads far above the cores): what was measured is kept whatever it does, and
            # the next run waits for it (two LoadGen tests at once crash the process)
            leave_behind(self._inference.thread)
            self.log("LoadGen is still finishing after the cancel: left to end in the background", "warning")
        return _Measured(recorder, sut, settings, cancelled, left_behind=not done.is_set())

    def _warn(self, text: str, prefix: str = "environment: ") -> None:
        """A warning the result keeps (its figures are suspect) and the log shows."""
        self.result.environment.setdefault("warnings", []).append(text)
        self.log(f"{prefix}{text}", "warning")

    def _record_throttling(self, before: dict[str, Any], after: dict[str, Any]) -> None:
        """Throttling evidence between the start and the end of the measurement: recorded, and a
        warning (the figures are slower than the machine) when there is any."""
        reasons = throttled_between(before, after)
        self.result.environment["throttling_during_run"] = {
            "throttled": bool(reasons),
            "reasons": reasons,
            "before": before,
            "after": after,
        }
        if reasons:
            text = "the CPU was throttled during the measurement (" + "; ".join(reasons) + ")"
            self.result.environment.setdefault("warnings", []).append(text)
            self.log(f"environment: {text}", "warning")

    def _record_load(self, load: LoadMonitor) -> None:
        """The machine's load during the measurement goes into the result and its warnings."""
        summary = load.summary()
        self.result.environment["load"] = summary
        warnings = self.result.environment.setdefault("warnings", [])
        for text in summary["warnings"]:
            if text not in warnings:
                warnings.append(text)
                if not (self._load_warned_live and text.startswith("other processes")):
                    self.log(f"environment: {text}", "warning")  # (else said live already)

    def _report(
        self,
        recorder: LatencyRecorder,
        started: float,
        expected: int | None,
        stop: threading.Event,
        load: LoadMonitor | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        from qtui.core.schedule import time_left

        hz = self.options.progress_hz or default_progress_hz()
        period = 1.0 / min(hz, 4.0)
        warned_load = False
        last_load_check = time.monotonic()
        while not stop.wait(period):
            now = time.monotonic()
            if load is not None and not warned_load and now - last_load_check >= LOAD_CHECK_S:
                last_load_check = now
                busy = load.sample()
                alerts = load_warnings(busy, load.cores, None)
                if alerts:
                    warned_load = self._load_warned_live = True
                    self.log(f"machine load: {LIVE_LOAD_NOTICE}", "warning")
            snap = recorder.snapshot()
            elapsed = time.perf_counter() - started
            self.emit(
                ev.Progress(
                    completed_queries=snap.queries,
                    completed_samples=snap.samples,
                    elapsed_s=elapsed,
                    percentiles_ms=snap.percentiles_ms,
                    samples_per_s=snap.samples / elapsed if elapsed > 0 else 0.0,
                    histogram=snap.histogram,
                    expected_samples=expected,
                    left_s=(
                        time_left(settings, elapsed, snap.queries, snap.samples)
                        if settings is not None
                        else None
                    ),
                )
            )

    def collect(self, measured: _Measured, dataset: Any) -> None:
        """The figures: qtui's recorder and LoadGen's detail log (LoadGen's withheld when the
        run was cancelled), the GOP/s achieved against the CPU's nominal peak, accuracy and
        fidelity in accuracy mode, and the run's status."""
        from qtui.core.loadgen_log import parse_detail_log
        from qtui.core.ops import run_efficiency

        recorder, cancelled, sut = measured.recorder, measured.cancelled, measured.sut
        accuracy = self.profile.mode == "accuracy"

        p = self.profile
        detail_path = self.run_dir / "mlperf_log_detail.txt"
        detail = parse_detail_log(detail_path)
        validity = detail.get("result_validity")
        lat = recorder.array()
        ours = exact_percentiles(lat)
        self.result.latency_ms = {
            "basis": "per batch" if p.scenario == "Offline" else "per query",
            **ours,
            **latency_summary(lat),
        }
        self.result.raw_latencies = self._save_latencies(lat)
        hist = histogram(lat)
        self.result.histogram = {"edges_ms": list(hist.edges_ms), "counts": list(hist.counts)}
        queries, samples = recorder.counts
        duration_s = self.timings.get("loadgen", 0.0)
        self.result.loadgen.update({"version": detail.get("loadgen_version"), "log_dir": str(self.run_dir)})
        if cancelled:
            # LoadGen's figures count every query the cancel completed at once (thousands of
            # "answers" in no time): none of them is presented. Everything shown comes from
            # qtui's recorder, which saw only the queries that really ran.
            self.result.loadgen.update(_cancelled_loadgen(p.scenario, ours, recorder, samples))
            sps = _completed_part_rate(recorder, samples)
            rate_basis = "qtui's: the completed samples over the time from the first query's start to the last one's end (cancelled run)"
        else:
            self.result.loadgen.update(loadgen_figures(p.scenario, detail))
            sps = detail.get("result_samples_per_second") if p.scenario == "Offline" else None
            rate_basis = "LoadGen's Offline samples/s"
            if not sps:
                sps = samples / lat.sum() * 1e9 if lat.size and lat.sum() > 0 else None
                unit = "batch" if p.scenario == "Offline" else "query"
                rate_basis = f"qtui's: the samples over its recorded {unit} latencies, summed (LoadGen's gaps between queries excluded)"
        self.result.throughput = {
            "samples_per_s": float(sps) if sps else None,
            "queries": queries,
            "samples": samples,
            "duration_s": round(duration_s, 3),
        }
        # GOP/s achieved and the share of the CPU's nominal peak for what executed (ops.py)
        # not in accuracy mode: LoadGen's accuracy runs are no performance measurement
        self.result.efficiency = None if accuracy else run_efficiency(
            p.model, self.result.throughput["samples_per_s"], self.result.environment, p.precision,
            self.result.artifact.get("executed_precision"), p.framework, rate_basis,
        )
        if accuracy and not cancelled:
            self.result.accuracy = self._accuracy(dataset, sut)
        if cancelled:
            self.result.status = "cancelled"
            self.result.message = "cancelled by the user; figures cover the completed part only"
            if measured.left_behind:
                self.result.message += (
                    "; LoadGen was still finishing after the cancel (its logs may be incomplete) "
                    "and was left to end in the background"
                )
        elif not detail or (not accuracy and "result_validity" not in detail):
            # no verdict to give: LoadGen could not keep its log (the folder turned read-only,
            # the disk filled up mid-write, the file went away), which says nothing about the
            # run itself
            self.result.status = "failed"
            self.result.message = (
                f"LoadGen's log not saved: {detail_path} is missing, unreadable or cut short (is "
                "the results folder writable, its disk full?); qtui's own figures are kept"
            )
        elif self._reference_cancelled:
            self.result.loadgen["validity"] = "n/a (accuracy mode)"
            self.result.status = "cancelled"
            self.result.message = (
                "cancelled after the accuracy pass finished, while computing the FP32 reference: "
                "what the pass measured is kept; fidelity not computed"
            )
        elif accuracy:
            # LoadGen gives no verdict in accuracy mode: the run is complete when every sample
            # of the QSL was answered and logged.
            answered = (self.result.accuracy or {}).get("logged_responses", 0)
            self.result.loadgen["validity"] = "n/a (accuracy mode)"
            if answered == dataset.count:
                self.result.status = "ok"
            else:
                self.result.status = "invalid"
                self.result.message = f"accuracy log has {answered} of {dataset.count} samples"
        elif validity == "VALID":
            self.result.status = "ok"
        else:
            self.result.status = "invalid"
            self.result.message = "LoadGen: INVALID — " + "; ".join(self.result.loadgen["invalid_reasons"] or ["see log"])

    def _save_latencies(self, lat: np.ndarray) -> dict[str, Any]:
        """Every query's latency beside the result (`qtui.core.raw_latencies`); a file that
        cannot be written costs the raw latencies only, never the run."""
        try:
            return save_latencies(self.run_dir, lat)
        except OSError as exc:
            note = f"raw latencies not saved in {self.run_dir}: {exc.strerror or exc}"
            self.log(note, "warning")
            return {"file": None, "total": int(lat.size), "error": note}

    def _accuracy(self, dataset: Any, sut: Any) -> dict[str, Any]:
        from qtui.core.fidelity import fidelity, is_class_vector, topk_accuracy
        from qtui.core.loadgen_log import parse_accuracy_log

        logged = parse_accuracy_log(self.run_dir / "mlperf_log_accuracy.json")
        indices = sorted(sut.state.logits)
        out: dict[str, Any] = {"samples": len(indices), "logged_responses": len(logged)}
        if not indices:
            return out
        logits = np.stack([sut.state.logits[i] for i in indices])
        if dataset.has_labels and not is_class_vector(logits):  # a user model's other output
            self.log(
                f"the data has labels but the model's output ({'×'.join(map(str, logits.shape[1:]))} a sample) "
                "is not a vector of class scores: top-1 not measured, fidelity only", "warning",
            )
        elif dataset.has_labels:
            labels = dataset.labels(indices)
            predicted = np.array([int(logged.get(i, -1)) for i in indices])
            out["top1"] = float(np.mean(predicted == labels))
            out["top5"] = topk_accuracy(logits, labels, 5)
            out["labels"] = {"classes": "class folders", "tensors": "the .npz file's labels"}.get(
                dataset.kind, "ImageNet val_map.txt"
            )
        # no checkpoint before the reference: a cached one costs nothing, and a cancel while it
        # is computed keeps what the finished pass measured
        user_model = source_kind(self.profile.model) in ("onnx", "tflite")  # an entry point: torch, as a built-in
        self.emit(ev.Preparing("computing the FP32 reference" if user_model else "computing FP32 torch reference", None))
        try:
            if user_model:
                reference = self._file_reference_logits(dataset, indices)
            else:
                reference = self._reference_logits(dataset, indices)
        except Cancelled:
            self._reference_cancelled = True
            return out
        out["fidelity"] = fidelity(reference, logits)
        if user_model:
            runtime = "TensorFlow Lite" if self._reference_framework() == "tflite" else "ONNX Runtime"
            out["reference"] = f"FP32 {runtime} on the same model file and samples"
            return out
        out["reference"] = "FP32 PyTorch on the same weights and samples"
        return out

    def _file_reference_logits(self, dataset: Any, indices: list[int]) -> np.ndarray:
        """The outputs of the FP32 artifact of the same model file (ONNX Runtime, the user's
        graph as it is), for the fidelity of every other precision and framework."""
        from dataclasses import replace

        from qtui.core.backends import BackendError, get_backend

        framework = self._reference_framework()
        fp32 = replace(self.profile, framework=framework, precision="fp32")
        artifact, _ = prepare_artifact(fp32, dataset, self._model, self.step, self.stop)
        backend = get_backend(framework)
        try:
            backend.load(artifact, self.threads, "Offline")
        except BackendError as exc:
            raise RunError(str(exc)) from None
        rows = []
        try:
            step = backend.max_batch or 16
            for i in range(0, len(indices), step):
                rows.append(np.asarray(backend.predict(dataset.get_batch(indices[i : i + step]))))
                self.step("computing the FP32 reference", min(1.0, (i + step) / len(indices)))
        finally:
            backend.close()
        return np.concatenate(rows)

    def _reference_framework(self) -> str:
        """The framework that runs a user file's FP32 artifact as it is: TensorFlow Lite for a
        .tflite file, ONNX Runtime for an .onnx file."""
        return "tflite" if source_kind(self.profile.model) == "tflite" else "onnxruntime"

    def _reference_logits(self, dataset: Any, indices: list[int]) -> np.ndarray:
        import hashlib

        from qtui.core.prepare import weights_identity

        key = hashlib.sha256(
            f"{self.profile.model}|{weights_identity(self.profile)}|{dataset_identity(dataset)}|{indices}".encode()
        ).hexdigest()[:24]
        path = cache_dir() / "reference" / f"{key}.npy"
        if path.exists():
            return np.load(path)
        import torch

        from qtui.core.prepare.torch import as_tensors

        module = self._model().module
        rows = []
        with torch.inference_mode():
            for i in range(0, len(indices), 16):  # an entry point's several inputs: in forward()'s order
                rows.append(module(*as_tensors(dataset.get_batch(indices[i : i + 16]))).numpy())
                self.step("computing FP32 torch reference", min(1.0, (i + 16) / len(indices)))
        ref = np.concatenate(rows)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
        np.save(tmp, ref)
        os.replace(tmp, path)
        return ref


#: The warning a run keeps when INT8 static calibrated on synthetic images but measured
#: other data (the run table's ⚠, the study table's mark).
SYNTHETIC_CALIBRATION_WARNING = (
    "INT8 static calibrated on synthetic images, not on the measured data "
    "(dataset.calibration = 'synthetic')"
)


def synthetic_calibration(profile: RunProfile, dataset: Any) -> bool:
    """Whether this run's INT8 static artifact calibrates on the synthetic set while the run
    measures other data."""
    return (
        profile.precision == "int8_static"
        and profile.dataset.calibration == "synthetic"
        and dataset.kind != "synthetic"
    )


def data_provenance(profile: RunProfile, dataset: Any) -> dict[str, Any]:
    """What the result says about its data: kind, count, digest, the folder or file name (never
    the full path), labels, preprocessing, and what INT8 static calibrated on."""
    from qtui.core.profile_data import calibration_dataset

    out: dict[str, Any] = {
        "data": dataset.provenance,
        "data_has_labels": dataset.has_labels,
        "data_kind": dataset.kind,
        "data_count": dataset.count,
        "data_digest": dataset.digest,
        "data_name": dataset.label,
        "preprocess": "as given (tensors)" if dataset.kind == "tensors"
        else "none (generated tensors)" if dataset.label == "generated" else dataset.preprocess.describe(),
    }
    if dataset.skipped:
        out["data_skipped"] = len(dataset.skipped)
    if profile.precision == "int8_static":
        calib = calibration_dataset(profile, dataset)
        n = min(profile.dataset.calibration_count, calib.count)
        out["calibration"] = f"{n} of {calib.provenance}"
        out["calibration_data"] = "synthetic" if synthetic_calibration(profile, dataset) else "data"
    return out


def data_warnings(profile: RunProfile, dataset: Any) -> list[str]:
    """Warnings the result keeps about its data: pictures skipped, calibration on synthetic
    images for other data."""
    out = []
    if dataset.skipped:
        first, why = dataset.skipped[0]
        out.append(
            f"{len(dataset.skipped)} picture(s) skipped because they do not decode, "
            f"the first: {first} ({why})"
        )
    if synthetic_calibration(profile, dataset):
        out.append(SYNTHETIC_CALIBRATION_WARNING)
    return out


def _capped_counts(profile: RunProfile, images: int) -> list[str]:
    """What the data set's size caps without the profile saying so, as warnings the result keeps
    (a folder with `count = 0` is counted only once it is open)."""
    from qtui.core.profile import calibration_warning

    out = []
    calibration = calibration_warning(profile, images)
    if calibration:
        out.append(calibration)
    psc = profile.dataset.performance_sample_count
    if profile.mode == "performance" and psc > images:
        out.append(
            f"dataset.performance_sample_count is {psc} but the data set has {images} images: "
            f"LoadGen draws from all {images}"
        )
    return out


def _check_memory(n: int, bytes_each: int, what: str, key: str) -> None:
    """Refuse, before allocating, what will not fit in the available memory."""
    from qtui.core.memory import MemoryBudgetError, check_fits

    try:
        check_fits(n, bytes_each, what, key=key)
    except MemoryBudgetError as exc:
        raise RunError(str(exc)) from None


def _completed_part_rate(recorder: _SpanRecorder, samples: int) -> float | None:
    """Samples per second over the wall time from the first recorded query's start to the last
    one's end: the completed part of a cancelled run, whatever the scenario."""
    first, last = recorder.first_start_ns, recorder.last_end_ns
    if first is None or last is None or last <= first or samples <= 0:
        return None
    return samples / ((last - first) / 1e9)


def _cancelled_loadgen(
    scenario: str, ours: dict[str, float], recorder: _SpanRecorder, samples: int
) -> dict[str, Any]:
    """What a cancelled run says in place of LoadGen's verdict and figures: no verdict, no
    advice, and the scenario metric from qtui's recorder over the completed part only."""
    from qtui.core.results import scenario_metric

    rule = scenario_metric(scenario)
    if rule.percentile is None:
        metric: dict[str, Any] = {
            "name": "samples per second",
            "value": _completed_part_rate(recorder, samples),
        }
    else:
        metric = {"name": f"{rule.key} latency (ms)", "value": ours.get(rule.key)}
    metric["source"] = "qtui recorder, completed part only (cancelled)"
    return {
        "validity": None,
        "invalid_reasons": [],
        "warnings": [],
        "scenario_metric": metric,
        "samples_per_second": None,
        "qps_with_loadgen_overhead": None,
        "percentiles_ms": {},
        "min_latency_ms": None,
        "mean_latency_ms": None,
        "max_latency_ms": None,
        "verdict_withheld": (
            "cancelled: LoadGen counts the queries completed at once by the cancel, so its "
            "verdict and figures are not reported; see mlperf_log_detail.txt for them"
        ),
    }


# Lines that only say where a C++ runtime raised (OpenVINO: "Exception from src/...cpp:53:"),
# which would otherwise hide the reason that follows them.
_LOCATION_LINE = re.compile(r"^(Exception from |Check .* failed at )?\S+\.(cpp|cc|hpp|h|c)(:\d+)+:?$")


def _has_async_stream(backend: Any) -> bool:
    """Whether the backend (or the one a wrapper forwards to) keeps several Offline batches in
    flight (`Backend.async_stream`)."""
    return getattr(backend, "async_stream", False) is True


#: The key of the warm-up's batches through `predict_stream` (LoadGen's batches are keyed by
#: int): `(WARM_UP_KEY, k)`, so that a wrapper can tell them apart.
WARM_UP_KEY = "warm-up"


def _stream_batch_seconds(backend: Any, batch: np.ndarray, count: int = 4) -> float:
    """Seconds per batch when `count` copies of `batch` go through the backend's Offline path
    (`predict_stream`) at once, after one pass that warms that path up."""

    def one_pass() -> float:
        start = time.perf_counter()
        backend.predict_stream((((WARM_UP_KEY, k), batch) for k in range(count)), lambda key, logits: None)
        return (time.perf_counter() - start) / count

    one_pass()
    return one_pass()


def _user_message(exc: BaseException, limit: int = 500) -> str:
    """One line for the user: the exception type and every meaningful line of its message.

    Runtime errors often start with where they were raised and end with why (OpenVINO), so
    location-only lines are dropped; when the rest is too long the first and the last line are
    kept, since the reason is one or the other.
    """
    lines = [ln.strip() for ln in str(exc).splitlines()]
    meaningful = [ln for ln in lines if ln and not _LOCATION_LINE.match(ln)]
    head = f"{type(exc).__name__}: "
    text = " ".join(meaningful)
    if len(head) + len(text) > limit and len(meaningful) > 1:
        last = meaningful[-1][: limit // 2]
        text = meaningful[0][: limit - len(head) - len(last) - 3] + " … " + last
    return (head + text)[:limit]


def _not_saved_message(path: Path, exc: BaseException) -> str:
    """The message of a result that could not be written to `path`."""
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else _user_message(exc)
    return f"result NOT saved: cannot write {path}: {why}"
