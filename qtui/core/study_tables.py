"""Run results: the saved record of a run (schema-versioned JSON with the exact profile and the
machine it ran on), atomic save, strict loading, and the tables every view renders.

- `RunResult.from_dict` / `validate_result_dict`: a loaded result has the shape and field types
  the tables and the UI use, or it is refused (`ResultError`); its strings are cleaned of
  terminal control sequences (`qtui.core.text`).
- `load_results`: every result under a folder; non-regular, unreadable, oversized, malformed
  files and copies of a run (duplicate run id) are skipped with a warning, never raised.
- `scenario_metric`: the one rule for a scenario's MLPerf metric (SingleStream p90, MultiStream
  p99, Offline samples/s).
- `fp32_baseline` / `speedup` / `speedup_vs_fp32`: the matching FP32 run (everything but the
  precision equal, status ok: `identity.same_setup_but_precision`) and the speed-up over it (ok
  runs only).
- `load_results_dirs`: results read from several folders (a laptop's and a Pi's), a run copied
  into both counted once; the tables name each run's device by `identity.device_label`.
- `repeats_of` / `speedup_estimate`: the `ok` runs that repeat one measurement
  (`identity.repeat_key`: same profile, artifact and machine) and the speed-up over FP32 from
  both cells' repeats with its interval.
- `accuracy_run_for` / `quality_delta`: the accuracy-mode run of the same artifact, and its change
  against FP32 (the quality evidence of a cell).
- `table_rows` + `to_markdown` / `to_csv`: the run table; `study_tables` + `study_markdown` +
  `study_notes`: the study's framework × precision cells (median of the repeats with a 95 %
  bootstrap interval, speed-up, unstable flag, fidelity, Δ, executed precision and efficiency
  (GOP/s, share of the nominal peak) on demand, devices side by side; `StudyCell.warnings`:
  what the runs behind a cell recorded, marked `⚠` and listed per kind by `study_notes`). The
  CLI, the UI, `recommend` and every export only render these.
- `measurement_warnings` / `warning_kind` / `measurement_disturbed`: a run's recorded warnings,
  their kind, and whether its measurement was disturbed (load, throttling, heat).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import os
import stat
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median
from typing import Any, NamedTuple

from qtui.core.catalog import FRAMEWORK_TITLES
from qtui.core.files import atomic_write_text
from qtui.core.identity import (
    device_label,
    repeat_key,
    same_setup_but_precision,
    same_weights_data_and_machine,
)
from qtui.core.labels import PRECISION_TABLE
from qtui.core.labels import title as label_title
from qtui.core.model_source import model_label
from qtui.core.ops import fraction_text
from qtui.core.profile import (
    FRAMEWORKS,
    MODELS,
    PRECISIONS,
    SCENARIOS,
    ProfileError,
    RunProfile,
    profile_from_dict,
    to_dict,
)
from qtui.core.sinks import for_csv, for_markdown
from qtui.core.stats import (
    CONFIDENCE,
    MIN_FOR_INTERVAL,
    RESAMPLES,
    UNSTABLE_SPREAD,
    Estimate,
    bootstrap_median,
    ratio_estimate,
)
from qtui.core.text import clean_text, one_line

RESULT_SCHEMA_VERSION = 1
STATUSES = ("ok", "invalid", "cancelled", "failed")
#: A result.json is a few hundred kB at most; anything above this is not one.
MAX_RESULT_BYTES = 64 * 1024 * 1024


class ResultError(ValueError):
    """A file that is not a result qtui can show; the message says which field is wrong."""


# -- the scenario metric ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ScenarioMetric:
    """A scenario's MLPerf metric: where a result keeps it and which way is better."""

    key: str  # "p90"/"p99" in `latency_ms`, "samples_per_s" in `throughput`
    label: str  # "p90 ms", "p99 ms", "samples/s"
    percentile: float | None  # 90.0 / 99.0 for the stream scenarios, None for Offline

    @property
    def higher_is_better(self) -> bool:
        return self.percentile is None


SCENARIO_METRICS: dict[str, ScenarioMetric] = {
    "SingleStream": ScenarioMetric("p90", "p90 ms", 90.0),
    "MultiStream": ScenarioMetric("p99", "p99 ms", 99.0),
    "Offline": ScenarioMetric("samples_per_s", "samples/s", None),
}


def scenario_metric(scenario: str) -> ScenarioMetric:
    """The MLPerf metric of `scenario`: SingleStream p90 latency, MultiStream p99, Offline
    samples/s (the only place this rule is written)."""
    return SCENARIO_METRICS[scenario]


def _number(value: Any, finite: bool = True) -> bool:
    """An int or float (not a bool) that converts to a float, finite unless `finite=False`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        converted = float(value)
    except OverflowError:
        return False
    return math.isfinite(converted) or not finite


def _as_number(value: Any, finite: bool = True) -> float | None:
    """`value` as a float when `_number(value, finite)`, else None."""
    return float(value) if _number(value, finite) else None


@dataclass
class RunResult:
    """Everything known about one run; `to_json` is the on-disk format (see README)."""

    run_id: str
    created: str
    status: str
    profile: RunProfile
    environment: dict[str, Any] = field(default_factory=dict)
    loadgen: dict[str, Any] = field(default_factory=dict)
    latency_ms: dict[str, Any] = field(default_factory=dict)
    throughput: dict[str, Any] = field(default_factory=dict)
    histogram: dict[str, Any] = field(default_factory=dict)
    accuracy: dict[str, Any] | None = None
    #: operations per second achieved and the share of the CPU's nominal peak
    #: (`qtui.core.ops.run_efficiency`); None without a rate, and in results saved before it
    efficiency: dict[str, Any] | None = None
    #: the per-query latencies file beside the result (`qtui.core.raw_latencies`); None in
    #: results saved before it existed and for runs that never measured
    raw_latencies: dict[str, Any] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    artifact: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    message: str = ""
    #: where a failed run broke (the last frames of the Python traceback), for a bug report
    traceback: str = ""
    schema_version: int = RESULT_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["profile"] = to_dict(self.profile)
        order = ["schema_version", "run_id", "created", "status", "message", "profile"]
        return {k: data[k] for k in order} | {k: v for k, v in data.items() if k not in order}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=_json_default)

    @classmethod
    def from_dict(cls, data: Any, notes: list[str] | None = None) -> RunResult:
        """A result from parsed JSON, refused (`ResultError`) unless it has the right shape;
        its strings (outside the profile) are cleaned of terminal control sequences. What was
        dropped on the way (an oversized histogram) is said in `notes`."""
        fields_ = validate_result_dict(data, notes)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in fields_.items() if k in known})

    @property
    def metric(self) -> tuple[str, float | None]:
        """The scenario's MLPerf metric: (label, value); None when not measured."""
        m = scenario_metric(self.profile.scenario)
        return m.label, _as_number((self.throughput if m.percentile is None else self.latency_ms).get(m.key))


