"""MLPerf LoadGen glue: settings from a profile, the QSL and SUT, cancellation by draining, and
parsing LoadGen's logs. The only module that imports `mlperf_loadgen` (lazily, when a run starts).

Facts this module is built on (LoadGen 6.0.17): `StartTest` releases the GIL and calls
`issue_queries` on the thread that called it; there is no abort, so a run is cancelled by
completing every outstanding and later query at once; completing an unknown or already completed
id crashes the process, and so does an exception escaping `issue_queries`; the log directory must
exist before the run, and a log file LoadGen cannot open (a read-only folder, a directory in its
place) crashes the process (a segfault or an abort), so `check_log_dir` is run right before it.
"""

from __future__ import annotations

import array
import os
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qtui.core.files import probe_write
from qtui.core.latency import LatencyRecorder
from qtui.core.profile import RunProfile

#: LoadGen settings of each preset (None: filled from the warm-up measurement).
PRESET_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    # Short but stable: the fewest queries LoadGen still accepts as VALID, and about 2 s.
    # Measured (ONNX Runtime, MobileNetV2, AMD EPYC Zen 4, 5 runs each): an INT8 Offline run of
    # 256 samples lasted 0.6 s and spread 13 % (CV) between runs, 7.5-8 % from 1 s on, no
    # better at 4 s (what is left is the machine's drift, which repeats measure); 2 s also
    # gives the live histogram 4 refreshes over SSH (2 Hz).
    "quick": {
        "SingleStream": {"min_duration_ms": 2000, "min_query_count": 64},
        "MultiStream": {"min_duration_ms": 2000, "min_query_count": 662, "samples_per_query": 8},
        # Offline: ≥ 1 s, its query sized for 2.2 s at the warm-up's rate (SHORT_OFFLINE_QPS_MARGIN)
        "Offline": {"min_duration_ms": 1000, "min_query_count": 256},
    },
    # The MLPerf Inference edge rules (mlperf.conf).
    "mlperf": {
        "SingleStream": {"min_duration_ms": 600_000, "min_query_count": 1024},
        "MultiStream": {"min_duration_ms": 600_000, "min_query_count": 662, "samples_per_query": 8},
        "Offline": {"min_duration_ms": 600_000, "min_query_count": 24_576},
    },
}
TARGET_PERCENTILE = {"SingleStream": 90.0, "MultiStream": 99.0, "Offline": 90.0}
#: The interpreter's GIL switch interval while LoadGen runs: the longest a query that finished
#: computing waits for the GIL while another thread runs Python (default 5 ms).
SWITCH_INTERVAL_S = 0.0005


#: LoadGen sizes an Offline query as 1.1 × expected QPS × min duration samples and calls a run
#: that ends sooner INVALID ("minimum duration not met"). Over a short run the speed can differ
#: from the warm-up's by far more than 10 % on a busy machine (measured: quick ONNX Runtime INT8
#: and OpenVINO Offline runs sized from the warm-up ended after 1.71 s and 0.85 s of a 2 s
#: minimum), so a run shorter than SHORT_OFFLINE_MS asks for twice the warm-up's rate: INVALID
#: then only when the run is over 2.2× faster than its warm-up.
SHORT_OFFLINE_MS = 10_000
SHORT_OFFLINE_QPS_MARGIN = 2.0


def query_size(profile: RunProfile) -> int:
    """Samples in one query of the profile's scenario: its Offline batch, a MultiStream query
    (`loadgen.samples_per_query`, 8 by default), one for SingleStream."""
    if profile.scenario == "Offline":
        return profile.batch_size
    if profile.scenario == "MultiStream":
        return profile.loadgen.samples_per_query or 8
    return 1


