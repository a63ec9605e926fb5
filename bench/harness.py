"""The harness ratio, measured so that it can be believed: for one model × framework × precision ×
scenario, passes alternate a full `qtui` run (the runner, LoadGen, the SUT, the recorder and its
reporter thread: what a user runs) with the runtime's raw loop (bench/raw.py) on the same
artifact, threads and samples: half of the raw work before the qtui run and half after it, so
that the machine's drift falls on both sides alike. Each pass gives one ratio:

  Offline       qtui throughput ÷ raw throughput        goal ≥ 0.97 (LoadGen's samples/s)
  SingleStream  qtui p90 latency ÷ raw p90 latency      goal ≤ 1.03 (LoadGen's p90)
  MultiStream   qtui p99 latency ÷ raw p99 latency      goal ≤ 1.03 (LoadGen's p99, 8 samples)

and the line's verdict comes from the median ratio's 95 % bootstrap interval over passes
(bench/stats.py). Every pass is printed with the load the machine was under meanwhile.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from raw import WARMUP_SECONDS, raw_latencies, raw_offline
from stats import Goal, LoadMeter

from qtui.core.backends import Backend
from qtui.core.data import open_dataset
from qtui.core.latency import exact_percentiles
from qtui.core.profile import DatasetSpec, LoadGenSpec, RunProfile
from qtui.core.runner import RunOptions, prepare_only, run

T = TypeVar("T")

GOALS = {"Offline": (0.97, True), "SingleStream": (1.03, False), "MultiStream": (1.03, False)}
PERCENTILE = {"SingleStream": ("p90", "90.00"), "MultiStream": ("p99", "99.00")}
#: Samples loaded by both sides (LoadGen's performance sample count; the raw loop's set).
SAMPLES = 64
MS_SAMPLES_PER_QUERY = 8


def in_fresh_thread(fn: Callable[..., T], *args: Any) -> T:
    """Call fn(*args) in a new thread and return its value.

    Every measurement runs in its own short-lived thread, as qtui's runs do (`qtui run` and the
    UI run in worker threads). It matters for PyTorch: with libgomp, a thread that computes while
    another thread's OpenMP team is still alive (e.g. the main thread's, after it ran torch once)
    gets 2-4x slower on a 2-core machine, because libgomp stops spin-waiting when it manages more
    threads than there are CPUs. A thread's team goes away when the thread ends."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    worker = threading.Thread(target=work, name="bench-measure")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


@dataclass(frozen=True)
class Line:
    model: str
    framework: str
    precision: str
    scenario: str

    @property
    def name(self) -> str:
        return f"{self.model} {self.framework} {self.precision} {self.scenario}"


@dataclass
class Config:
    threads: int
    batch: int = 8
    #: Seconds of measured work per side and pass (query counts follow from the warm-up speed).
    seconds: float = 2.5
    min_passes: int = 5
    max_passes: int = 15
    results_root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="qtui-bench-")))


@dataclass
class Measured:
    line: Line
    goal: Goal
    qtui: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    other_cores: list[float] = field(default_factory=list)
    p50_ratios: list[float] = field(default_factory=list)
    #: SingleStream/MultiStream, per pass: LoadGen's percentile ÷ the same percentile of the
    #: runtime's own predict calls inside the same run, and LoadGen's mean latency − the mean
    #: predict call (µs): qtui's and LoadGen's own path, free of the drift between passes.
    in_run_ratios: list[float] = field(default_factory=list)
    in_run_us: list[float] = field(default_factory=list)
    units: str = ""
    count: int = 0
    seconds: float = 0.0
    error: str | None = None


def base_profile(line: Line, cfg: Config, warmup_queries: int = 16) -> RunProfile:
    return RunProfile(
        name="bench",
        model=line.model,
        framework=line.framework,
        precision=line.precision,
        threads=cfg.threads,
        batch_size=cfg.batch,
        warmup_queries=warmup_queries,
        dataset=DatasetSpec(count=256, performance_sample_count=SAMPLES),
    )


_SAMPLES: dict[int, np.ndarray] = {}


