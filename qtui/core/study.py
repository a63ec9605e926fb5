"""Studies: a profile's models × frameworks × precisions × scenarios (its `[sweep]`, any subset),
each measured `repeats` times, prepared first and measured second, resumable.

- **Prepare first.** Every artifact is prepared (or found in the cache, or imported from a
  bundle) before the first measurement, so a preparation failure shows before an hour of
  measuring, and a Pi can import one bundle with all of them.
- **Resumable.** What is done is read from the results folder, not from a state file: a cell
  needs `repeats` completed runs (status ok or invalid: LoadGen finished) whose exact measured
  profile, artifact, machine, framework version and threads match, and that were not disturbed
  (other processes' load, throttling: such a run is measured again, its file kept). Killed, rebooted or disconnected, the same command measures only
  what is missing; the run that was interrupted left no completed result, so it is the only one
  repeated. `force` measures every cell `repeats` times again.
- **Quality before speed.** Unless `[study] quality = false`, each distinct artifact (model ×
  framework × precision) gets one accuracy-mode run after preparing — fidelity against FP32
  PyTorch, or top-1 with labelled data — so `recommend` can judge quality and a quantization
  that wrecks the output shows before the long measuring. Resumed like the rest: an `ok`
  accuracy run of the same artifact on this machine (any scenario) counts.
- **One study at a time per results folder.** A second study on the same folder is refused
  before any work (`StudyLockError`, naming the first one's pid): both would measure the same
  missing cells, each disturbed by the other. The lock is an `flock` on `.qtui-study.lock` in
  the folder, which the kernel releases when its process dies (even by SIGKILL).
- **Edge conditions.** Between runs, where the CPU has a temperature sensor and a cooldown is set
  (by default on a Raspberry Pi), wait until it is below the limit; every run records throttling
  evidence itself (see the runner).

`run_study` reports through `on_event` with `StudyStep` events beside each run's own events.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtui.core import events as ev
from qtui.core.identity import machine_identity, measured_identity, runtime_identity
from qtui.core.model_source import model_matches
from qtui.core.profile import RunProfile, StudySpec, expand_sweep
from qtui.core.results import RunResult, _as_number, load_results, measurement_disturbed
from qtui.core.stats import Estimate, Pooled
from qtui.core.text import one_line, plural
from qtui.core.threads import Cancelled

#: Results that count as a measurement of their cell (LoadGen finished the run).
COMPLETED = ("ok", "invalid")
#: Adaptive repeats: a cell whose 95 % interval spans at most this fraction of its median stops
#: (it also stops once as narrow as the fixed study's: `fixed_study_width`).
DEFAULT_TARGET_WIDTH = 0.05


@dataclass(frozen=True)
class StudyOptions:
    """How to run a study: which subset, how many repeats, where results go."""

    #: None: the profile's `[study] repeats` (1 without it)
    repeats: int | None = None
    force: bool = False
    models: tuple[str, ...] = ()
    frameworks: tuple[str, ...] = ()
    precisions: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    #: (framework, precision) pairs, or (model, framework, precision) triples, left out (e.g.
    #: those that cannot run here: a built-in's cell without torch, which a user's ONNX file fills)
    skip: tuple[tuple[str, ...], ...] = ()
    results_root: Path | None = None
    #: None: the profile's `device` label
    device: str | None = None
    #: wait before each run until the CPU is below this (°C); None: the profile's `[study]`
    #: value, else 60 °C on a Raspberry Pi and no wait elsewhere; 0 disables it
    cooldown_below_c: float | None = None
    #: None: the profile's `[study]` value (300 s)
    cooldown_max_wait_s: float | None = None
    #: one accuracy-mode run per artifact before measuring; None: the profile's `[study]` value
    quality: bool | None = None
    #: how the caller measures reused runs again, said where the study reuses them (the CLI's
    #: flag); "" when the caller has no way (the TUI)
    again_hint: str = "use --force to measure again"
    #: adaptive repeats (see `_Study.measure_adaptive`); None: the profile's `[study]` values
    min_repeats: int | None = None
    target_width: float | None = None

    @property
    def adaptive(self) -> bool:
        """Whether cells stop between `min_repeats` and `repeats` by their interval's width."""
        return self.min_repeats is not None and self.min_repeats < (self.repeats or 1)

    def resolved(self, profile: RunProfile) -> StudyOptions:
        """These options with what they leave unset taken from the profile's `[study]` and
        `device`."""
        from dataclasses import replace

        spec = profile.study or StudySpec()
        return replace(
            self,
            repeats=self.repeats if self.repeats is not None else spec.repeats,
            device=self.device if self.device is not None else profile.device,
            cooldown_below_c=(
                self.cooldown_below_c if self.cooldown_below_c is not None else spec.cooldown_below_c
            ),
            cooldown_max_wait_s=(
                self.cooldown_max_wait_s
                if self.cooldown_max_wait_s is not None
                else spec.cooldown_max_wait_s
            ),
            quality=self.quality if self.quality is not None else spec.quality,
            min_repeats=self.min_repeats if self.min_repeats is not None else spec.min_repeats,
            target_width=(
                self.target_width if self.target_width is not None
                else spec.target_width if spec.target_width is not None else DEFAULT_TARGET_WIDTH
            ),
        )