# -- validation ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Kind:
    what: str
    check: Callable[[Any], bool]


def _list_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and all(check(x) for x in v)


_NUM = _Kind("a finite number", _number)
_NUM_INF = _Kind("a number", lambda v: _number(v, finite=False))
_INT = _Kind("an integer", lambda v: isinstance(v, int) and _number(v))
_STR = _Kind("a string", lambda v: isinstance(v, str))
_BOOL = _Kind("true or false", lambda v: isinstance(v, bool))
_DICT = _Kind("a table", lambda v: isinstance(v, dict))
_LIST = _Kind("a list", lambda v: isinstance(v, list))
_STRS = _Kind("a list of strings", _list_of(lambda v: isinstance(v, str)))
_NUMS = _Kind("a list of finite numbers", _list_of(_number))
_COUNTS = _Kind("a list of counts", _list_of(lambda v: isinstance(v, int) and _number(v) and v >= 0))

#: The keys of each table that qtui reads, and what they must be (None is always allowed).
#: "*" applies to every other key of that table.
_SHAPES: dict[str, dict[str, _Kind]] = {
    "environment": {
        **dict.fromkeys(("hostname", "os", "system", "machine", "cpu_model", "board_model", "governor", "device",
            "cpu_max_mhz_source", "kernel", "qtui_version"), _STR),
        **dict.fromkeys(("cores_logical", "cores_physical", "threads", "memory_total_bytes"), _INT),
        "temperature_c": _NUM, "cpu_max_mhz": _NUM, "isa": _DICT, "frameworks": _DICT, "warnings": _STRS,
    },
    "environment.frameworks": {"*": _STR},
    "loadgen": {
        "validity": _STR, "invalid_reasons": _STRS, "warnings": _LIST, "scenario_metric": _DICT,
        "settings": _DICT, "version": _STR, "log_dir": _STR, "percentiles_ms": _DICT,
    },
    "loadgen.scenario_metric": {"name": _STR, "value": _NUM},
    "latency_ms": {"basis": _STR, "*": _NUM},
    "throughput": {"samples_per_s": _NUM, "queries": _INT, "samples": _INT, "duration_s": _NUM},
    "histogram": {"edges_ms": _NUMS, "counts": _COUNTS},
    "accuracy": {
        "top1": _NUM, "top5": _NUM, "samples": _INT, "logged_responses": _INT, "fidelity": _DICT,
        "labels": _STR, "reference": _STR,
    },
    "accuracy.fidelity": {
        "sqnr_db": _NUM_INF, "cosine": _NUM, "centred_top1_agreement": _NUM,
        "centred_distinct_classes": _INT, "samples": _INT,
    },
    "provenance": {
        "weights": _STR, "weights_digest": _STR, "data": _STR, "data_has_labels": _BOOL,
        **dict.fromkeys(("data_kind", "data_digest", "data_name", "preprocess", "calibration", "calibration_data"), _STR),
        "data_count": _INT, "data_skipped": _INT,
    },
    "artifact": {
        "size_bytes": _NUM, "executed_precision": _STR, "runtime_version": _STR, "format": _STR,
        "cache_hit": _BOOL,
    },
    "memory": {"peak_rss_bytes": _NUM},
    "timings_s": {},
    "raw_latencies": {
        "file": _STR, "unit": _STR, "error": _STR, "capped": _BOOL,
        **dict.fromkeys(("total", "saved", "stride", "bytes"), _INT),
    },
    "efficiency": {
        **dict.fromkeys(("model_gmacs", "achieved_gops", "nominal_peak_gops", "fraction_of_nominal_peak"), _NUM),
        **dict.fromkeys(("rate_basis", "compute_precision", "peak_basis"), _STR),
        "fraction_is_upper_bound": _BOOL,
    },
}
_TABLE_FIELDS = (
    "environment", "loadgen", "latency_ms", "throughput", "histogram", "provenance", "artifact",
    "memory", "timings_s",
)


@dataclass(frozen=True)
class _Range:
    """Where a figure can lie: 0, or `low` ≤ value ≤ `high`; `inf`: +infinity is allowed too
    (an SQNR of identical outputs). A positive figure below `low` would make a ratio of two
    figures (a speed-up) overflow to infinity."""

    low: float
    high: float
    zero: bool = True
    inf: bool = False

    def holds(self, value: float) -> bool:
        if math.isinf(value):
            return self.inf and value > 0
        return (self.zero and value == 0) or self.low <= value <= self.high

    def text(self) -> str:
        return f"{self.low:g} to {self.high:g}" + (" (or 0)" if self.zero and self.low > 0 else "")


_FRACTION = _Range(0.0, 1.0)
_MS = _Range(1e-6, 1e8)  # 1 ns to 27 hours
_BYTES = _Range(0, 1e15)
_COUNT = _Range(0, 1e15)
#: The figures qtui shows or compares, and where each can lie; one outside its range is an
#: impossible figure (a 301-digit samples/s, a top-1 of -500 %) and the result is skipped.
_RANGES: dict[str, _Range] = {
    "latency_ms.*": _MS,
    "loadgen.scenario_metric.value": _Range(1e-6, 1e12),
    "throughput.samples_per_s": _Range(1e-6, 1e9),
    "throughput.queries": _COUNT,
    "throughput.samples": _COUNT,
    "throughput.duration_s": _Range(0, 1e8),
    "histogram.edges_ms": _Range(0, 1e8),
    "histogram.counts": _COUNT,
    "accuracy.top1": _FRACTION,
    "accuracy.top5": _FRACTION,
    "accuracy.samples": _COUNT,
    "accuracy.fidelity.sqnr_db": _Range(-1000, 1000, inf=True),
    "accuracy.fidelity.cosine": _Range(-1.000001, 1.000001),
    "accuracy.fidelity.centred_top1_agreement": _FRACTION,
    "artifact.size_bytes": _BYTES,
    "memory.peak_rss_bytes": _BYTES,
    "environment.cores_logical": _Range(0, 1e6),
    "environment.threads": _Range(0, 1e6),
    "environment.temperature_c": _Range(-100, 300),
    "environment.cpu_max_mhz": _Range(0, 1e6),
    "efficiency.model_gmacs": _Range(0, 1e9),
    "efficiency.achieved_gops": _Range(0, 1e12),
    "efficiency.nominal_peak_gops": _Range(0, 1e12),
    "efficiency.fraction_of_nominal_peak": _Range(0, 1e3),
}
#: A histogram with more bins than this is dropped on load (qtui records 40): a million bins
#: made the HTML report take a minute.
MAX_HISTOGRAM_BINS = 1000


def _check_range(name: str, value: Any) -> None:
    rng = _RANGES.get(name) or _RANGES.get(name.rsplit(".", 1)[0] + ".*")
    if rng is None or value is None:
        return
    for item in value if isinstance(value, list) else [value]:
        if _number(item, finite=False) and not rng.holds(float(item)):
            raise ResultError(f"'{name}' {_describe(item)} is impossible (it lies from {rng.text()})")


