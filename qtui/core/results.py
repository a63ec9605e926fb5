"""Run results: the saved record of a run (schema-versioned JSON with the exact profile and the
machine it ran on), atomic save, loading that skips damaged files, and tables (Markdown, CSV)."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qtui.core.profile import ProfileError, RunProfile, profile_from_dict, to_dict

RESULT_SCHEMA_VERSION = 1
STATUSES = ("ok", "invalid", "cancelled", "failed")


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
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        version = data.get("schema_version")
        if version != RESULT_SCHEMA_VERSION:
            raise ValueError(f"result schema_version {version!r} is not {RESULT_SCHEMA_VERSION}")
        fields_ = dict(data)
        fields_["profile"] = profile_from_dict(data["profile"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in fields_.items() if k in known})

    # convenience accessors for tables
    @property
    def metric(self) -> tuple[str, float | None]:
        """The scenario's MLPerf metric: (label, value)."""
        sc = self.profile.scenario
        if sc == "Offline":
            return "samples/s", self.throughput.get("samples_per_s")
        key = "p90" if sc == "SingleStream" else "p99"
        return f"{key} ms", self.latency_ms.get(key)


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


def load_result(path: Path) -> RunResult:
    data = json.loads(path.read_text(encoding="utf-8"))
    return RunResult.from_dict(data)


def load_results(results_root: Path, warn: Any = None) -> list[RunResult]:
    """Every readable result under `results_root`, oldest first; damaged ones are skipped with a
    warning (to `warn(msg)`, default stderr)."""
    out: list[RunResult] = []
    if not results_root.exists():
        return out
    for path in sorted(results_root.glob("*/result.json")):
        try:
            out.append(load_result(path))
        except (OSError, ValueError, KeyError, TypeError, ProfileError) as exc:
            msg = f"warning: skipping damaged result {path}: {exc}"
            if warn is None:
                print(msg, file=sys.stderr)
            else:
                warn(msg)
    out.sort(key=lambda r: r.created)
    return out


TABLE_COLUMNS = (
    "run_id", "model", "framework", "precision", "scenario", "mode", "status", "verdict",
    "p50_ms", "p90_ms", "p99_ms", "samples_per_s", "speedup_vs_fp32", "accuracy", "size_mb",
)


def fp32_baseline(result: RunResult, pool: Iterable[RunResult]) -> RunResult | None:
    """The newest completed FP32 run of the same model, weights, framework, scenario and mode."""
    p = result.profile
    if p.precision == "fp32":
        return result
    best: RunResult | None = None
    for r in pool:
        q = r.profile
        if (
            r.status in ("ok", "invalid")
            and q.precision == "fp32"
            and (q.model, q.framework, q.scenario, q.mode, q.weights) == (p.model, p.framework, p.scenario, p.mode, p.weights)
        ) and (best is None or r.created > best.created):
            best = r
    return best


def speedup(result: RunResult, baseline: RunResult | None) -> float | None:
    """Throughput ratio for Offline, latency ratio (baseline ÷ this) for the stream scenarios."""
    if baseline is None:
        return None
    label, value = result.metric
    _, base = baseline.metric
    if not value or not base:
        return None
    return value / base if label == "samples/s" else base / value


def accuracy_text(result: RunResult) -> str:
    acc = result.accuracy or {}
    if acc.get("top1") is not None:
        return f"top-1 {acc['top1'] * 100:.1f}%"
    fid = acc.get("fidelity") or {}
    if fid.get("sqnr_db") is not None:
        return f"SQNR {fid['sqnr_db']:.0f} dB, agr {fid['centred_top1_agreement'] * 100:.0f}%/{fid['centred_distinct_classes']}cl"
    return ""


def table_rows(results: list[RunResult], pool: Iterable[RunResult] | None = None) -> list[dict[str, Any]]:
    pool_list = list(pool) if pool is not None else results
    rows = []
    for r in results:
        p = r.profile
        sp = speedup(r, fp32_baseline(r, pool_list))
        rows.append(
            {
                "run_id": r.run_id,
                "model": p.model,
                "framework": p.framework,
                "precision": p.precision,
                "scenario": p.scenario,
                "mode": p.mode,
                "status": r.status,
                "verdict": r.loadgen.get("validity", ""),
                "p50_ms": r.latency_ms.get("p50"),
                "p90_ms": r.latency_ms.get("p90"),
                "p99_ms": r.latency_ms.get("p99"),
                "samples_per_s": r.throughput.get("samples_per_s"),
                "speedup_vs_fp32": sp,
                "accuracy": accuracy_text(r),
                "size_mb": (r.artifact.get("size_bytes") or 0) / 1e6 or None,
            }
        )
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row[c]) for c in TABLE_COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(TABLE_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row[k] is None else row[k]) for k in TABLE_COLUMNS})
    return buf.getvalue()


def summary_line(result: RunResult) -> str:
    label, value = result.metric
    p = result.profile
    verdict = result.loadgen.get("validity", "")
    metric = f"{label} {value:.3f}" if isinstance(value, float) else f"{label} n/a"
    return f"{p.model} {p.framework} {p.precision} {p.scenario}: {result.status} ({verdict}) {metric}"


def study_table(results: list[RunResult], model: str, scenario: str) -> tuple[list[str], list[list[str]]]:
    """The study's layout for one model and scenario: a row per framework, a column per
    precision; each cell the scenario metric of the newest completed run and its speed-up over
    that framework's FP32 run. Returns (header, rows) of strings."""
    from qtui.core.profile import FRAMEWORKS, PRECISIONS

    newest: dict[tuple[str, str], RunResult] = {}
    for r in results:
        p = r.profile
        if p.model != model or p.scenario != scenario or p.mode != "performance" or r.status not in ("ok", "invalid"):
            continue
        key = (p.framework, p.precision)
        if key not in newest or r.created > newest[key].created:
            newest[key] = r
    label = "samples/s" if scenario == "Offline" else ("p90 ms" if scenario == "SingleStream" else "p99 ms")
    header = [f"{model} {scenario} ({label})", *PRECISIONS]
    rows = []
    for fw in FRAMEWORKS:
        if not any((fw, pr) in newest for pr in PRECISIONS):
            continue
        base = newest.get((fw, "fp32"))
        cells = [fw]
        for pr in PRECISIONS:
            r = newest.get((fw, pr))
            if r is None:
                cells.append("")
                continue
            _, value = r.metric
            sp = speedup(r, base) if base is not None else None
            flag = "" if r.status == "ok" else " (INVALID)"
            text = f"{value:.3g}" if isinstance(value, float) else "n/a"
            cells.append(text + (f" ×{sp:.2f}" if sp is not None and pr != "fp32" else "") + flag)
        rows.append(cells)
    return header, rows


def study_markdown(results: list[RunResult]) -> str:
    """Every model × scenario present in `results`, as study tables in Markdown."""
    blocks = []
    combos = sorted({(r.profile.model, r.profile.scenario) for r in results})
    for model, scenario in combos:
        header, rows = study_table(results, model, scenario)
        if not rows:
            continue
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