def _model_label(model: str) -> str:
    """A model in progress lines: a built-in's id, the user's model file by its name (never its
    folder)."""
    from qtui.core.model_source import model_label

    return model_label(model)


@dataclass
class CellStatus:
    """One combination of the study and its measured runs."""

    profile: RunProfile
    artifact_key: str | None = None
    prepare_error: str | None = None
    run_ids: list[str] = field(default_factory=list)
    reused: int = 0  # completed runs found from before

    @property
    def label(self) -> str:
        p = self.profile
        return f"{_model_label(p.model)} {p.framework} {p.precision} {p.scenario}"


@dataclass
class StudyReport:
    """What a study did: its cells, and the time spent preparing and measuring."""

    cells: list[CellStatus]
    prepare_s: float = 0.0
    measure_s: float = 0.0
    runs_done: int = 0
    runs_failed: int = 0
    cancelled: bool = False
    results: list[RunResult] = field(default_factory=list)
    #: the accuracy-mode runs that judge each artifact's quality (this time's and earlier ones)
    quality_results: list[RunResult] = field(default_factory=list)
    quality_s: float = 0.0
    quality_done: int = 0
    quality_reused: int = 0
    quality_failed: int = 0
    #: the runs this study made (quality checks and measurements, in order), none it reused
    ran: list[RunResult] = field(default_factory=list)
    #: runs (measurements and quality checks) that finished but could not be saved (a full
    #: disk, a folder made read-only): counted as failed, their figures exist only here
    unsaved: list[RunResult] = field(default_factory=list)

    def is_unsaved(self, result: RunResult) -> bool:
        return any(r is result for r in self.unsaved)

    @property
    def prepare_failures(self) -> list[CellStatus]:
        return [c for c in self.cells if c.prepare_error]


def plan(profile: RunProfile, options: StudyOptions) -> list[RunProfile]:
    """The study's cells: the `[sweep]` combinations (or the profile itself), narrowed by the
    options' filters, ordered by model, scenario, framework, then precision with FP32 first (so
    speed-ups have their baseline as early as possible)."""
    from qtui.core.profile import PRECISIONS

    cells = [
        p
        for p in expand_sweep(profile)
        if (not options.models or any(model_matches(p.model, m) for m in options.models))
        and (not options.frameworks or p.framework in options.frameworks)
        and (not options.precisions or p.precision in options.precisions)
        and (not options.scenarios or p.scenario in options.scenarios)
        and (p.framework, p.precision) not in options.skip
        and (p.model, p.framework, p.precision) not in options.skip
    ]
    return sorted(
        cells, key=lambda p: (p.model, p.scenario, p.framework, PRECISIONS.index(p.precision))
    )