def _clean_deep(value: Any) -> Any:
    """Every string in parsed JSON (keys too) through `clean_text`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k): _clean_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_deep(v) for v in value]
    return value


def _check_table(name: str, table: dict[str, Any]) -> None:
    shape = _SHAPES[name]
    for key, value in table.items():
        kind = shape.get(key) or shape.get("*")
        if kind is not None and value is not None and not kind.check(value):
            raise ResultError(f"'{name}.{key}' must be {kind.what}, not {_describe(value)}")
        if kind is not None:
            _check_range(f"{name}.{key}", value)
        if value is not None and f"{name}.{key}" in _SHAPES:
            _check_table(f"{name}.{key}", value)


def _describe(value: Any) -> str:
    text = one_line(repr(value))
    return text if len(text) <= 40 else text[:37] + "..."


def parse_created(created: str) -> _dt.datetime:
    """A result's `created` time (ISO 8601); ValueError when it is not one."""
    return _dt.datetime.fromisoformat(created)


def validate_result_dict(data: Any, notes: list[str] | None = None) -> dict[str, Any]:
    """Check parsed JSON against the result format: the fields the tables and UI read have the
    right types (status in STATUSES, tables are tables, numbers are finite numbers or null, the
    profile is a valid profile) and the figures lie in their ranges (`_RANGES`). Returns the
    fields, strings cleaned, profile built; raises `ResultError` naming the first bad field. A
    histogram of more than `MAX_HISTOGRAM_BINS` bins is dropped, saying so in `notes`."""
    if not isinstance(data, dict):
        raise ResultError(f"not a result (a JSON object), but {_describe(data)}")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version != RESULT_SCHEMA_VERSION:
        raise ResultError(f"result schema_version {_describe(version)} is not {RESULT_SCHEMA_VERSION}")
    raw_profile = data.get("profile")
    if not isinstance(raw_profile, dict):
        raise ResultError(f"'profile' must be a table, not {_describe(raw_profile)}")
    try:
        profile = profile_from_dict(raw_profile)
    except ProfileError as exc:
        raise ResultError(f"'profile': {exc}") from None
    fields_ = _clean_deep({k: v for k, v in data.items() if k != "profile"})
    for key in ("run_id", "created", "status"):
        if not isinstance(fields_.get(key), str) or not fields_[key].strip():
            raise ResultError(f"'{key}' must be a non-empty string, not {_describe(fields_.get(key))}")
    fields_["run_id"] = one_line(fields_["run_id"])
    if fields_["status"] not in STATUSES:
        raise ResultError(f"'status' {_describe(fields_['status'])} is not one of {', '.join(STATUSES)}")
    try:
        parse_created(fields_["created"])
    except ValueError:
        raise ResultError(f"'created' {_describe(fields_['created'])} is not an ISO 8601 time") from None
    for name in ("message", "traceback"):
        fields_.setdefault(name, "")
        if not isinstance(fields_[name], str):
            raise ResultError(f"'{name}' must be a string, not {_describe(fields_[name])}")
    for name in _TABLE_FIELDS:
        table = fields_.setdefault(name, {})
        if not isinstance(table, dict):
            raise ResultError(f"'{name}' must be a table, not {_describe(table)}")
        _check_table(name, table)
    for name in ("accuracy", "efficiency", "raw_latencies"):  # optional tables: absent or null when not measured
        table = fields_.get(name)
        if table is not None:
            if not isinstance(table, dict):
                raise ResultError(f"'{name}' must be a table or null, not {_describe(table)}")
            _check_table(name, table)
    hist = fields_["histogram"]
    edges, counts = hist.get("edges_ms") or [], hist.get("counts") or []
    if (edges or counts) and len(edges) != len(counts) + 1:
        raise ResultError(f"'histogram' has {len(edges)} edges for {len(counts)} bins")
    if len(counts) > MAX_HISTOGRAM_BINS:
        fields_["histogram"] = {}
        if notes is not None:
            notes.append(f"its histogram has {len(counts):_} bins (at most {MAX_HISTOGRAM_BINS:_}): not shown")
    fields_["profile"] = profile
    return fields_


# -- files -----------------------------------------------------------------------------------------
def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def save_result(result: RunResult, run_dir: Path) -> Path:
    path = run_dir / "result.json"
    atomic_write_text(path, result.to_json())
    return path