def resolve_settings(
    profile: RunProfile, performance_sample_count: int, measured_batch_s: float | None = None
) -> dict[str, Any]:
    """LoadGen settings for the profile: preset, then the profile's explicit overrides.

    Expected latency / QPS default to the warm-up measurement, biased the safe way (latency a
    little lower, QPS a little higher than measured), so LoadGen schedules enough work.
    """
    lg = profile.loadgen
    scenario = profile.scenario
    settings: dict[str, Any] = {
        "scenario": scenario,
        "mode": profile.mode,
        "preset": lg.preset,
        "max_duration_ms": 0,
        "samples_per_query": 1,
        "target_latency_percentile": TARGET_PERCENTILE[scenario],
        "performance_sample_count": performance_sample_count,
    }
    settings.update(PRESET_SETTINGS[lg.preset][scenario])
    min_duration_ms = lg.min_duration_ms if lg.min_duration_ms is not None else settings["min_duration_ms"]
    if measured_batch_s is not None and measured_batch_s > 0:
        per_sample = measured_batch_s / max(1, profile.batch_size)
        short_offline = scenario == "Offline" and min_duration_ms < SHORT_OFFLINE_MS
        margin = SHORT_OFFLINE_QPS_MARGIN if short_offline else 1.1
        settings["expected_latency_ms"] = round(measured_batch_s * 1000 * 0.9, 4)
        settings["expected_qps"] = round(margin / per_sample, 3)
    else:
        settings["expected_latency_ms"] = 1.0
        settings["expected_qps"] = 1000.0
    for name in (
        "min_duration_ms",
        "max_duration_ms",
        "min_query_count",
        "max_query_count",
        "expected_latency_ms",
        "expected_qps",
        "samples_per_query",
    ):
        value = getattr(lg, name)
        if value is not None:
            settings[name] = value
    if scenario != "MultiStream":
        settings["samples_per_query"] = 1
    return settings


def build_test_settings(settings: dict[str, Any]) -> Any:
    import mlperf_loadgen as lg

    ts = lg.TestSettings()
    ts.scenario = getattr(lg.TestScenario, settings["scenario"])
    ts.mode = lg.TestMode.AccuracyOnly if settings["mode"] == "accuracy" else lg.TestMode.PerformanceOnly
    ts.min_duration_ms = int(settings["min_duration_ms"])
    ts.max_duration_ms = int(settings.get("max_duration_ms") or 0)
    ts.min_query_count = int(settings["min_query_count"])
    if settings.get("max_query_count"):
        ts.max_query_count = int(settings["max_query_count"])
    expected_ns = max(1, int(settings["expected_latency_ms"] * 1e6))
    ts.single_stream_expected_latency_ns = expected_ns
    ts.multi_stream_expected_latency_ns = expected_ns
    ts.multi_stream_samples_per_query = int(settings["samples_per_query"])
    ts.offline_expected_qps = float(settings["expected_qps"])
    pct = settings["target_latency_percentile"] / 100.0
    ts.single_stream_target_latency_percentile = pct
    ts.multi_stream_target_latency_percentile = pct
    ts.performance_sample_count_override = int(settings["performance_sample_count"])
    return ts


