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
  precision equal, status ok) and the speed-up over it (ok runs only).
- `table_rows` + `to_markdown` / `to_csv`: the run table; `study_tables` + `study_markdown`: the
  study's framework × precision cells. The CLI, the UI and every export only render these.
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
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qtui.core.catalog import FRAMEWORK_TITLES, MODEL_TITLES
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
    provenance: dict[str, Any] = field(default_factory=dict)
    artifact: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    message: str = ""
    schema_version: int = RESULT_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["profile"] = to_dict(self.profile)
        order = ["schema_version", "run_id", "created", "status", "message", "profile"]
        return {k: data[k] for k in order} | {k: v for k, v in data.items() if k not in order}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=_json_default)

    @classmethod
    def from_dict(cls, data: Any) -> RunResult:
        """A result from parsed JSON, refused (`ResultError`) unless it has the right shape;
        its strings (outside the profile) are cleaned of terminal control sequences."""
        fields_ = validate_result_dict(data)
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
        **dict.fromkeys(("hostname", "os", "system", "machine", "cpu_model", "board_model", "governor"), _STR),
        **dict.fromkeys(("cores_logical", "cores_physical", "threads", "memory_total_bytes"), _INT),
        "temperature_c": _NUM, "isa": _DICT, "frameworks": _DICT, "warnings": _STRS,
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
    "provenance": {"weights": _STR, "weights_digest": _STR, "data": _STR, "data_has_labels": _BOOL},
    "artifact": {
        "size_bytes": _NUM, "executed_precision": _STR, "runtime_version": _STR, "format": _STR,
        "cache_hit": _BOOL,
    },
    "memory": {"peak_rss_bytes": _NUM},
    "timings_s": {},
}
_TABLE_FIELDS = (
    "environment", "loadgen", "latency_ms", "throughput", "histogram", "provenance", "artifact",
    "memory", "timings_s",
)


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
        if value is not None and f"{name}.{key}" in _SHAPES:
            _check_table(f"{name}.{key}", value)


def _describe(value: Any) -> str:
    text = one_line(repr(value))
    return text if len(text) <= 40 else text[:37] + "..."


def parse_created(created: str) -> _dt.datetime:
    """A result's `created` time (ISO 8601); ValueError when it is not one."""
    return _dt.datetime.fromisoformat(created)


def validate_result_dict(data: Any) -> dict[str, Any]:
    """Check parsed JSON against the result format: the fields the tables and UI read have the
    right types (status in STATUSES, tables are tables, numbers are finite numbers or null, the
    profile is a valid profile). Returns the fields, strings cleaned, profile built; raises
    `ResultError` naming the first bad field."""
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
    fields_.setdefault("message", "")
    if not isinstance(fields_["message"], str):
        raise ResultError(f"'message' must be a string, not {_describe(fields_['message'])}")
    for name in _TABLE_FIELDS:
        table = fields_.setdefault(name, {})
        if not isinstance(table, dict):
            raise ResultError(f"'{name}' must be a table, not {_describe(table)}")
        _check_table(name, table)
    accuracy = fields_.get("accuracy")
    if accuracy is not None:
        if not isinstance(accuracy, dict):
            raise ResultError(f"'accuracy' must be a table or null, not {_describe(accuracy)}")
        _check_table("accuracy", accuracy)
    hist = fields_["histogram"]
    edges, counts = hist.get("edges_ms") or [], hist.get("counts") or []
    if (edges or counts) and len(edges) != len(counts) + 1:
        raise ResultError(f"'histogram' has {len(edges)} edges for {len(counts)} bins")
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


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def load_result(path: Path) -> RunResult:
    """One result file; `ResultError` (a ValueError) when it cannot be shown, with the reason."""
    raw = _read_regular_file(Path(path), MAX_RESULT_BYTES)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ResultError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise ResultError("JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        raise ResultError(f"not valid JSON ({exc})") from None
    return RunResult.from_dict(data)


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
        try:
            result = load_result(path)
        except _DAMAGE as exc:
            say(f"warning: skipping damaged result {path}: {exc}")
            continue
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
def effective_threads(result: RunResult) -> Any:
    """The threads the run used (the environment records them; `threads = 0` means all)."""
    used = result.environment.get("threads")
    return used if isinstance(used, int) else result.profile.threads


def device_identity(result: RunResult) -> tuple[Any, ...]:
    """The machine and runtime a run measured: host name, architecture, CPU, board and the
    framework's version."""
    env = result.environment
    versions = env.get("frameworks") or {}
    return (
        env.get("hostname"), env.get("machine"), env.get("cpu_model"), env.get("board_model"),
        versions.get(result.profile.framework),
    )


def _same_weights_and_data(a: RunResult, b: RunResult) -> bool:
    p, q = a.profile, b.profile
    da, db = a.provenance.get("weights_digest"), b.provenance.get("weights_digest")
    return (
        p.model == q.model and p.weights == q.weights
        and (p.dataset.source, p.dataset.count, p.dataset.seed) == (q.dataset.source, q.dataset.count, q.dataset.seed)
        and (da is None or db is None or da == db)
        and device_identity(a) == device_identity(b)
    )


def same_setup_but_precision(a: RunResult, b: RunResult) -> bool:
    """True when two runs differ at most in precision: model, framework, scenario, mode, threads
    used, batch size, warm-up, weights, data (source, count, seed, performance sample count),
    LoadGen settings and device all equal."""
    p, q = a.profile, b.profile
    return (
        (p.framework, p.scenario, p.mode, p.batch_size, p.warmup_queries, p.loadgen)
        == (q.framework, q.scenario, q.mode, q.batch_size, q.warmup_queries, q.loadgen)
        and p.dataset.performance_sample_count == q.dataset.performance_sample_count
        and effective_threads(a) == effective_threads(b)
        and _same_weights_and_data(a, b)
    )


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
    return value / base if scenario_metric(result.profile.scenario).higher_is_better else base / value


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
)


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
                "model": p.model,
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
            }
        )
    return rows