def _read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of `path`, refused unless it is a regular file of at most `limit` bytes. A FIFO
    or device is never opened for reading (opening a FIFO would block)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ResultError(f"cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ResultError("not a regular file")
    if info.st_size > limit:
        raise ResultError(f"{info.st_size} bytes, more than a result can be ({limit} bytes)")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ResultError(f"cannot read it ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # replaced since the stat
            raise ResultError("not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ResultError(f"more than a result can be ({limit} bytes)")
    return data


def load_result(path: Path, notes: list[str] | None = None) -> RunResult:
    """One result file; `ResultError` (a ValueError) when it cannot be shown, with the reason;
    what was dropped from it in `notes`."""
    raw = _read_regular_file(Path(path), MAX_RESULT_BYTES)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ResultError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise ResultError("JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        raise ResultError(f"not valid JSON ({exc})") from None
    return RunResult.from_dict(data, notes)


#: What loading a damaged file can raise (ResultError is a ValueError); never raised further.
_DAMAGE = (OSError, ValueError, TypeError, KeyError, AttributeError, ArithmeticError, RecursionError)


def load_results(results_root: Path, warn: Callable[[str], None] | None = None) -> list[RunResult]:
    """Every readable result under `results_root` (`*/result.json`), oldest first. Damaged files
    (not regular, unreadable, too big, not JSON, wrong shape) and copies of a run already loaded
    (same run id; the first by path wins) are skipped with a one-line warning to `warn(msg)`
    (default: stderr); nothing here raises for a file's content."""

    def say(message: str) -> None:
        line = one_line(message)
        if warn is None:
            print(line, file=sys.stderr)
        else:
            warn(line)

    out: list[RunResult] = []
    first_path: dict[str, Path] = {}
    try:
        paths = sorted(Path(results_root).glob("*/result.json"))
    except OSError as exc:
        say(f"warning: cannot list results in {results_root}: {exc}")
        return out
    for path in paths:
        notes: list[str] = []
        try:
            result = load_result(path, notes)
        except _DAMAGE as exc:
            say(f"warning: skipping damaged result {path}: {exc}")
            continue
        for note in notes:
            say(f"warning: {path}: {note}")
        if result.run_id in first_path:
            say(f"warning: skipping {path}: run id {result.run_id} is already {first_path[result.run_id]} (a copied run folder?)")
            continue
        first_path[result.run_id] = path
        out.append(result)
    out.sort(key=order_key)
    return out


def order_key(result: RunResult) -> tuple[float, str, str]:
    """Oldest first, by `created` as a time (offsets honoured), then run id: "newest" is the
    maximum of this key everywhere."""
    try:
        stamp = parse_created(result.created).timestamp()
    except (ValueError, OverflowError, OSError):
        stamp = -math.inf
    return stamp, result.created, result.run_id


# -- the matching FP32 run and speed-up ------------------------------------------------------------
def fp32_baseline(result: RunResult, pool: Iterable[RunResult]) -> RunResult | None:
    """The newest `ok` FP32 run in `pool` that differs from `result` only in precision (an FP32
    run is its own baseline when it is `ok`); None when there is none."""
    if result.profile.precision == "fp32":
        return result if result.status == "ok" else None
    matches = [
        r for r in pool
        if r.status == "ok" and r.profile.precision == "fp32" and same_setup_but_precision(r, result)
    ]
    return max(matches, key=order_key, default=None)


def speedup(result: RunResult, baseline: RunResult | None) -> float | None:
    """Speed-up of `result` over its FP32 `baseline`: throughput ratio for Offline, latency ratio
    (baseline ÷ this) for the stream scenarios. None unless both runs are `ok` performance runs
    of the same setup with a measured metric."""
    if (
        baseline is None or result.status != "ok" or baseline.status != "ok"
        or result.profile.mode != "performance" or not same_setup_but_precision(result, baseline)
    ):
        return None
    _, value = result.metric
    _, base = baseline.metric
    if value is None or base is None or value <= 0 or base <= 0:
        return None
    ratio = value / base if scenario_metric(result.profile.scenario).higher_is_better else base / value
    return ratio if math.isfinite(ratio) else None


def speedup_vs_fp32(result: RunResult, pool: Iterable[RunResult]) -> float | None:
    """`speedup` over the matching FP32 run found in `pool`."""
    return speedup(result, fp32_baseline(result, pool))


def accuracy_text(result: RunResult) -> str:
    """Top-1 accuracy, else fidelity (SQNR, centred top-1 agreement / distinct classes), else ""."""
    acc = result.accuracy or {}
    top1 = _as_number(acc.get("top1"))
    if top1 is not None:
        return f"top-1 {top1 * 100:.1f}%"
    fid = acc.get("fidelity") or {}
    sqnr = _as_number(fid.get("sqnr_db"), finite=False)
    if sqnr is None:
        return ""
    text = f"SQNR {sqnr:.0f} dB"
    agreement, classes = _as_number(fid.get("centred_top1_agreement")), fid.get("centred_distinct_classes")
    if agreement is not None:
        text += f", agr {agreement * 100:.0f}%" + (f"/{classes}cl" if _number(classes) else "")
    return text


def fidelity_short(result: RunResult) -> str:
    """The short form of `accuracy_text` for a study cell: "top-1 71.2%" or "SQNR 32 dB"."""
    return accuracy_text(result).split(",")[0]


def accuracy_delta(result: RunResult, baseline: RunResult | None) -> str:
    """Accuracy (top-1, in points) or fidelity change of an `ok` run against its FP32 baseline."""
    if baseline is None or baseline is result or result.status != "ok":
        return ""
    a, b = result.accuracy or {}, baseline.accuracy or {}
    top1_a, top1_b = _as_number(a.get("top1")), _as_number(b.get("top1"))
    if top1_a is not None and top1_b is not None:
        return f"{(top1_a - top1_b) * 100:+.1f}pt"
    fa, fb = a.get("fidelity") or {}, b.get("fidelity") or {}
    agr_a, agr_b = _as_number(fa.get("centred_top1_agreement")), _as_number(fb.get("centred_top1_agreement"))
    if agr_a is not None and agr_b is not None:
        return f"agr{(agr_a - agr_b) * 100:+.0f}pt"
    sqnr_a, sqnr_b = _as_number(fa.get("sqnr_db")), _as_number(fb.get("sqnr_db"))
    if sqnr_a is not None and sqnr_b is not None:
        return f"{sqnr_a - sqnr_b:+.0f}dB"
    return ""


# -- the run table ---------------------------------------------------------------------------------
TABLE_COLUMNS = (
    "run_id", "model", "framework", "precision", "scenario", "mode", "status", "verdict",
    "p50_ms", "p90_ms", "p99_ms", "samples_per_s", "speedup_vs_fp32", "accuracy", "size_mb",
    "achieved_gops", "fraction_of_nominal_peak", "fraction_is_upper_bound", "device", "warnings",
)


def measurement_warnings(result: RunResult) -> list[str]:
    """What made this measurement suspect, as the run recorded it: other processes' load,
    throttling, more threads than cores, the governor, capped sample counts (one line each)."""
    warnings = result.environment.get("warnings")
    if not isinstance(warnings, list):
        return []
    return [one_line(w) for w in warnings if isinstance(w, str) and w.strip()]


#: What each kind of measurement warning says, in the legends that name its runs once.
WARNING_KINDS: dict[str, str] = {
    "load": "other processes kept the CPU busy",
    "throttling": "the CPU was throttled",
    "temperature": "the CPU was hot",
    "governor": "the CPU governor was not 'performance'",
    "threads": "more threads than cores",
    "samples": "sample counts capped by the data set",
    "other": "other warnings",
}
#: Kinds that disturbed one measurement and that measuring again can remove (the machine was
#: busy or throttled then); the others are lasting conditions of the machine or the profile.
DISTURBING_KINDS = ("load", "throttling", "temperature")


def warning_kind(text: str) -> str:
    """Which kind of warning (a key of WARNING_KINDS) a recorded warning is."""
    low = text.casefold()
    if low.startswith("other processes"):
        return "load"
    if "throttling occurred since boot" in low:
        return "other"  # a sticky firmware bit: says nothing about this measurement
    if "throttl" in low:
        return "throttling"
    if "governor" in low:
        return "governor"
    if low.startswith("threads ="):
        return "threads"
    if "temperature" in low:
        return "temperature"
    if low.startswith(("dataset.", "calibration")) or "sample_count" in low:
        return "samples"
    return "other"


def measurement_disturbed(result: RunResult) -> bool:
    """True when the run recorded a warning that disturbed its measurement (other processes'
    load, throttling, heat: `DISTURBING_KINDS`), which measuring again on a quiet machine
    removes; lasting conditions (governor, threads, capped counts) do not count here."""
    return any(warning_kind(w) in DISTURBING_KINDS for w in measurement_warnings(result))


def runs_text(run_ids: Iterable[str], limit: int = 8) -> str:
    """"run a", "runs a, b" or "runs a, b, … and 12 more": run ids named once."""
    ids = list(dict.fromkeys(run_ids))
    shown = ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
    return f"run{'s' if len(ids) != 1 else ''} {shown}"


def table_rows(results: list[RunResult], pool: Iterable[RunResult] | None = None) -> list[dict[str, Any]]:
    """One row per result (columns TABLE_COLUMNS), speed-up over the matching FP32 run in `pool`
    (default: `results`). Text fields are single-line and free of control characters."""
    pool_list = list(pool) if pool is not None else results
    rows = []
    for r in results:
        p = r.profile
        size = _as_number(r.artifact.get("size_bytes"))
        rows.append(
            {
                "run_id": one_line(r.run_id),
                "model": model_label(p.model),  # the user's model file by its name
                "framework": p.framework,
                "precision": p.precision,
                "scenario": p.scenario,
                "mode": p.mode,
                "status": r.status,
                "verdict": one_line(r.loadgen.get("validity") or ""),
                "p50_ms": _as_number(r.latency_ms.get("p50")),
                "p90_ms": _as_number(r.latency_ms.get("p90")),
                "p99_ms": _as_number(r.latency_ms.get("p99")),
                "samples_per_s": _as_number(r.throughput.get("samples_per_s")),
                "speedup_vs_fp32": speedup_vs_fp32(r, pool_list),
                "accuracy": accuracy_text(r),
                "size_mb": size / 1e6 if size is not None and size > 0 else None,
                "achieved_gops": _as_number((r.efficiency or {}).get("achieved_gops")),
                "fraction_of_nominal_peak": _as_number((r.efficiency or {}).get("fraction_of_nominal_peak")),
                "fraction_is_upper_bound": (r.efficiency or {}).get("fraction_is_upper_bound") is True
                if _as_number((r.efficiency or {}).get("fraction_of_nominal_peak")) is not None else None,
                "device": device_label(r),
                "warnings": "; ".join(measurement_warnings(r)),
            }
        )
    return rows


def format_figure(value: Any) -> str:
    """A measured figure, about three significant digits ("" for none): 0.523, 38.5, 245, 1234."""
    if value is None:
        return ""
    if isinstance(value, float):
        # .3g up to 99.9 (100 and up in whole units: .3g would print 999.7 as "1e+03")
        return f"{value:.3g}" if abs(value) < 99.95 else f"{value:.0f}"
    return one_line(value)


def _md_cell(text: str) -> str:
    return for_markdown(text)


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(_md_cell(format_figure(row[c])) for c in TABLE_COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(TABLE_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k] if _number(row[k]) else for_csv(row[k])) for k in TABLE_COLUMNS})
    return buf.getvalue()


def summary_line(result: RunResult) -> str:
    label, value = result.metric
    p = result.profile
    verdict = one_line(result.loadgen.get("validity") or "")
    metric = f"{label} {value:.3f}" if value is not None else f"{label} n/a"
    return f"{model_label(p.model)} {p.framework} {p.precision} {p.scenario}: {result.status} ({verdict}) {metric}"


# -- several results folders ----------------------------------------------------------------------
def load_results_dirs(roots: Iterable[Path], warn: Callable[[str], None] | None = None) -> list[RunResult]:
    """`load_results` of every folder in `roots`, oldest first. A run found in several folders
    (the same run id: a results folder copied from another machine, or a folder given twice) is
    the same run and counts once (the first folder's copy)."""
    out: list[RunResult] = []
    seen_ids: set[str] = set()
    seen_roots: set[Path] = set()
    for root in roots:
        try:
            resolved = Path(root).resolve()
        except OSError:
            resolved = Path(root)
        if resolved in seen_roots:
            continue
        seen_roots.add(resolved)
        for result in load_results(Path(root), warn):
            if result.run_id not in seen_ids:
                seen_ids.add(result.run_id)
                out.append(result)
    out.sort(key=order_key)
    return out


# -- repeats -----------------------------------------------------------------------------------------
class _RepeatKeys:
    """`repeat_key` computed once per result object for the duration of one table build."""

    def __init__(self) -> None:
        self._keys: dict[int, tuple[RunResult, str]] = {}

    def __call__(self, result: RunResult) -> str:
        found = self._keys.get(id(result))
        if found is None or found[0] is not result:
            found = (result, repeat_key(result))
            self._keys[id(result)] = found
        return found[1]


def repeats_of(result: RunResult, pool: Iterable[RunResult], key: Callable[[RunResult], str] = repeat_key) -> list[RunResult]:
    """The `ok` runs in `pool` that repeat `result`'s measurement (same `repeat_key`), oldest
    first; [] when `result` is not `ok`."""
    if result.status != "ok":
        return []
    wanted = key(result)
    return sorted((r for r in pool if r.status == "ok" and key(r) == wanted), key=order_key)


def _metric_values(runs: Iterable[RunResult]) -> list[float]:
    return [v for r in runs if (v := r.metric[1]) is not None and v > 0]


def speedup_estimate(values: list[float], baseline_values: list[float], higher_is_better: bool) -> Estimate | None:
    """Speed-up over FP32 from both cells' repeats, with its bootstrap interval
    (`stats.ratio_estimate`): this ÷ FP32 for throughput, FP32 ÷ this for latency."""
    if not values or not baseline_values:
        return None
    if higher_is_better:
        return ratio_estimate(values, baseline_values)
    return ratio_estimate(baseline_values, values)


# -- quality evidence: accuracy-mode runs ----------------------------------------------------------------
def accuracy_run_for(run: RunResult, pool: Iterable[RunResult]) -> RunResult | None:
    """The newest `ok` accuracy-mode run of the same artifact as `run`: same model, framework,
    precision, weights, data and device (and artifact key when both record one); any scenario
    (accuracy does not depend on it)."""
    p = run.profile
    key = run.artifact.get("key")
    return _newest(
        r for r in pool
        if r.status == "ok" and r.profile.mode == "accuracy"
        and (r.profile.framework, r.profile.precision) == (p.framework, p.precision)
        and (key is None or r.artifact.get("key") is None or r.artifact.get("key") == key)
        and same_weights_data_and_machine(r, run)
    )


def quality_delta(run: RunResult, pool: Iterable[RunResult]) -> str:
    """Accuracy (top-1 points) or fidelity change of `run`'s accuracy-mode run against the
    matching FP32 accuracy-mode run ("" when either is missing, and for FP32 itself)."""
    pool_list = list(pool)
    if run.profile.precision == "fp32":
        return ""
    acc = accuracy_run_for(run, pool_list)
    return accuracy_delta(acc, fp32_baseline(acc, pool_list)) if acc is not None else ""


# -- the study tables ------------------------------------------------------------------------------
STUDY_PRECISION_LABELS = {p.id: p.short for p in PRECISION_TABLE}
STUDY_INVALID_MARK = "*"
STUDY_UNSTABLE_MARK = "!"
STUDY_SYNTHETIC_CALIBRATION_MARK = "†"
STUDY_EMPTY_CELL = "–"
STUDY_SPEEDUP_NOTE = (
    "×: speed-up over the FP32 run with the same model, framework, scenario, threads, batch size, "
    "weights, data, LoadGen settings and machine"
)
STUDY_REPEATS_NOTE = (
    "Repeats: a cell is the median of its ok runs with the same profile, artifact and machine; "
    f"[low–high]: {CONFIDENCE * 100:.0f} % CI, bootstrap over repeats (percentile bootstrap of the "
    f"median, {RESAMPLES} resamples, given from {MIN_FOR_INTERVAL} repeats on), for the metric and the "
    "speed-up (FP32 and this cell resampled independently)"
)
STUDY_UNSTABLE_NOTE = (
    f"{STUDY_UNSTABLE_MARK} unstable: the repeats spread more than {UNSTABLE_SPREAD * 100:.0f} % "
    "(1.4826 × median absolute deviation ÷ median, like pyperf's warning): a quieter machine or "
    "more repeats would narrow it"
)
STUDY_DELTA_NOTE = (
    "Δ: top-1 (points), else centred top-1 agreement (points) or SQNR (dB), of the cell's "
    "accuracy-mode run minus the FP32 accuracy-mode run's (– where either was not run)"
)
STUDY_EXECUTED_NOTE = "ran: the precision the runtime reported executing"
STUDY_EFFICIENCY_NOTE = (
    "GOP/s: the operations per second the cell's samples/s amount to (2 × the model's counted "
    "MACs per image × samples/s, median of the repeats); % of nominal peak: of the CPU's nominal "
    "peak for the arithmetic that executed (cores × clock × operations per cycle of its vector "
    "units: documented issue widths, never measured), not given where the executed precision or "
    "the CPU does not settle it; ≤: the clock is not known to be the maximum (no cpufreq, e.g. in "
    "a VM: /proc/cpuinfo's or the model name's, which boost may exceed), so the share is an upper bound"
)
STUDY_INVALID_NOTE = f"{STUDY_INVALID_MARK} LoadGen said INVALID (e.g. too short): no speed-up given"
STUDY_WARNING_MARK = "⚠"
STUDY_WARNING_NOTE = (
    f"{STUDY_WARNING_MARK} the figure rests on runs that recorded a warning (a speed-up also on its "
    "FP32 runs): it is suspect; re-measure on a quiet machine (`qtui study` measures a disturbed "
    "run again and keeps the old file). The runs, once per kind:"
)


class CellWarning(NamedTuple):
    """A warning recorded by a run whose figures a study cell shows."""

    run_id: str
    kind: str  # a key of WARNING_KINDS
    text: str
    #: the run is one of the FP32 cell's repeats the speed-up divides by, not the cell's own
    baseline: bool = False


def _cell_warnings(runs: Iterable[RunResult], baseline: bool = False) -> tuple[CellWarning, ...]:
    return tuple(
        CellWarning(r.run_id, warning_kind(w), w, baseline) for r in runs for w in measurement_warnings(r)
    )


def _prefer_clean(group: list[RunResult]) -> tuple[list[RunResult], tuple[str, ...]]:
    """The repeats a cell aggregates: the undisturbed ones when there are any (the disturbed ones
    are left out and named), else all of them (and the cell carries their warnings)."""
    clean = [r for r in group if not measurement_disturbed(r)]
    if not clean or len(clean) == len(group):
        return group, ()
    return clean, tuple(r.run_id for r in group if measurement_disturbed(r))
STUDY_SYNTHETIC_CALIBRATION_NOTE = (
    f"{STUDY_SYNTHETIC_CALIBRATION_MARK} INT8 static calibrated on synthetic images, not on the "
    "measured data (dataset.calibration = 'synthetic'): calibrating on the data may do better"
)


def calibrated_on_synthetic(result: RunResult) -> bool:
    """Whether the run's INT8 static artifact was calibrated on synthetic images while the run
    measured other data (recorded by the runner as `provenance.calibration_data`)."""
    return result.provenance.get("calibration_data") == "synthetic"


@dataclass(frozen=True)
class StudyCell:
    """One framework × precision cell on one device. With `ok` runs it aggregates every `ok` run
    that repeats the newest one's measurement (`repeats_of`): `value` is their median,
    `estimate` the median with its interval, `speedup`/`speedup_estimate` the speed-up over the
    matching FP32 cell's repeats (None for FP32 itself). Without `ok` runs it is the newest
    INVALID run, with no speed-up. `fidelity` is the short accuracy/fidelity of the matching
    accuracy-mode run ("" when there is none), `delta` its change against FP32, `executed` what
    the runtime reported executing, `efficiency` the GOP/s achieved and share of the nominal peak
    (the runs' recorded `efficiency`, medians over the repeats). `warnings` are the warnings of
    every run its figures rest on (its repeats, and the FP32 repeats of its speed-up, marked
    `baseline`): every view marks such a cell (`metric_text`/`speedup_text` end with `⚠`) and
    `study_notes` names the runs per kind. Disturbed repeats are left out (`left_out`) when
    undisturbed repeats of the same measurement exist."""

    run_id: str  # the newest run of the cell
    status: str
    value: float | None
    speedup: float | None
    fidelity: str
    estimate: Estimate | None = None
    speedup_estimate: Estimate | None = None
    run_ids: tuple[str, ...] = ()  # every run aggregated, oldest first
    values: tuple[float, ...] = ()  # their scenario metric
    delta: str = ""
    executed: str = ""
    device: str = ""
    framework: str = ""
    precision: str = ""
    efficiency: str = ""
    #: every warning recorded by a run this cell's figures rest on: its own runs, and (marked
    #: `baseline`) the FP32 repeats its speed-up divides by; () when they were all quiet
    warnings: tuple[CellWarning, ...] = ()
    #: disturbed repeats not aggregated because undisturbed repeats of the same measurement exist
    left_out: tuple[str, ...] = ()
    #: INT8 static calibrated on synthetic images while measuring other data (marked †)
    synthetic_calibration: bool = False

    @property
    def repeats(self) -> int:
        return max(len(self.run_ids), 1)

    @property
    def disturbed(self) -> bool:
        """True when a run behind the cell's figures recorded a warning."""
        return bool(self.warnings)

    @property
    def warning_kinds(self) -> tuple[str, ...]:
        """The kinds of the cell's warnings (keys of WARNING_KINDS), in that table's order."""
        kinds = {w.kind for w in self.warnings}
        return tuple(k for k in WARNING_KINDS if k in kinds)

    @property
    def warned_runs(self) -> tuple[str, ...]:
        """The runs that recorded the cell's warnings, each once."""
        return tuple(dict.fromkeys(w.run_id for w in self.warnings))

    @property
    def unstable(self) -> bool:
        return self.estimate is not None and self.estimate.unstable

    @property
    def has_interval(self) -> bool:
        return self.estimate is not None and self.estimate.has_interval

    def metric_text(self) -> str:
        """"8.04 [7.91–8.20]" with an interval, else "8.04"; then "!" when unstable, "†" when
        calibrated on synthetic images for other data, "*" when INVALID."""
        text = format_figure(self.value) or "n/a"
        est = self.estimate
        if est is not None and est.has_interval:
            text += f" [{format_figure(est.low)}–{format_figure(est.high)}]"
        if self.unstable:
            text += STUDY_UNSTABLE_MARK
        if self.synthetic_calibration:
            text += STUDY_SYNTHETIC_CALIBRATION_MARK
        if self.status != "ok":
            text += STUDY_INVALID_MARK
        if any(not w.baseline for w in self.warnings):
            text += f" {STUDY_WARNING_MARK}"
        return text

    def speedup_text(self) -> str:
        """"×2.50 [2.41–2.58]", "×2.50" without an interval, "" without a speed-up."""
        if self.speedup is None:
            return ""
        text = f"×{self.speedup:.2f}"
        est = self.speedup_estimate
        if est is not None and est.has_interval:
            text += f" [{est.low:.2f}–{est.high:.2f}]"
        if self.warnings:  # it rests on the cell's own runs and on the FP32 runs it divides by
            text += f" {STUDY_WARNING_MARK}"
        return text

    def lines(self, executed: bool = False, delta: bool = False, efficiency: bool = False) -> tuple[str, ...]:
        """The cell as text. One run (or no interval): "8.04 ×2.50" (then "*" when INVALID);
        with an interval the speed-up gets its own line. Then the fidelity, and on demand the
        Δ versus FP32, the executed precision and the efficiency ("12.3 GOP/s, 4.1 % of
        nominal peak")."""
        metric, speed = self.metric_text(), self.speedup_text()
        with_interval = self.has_interval or (self.speedup_estimate is not None and self.speedup_estimate.has_interval)
        out = [metric, speed] if speed and with_interval else [f"{metric} {speed}" if speed else metric]
        if self.fidelity:
            out.append(self.fidelity)
        if delta and self.precision != "fp32" and self.status == "ok":
            out.append(f"Δ {self.delta or STUDY_EMPTY_CELL}")
        if executed and self.executed:
            out.append(f"ran: {self.executed}")
        if efficiency and self.efficiency:
            out.append(self.efficiency)
        return tuple(out)


class StudyRow(NamedTuple):
    """One framework on one device: a cell per precision of the table (None: nothing run)."""

    framework: str
    cells: tuple[StudyCell | None, ...]
    device: str = ""


@dataclass(frozen=True)
class StudyTable:
    """Framework × precision for one model and scenario: `rows` are (framework, cells, device),
    one cell per precision in `precisions` (None where nothing was run). With results from
    several devices each framework has a row per device, side by side, and the table a "device"
    column."""

    model: str
    scenario: str
    precisions: tuple[str, ...]
    rows: tuple[StudyRow, ...]
    devices: tuple[str, ...] = ()
    show_executed: bool = False
    show_delta: bool = False
    show_efficiency: bool = False

    @property
    def metric(self) -> ScenarioMetric:
        return scenario_metric(self.scenario)

    @property
    def title(self) -> str:
        return f"{label_title(self.model)} · {self.scenario}: {self.metric.label}, ×FP32"

    @property
    def by_device(self) -> bool:
        return len(self.devices) > 1

    @property
    def label_columns(self) -> int:
        """The leading text columns: framework, and device when there are several."""
        return 2 if self.by_device else 1

    @property
    def header(self) -> list[str]:
        labels = ["framework", "device"] if self.by_device else ["framework"]
        return [*labels, *(STUDY_PRECISION_LABELS.get(p, p) for p in self.precisions)]

    def text_rows(self) -> list[list[tuple[str, ...]]]:
        """Every row as text: the framework's title (and the device), then each cell's lines."""
        out = []
        for row in self.rows:
            labels = [(FRAMEWORK_TITLES.get(row.framework, row.framework),)]
            if self.by_device:
                labels.append((row.device,))
            out.append([
                *labels,
                *(
                    (c.lines(self.show_executed, self.show_delta, self.show_efficiency) if c else (STUDY_EMPTY_CELL,))
                    for c in row.cells
                ),
            ])
        return out

    def cells(self) -> list[StudyCell]:
        """Every cell that has a run, row by row."""
        return [c for row in self.rows for c in row.cells if c is not None]

    @property
    def has_invalid(self) -> bool:
        return any(c.status != "ok" for c in self.cells())

    @property
    def has_repeats(self) -> bool:
        return any(c.repeats > 1 for c in self.cells())

    @property
    def has_unstable(self) -> bool:
        return any(c.unstable for c in self.cells())

    @property
    def has_warnings(self) -> bool:
        return any(c.warnings or c.left_out for c in self.cells())

    @property
    def has_synthetic_calibration(self) -> bool:
        return any(c.synthetic_calibration for c in self.cells())


def _newest(runs: Iterable[RunResult]) -> RunResult | None:
    return max(runs, key=order_key, default=None)


def _fidelity_for(run: RunResult, pool: list[RunResult]) -> str:
    """Short accuracy/fidelity of the newest `ok` accuracy-mode run of the same artifact."""
    source = accuracy_run_for(run, pool)
    return fidelity_short(source) if source is not None else ""


def _executed(runs: Iterable[RunResult]) -> str:
    seen: list[str] = []
    for r in runs:
        text = one_line(r.artifact.get("executed_precision") or "").strip()
        if text and text not in seen:
            seen.append(text)
    return " / ".join(seen)


def _efficiency(runs: Iterable[RunResult]) -> str:
    """"12.3 GOP/s, 4.1 % of nominal peak" from the runs' recorded efficiency (medians over the
    runs that recorded it; the share only where a nominal peak was derived); "" without any."""
    records = [r.efficiency or {} for r in runs]
    gops = [v for e in records if (v := _as_number(e.get("achieved_gops"))) is not None]
    if not gops:
        return ""
    text = f"{format_figure(float(median(gops)))} GOP/s"
    shares = [v for e in records if (v := _as_number(e.get("fraction_of_nominal_peak"))) is not None]
    if not shares:
        return text
    bound = any(e.get("fraction_is_upper_bound") is True for e in records)
    return f"{text}, {fraction_text(float(median(shares)), bound)} of nominal peak"


def _study_cell(
    runs: list[RunResult], pool: list[RunResult], key: Callable[[RunResult], str], device: str
) -> StudyCell | None:
    """The cell of `runs` (one framework, precision, model, scenario and device; ok or INVALID
    performance runs): see `StudyCell`."""
    newest_ok = _newest(r for r in runs if r.status == "ok")
    if newest_ok is None:
        shown = _newest(runs)
        if shown is None:
            return None
        p = shown.profile
        value = shown.metric[1]
        return StudyCell(
            shown.run_id, shown.status, value, None, _fidelity_for(shown, pool),
            run_ids=(shown.run_id,), values=(value,) if value is not None else (),
            executed=_executed([shown]), device=device, framework=p.framework, precision=p.precision,
            efficiency=_efficiency([shown]), warnings=_cell_warnings([shown]),
            synthetic_calibration=calibrated_on_synthetic(shown),
        )
    p = newest_ok.profile
    group, left_out = _prefer_clean(repeats_of(newest_ok, runs, key))
    newest_ok = group[-1]
    values = _metric_values(group)
    estimate = bootstrap_median(values) if values else None
    sp: Estimate | None = None
    warnings = _cell_warnings(group)
    if p.precision != "fp32":
        base = fp32_baseline(newest_ok, pool)
        if base is not None and speedup(newest_ok, base) is not None:
            base_group, _ = _prefer_clean(repeats_of(base, pool, key))
            sp = speedup_estimate(values, _metric_values(base_group), scenario_metric(p.scenario).higher_is_better)
            warnings += _cell_warnings(base_group, baseline=True)
    return StudyCell(
        newest_ok.run_id, "ok", estimate.median if estimate else None, sp.median if sp else None,
        _fidelity_for(newest_ok, pool), estimate=estimate, speedup_estimate=sp,
        run_ids=tuple(r.run_id for r in group), values=tuple(values),
        delta=quality_delta(newest_ok, pool), executed=_executed(group),
        device=device, framework=p.framework, precision=p.precision, efficiency=_efficiency(group),
        warnings=warnings, left_out=left_out,
        synthetic_calibration=any(calibrated_on_synthetic(r) for r in group),
    )


def study_tables(
    results: Iterable[RunResult],
    pool: Iterable[RunResult] | None = None,
    *,
    executed: bool = False,
    delta: bool = False,
    efficiency: bool = False,
) -> list[StudyTable]:
    """The study's tables for every model × scenario with performance runs in `results`, each
    device's rows side by side. A cell aggregates the `ok` repeats of its newest `ok` run, else
    shows the newest INVALID one (cancelled and failed runs never); baselines, their repeats and
    fidelity come from `pool` (default: `results`). `executed`/`delta`/`efficiency` add those
    lines."""
    results = list(results)
    chosen = [r for r in results if r.profile.mode == "performance" and r.status in ("ok", "invalid")]
    pool_list = list(pool) if pool is not None else results
    key = _RepeatKeys()
    labels = {id(r): device_label(r) for r in chosen}
    tables = []
    # the built-ins in table order, then the user's own model files by name
    for model in [*MODELS, *sorted({r.profile.model for r in chosen} - set(MODELS))]:
        for scenario in SCENARIOS:
            here = [r for r in chosen if (r.profile.model, r.profile.scenario) == (model, scenario)]
            if not here:
                continue
            devices = tuple(sorted({labels[id(r)] for r in here}, key=str.casefold))
            picked: dict[tuple[str, str, str], StudyCell] = {}
            for fw in FRAMEWORKS:
                for device in devices:
                    for prec in PRECISIONS:
                        runs = [
                            r for r in here
                            if (r.profile.framework, r.profile.precision) == (fw, prec) and labels[id(r)] == device
                        ]
                        cell = _study_cell(runs, pool_list, key, device) if runs else None
                        if cell is not None:
                            picked[(fw, device, prec)] = cell
            precisions = tuple(q for q in PRECISIONS if any(k[2] == q for k in picked))
            rows = [
                StudyRow(fw, tuple(picked.get((fw, device, prec)) for prec in precisions), device)
                for fw in FRAMEWORKS
                for device in devices
                if any(k[:2] == (fw, device) for k in picked)
            ]
            tables.append(StudyTable(model, scenario, precisions, tuple(rows), devices, executed, delta, efficiency))
    return tables


def study_notes(tables: Iterable[StudyTable]) -> list[str]:
    """The legend under the study tables: what × means, and the notes the cells need (repeats
    and their interval, unstable, Δ, executed precision, efficiency, INVALID)."""
    tables = list(tables)
    if not tables:
        return []
    notes = [STUDY_SPEEDUP_NOTE]
    if any(t.has_repeats for t in tables):
        notes.append(STUDY_REPEATS_NOTE)
    if any(t.has_unstable for t in tables):
        notes.append(STUDY_UNSTABLE_NOTE)
    if any(t.show_delta for t in tables):
        notes.append(STUDY_DELTA_NOTE)
    if any(t.show_executed for t in tables):
        notes.append(STUDY_EXECUTED_NOTE)
    if any(t.show_efficiency for t in tables):
        notes.append(STUDY_EFFICIENCY_NOTE)
    if any(t.has_synthetic_calibration for t in tables):
        notes.append(STUDY_SYNTHETIC_CALIBRATION_NOTE)
    if any(t.has_invalid for t in tables):
        notes.append(STUDY_INVALID_NOTE)
    return notes + study_warning_notes(tables)


def study_warning_notes(tables: Iterable[StudyTable]) -> list[str]:
    """The legend of the `⚠` marks: what they mean, then each kind of warning once with the runs
    that recorded it, and the disturbed repeats left out of their cells; [] when every run was
    quiet."""
    by_kind: dict[str, list[str]] = {}
    left_out: list[str] = []
    for table in tables:
        for cell in table.cells():
            for w in cell.warnings:
                by_kind.setdefault(w.kind, []).append(w.run_id)
            left_out += cell.left_out
    notes = []
    if by_kind:
        notes.append(STUDY_WARNING_NOTE)
        notes += [f"{STUDY_WARNING_MARK} {WARNING_KINDS[k]}: {runs_text(by_kind[k])}" for k in WARNING_KINDS if k in by_kind]
    if left_out:
        notes.append(
            f"left out of their cells, disturbed (undisturbed repeats of the same measurement are "
            f"shown instead): {runs_text(left_out)}"
        )
    return notes


def study_markdown(
    results: Iterable[RunResult],
    pool: Iterable[RunResult] | None = None,
    *,
    executed: bool = False,
    delta: bool = False,
    efficiency: bool = False,
) -> str:
    """`study_tables` as Markdown: a heading and a table per model × scenario, a cell's lines
    joined by <br>, and the notes (`study_notes`)."""
    tables = study_tables(results, pool, executed=executed, delta=delta, efficiency=efficiency)
    blocks = []
    for table in tables:
        lines = [f"### {_md_cell(table.title)}", "", "| " + " | ".join(_md_cell(h) for h in table.header) + " |"]
        lines.append("|" + "---|" * table.label_columns + "---:|" * len(table.precisions))
        for row in table.text_rows():
            lines.append("| " + " | ".join("<br>".join(_md_cell(x) for x in cell) for cell in row) + " |")
        blocks.append("\n".join(lines))
    for note in study_notes(tables):
        # a line starting "* " would be a list item
        blocks.append("\\" + note if note.startswith(STUDY_INVALID_MARK) else note)
    return "\n\n".join(blocks) + ("\n" if blocks else "")