class SampleLibrary:
    """The QSL's memory: the samples LoadGen asked to load, stacked into contiguous float32
    arrays (one per `preload`/`load` call) so that a batch of consecutive samples is a slice of
    memory, not a copy.

    `batch()` returns a view when the samples are consecutive rows (a single sample always is),
    and otherwise gathers them, into the caller's reusable buffer when given one. `offline_plan()`
    orders an Offline query's samples so that (almost) every batch is such a view.

    MultiStream: LoadGen (6.0) loads the performance set as a shuffled list followed by its
    first `samples_per_query - 1` entries again, and every MultiStream query is a window of
    that list. When LoadGen's `load` asks for the preloaded samples, the preloaded chunk is
    put into that order in place (it was allocated with `spare_rows` extra rows for the
    repeated entries), so a MultiStream query is a slice of memory instead of a gathered copy
    of 8 images (≈0.6 ms a query for MobileNetV2's 8 × 602 KB).
    """

    def __init__(
        self, get_sample: Callable[[int], np.ndarray], total: int, performance_count: int, spare_rows: int = 0
    ) -> None:
        self.get_sample = get_sample
        self.total = total
        self.performance_count = performance_count
        self.spare_rows = max(0, spare_rows)
        self._chunks: list[np.ndarray] = []
        #: per chunk, the sample index held by each row (a repeated sample holds several rows)
        self._row_ids: list[list[int]] = []
        #: sample index -> (chunk, row) of its first row; `_key_base` -> one integer per row,
        #: consecutive within a chunk and with a gap between chunks (consecutive keys =
        #: adjacent in memory)
        self._where: dict[int, tuple[int, int]] = {}
        self._key_base: list[int] = []

    def preload(self, indices: range, on_progress: Callable[[float], None] | None = None) -> None:
        self._add(list(indices), on_progress, spare=self.spare_rows)

    def load(self, indices: list[int]) -> None:
        order = list(indices)
        # only MultiStream gains from LoadGen's order (a single sample is always a view, and
        # an Offline plan sorts by memory order): nothing is moved otherwise
        if not (self.spare_rows and self._arrange(order)):
            self._add(order, None)

    def _arrange(self, order: list[int]) -> bool:
        """Lay one chunk out in LoadGen's load order, in place, when `order` is exactly that
        chunk's samples (each once) followed by repeats of its first entries that fit in the
        chunk's spare rows; False (nothing changed) otherwise."""
        if not order or order[0] not in self._where:
            return False
        c = self._where[order[0]][0]
        chunk = self._chunks[c]
        held = {i for i in self._row_ids[c] if i >= 0}
        u = len(held)
        # the chunk's samples, each once (u of them, all distinct), then a repeat of the start
        if len(order) > chunk.shape[0] or set(order[:u]) != held:
            return False
        if order[u:] != order[: len(order) - u]:
            return False
        # target row k <- the sample now at row src[k]: follow the permutation's cycles
        src = [self._where[i][1] for i in order[:u]]
        done = [False] * u
        temp = np.empty_like(chunk[0])
        for start in range(u):
            if done[start] or src[start] == start:
                done[start] = True
                continue
            temp[...] = chunk[start]
            k = start
            while True:
                done[k] = True
                nxt = src[k]
                if nxt == start:
                    chunk[k] = temp
                    break
                chunk[k] = chunk[nxt]
                k = nxt
        for k in range(u, len(order)):
            chunk[k] = chunk[k - u]
        new_ids = list(order) + [-1] * (chunk.shape[0] - len(order))
        self._row_ids[c] = new_ids
        for k, i in enumerate(order[:u]):
            self._where[i] = (c, k)
        return True

    def unload(self, indices: list[int]) -> None:
        """LoadGen unloads between accuracy chunks; keep what fits (we preloaded it)."""

    def _add(self, indices: list[int], on_progress: Callable[[float], None] | None, spare: int = 0) -> None:
        new = [i for i in dict.fromkeys(indices) if i not in self._where]
        n = len(new)
        if n == 0:
            if on_progress:
                on_progress(1.0)
            return
        chunk: np.ndarray | None = None
        for k, i in enumerate(new):
            sample = np.asarray(self.get_sample(i))
            if chunk is None:
                chunk = np.empty((n + spare, *sample.shape), dtype=sample.dtype)
                chunk[n:] = 0
            chunk[k] = sample
            if on_progress and (k % 16 == 0 or k == n - 1):
                on_progress((k + 1) / n)
        assert chunk is not None
        c = len(self._chunks)
        self._key_base.append(self._key_base[-1] + self._chunks[-1].shape[0] + 1 if c else 0)
        self._chunks.append(chunk)
        self._row_ids.append(new + [-1] * spare)
        for k, i in enumerate(new):
            self._where[i] = (c, k)

    def batch(self, indices: list[int], out: np.ndarray | None = None) -> np.ndarray:
        """The samples as one (N, ...) array: a view of the library when they are consecutive
        rows, else a gathered copy (into `out[:N]` when `out` has room: a buffer reused across
        synchronous calls costs no allocation or page faults per query)."""
        where = self._where
        c0, r0 = where[indices[0]]
        n = len(indices)
        chunk = self._chunks[c0]
        if n == 1:
            return chunk[r0 : r0 + 1]
        if self._row_ids[c0][r0 : r0 + n] == indices:
            return chunk[r0 : r0 + n]
        places = [where[i] for i in indices]
        dst = out[:n] if out is not None and out.shape[0] >= n else np.empty((n, *chunk.shape[1:]), chunk.dtype)
        for k, (c, r) in enumerate(places):
            dst[k] = self._chunks[c][r]
        return dst

    def gather_buffer(self, n: int) -> np.ndarray:
        """A reusable (n, ...) buffer for `batch(..., out=)`, touched now (no page faults later)."""
        shape = self._chunks[0].shape[1:] if self._chunks else (0,)
        dtype = self._chunks[0].dtype if self._chunks else np.float32
        return np.zeros((n, *shape), dtype)

    def offline_plan(self, indices: list[int], size: int) -> list[list[int]]:
        """Positions into `indices`, grouped into batches of at most `size`, ordered so that each
        batch is a run of consecutive rows wherever the query allows: `batch()` then returns a
        view. LoadGen's Offline query repeats every loaded sample the same number of times in
        a shuffled order; taken layer by layer (each sample once, in memory order), every full
        batch is a slice. What cannot form a run is batched afterwards (and gathered)."""
        n = len(indices)
        if n == 0:
            return []
        keys = np.fromiter(
            (self._key_base[c] + r for c, r in map(self._where.__getitem__, indices)), dtype=np.int64, count=n
        )
        by_key = np.argsort(keys, kind="stable")
        sorted_keys = keys[by_key]
        layer = np.arange(n) - np.searchsorted(sorted_keys, sorted_keys, side="left")
        order = by_key[np.lexsort((sorted_keys, layer))]
        ordered = keys[order]
        # runs: maximal stretches of consecutive keys (a new layer starts a new run)
        breaks = np.flatnonzero(np.diff(ordered) != 1) + 1
        starts = np.concatenate(([0], breaks))
        ends = np.concatenate((breaks, [n]))
        plan: list[list[int]] = []
        rest: list[int] = []
        positions = order.tolist()
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            full = s + (e - s) // size * size
            plan.extend(positions[b : b + size] for b in range(s, full, size))
            rest.extend(positions[full:e])
        plan.extend(rest[b : b + size] for b in range(0, len(rest), size))
        return plan