def completed_runs(
    cell: RunProfile,
    artifact_key: str | None,
    machine: tuple[Any, ...],
    pool: Iterable[RunResult],
    here: dict[str, Any] | None = None,
) -> list[RunResult]:
    """Completed results in `pool` that this cell would measure itself: its exact measured profile
    (LoadGen settings, weights, data, threads, mode, …; not its name: an identical run made by
    another profile is the same measurement), artifact and machine, and — with `here`, this
    machine's environment — the same architecture, framework version and threads used. A run that
    was disturbed (other processes' load, throttling: `results.measurement_disturbed`) is never
    one: the study measures it again (its file stays)."""
    wanted = measured_identity(cell)
    runtime = None
    if here is not None:
        threads = cell.threads or os.cpu_count() or 1  # as the runner resolves `threads = 0`
        runtime = runtime_identity({**here, "threads": threads}, cell.framework, threads)
    return [
        r
        for r in pool
        if r.status in COMPLETED
        and r.profile.mode == cell.mode
        and measured_identity(r.profile) == wanted
        and (artifact_key is None or r.artifact.get("key") == artifact_key)
        and machine_identity(r.environment) == machine
        and (runtime is None or runtime_identity(r.environment, cell.framework, cell.threads) == runtime)
        and not measurement_disturbed(r)
    ]


def quality_runs_done(
    cell: RunProfile, artifact_key: str | None, machine: tuple[Any, ...], pool: Iterable[RunResult]
) -> list[RunResult]:
    """`ok` accuracy-mode results in `pool` of this cell's artifact on this machine: its profile
    but for mode and scenario (accuracy does not depend on the scenario)."""
    def identity(p: RunProfile) -> dict[str, Any]:
        data = measured_identity(p)
        data.pop("mode", None)
        data.pop("scenario", None)
        return data

    wanted = identity(cell)
    return [
        r
        for r in pool
        if r.status == "ok"
        and r.profile.mode == "accuracy"
        and identity(r.profile) == wanted
        and (artifact_key is None or r.artifact.get("key") == artifact_key)
        and machine_identity(r.environment) == machine
    ]


def quality_cells(cells: list[CellStatus]) -> list[CellStatus]:
    """One accuracy-mode cell per distinct prepared artifact of a performance study (the first
    cell that uses it, mode switched to accuracy)."""
    from dataclasses import replace

    seen: set[tuple[Any, ...]] = set()
    out = []
    for cell in cells:
        p = cell.profile
        if cell.prepare_error or p.mode != "performance":
            continue
        key = (p.model, p.framework, p.precision, cell.artifact_key)
        if key in seen:
            continue
        seen.add(key)
        out.append(CellStatus(replace(p, mode="accuracy"), artifact_key=cell.artifact_key))
    return out


def expected_loadgen_s(profile: RunProfile, samples_per_s: float) -> float:
    """Seconds LoadGen should take to run `profile` on an artifact that processes
    `samples_per_s` (its quality run's rate), by LoadGen's stopping rule (`schedule`): a quick
    MultiStream run is 662 queries of 8 images, minutes at 20 images/s; Offline's one query is
    sized for about 2 s; SingleStream stops after 2 s and 64 queries."""
    from qtui.core.loadgen import query_size, resolve_settings
    from qtui.core.schedule import expected_samples, stop_rule

    query_s = query_size(profile) / samples_per_s
    settings = resolve_settings(profile, profile.dataset.performance_sample_count, measured_batch_s=query_s)
    seconds = expected_samples(settings, query_s) / samples_per_s
    max_duration_s = stop_rule(settings).max_duration_s
    return min(seconds, max_duration_s) if max_duration_s else seconds


