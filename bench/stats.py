"""What makes a bench figure believable: per-pass ratios from interleaved passes, their median with
a 95 % bootstrap confidence interval, a verdict against the goal (meets / misses / undecided), and
the machine the figures came from with its load while they were taken.

    ratios = [q / r for q, r in passes]
    low, high = bootstrap_ci(ratios)
    verdict(low, high, goal=0.97, higher_is_better=True)   # "meets" when the interval is above

A ratio's verdict is *meets* only when the whole interval lies on the right side of the goal,
*misses* when it lies wholly on the wrong side, and *undecided* when it straddles the goal: then
more passes are needed (`Goal.decided`), or a quieter machine.
"""

from __future__ import annotations

import math
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Bootstrap resamples: enough for a stable 95 % interval of a median over a few dozen passes.
BOOTSTRAP_RESAMPLES = 4000
#: Fewer passes than this give no verdict but *undecided*, whatever the interval: the bootstrap
#: interval of a median over 2-4 values is just their range.
MIN_PASSES_FOR_VERDICT = 5


def bootstrap_ci(
    values: Sequence[float],
    statistic: Callable[[Sequence[float]], float] = statistics.median,
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over `values` (resampled with replacement).
    A single value gives a zero-width interval: one pass proves nothing, the verdict's pass
    minimum takes care of that."""
    if not values:
        raise ValueError("no values")
    data = list(values)
    if len(data) == 1:
        return data[0], data[0]
    rng = random.Random(seed)
    n = len(data)
    stats = sorted(statistic([data[rng.randrange(n)] for _ in range(n)]) for _ in range(resamples))
    tail = (1.0 - confidence) / 2.0
    lo = stats[max(0, int(math.floor(tail * resamples)))]
    hi = stats[min(resamples - 1, int(math.ceil((1.0 - tail) * resamples)) - 1)]
    return lo, hi


def verdict(low: float, high: float, goal: float, higher_is_better: bool) -> str:
    """'meets' when the whole interval is on the good side of `goal` (the goal itself counts as
    good), 'misses' when it is wholly on the bad side, else 'undecided'."""
    if higher_is_better:
        if low >= goal:
            return "meets"
        if high < goal:
            return "misses"
    else:
        if high <= goal:
            return "meets"
        if low > goal:
            return "misses"
    return "undecided"


@dataclass
class Goal:
    """One line of a bench: per-pass ratios against a goal, with its running verdict."""

    name: str
    goal: float
    higher_is_better: bool
    min_passes: int = 5
    ratios: list[float] = field(default_factory=list)

    def add(self, ratio: float) -> None:
        self.ratios.append(ratio)

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)

    @property
    def interval(self) -> tuple[float, float]:
        return bootstrap_ci(self.ratios)

    @property
    def verdict(self) -> str:
        if len(self.ratios) < max(self.min_passes, MIN_PASSES_FOR_VERDICT):
            return "undecided"
        return verdict(*self.interval, self.goal, self.higher_is_better)

    @property
    def decided(self) -> bool:
        return self.verdict != "undecided"

    def line(self) -> str:
        if not self.ratios:
            return f"{self.name}: not measured"
        lo, hi = self.interval
        sign = "≥" if self.higher_is_better else "≤"
        return (
            f"{self.name}: median {self.median:.3f} [95 % CI {lo:.3f}–{hi:.3f}] over "
            f"{len(self.ratios)} passes, goal {sign} {self.goal:g}: {self.verdict}"
        )


# --------------------------------------------------------------------------------- the machine


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _machine_busy_and_total() -> tuple[float, float] | None:
    """Busy and total CPU seconds of the whole machine since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [float(v) for v in fields[1:]]
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = sum(ticks[:8])  # guest time is already inside user/nice
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0.0)
    return (total - idle) / hz, total / hz


class LoadMeter:
    """The machine's load around a stretch of bench: cores kept busy by other processes (the
    machine's busy CPU time minus this process's own, /proc/stat and os.times) and the load
    average at the end."""

    def __init__(self) -> None:
        self._start: tuple[float, float | None] | None = None
        self.other_cores: float | None = None
        self.loadavg: tuple[float, float, float] | None = None

    @staticmethod
    def _read() -> tuple[float, float | None]:
        t = os.times()
        busy = _machine_busy_and_total()
        return time.monotonic(), (None if busy is None else busy[0] - (t.user + t.system))

    def start(self) -> LoadMeter:
        self._start = self._read()
        return self

    def stop(self) -> LoadMeter:
        if self._start is None:
            return self
        end = self._read()
        wall = end[0] - self._start[0]
        if wall > 0 and end[1] is not None and self._start[1] is not None:
            self.other_cores = max(0.0, (end[1] - self._start[1]) / wall)
        try:
            self.loadavg = os.getloadavg()
        except OSError:
            self.loadavg = None
        return self

    def text(self) -> str:
        other = "?" if self.other_cores is None else f"{self.other_cores:.2f}"
        la = "?" if self.loadavg is None else "/".join(f"{v:.2f}" for v in self.loadavg)
        return f"other processes {other} cores busy, load average {la}"


def machine_line(threads: int) -> str:
    """'AMD EPYC, 2 cores (2 logical), 2 threads' and the load average now."""
    logical = os.cpu_count() or 0
    physical: Any = "?"
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or "?"
    except Exception:  # noqa: BLE001 - psutil missing: logical count only
        pass
    try:
        la = "/".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        la = "?"
    return f"{cpu_model()}, {physical} cores ({logical} logical), {threads} threads; load average now {la}"
