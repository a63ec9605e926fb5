"""Run results: the saved record of a run (schema-versioned JSON with the exact profile and the
machine it ran on), atomic save and strict loading. Comparing runs and the tables every view
renders live beside it, the way pyperf keeps the record (`_bench.py`) apart from comparing it
(`_compare.py`): `matching` (the FP32 baseline, speed-ups, repeats, quality evidence),
`run_table` (the run table and its exports) and `study_tables` (the study's tables), which all
read this module; it imports none of them (an import contract in pyproject.toml).

- `RunResult.from_dict` / `validate_result_dict`: a loaded result has the shape and field types
  the tables and the UI use, or it is refused (`ResultError`); its strings are cleaned of
  terminal control sequences (`qtui.core.text`).
- `load_results`: every result under a folder; non-regular, unreadable, oversized, malformed
  files and copies of a run (duplicate run id) are skipped with a warning, never raised.
- `scenario_metric`: the one rule for a scenario's MLPerf metric (SingleStream p90, MultiStream
  p99, Offline samples/s).
- `load_results_dirs`: results read from several folders (a laptop's and a Pi's), a run copied
  into both counted once; the tables name each run's device by `identity.device_label`.
- `measurement_warnings` / `warning_kind` / `measurement_disturbed`: a run's recorded warnings,
  their kind, and whether its measurement was disturbed (load, throttling, heat).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import stat
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qtui.core.files import atomic_write_text
from qtui.core.profile import ProfileError, RunProfile, profile_from_dict, to_dict
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


# -- what a run recorded about its measurement -----------------------------------------------------
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


def disturbing_kinds(result: RunResult) -> tuple[str, ...]:
    """The kinds of the run's recorded warnings that disturbed its measurement (other
    processes' load, throttling, heat: `DISTURBING_KINDS`, in that order), which measuring
    again on a quiet machine removes; lasting conditions (governor, threads, capped counts)
    are not among them."""
    kinds = {warning_kind(w) for w in measurement_warnings(result)}
    return tuple(k for k in DISTURBING_KINDS if k in kinds)


def measurement_disturbed(result: RunResult) -> bool:
    """True when the run recorded a warning that disturbed its measurement (`disturbing_kinds`)."""
    return bool(disturbing_kinds(result))


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