def earlier_run_seconds(
    profiles: list[RunProfile], pool: Iterable[RunResult], machine: tuple[Any, ...]
) -> tuple[float, int]:
    """How long running `profiles` once each should take, from earlier completed runs of the
    same measurement on this machine (the median of each one's recorded stage times): (seconds
    for those that ran before, how many never ran here)."""
    pool = list(pool)
    total, unknown = 0.0, 0
    for p in profiles:
        spans = sorted(
            sum(v for v in r.timings_s.values() if _positive(v) is not None)
            for r in completed_runs(p, None, machine, pool)
        )
        spans = [s for s in spans if s > 0]
        if spans:
            total += spans[len(spans) // 2]
        else:
            unknown += 1
    return total, unknown


def _cell_key(p: RunProfile) -> tuple[str, str, str, str]:
    return (p.model, p.framework, p.precision, p.scenario)


def runs_time_left(
    remaining: list[RunProfile],
    timed: list[tuple[RunProfile, float]],
    predicted: Callable[[RunProfile], float | None] | None = None,
    overhead_s: float | None = None,
) -> float | None:
    """Seconds the `remaining` runs should take. Each run is expected to last as long as the
    mean of the same combination's runs `timed` so far (its repeats); else LoadGen's `predicted`
    seconds for it (from the artifact's measured speed) plus `overhead_s` (what a run spends
    loading and warming up around LoadGen); else the mean of its model and scenario's timed runs
    (a MultiStream run can take minutes where a SingleStream one takes seconds); else of every
    timed run. None while some run has no estimate at all."""

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    by_cell: dict[tuple[str, ...], list[float]] = {}
    by_scenario: dict[tuple[str, str], list[float]] = {}
    for p, d in timed:
        by_cell.setdefault(_cell_key(p), []).append(d)
        by_scenario.setdefault((p.model, p.scenario), []).append(d)
    overall = mean([d for _, d in timed]) if timed else None
    total = 0.0
    for p in remaining:
        same = by_cell.get(_cell_key(p))
        guess = predicted(p) if predicted is not None and not same else None
        if same:
            total += mean(same)
        elif guess is not None:
            total += guess + (overhead_s or 0.0)
        elif (scenario := by_scenario.get((p.model, p.scenario))) is not None:
            total += mean(scenario)
        elif overall is not None:
            total += overall
        else:
            return None
    return total


def _positive(value: Any) -> float | None:
    number = _as_number(value)
    return number if number is not None and number > 0 else None


def fixed_study_width(pooled: Pooled, repeats: int) -> float:
    """The width (÷ the median) of the 95 % interval `repeats` runs of a cell's own give, on
    average, when their spread is `pooled`'s: 2 sinh(t(repeats − 1) × sd ÷ √repeats) — what a
    study with fixed repeats shows. Infinite below `MIN_FOR_INTERVAL` (no interval at all)."""
    import math

    from qtui.core.stats import MIN_FOR_INTERVAL, t_quantile

    if repeats < MIN_FOR_INTERVAL:
        return math.inf
    half = t_quantile(0.975, repeats - 1) * pooled.sd / math.sqrt(repeats)
    return 2.0 * math.sinh(half)


def _figure(result: RunResult) -> float | None:
    """The scenario metric of an `ok` run (what a study cell's interval is made of), else None."""
    return _positive(result.metric[1]) if result.status == "ok" else None


def _loadgen_seconds(result: RunResult) -> float | None:
    """How long LoadGen ran in `result` (its recorded duration), if it finished."""
    return _positive((result.throughput or {}).get("duration_s"))


def is_saved(result: RunResult, results_root: Path | None) -> bool:
    """Whether `result` is on disk: a run that finished but could not be written counts as
    failed (the next study would not find it, and nothing but this process holds its figures)."""
    from qtui.core.paths import results_dir

    try:
        return (results_dir(results_root) / result.run_id / "result.json").is_file()
    except OSError:
        return False


#: The lock file of a results folder's study (see `study_lock`).
LOCK_NAME = ".qtui-study.lock"


class StudyLockError(Exception):
    """The results folder's study lock is held by another study (the message names its pid) or
    cannot be taken."""


def _holder(fd: int) -> str:
    """What the lock file says about the study holding it (its pid and profile), cleaned."""
    from qtui.core.text import one_line

    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
        pid = int(data["pid"])
        return f"pid {pid} ({one_line(str(data.get('study', '?')))[:80]}, started {one_line(str(data.get('started', '?')))[:40]})"
    except (OSError, ValueError, TypeError, KeyError):
        return "pid unknown"


@contextlib.contextmanager
def study_lock(folder: Path, name: str) -> Iterator[None]:
    """Hold the lock of the results `folder` for one study, or raise StudyLockError at once. An
    `flock`: released by the kernel when the process ends, however it ends, so a study killed
    with SIGKILL never blocks the next one. The file stays (removing it would race a waiting
    study); its content only names the holder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StudyLockError(f"cannot lock the results folder {folder}: {path}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StudyLockError(
                f"another study is running on the results folder {folder}: {_holder(fd)}; wait for "
                "it to end (two would measure the same runs, each disturbed by the other) or use "
                "another --results-dir"
            ) from None
        stamp = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
        with contextlib.suppress(OSError):  # the lock is what matters, not its note
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "study": name, "started": stamp}).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _default_cooldown(environment: dict[str, Any]) -> float | None:
    return 60.0 if environment.get("board_model") else None


def run_study(
    profile: RunProfile,
    options: StudyOptions,
    on_event: Callable[[ev.Event], None] | None = None,
    stop: threading.Event | None = None,
) -> StudyReport:
    """Prepare every cell's artifact, then measure what is missing; see the module docstring.
    Raises StudyLockError, before any work, when another study holds the results folder."""
    from qtui.core.paths import results_dir

    with study_lock(results_dir(options.results_root), profile.name):
        return _run_study(profile, options, on_event, stop)


def _run_study(
    profile: RunProfile,
    options: StudyOptions,
    on_event: Callable[[ev.Event], None] | None,
    stop: threading.Event | None,
) -> StudyReport:
    return _Study(profile, options, on_event or (lambda e: None), stop or threading.Event()).execute()


class _Study:
    """One study as its named phases, like the runner's stages: `prepare_all` → `check_quality`
    → `measure_missing` (see `execute`). Holds what the phases share: the cells and the report,
    this machine, the results found in the folder, and how long runs took. Both phases that
    run go through one loop, `run_each`: announce the run, run it (after any cooldown), keep
    its result, count it as done, failed or cancelled."""

    def __init__(
        self, profile: RunProfile, options: StudyOptions, emit: Callable[[ev.Event], None], stop: threading.Event
    ) -> None:
        from qtui.core.environment import capture_environment

        self.profile = profile
        self.options = options.resolved(profile)
        self.emit = emit
        self.stop = stop
        self.repeats = self.options.repeats or 1
        self.cells = [CellStatus(p) for p in plan(profile, self.options)]
        self.report = StudyReport(self.cells)
        # this machine as a run would record it: architecture, the frameworks' versions, the cores
        self.env = capture_environment(frameworks=sorted({c.profile.framework for c in self.cells}))
        self.machine = machine_identity(self.env, self.options.device)
        self.total_runs = len(self.cells) * self.repeats
        #: the results already in the folder (read after preparing)
        self.pool: list[RunResult] = []
        #: quality checks, then measurements still to run: (cell, repeat)
        self.checks: list[CellStatus] = []
        self.todo: list[tuple[CellStatus, int]] = []
        #: completed runs found from before (they count towards `total_runs`)
        self.skipped = 0
        #: a run's wall time beyond LoadGen's (loading, warm-up, cooldown), for the time left
        self.overheads: list[float] = []
        #: the measurements timed so far (profile, wall seconds), for the time left
        self.timed: list[tuple[RunProfile, float]] = []
        #: LoadGen's seconds of each cell's earlier runs here (their median)
        self.earlier: dict[tuple[str, str, str, str], float] = {}
        #: samples/s of each artifact in its quality run: (model, framework, precision, key)
        self.rates: dict[tuple[Any, ...], float] = {}
        self.by_key = {_cell_key(c.profile): c for c in self.cells}
        #: adaptive repeats: each cell's figures so far (clean ok runs' scenario metric), its
        #: runs attempted this time, the cells that failed (never retried), runs before this one
        self.values: dict[int, list[float]] = {}
        self.attempts: dict[int, int] = {}
        self.gave_up: set[int] = set()
        self.step_base = 0

    def execute(self) -> StudyReport:
        """The phases, in order: each is one method below."""
        self.prepare_all()
        self.check_quality()
        self.measure_missing()
        self.emit(ev.StudyStep("done", self.skipped + self.report.runs_done, self.total_runs, "", 0.0))
        return self.report

    # -- phases -----------------------------------------------------------------------------------
    def prepare_all(self) -> None:
        """Every cell's artifact, before the first measurement: a failure shows now and skips its
        cell; a cancel ends the study."""
        from qtui.core.prepare.for_profile import prepare_only

        report, t0 = self.report, time.perf_counter()
        for k, cell in enumerate(self.cells, 1):
            if self.stop.is_set():
                report.cancelled = True
                break
            self.emit(ev.StudyStep("preparing", k, len(self.cells), cell.label, None, cell.profile))
            try:
                # the study's stop reaches the preparation: a cancel ends it as it ends a run's
                artifact, _hit = prepare_only(cell.profile, self.emit, self.stop)
                cell.artifact_key = artifact.meta.get("key")
            except Cancelled:
                report.cancelled = True
                break
            except Exception as exc:  # a user-facing preparation failure: shown now, cell skipped
                cell.prepare_error = f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)
                self.emit(ev.Log(f"study: {cell.label}: cannot prepare: {cell.prepare_error}", "error"))
        report.prepare_s = time.perf_counter() - t0

    def check_quality(self) -> None:
        """One accuracy-mode run per prepared artifact, unless an `ok` one of it exists here."""
        from qtui.core.paths import results_dir

        report, options = self.report, self.options
        self.pool = load_results(results_dir(options.results_root), warn=lambda m: self.emit(ev.Log(m, "warning")))
        t0 = time.perf_counter()
        self.checks = quality_cells(self.cells) if options.quality and not report.cancelled else []
        todo = []
        for check in self.checks:
            have = [] if options.force else quality_runs_done(check.profile, check.artifact_key, self.machine, self.pool)
            if have:
                report.quality_reused += 1
                report.quality_results.append(have[0])
            else:
                todo.append((check, 0))
        report.quality_done, report.quality_failed = self.run_each(todo, self._quality_step, ("ok",), self._keep_check)
        report.quality_s = time.perf_counter() - t0

    def measure_missing(self) -> None:
        """Each cell's `repeats` completed runs: those found here count, the rest are measured."""
        report, options, repeats = self.report, self.options, self.repeats
        self.rates = {
            (r.profile.model, r.profile.framework, r.profile.precision, r.artifact.get("key")): rate
            for r in report.quality_results
            if r.status == "ok" and (rate := _positive((r.throughput or {}).get("samples_per_s")))
        }
        for cell in self.cells:
            if cell.prepare_error:
                continue
            have = [] if options.force else completed_runs(cell.profile, cell.artifact_key, self.machine, self.pool, here=self.env)
            durations = sorted(d for r in have if (d := _loadgen_seconds(r)) is not None)
            if durations:
                self.earlier[_cell_key(cell.profile)] = durations[len(durations) // 2]
            cell.reused = min(len(have), repeats)
            cell.run_ids = [r.run_id for r in have[:repeats]]
            report.results += have[:repeats]
            self.values[id(cell)] = [v for r in have[:repeats] if (v := _figure(r)) is not None]
            self.todo += [(cell, i) for i in range(cell.reused, repeats)]
        self.skipped = sum(c.reused for c in self.cells)
        if self.skipped:
            self._say_reused()
        t0 = time.perf_counter()
        if options.adaptive:
            report.runs_done, report.runs_failed = self.measure_adaptive()
        else:
            report.runs_done, report.runs_failed = self.run_each(self.todo, self._measuring_step, COMPLETED, self._keep_measurement)
        report.measure_s = time.perf_counter() - t0

    def measure_adaptive(self) -> tuple[int, int]:
        """Adaptive repeats (`[study] min_repeats` < `repeats`): run by run, the next one from
        `adaptive_plan` (recomputed after each), until no cell needs more: (runs that count,
        failed). A cell whose run fails is not tried again this time."""
        done = failed = 0
        while not (self.stop.is_set() or self.report.cancelled):
            self.todo = self.adaptive_plan()
            if not self.todo:
                break
            cell = self.todo[0][0]
            self.step_base = done + failed
            self.total_runs = self.skipped + self.step_base + len(self.todo)
            self.attempts[id(cell)] = self.attempts.get(id(cell), 0) + 1
            d, f = self.run_each(self.todo[:1], self._measuring_step, COMPLETED, self._keep_measurement)
            done, failed = done + d, failed + f
            if f:
                self.gave_up.add(id(cell))
        if self.stop.is_set():
            self.report.cancelled = True
        self.total_runs = self.skipped + done + failed + (len(self.todo) if self.report.cancelled else 0)
        return done, failed

    def adaptive_plan(self) -> list[tuple[CellStatus, int]]:
        """The runs still wanted, next first: every cell up to `min_repeats`, slowest first (the
        long runs early, so the time left holds from the start); then one more run of each cell
        whose 95 % interval is wider than `target_width` × its median (`cell_interval`), the
        cells with the fewest runs first, then the fastest: the quick runs narrow the pooled
        spread, which may settle the slow cells without another slow run. At most `repeats` runs
        a cell."""
        options, most = self.options, self.repeats
        least = min(options.min_repeats or 1, most)
        below, wide = [], []
        for cell in self.cells:
            n = len(cell.run_ids)
            if cell.prepare_error or id(cell) in self.gave_up or n >= most or self.attempts.get(id(cell), 0) >= most - cell.reused:
                continue
            if n < least:
                below.append(cell)
            elif not self.settled(cell):
                wide.append(cell)

        def seconds(cell: CellStatus) -> float:
            guess = self.predicted_seconds(cell.profile)
            return guess if guess is not None else float("inf")

        below.sort(key=seconds, reverse=True)
        wide.sort(key=lambda c: (len(c.run_ids), seconds(c)))
        return [(c, len(c.run_ids)) for c in below + wide]

    def cell_interval(self, cell: CellStatus) -> tuple[Estimate, Pooled | None]:
        """The cell's median and 95 % interval from its figures so far; with fewer than 3, from
        the run-to-run spread pooled over the study's cells of its model and scenario, as the
        study tables give it (`stats.pooled_for`: not when its own runs spread more than the
        others allow); and that pooled spread."""
        from qtui.core.stats import median_estimate, pooled_for, pooled_spread

        p = cell.profile
        values = self.values.get(id(cell), [])
        others = [
            self.values.get(id(c), []) for c in self.cells
            if c is not cell and (c.profile.model, c.profile.scenario) == (p.model, p.scenario)
        ]
        if not values:
            return Estimate(0.0, None, None, 0, None), None
        pooled = pooled_for(values, others)
        return median_estimate(values, pooled=pooled), pooled or pooled_spread([*others, values])

    def settled(self, cell: CellStatus) -> bool:
        """Whether the cell's 95 % interval is narrow enough: no wider than `repeats` runs of its
        own would give at the spread its table shows (the confidence of the fixed study, got
        with fewer runs when the pooled spread says so), or than `target_width` of its median."""
        est, pooled = self.cell_interval(cell)
        if not est.has_interval or est.median <= 0:
            return False
        assert est.low is not None and est.high is not None
        width = (est.high - est.low) / est.median
        if width <= (self.options.target_width or DEFAULT_TARGET_WIDTH):
            return True
        return pooled is not None and width <= fixed_study_width(pooled, self.repeats)

    # -- the one loop of runs -----------------------------------------------------------------
    def run_each(
        self,
        todo: list[tuple[CellStatus, int]],
        step: Callable[[int, CellStatus, int], ev.StudyStep],
        counted: tuple[str, ...],
        keep: Callable[[CellStatus, RunResult, float, bool], None],
    ) -> tuple[int, int]:
        """Run each `(cell, repeat)` of `todo` in turn, announced by its `step` (given its index
        in `todo`), and `keep` each result with its wall time and whether it counts (a status in
        `counted`, saved), until the study or a run is cancelled: (runs that count, failed)."""
        done = failed = 0
        for n, (cell, repeat) in enumerate(todo):
            if self.stop.is_set() or self.report.cancelled:
                self.report.cancelled = True
                break
            self.emit(step(n, cell, repeat))
            result, seconds = self.measure(cell.profile)
            counts = result.status in counted and not self.report.is_unsaved(result)
            keep(cell, result, seconds, counts)
            if counts:
                done += 1
            elif result.status == "cancelled":
                self.report.cancelled = True
                break
            else:
                failed += 1
        return done, failed

    def measure(self, p: RunProfile) -> tuple[RunResult, float]:
        """The run (after any cooldown) and its wall time."""
        from qtui.core.runner import RunOptions, run

        started = time.perf_counter()
        self.cool_down()
        result = run(p, self.emit, self.stop, RunOptions(results_root=self.options.results_root, device=self.options.device))
        seconds = time.perf_counter() - started
        self.report.ran.append(result)
        if result.status != "cancelled" and not is_saved(result, self.options.results_root):
            self.report.unsaved.append(result)
        loadgen_s = _loadgen_seconds(result)
        if result.status in COMPLETED and loadgen_s is not None:
            self.overheads.append(max(0.0, seconds - loadgen_s))
        return result, seconds

    def cool_down(self) -> None:
        """Wait until the CPU is below the study's cooldown limit (if it has one)."""
        from qtui.core.thermal import wait_for_cooldown

        options = self.options
        cooldown = options.cooldown_below_c if options.cooldown_below_c is not None else _default_cooldown(self.env)
        if cooldown:
            wait_for_cooldown(
                cooldown,
                options.cooldown_max_wait_s or 300.0,
                on_wait=lambda c, w: self.emit(ev.Preparing(f"cooling down: {c:.0f} °C (waiting for < {cooldown:.0f} °C)", None)),
                should_stop=self.stop.is_set,
            )

    # -- what each running phase says and keeps ------------------------------------------------
    def _quality_step(self, n: int, check: CellStatus, _repeat: int) -> ev.StudyStep:
        p = check.profile
        label = f"{_model_label(p.model)} {p.framework} {p.precision}"
        return ev.StudyStep("checking quality", self.report.quality_reused + n + 1, len(self.checks), label, None, p)

    def _keep_check(self, _check: CellStatus, result: RunResult, _seconds: float, _counts: bool) -> None:
        self.report.quality_results.append(result)

    def _measuring_step(self, n: int, cell: CellStatus, repeat: int) -> ev.StudyStep:
        overhead = sum(self.overheads) / len(self.overheads) if self.overheads else None
        eta = runs_time_left([c.profile for c, _ in self.todo[n:]], self.timed, self.predicted_seconds, overhead)
        if self.options.adaptive:
            least = min(self.options.min_repeats or 1, self.repeats)
            label = f"{cell.label} (run {repeat + 1}, {least}–{self.repeats} by its interval)"
        else:
            label = f"{cell.label} (repeat {repeat + 1}/{self.repeats})"
        return ev.StudyStep("measuring", self.skipped + self.step_base + n + 1, self.total_runs, label, eta, cell.profile)

    def _keep_measurement(self, cell: CellStatus, result: RunResult, seconds: float, counts: bool) -> None:
        self.timed.append((cell.profile, seconds))
        self.report.results.append(result)
        if counts:
            cell.run_ids.append(result.run_id)
            if not measurement_disturbed(result) and (v := _figure(result)) is not None:
                self.values.setdefault(id(cell), []).append(v)

    def predicted_seconds(self, p: RunProfile) -> float | None:
        """What a run should take before it is timed: LoadGen's seconds from the cell's earlier
        runs here, else from its artifact's speed in the quality run."""
        if (seconds := self.earlier.get(_cell_key(p))) is not None:
            return seconds
        cell = self.by_key.get(_cell_key(p))
        rate = self.rates.get((p.model, p.framework, p.precision, cell.artifact_key if cell else None))
        return expected_loadgen_s(p, rate) if rate else None

    def _say_reused(self) -> None:
        """How many runs were found measured here already (and by which other profiles)."""
        cells, options = self.cells, self.options
        reused = [r for r in self.report.results if r.run_id in {i for c in cells for i in c.run_ids}]
        others = sorted({one_line(r.profile.name.split("/", 1)[0]) for r in reused} - {self.profile.name})
        by = f", some by {plural(len(others), 'other profile', with_count=False)} ({', '.join(others)}) with identical settings" if others else ""
        self.emit(ev.Log(
            f"study: {self.skipped} of {plural(self.total_runs, 'run')} already measured here{by} "
            f"(disturbed runs are measured again{'; ' + options.again_hint if options.again_hint else ''})"
        ))


def study_summary(report: StudyReport) -> str:
    """What the study did and how long each part took, in one line (the CLI and the TUI)."""
    from qtui.core.text import format_duration

    def unsaved(results: list[RunResult]) -> str:
        n = sum(1 for r in results if report.is_unsaved(r))
        return f" ({n} not saved)" if n else ""

    reused = sum(c.reused for c in report.cells)
    text = (
        f"{plural(report.runs_done, 'run')} measured, {reused} already measured here, {report.runs_failed} failed"
        + unsaved(report.results)
    )
    checks = report.quality_done + report.quality_reused + report.quality_failed
    if checks:
        text += (
            f"; quality of {plural(checks, 'artifact')}: {report.quality_done} checked, "
            f"{report.quality_reused} already checked here, {report.quality_failed} failed"
            + unsaved(report.quality_results)
        )
    text += f"; preparing {format_duration(report.prepare_s, 0)}"
    if report.quality_done or report.quality_failed:
        text += f", checking quality {format_duration(report.quality_s, 0)}"
    return text + f", measuring {format_duration(report.measure_s, 0)}"
