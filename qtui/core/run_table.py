"""The run table: one row per run (`table_rows`, columns `TABLE_COLUMNS`, speed-up over the
matching FP32 run) and its exports (`to_markdown` / `to_csv`, every text through its sink), the
figures' text (`format_figure`, `accuracy_text`, `fidelity_short`) and a run's one-line
summary. The CLI, the UI and every export only render these.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from qtui.core.identity import device_label
from qtui.core.matching import speedup_vs_fp32
from qtui.core.model_source import model_label
from qtui.core.results import RunResult, _as_number, _number, measurement_warnings
from qtui.core.sinks import for_csv, for_markdown
from qtui.core.text import one_line


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


# -- the run table ---------------------------------------------------------------------------------
TABLE_COLUMNS = (
    "run_id", "model", "framework", "precision", "scenario", "mode", "status", "verdict",
    "p50_ms", "p90_ms", "p99_ms", "samples_per_s", "speedup_vs_fp32", "accuracy", "size_mb",
    "achieved_gops", "fraction_of_nominal_peak", "fraction_is_upper_bound", "device", "warnings",
)


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
