"""Reading LoadGen's own log: its verdict (VALID/INVALID and why), the scenario's metric and its
latency figures, from `mlperf_log_detail.txt` as `qtui.core.loadgen.parse_detail_log` parses it.
Kept apart from the LoadGen glue so that reading a log never needs `mlperf_loadgen`.
"""

from __future__ import annotations

from typing import Any


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