@dataclass
class SutState:
    """What the runner reads from the SUT after (or during) a run."""

    error: BaseException | None = None
    logits: dict[int, np.ndarray] = field(default_factory=dict)
    last_activity: float = field(default_factory=time.monotonic)


class Sut:
    """A LoadGen system under test around a backend's `predict`.

    SingleStream completes inline in `issue_queries` (a thread hand-off costs ≈40 µs a query);
    MultiStream predicts the query's samples as one batch (a slice of the library, laid out in
    LoadGen's load order; gathered into a reused buffer only when a query is not a window of
    it); Offline predicts batches of
    `batch_size` (slices of the library, in memory order) and completes each as it finishes.
    Per query, qtui's own work is O(samples in the query): no copy of a single sample, no
    allocation for a gathered batch, one append to the recorder. Every completion goes through one gate
    (`_take`) so that an id is completed exactly once, whether by the SUT, by `drain()` on
    cancel, or by the watchdog.
    """

    def __init__(
        self,
        predict: Callable[[np.ndarray], np.ndarray],
        predict_stream: Callable[[Any, Callable[[Any, np.ndarray], None]], None],
        qsl: SampleLibrary,
        recorder: LatencyRecorder,
        scenario: str,
        accuracy: bool,
        batch_size: int,
    ) -> None:
        self.predict = predict
        self.predict_stream = predict_stream
        self.qsl = qsl
        self.recorder = recorder
        self.scenario = scenario
        self.accuracy = accuracy
        self.batch_size = max(1, batch_size)
        self.state = SutState()
        self._lock = threading.Lock()
        self._pending: dict[int, int] = {}
        self._draining = False
        self._gather: np.ndarray | None = None
        import mlperf_loadgen as lg

        self._lg = lg

    # -- completion gate -------------------------------------------------------------------
    def _register(self, samples: list[Any]) -> bool:
        """Track new query samples; returns False when draining (they were completed at once)."""
        with self._lock:
            if not self._draining:
                for s in samples:
                    self._pending[s.id] = s.index
                self.state.last_activity = time.monotonic()
                return True
        # LoadGen still issuing (a long run's schedule drains at its own pace): not stuck
        self.state.last_activity = time.monotonic()
        self._lg.QuerySamplesComplete([self._lg.QuerySampleResponse(s.id, 0, 0) for s in samples])
        return False

    def _take(self, ids: list[int]) -> list[int]:
        with self._lock:
            taken = [i for i in ids if self._pending.pop(i, None) is not None]
            self.state.last_activity = time.monotonic()
            return taken

    def _complete(self, samples: list[Any], logits: np.ndarray | None, start: int | None = None) -> None:
        """Complete `samples` (those not completed yet) and record the latency from `start` to
        just before LoadGen is told; the recorder is fed after LoadGen has the completion,
        outside its timed span."""
        ids = self._take([s.id for s in samples])
        if not ids:
            return
        lg = self._lg
        buffers = []
        if not self.accuracy or logits is None:
            responses = [lg.QuerySampleResponse(i, 0, 0) for i in ids]
        else:
            keep = set(ids)
            responses = []
            for s, row in zip(samples, logits, strict=True):
                if s.id not in keep:
                    continue
                self.state.logits[s.index] = row.astype(np.float32, copy=True)
                buf = array.array("f", [float(np.argmax(row))])
                buffers.append(buf)  # keeps the memory alive until LoadGen has copied it
                addr, n = buf.buffer_info()
                responses.append(lg.QuerySampleResponse(s.id, addr, n * buf.itemsize))
        end = time.perf_counter_ns()
        lg.QuerySamplesComplete(responses)
        if start is not None:
            self.recorder.record(end - start, len(ids))

    def drain(self) -> int:
        """Complete every outstanding query now and every later one on arrival (cancel)."""
        with self._lock:
            self._draining = True
            ids = list(self._pending)
            self._pending.clear()
        if ids:
            self._lg.QuerySamplesComplete([self._lg.QuerySampleResponse(i, 0, 0) for i in ids])
        return len(ids)

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- LoadGen callbacks -----------------------------------------------------------------
    def issue_queries(self, samples: list[Any]) -> None:
        # An exception escaping here aborts the process: catch everything, fail the run, drain.
        start = time.perf_counter_ns()
        try:
            if not self._register(samples):
                return
            if self.scenario == "Offline":
                self._run_offline(samples)
            else:
                self._run_batch(samples, start)
        except BaseException as exc:  # noqa: BLE001 - must never propagate into LoadGen
            if self.state.error is None:
                self.state.error = exc
            self.drain()

    def _run_batch(self, samples: list[Any], start: int) -> None:
        """SingleStream / MultiStream: the query's samples as one batch (one sample: a view of
        the library; several: gathered into a buffer reused by every query, since `predict` is
        synchronous), predicted and completed here."""
        if len(samples) == 1:
            batch = self.qsl.batch([samples[0].index])
        else:
            if self._gather is None or self._gather.shape[0] < len(samples):
                self._gather = self.qsl.gather_buffer(len(samples))
            batch = self.qsl.batch([s.index for s in samples], out=self._gather)
        logits = self.predict(batch)
        self._complete(samples, logits, start)

    def _run_offline(self, samples: list[Any]) -> None:
        """Batches of `batch_size`, each completed (and timed) as soon as it is predicted. The
        samples are batched in the library's memory order (`SampleLibrary.offline_plan`), so a
        batch is a slice of the preloaded samples rather than a copy; each batch handed to
        `predict_stream` is its own array (a runtime may still read it after the next one)."""
        plan = self.qsl.offline_plan([s.index for s in samples], self.batch_size)
        starts: dict[int, int] = {}

        def batches() -> Any:
            for key, positions in enumerate(plan):
                if self._draining:
                    return
                batch = self.qsl.batch([samples[p].index for p in positions])
                starts[key] = time.perf_counter_ns()
                yield key, batch

        def on_result(key: int, logits: np.ndarray) -> None:
            self._complete([samples[p] for p in plan[key]], logits, starts.pop(key, None))

        self.predict_stream(batches(), on_result)

    def flush_queries(self) -> None:
        """Nothing is buffered: every query is completed as soon as it is computed."""