def samples() -> np.ndarray:
    """The first SAMPLES synthetic images, stacked: what qtui's library loads for these runs."""
    if SAMPLES not in _SAMPLES:
        _SAMPLES[SAMPLES] = np.ascontiguousarray(open_dataset("synthetic", 256).get_batch(list(range(SAMPLES))))
    return _SAMPLES[SAMPLES]


def prepare(line: Line, cfg: Config) -> Any:
    artifact, _ = in_fresh_thread(prepare_only, base_profile(line, cfg))
    return artifact


def size_count(line: Line, cfg: Config, artifact: Any) -> int:
    """Queries (SingleStream/MultiStream) or samples (Offline) for about `cfg.seconds` of work,
    from a short raw timing."""
    per_query = {"SingleStream": 1, "MultiStream": MS_SAMPLES_PER_QUERY, "Offline": cfg.batch}[line.scenario]
    lat = in_fresh_thread(
        raw_latencies, line.framework, artifact, cfg.threads, samples(), per_query, 8,
        "Offline" if line.scenario == "Offline" else line.scenario,
    )
    seconds_per_query = float(np.median(lat)) / 1e9
    m_warm = int(np.ceil(WARMUP_SECONDS / max(seconds_per_query, 1e-6)))
    _WARMUP[line] = max(16, min(2000, m_warm))
    if line.scenario == "Offline":
        n = int(cfg.seconds / seconds_per_query) * cfg.batch
        return max(SAMPLES * 2, min(8192, n // SAMPLES * SAMPLES))
    n = int(cfg.seconds / seconds_per_query)
    return max(100, min(2000, n)) if line.scenario == "SingleStream" else max(100, min(662, n))


class _PredictTimer:
    """Wraps a run's backend and times every `predict` call (the runtime's own work), so that a
    run's latencies can be set against the runtime's time inside the same run."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.max_batch = inner.max_batch
        self.durations_ns: list[int] = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        t = time.perf_counter_ns()
        out = self.inner.predict(batch)
        self.durations_ns.append(time.perf_counter_ns() - t)
        return out

    def predict_stream(self, batches: Any, on_result: Callable[[Any, np.ndarray], None]) -> None:
        """Offline: a synchronous runtime's batches go through the timed `predict` (an
        asynchronous queue, OpenVINO's, cannot be timed call by call: left as it is)."""
        if self.inner.async_stream:
            self.inner.predict_stream(batches, on_result)
        else:  # the base class's loop, calling this timer's predict
            Backend.predict_stream(self, batches, on_result)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class QtuiPass:
    figure: float
    p50_ms: float
    #: LoadGen's percentile ÷ the predict calls' (None for Offline or when calls ≠ queries).
    in_run_ratio: float | None = None
    in_run_us: float | None = None


#: Warm-up queries of a line's qtui runs: about WARMUP_SECONDS of work, as the raw loop's.
_WARMUP: dict[Line, int] = {}


def qtui_pass(line: Line, cfg: Config, count: int) -> QtuiPass:
    """The scenario figure and p50 of one qtui run, and for SingleStream/MultiStream the in-run
    comparison with the runtime's own predict calls during LoadGen (those after the warm-up's:
    one call per query, else no comparison)."""
    warmup = _WARMUP.get(line, 16)
    base = base_profile(line, cfg, warmup)
    lg = LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=count)
    if line.scenario == "MultiStream":
        lg = LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=count,
                         samples_per_query=MS_SAMPLES_PER_QUERY)
    profile = replace(base, scenario=line.scenario, loadgen=lg)
    timers: list[_PredictTimer] = []

    def wrap(backend: Any) -> _PredictTimer:
        timers.append(_PredictTimer(backend))
        return timers[-1]

    options = RunOptions(results_root=cfg.results_root, wrap_backend=wrap)
    result = in_fresh_thread(run, profile, None, None, options)
    if result.status not in ("ok", "invalid"):
        raise RuntimeError(f"qtui run {result.run_id} ended {result.status}: {result.message}")
    figures = result.loadgen
    if line.scenario == "Offline":
        rate = float(figures["samples_per_second"])
        out = QtuiPass(rate, float(figures["percentiles_ms"].get("50.00", 0.0)))
        # the LoadGen run's batches are the last samples/batch calls (each a full batch: the
        # count is a multiple of the library's 64 samples); their summed time is the runtime's
        # own, so LoadGen's rate ÷ the calls' rate is the share of the run spent in the runtime
        n_samples = int(result.throughput.get("samples") or 0)
        calls = timers[0].durations_ns if timers else []
        n_calls = n_samples // cfg.batch
        if n_samples and n_samples % cfg.batch == 0 and len(calls) > n_calls:
            inside_s = sum(calls[-n_calls:]) / 1e9
            out.in_run_ratio = rate / (n_samples / inside_s)
            out.in_run_us = (n_samples / rate - inside_s) / n_calls * 1e6  # per batch outside predict
        return out
    key, lg_key = PERCENTILE[line.scenario]
    figure = float(figures["percentiles_ms"][lg_key])
    out = QtuiPass(figure, float(figures["percentiles_ms"]["50.00"]))
    queries = int(result.throughput.get("queries") or 0)
    calls = timers[0].durations_ns if timers else []
    # the warm-up makes max(2, warmup) calls first; a query split into several calls (a model
    # with a fixed batch) cannot be compared call for call
    if queries and len(calls) - max(2, warmup) == queries:
        inside = np.asarray(calls[-queries:], dtype=np.int64)
        out.in_run_ratio = figure / exact_percentiles(inside)[key]
        mean_ms = figures.get("mean_latency_ms")
        if mean_ms:
            out.in_run_us = (float(mean_ms) - float(inside.mean()) / 1e6) * 1000
    return out


