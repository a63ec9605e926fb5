"""Reading LoadGen's own logs: `mlperf_log_detail.txt` (`parse_detail_log`) and from it the verdict
(VALID/INVALID and why), the scenario's metric and the latency figures (`loadgen_figures`);
`mlperf_log_accuracy.json` (`parse_accuracy_log`). Kept apart from the LoadGen glue
(`qtui.core.loadgen`) so that reading a log never needs `mlperf_loadgen`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

_MLLOG = re.compile(r":::MLLOG (\{.*\})")


def parse_detail_log(path: Path) -> dict[str, Any]:
    """`key -> value` from `mlperf_log_detail.txt`'s `:::MLLOG {json}` lines (last wins)."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    warnings: list[str] = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return values
    for line in text.splitlines():
        m = _MLLOG.search(line)
        if not m:
            continue
        try:
            entry = json.loads(m.group(1))
        except ValueError:
            continue
        key = entry.get("key")
        if key is None:
            continue
        if key == "error":
            errors.append(str(entry.get("value")))
        elif key == "warning":
            warnings.append(str(entry.get("value")))
        values[key] = entry.get("value")
    values["_errors"] = errors
    values["_warnings"] = warnings
    return values


def parse_accuracy_log(path: Path) -> dict[int, float]:
    """qsl_idx -> first float32 of the response data, from `mlperf_log_accuracy.json`."""
    try:
        entries = json.loads(path.read_text() or "[]")
    except (OSError, ValueError):
        return {}
    out: dict[int, float] = {}
    for e in entries:
        data = bytes.fromhex(e.get("data", ""))
        if len(data) >= 4:
            out[int(e["qsl_idx"])] = float(np.frombuffer(data[:4], dtype=np.float32)[0])
    return out



def loadgen_figures(scenario: str, detail: dict[str, Any]) -> dict[str, Any]:
    """LoadGen's verdict, reasons, scenario metric and latency figures from its detail log
    (`parse_detail_log`), for a run that LoadGen finished: what a result's `loadgen` keeps."""
    percentiles = {
        k.replace("result_", "").replace("_percentile_latency_ns", ""): v / 1e6
        for k, v in detail.items()
        if k.startswith("result_") and k.endswith("_percentile_latency_ns") and isinstance(v, (int, float))
    }
    return {
        "validity": detail.get("result_validity"),
        "invalid_reasons": [str(e) for e in detail.get("_errors", [])] + _invalid_reasons(detail),
        "warnings": detail.get("_warnings", []),
        "scenario_metric": scenario_metric_figure(scenario, detail),
        "samples_per_second": detail.get("result_samples_per_second"),
        "qps_with_loadgen_overhead": detail.get("result_qps_with_loadgen_overhead"),
        "percentiles_ms": percentiles,
        "min_latency_ms": _ns_ms(detail.get("result_min_latency_ns")),
        "mean_latency_ms": _ns_ms(detail.get("result_mean_latency_ns")),
        "max_latency_ms": _ns_ms(detail.get("result_max_latency_ns")),
    }


def _ns_ms(value: Any) -> float | None:
    return float(value) / 1e6 if isinstance(value, (int, float)) else None


def scenario_metric_figure(scenario: str, detail: dict[str, Any]) -> dict[str, Any]:
    """LoadGen's figure for the scenario's metric (the rule itself: results.scenario_metric)."""
    from qtui.core.results import scenario_metric

    rule = scenario_metric(scenario)
    if rule.percentile is None:
        return {"name": "samples per second", "value": detail.get("result_samples_per_second")}
    value = detail.get(f"result_{rule.percentile:.2f}_percentile_latency_ns")
    return {
        "name": f"{rule.key} latency (ms)",
        "value": _ns_ms(value),
        "early_stopping": detail.get("early_stopping_result"),
    }


_CHECKS = {
    "result_min_duration_met": "minimum duration not met",
    "result_min_queries_met": "minimum query count not met",
    "early_stopping_met": "early-stopping criterion not met (too few queries for the percentile)",
    "result_perf_constraints_met": "performance constraints not met",
}


def _invalid_reasons(detail: dict[str, Any]) -> list[str]:
    """Why LoadGen called the run INVALID, from the `result_*_met` flags and its reason key."""
    reasons = [text for key, text in _CHECKS.items() if detail.get(key) is False]
    extra = detail.get("result_invalid_reason")
    if isinstance(extra, list):
        reasons += [str(r) for r in extra]
    elif extra:
        reasons.append(str(extra))
    return reasons
