"""LoadGen's stopping rule, for progress bars and "time left" that tell the truth.

Measured on LoadGen 6.0.17 (a no-op SUT; see tests/core/test_schedule.py):
- Offline issues one query of N = max(min_query_count, int(1.1 × expected_qps × min_duration))
  samples (truncated) and ends when all N are answered — sooner than min_duration when the system beats its
  expected QPS (then the run is INVALID), later when it is slower.
- SingleStream / MultiStream generate max(min_query_count, 2 × min_duration / expected latency
  + 1) queries and stop issuing once both min_duration has elapsed and min_query_count queries
  have completed (or when every generated query has been issued).

`max_duration_ms` / `max_query_count`, when set, end a run earlier still.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from qtui.core.text import format_duration

#: LoadGen sizes an Offline query 10 % above expected_qps × min_duration.
OFFLINE_MARGIN = 1.1


@dataclass(frozen=True)
class StopRule:
    """When LoadGen stops: after `min_duration_s` and `min_queries` (streams), or after
    `total_samples` (Offline); `unit` is what the user is told the run counts."""

    scenario: str
    min_duration_s: float
    min_queries: int
    samples_per_query: int
    total_samples: int | None  # Offline: the size of its one query
    max_duration_s: float | None
    max_queries: int | None

    @property
    def unit(self) -> str:
        return "samples" if self.scenario == "Offline" else "queries"

    def describe(self) -> str:
        """`≥ 24576 samples` / `≥ 1024 queries, ≥ 10m00s` — what LoadGen must see before it stops."""
        if self.scenario == "Offline":
            text = f"{self.total_samples} samples in one query"
            if self.min_duration_s:
                text += f" (sized to last ≥ {format_duration(self.min_duration_s, 0 if self.min_duration_s == int(self.min_duration_s) else 1)} at the expected rate)"
            return text
        parts = [f"≥ {self.min_queries} queries"]
        if self.min_duration_s:
            parts.append(f"≥ {format_duration(self.min_duration_s, 0 if self.min_duration_s == int(self.min_duration_s) else 1)}")
        return ", ".join(parts)


def stop_rule(settings: dict[str, Any]) -> StopRule:
    scenario = settings["scenario"]
    min_q = int(settings.get("min_query_count") or 0)
    dur_s = float(settings.get("min_duration_ms") or 0) / 1000
    max_dur = float(settings.get("max_duration_ms") or 0) / 1000 or None
    max_q = int(settings.get("max_query_count") or 0) or None
    spq = int(settings.get("samples_per_query") or 1) if scenario == "MultiStream" else 1
    total = None
    if scenario == "Offline":
        qps = float(settings.get("expected_qps") or 0)
        total = max(min_q, int(OFFLINE_MARGIN * qps * dur_s))  # LoadGen truncates
        if max_q:
            total = min(total, max_q)
    return StopRule(scenario, dur_s, min_q, spq, total, max_dur, max_q)


def expected_samples(settings: dict[str, Any], latency_s: float | None = None) -> int:
    """How many samples the run will process (Offline: exactly; streams: at the expected latency,
    or at `latency_s` when given)."""
    rule = stop_rule(settings)
    if rule.total_samples is not None:
        return rule.total_samples
    per_query = latency_s if latency_s else float(settings.get("expected_latency_ms") or 0) / 1000
    by_time = math.ceil(rule.min_duration_s / per_query) if per_query > 0 else 0
    queries = max(rule.min_queries, by_time)
    if rule.max_queries:
        queries = min(queries, rule.max_queries)
    return queries * rule.samples_per_query


def time_left(
    settings: dict[str, Any],
    elapsed_s: float,
    completed_queries: int,
    completed_samples: int,
) -> float | None:
    """Seconds until LoadGen stops, from its stopping rule and the rate so far (None before the
    first completion)."""
    if elapsed_s <= 0 or completed_samples <= 0:
        return None
    rule = stop_rule(settings)
    if rule.total_samples is not None:
        rate = completed_samples / elapsed_s
        left = max(0, rule.total_samples - completed_samples) / rate
    else:
        per_query = elapsed_s / max(1, completed_queries)
        by_count = max(0, rule.min_queries - completed_queries) * per_query
        left = max(rule.min_duration_s - elapsed_s, by_count, 0.0)
    if rule.max_duration_s:
        left = min(left, max(0.0, rule.max_duration_s - elapsed_s))
    return left