@dataclass
class RawHalf:
    """One half of a pass's raw side: latencies (ns) or (samples, seconds) for Offline."""

    latencies: np.ndarray | None = None
    samples: int = 0
    seconds: float = 0.0


def raw_half(line: Line, cfg: Config, artifact: Any, count: int) -> RawHalf:
    """The raw loop on half of the pass's work (`count` queries, or samples for Offline)."""
    if line.scenario == "Offline":
        total = max(cfg.batch, count // cfg.batch * cfg.batch)
        rate = in_fresh_thread(raw_offline, line.framework, artifact, cfg.threads, samples(), cfg.batch, total)
        return RawHalf(samples=total, seconds=total / rate)
    per_query = 1 if line.scenario == "SingleStream" else MS_SAMPLES_PER_QUERY
    lat = in_fresh_thread(raw_latencies, line.framework, artifact, cfg.threads, samples(), per_query, count, line.scenario)
    return RawHalf(latencies=lat)


def raw_figures(line: Line, halves: list[RawHalf]) -> tuple[float, float]:
    """(scenario figure, p50 ms) of the raw side from its halves: Offline samples/s over both
    halves' time; otherwise the percentile of both halves' latencies together."""
    if line.scenario == "Offline":
        return sum(h.samples for h in halves) / sum(h.seconds for h in halves), 0.0
    lat = np.concatenate([h.latencies for h in halves if h.latencies is not None])
    pct = exact_percentiles(lat)
    return pct[PERCENTILE[line.scenario][0]], pct["p50"]


def raw_pass(line: Line, cfg: Config, artifact: Any, count: int) -> tuple[float, float]:
    """The raw loop on a pass's whole work in one go."""
    return raw_figures(line, [raw_half(line, cfg, artifact, count)])


def one_pass(m: Measured, cfg: Config, artifact: Any, printer: Callable[[str], None] = print) -> None:
    """One pass, raw – qtui – raw: the raw loop does half of the work before the qtui run and
    half after it, so that a drift of the machine's speed during the pass (measured here: a
    runtime's p50 moving by 30 % from one pass to the next on a shared machine) falls on both
    sides alike instead of on whichever side ran second."""
    k = len(m.goal.ratios)
    meter = LoadMeter().start()
    t = time.monotonic()
    first_half = max(1, m.count // 2)
    before = raw_half(m.line, cfg, artifact, first_half)
    qp = qtui_pass(m.line, cfg, m.count)
    after = raw_half(m.line, cfg, artifact, max(1, m.count - first_half))
    r, r50 = raw_figures(m.line, [before, after])
    q, q50 = qp.figure, qp.p50_ms
    if qp.in_run_ratio is not None:
        m.in_run_ratios.append(qp.in_run_ratio)
    if qp.in_run_us is not None:
        m.in_run_us.append(qp.in_run_us)
    meter.stop()
    m.seconds += time.monotonic() - t
    m.qtui.append(q)
    m.raw.append(r)
    m.goal.add(q / r)
    if m.line.scenario != "Offline" and r50 > 0:
        m.p50_ratios.append(q50 / r50)
    m.other_cores.append(meter.other_cores if meter.other_cores is not None else float("nan"))
    unit = "samples/s" if m.line.scenario == "Offline" else f"ms {PERCENTILE[m.line.scenario][0]}"
    first = "raw→qtui→raw"
    in_run = ""
    if qp.in_run_ratio is not None:
        in_run = f"  in-run {qp.in_run_ratio:.3f}"
        if qp.in_run_us is not None:
            in_run += f" ({qp.in_run_us:+.0f} µs/{'batch' if m.line.scenario == 'Offline' else 'query'})"
    printer(
        f"  pass {k + 1:>2} ({first}, {time.monotonic() - t:.0f} s): qtui {q:.3f} raw {r:.3f} {unit}  "
        f"ratio {q / r:.3f}{in_run}  | {meter.text()}"
    )


def new_measured(line: Line, cfg: Config, artifact: Any) -> Measured:
    goal, higher = GOALS[line.scenario]
    label = "throughput" if line.scenario == "Offline" else f"{PERCENTILE[line.scenario][0]} latency"
    m = Measured(line, Goal(f"{line.name} {label} qtui/raw", goal, higher, cfg.min_passes))
    m.count = size_count(line, cfg, artifact)
    m.units = "samples" if line.scenario == "Offline" else "queries"
    return m


def measure_lines(lines: list[Line], cfg: Config, budget_s: float, printer: Callable[[str], None] = print) -> list[Measured]:
    """Passes go round robin over the lines (pass 1 of every line, then pass 2, …), so slow
    changes in the machine's load spread over all lines alike. Every line gets
    `cfg.min_passes`, then the undecided ones more, up to `cfg.max_passes`, while time is left
    in `budget_s`; a pass that would end after the deadline is not started (the line then
    stays undecided with the passes it has)."""
    deadline = time.monotonic() + budget_s
    measured: list[tuple[Measured, Any]] = []
    for line in lines:
        try:
            artifact = prepare(line, cfg)
            m = new_measured(line, cfg, artifact)
        except Exception as exc:  # noqa: BLE001 - one line failing must not lose the others
            goal, higher = GOALS[line.scenario]
            m, artifact = Measured(line, Goal(line.name, goal, higher, cfg.min_passes), error=repr(exc)[:300]), None
            printer(f"{line.name}: FAILED before measuring: {m.error}")
        else:
            printer(f"{line.name}: {m.count} {m.units} a run")
        measured.append((m, artifact))
    rounds = 0
    while True:
        rounds += 1
        todo = [
            (m, a) for m, a in measured
            if m.error is None
            and len(m.goal.ratios) < cfg.min_passes or (not m.goal.decided and len(m.goal.ratios) < cfg.max_passes)
        ]
        started = 0
        for m, artifact in todo:
            per_pass = m.seconds / len(m.goal.ratios) if m.goal.ratios else 0.0
            if time.monotonic() + per_pass > deadline:
                continue
            printer(f"{m.line.name}:")
            try:
                one_pass(m, cfg, artifact, printer)
            except Exception as exc:  # noqa: BLE001 - report it, keep the other lines going
                m.error = repr(exc)[:300]
                printer(f"  FAILED: {m.error}")
            started += 1
            if len(m.goal.ratios) >= cfg.min_passes:
                printer(f"  → {m.goal.line()}")
        if not todo or started == 0:
            break
    return [m for m, _ in measured]