#: The files LoadGen opens in its log folder at the start of every test (the trace even when
#: tracing is off).
LOG_FILES = ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json", "mlperf_log_trace.json")


class LogDirError(Exception):
    """LoadGen's log folder cannot take its logs: LoadGen was not started (it would crash)."""


def check_log_dir(log_dir: Path) -> None:
    """Raise LogDirError unless LoadGen can write its logs in `log_dir`: a probe file really
    created and removed there (permission bits do not stop root; a read-only mount or a full
    disk only shows on writing), and each of LoadGen's log files absent or a regular file."""
    where = f"LoadGen cannot write its logs in {log_dir}"
    try:
        probe_write(log_dir)
    except OSError as exc:
        raise LogDirError(f"{where}: {exc.strerror or exc}") from None
    for name in LOG_FILES:
        try:
            info = os.lstat(log_dir / name)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise LogDirError(f"{where}: {name}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(info.st_mode):
            raise LogDirError(f"{where}: {name} is there and is not a regular file")


def run_loadgen(
    sut: Sut, qsl: SampleLibrary, settings: dict[str, Any], log_dir: Path
) -> None:
    """Construct LoadGen's SUT/QSL and run the test (blocks; call from a dedicated thread).
    Raises LogDirError, before LoadGen starts, when its logs cannot be written in `log_dir`."""
    import mlperf_loadgen as lg

    log_dir.mkdir(parents=True, exist_ok=True)
    check_log_dir(log_dir)
    out = lg.LogOutputSettings()
    out.outdir = str(log_dir)
    out.copy_summary_to_stdout = False
    log_settings = lg.LogSettings()
    log_settings.log_output = out
    log_settings.enable_trace = False
    ts = build_test_settings(settings)
    lg_sut = lg.ConstructSUT(sut.issue_queries, sut.flush_queries)
    lg_qsl = lg.ConstructQSL(qsl.total, qsl.performance_count, qsl.load, qsl.unload)
    # A runtime returns from its computation needing the GIL back; while another thread runs
    # Python (the UI painting), it would wait up to the switch interval (5 ms by default) on
    # the timed path. A shorter interval for the run bounds that wait.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(min(switch, SWITCH_INTERVAL_S))
    try:
        # A path that does not exist: never pick up a stray audit.config from the cwd.
        lg.StartTestWithLogSettings(lg_sut, lg_qsl, ts, log_settings, str(log_dir / "no-audit.config"))
    finally:
        sys.setswitchinterval(switch)
        lg.DestroyQSL(lg_qsl)
        lg.DestroySUT(lg_sut)