def format_figure(value: Any) -> str:
    """A measured figure, about three significant digits ("" for none): 0.52, 38.5, 245, 1234."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"
    return one_line(value)


def _md_cell(text: str) -> str:
    return one_line(text).replace("|", "\\|")


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
        writer.writerow({k: ("" if row[k] is None else row[k] if _number(row[k]) else one_line(row[k])) for k in TABLE_COLUMNS})
    return buf.getvalue()


def summary_line(result: RunResult) -> str:
    label, value = result.metric
    p = result.profile
    verdict = one_line(result.loadgen.get("validity") or "")
    metric = f"{label} {value:.3f}" if value is not None else f"{label} n/a"
    return f"{p.model} {p.framework} {p.precision} {p.scenario}: {result.status} ({verdict}) {metric}"


# -- the study tables ------------------------------------------------------------------------------
STUDY_PRECISION_LABELS = {"fp32": "FP32", "fp16": "FP16", "int8_dynamic": "INT8d", "int8_static": "INT8s"}
STUDY_INVALID_MARK = "*"
STUDY_EMPTY_CELL = "–"
STUDY_SPEEDUP_NOTE = (
    "×: speed-up over the FP32 run with the same model, framework, scenario, threads, batch size, "
    "weights, data, LoadGen settings and machine"
)
STUDY_INVALID_NOTE = f"{STUDY_INVALID_MARK} LoadGen said INVALID (e.g. too short): no speed-up given"


@dataclass(frozen=True)
class StudyCell:
    """One framework × precision cell: the run shown, its scenario metric, speed-up over the
    matching FP32 run (None for FP32 itself and for runs that are not `ok`) and the short
    accuracy/fidelity of the matching accuracy-mode run ("" when there is none)."""

    run_id: str
    status: str
    value: float | None
    speedup: float | None
    fidelity: str

    def lines(self) -> tuple[str, ...]:
        """The cell as text: "8.04 ×2.50" (then "*" when INVALID), the fidelity below it."""
        figure = format_figure(self.value) or "n/a"
        if self.speedup is not None:
            figure += f" ×{self.speedup:.2f}"
        if self.status != "ok":
            figure += STUDY_INVALID_MARK
        return (figure, self.fidelity) if self.fidelity else (figure,)


@dataclass(frozen=True)
class StudyTable:
    """Framework × precision for one model and scenario: `rows` are (framework, cells), one cell
    per precision in `precisions` (None where nothing was run)."""

    model: str
    scenario: str
    precisions: tuple[str, ...]
    rows: tuple[tuple[str, tuple[StudyCell | None, ...]], ...]

    @property
    def metric(self) -> ScenarioMetric:
        return scenario_metric(self.scenario)

    @property
    def title(self) -> str:
        return f"{MODEL_TITLES.get(self.model, self.model)} · {self.scenario}: {self.metric.label}, ×FP32"

    @property
    def header(self) -> list[str]:
        return ["framework", *(STUDY_PRECISION_LABELS.get(p, p) for p in self.precisions)]

    def text_rows(self) -> list[list[tuple[str, ...]]]:
        """Every row as text: the framework's title, then each cell's lines."""
        return [
            [(FRAMEWORK_TITLES.get(fw, fw),), *((c.lines() if c else (STUDY_EMPTY_CELL,)) for c in cells)]
            for fw, cells in self.rows
        ]

    @property
    def has_invalid(self) -> bool:
        return any(c is not None and c.status != "ok" for _, cells in self.rows for c in cells)


def _newest(runs: Iterable[RunResult]) -> RunResult | None:
    return max(runs, key=order_key, default=None)


def _fidelity_for(run: RunResult, pool: list[RunResult]) -> str:
    """Short accuracy/fidelity of the newest `ok` accuracy-mode run of the same model, framework,
    precision, weights, data and device."""
    p = run.profile
    source = _newest(
        r for r in pool
        if r.status == "ok" and r.profile.mode == "accuracy"
        and (r.profile.framework, r.profile.precision) == (p.framework, p.precision)
        and _same_weights_and_data(r, run)
    )
    return fidelity_short(source) if source is not None else ""


def study_tables(results: Iterable[RunResult], pool: Iterable[RunResult] | None = None) -> list[StudyTable]:
    """The study's tables for every model × scenario with performance runs in `results`. A cell
    shows the newest `ok` run of that framework and precision, else the newest INVALID one
    (cancelled and failed runs never); baselines and fidelity come from `pool` (default:
    `results`)."""
    results = list(results)
    chosen = [r for r in results if r.profile.mode == "performance" and r.status in ("ok", "invalid")]
    pool_list = list(pool) if pool is not None else results
    tables = []
    for model in MODELS:
        for scenario in SCENARIOS:
            picked: dict[tuple[str, str], RunResult] = {}
            here = [r for r in chosen if (r.profile.model, r.profile.scenario) == (model, scenario)]
            for fw in FRAMEWORKS:
                for prec in PRECISIONS:
                    runs = [r for r in here if (r.profile.framework, r.profile.precision) == (fw, prec)]
                    best = _newest(r for r in runs if r.status == "ok") or _newest(runs)
                    if best is not None:
                        picked[(fw, prec)] = best
            if not picked:
                continue
            precisions = tuple(q for q in PRECISIONS if any(k[1] == q for k in picked))
            rows = []
            for fw in FRAMEWORKS:
                if not any(k[0] == fw for k in picked):
                    continue
                cells: list[StudyCell | None] = []
                for prec in precisions:
                    r = picked.get((fw, prec))
                    if r is None:
                        cells.append(None)
                        continue
                    sp = speedup_vs_fp32(r, pool_list) if prec != "fp32" else None
                    cells.append(StudyCell(r.run_id, r.status, r.metric[1], sp, _fidelity_for(r, pool_list)))
                rows.append((fw, tuple(cells)))
            tables.append(StudyTable(model, scenario, precisions, tuple(rows)))
    return tables


def study_markdown(results: Iterable[RunResult], pool: Iterable[RunResult] | None = None) -> str:
    """`study_tables` as Markdown: a heading and a table per model × scenario, a cell's lines
    joined by <br>, and the legend when a cell is INVALID."""
    tables = study_tables(results, pool)
    blocks = []
    for table in tables:
        lines = [f"### {_md_cell(table.title)}", "", "| " + " | ".join(table.header) + " |"]
        lines.append("|---|" + "---:|" * len(table.precisions))
        for row in table.text_rows():
            lines.append("| " + " | ".join("<br>".join(_md_cell(x) for x in cell) for cell in row) + " |")
        blocks.append("\n".join(lines))
    if tables:
        blocks.append(STUDY_SPEEDUP_NOTE)
    if any(t.has_invalid for t in tables):
        blocks.append("\\" + STUDY_INVALID_NOTE)  # a line starting "* " would be a list item
    return "\n\n".join(blocks) + ("\n" if blocks else "")
