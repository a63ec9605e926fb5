"""How busy the rest of the machine was while a run measured: CPU time spent by other processes
(the machine's busy time minus this process's own), the load average, and `threads` set higher
than the cores. Another job on a 2-core box halves a throughput figure; a result must say so.

`LoadMonitor` takes counters at `start()` and `stop()` (and `sample()` in between, for a live
warning); it reads `psutil` (Linux /proc/stat, macOS, Windows alike) and never raises: where a
counter cannot be read the figure is None and no warning is made up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Other processes using more than this share of the machine's CPU capacity (all cores) during
#: the measurement make the figures suspect. 10 %: on 2 cores, a fifth of a core. The harness's
#: own accounting (kernel threads, interrupts, this process's short-lived helpers) stays well
#: below this on an idle machine.
OTHER_CPU_WARN_FRACTION = 0.10
#: ...and at least this many cores' worth, so that a many-core machine's background noise
#: (a fraction of a core spread over 64 cores) is not called "load".
OTHER_CPU_WARN_MIN_CORES = 0.15


@dataclass(frozen=True)
class CpuCounters:
    """Cumulative CPU seconds: the machine's busy time (all cores) and this process's own."""

    wall_s: float
    machine_busy_s: float | None
    process_s: float | None


def _machine_busy_s() -> float | None:
    try:
        import psutil

        t = psutil.cpu_times()
    except Exception:
        return None
    idle = getattr(t, "idle", 0.0) + getattr(t, "iowait", 0.0)
    total = sum(float(v) for v in t)
    # guest time is already counted in user/nice on Linux: don't count it twice
    total -= getattr(t, "guest", 0.0) + getattr(t, "guest_nice", 0.0)
    return total - idle


def _process_s() -> float | None:
    try:
        t = os.times()
    except Exception:
        return None
    return float(t.user + t.system)


def read_counters() -> CpuCounters:
    return CpuCounters(time.monotonic(), _machine_busy_s(), _process_s())


def _loadavg() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except (OSError, AttributeError):
        return None


def other_cpu_cores(start: CpuCounters, end: CpuCounters) -> float | None:
    """Average number of cores that processes other than this one kept busy between the two
    readings (never negative: counters of different sources are not perfectly aligned)."""
    wall = end.wall_s - start.wall_s
    if (
        wall <= 0
        or start.machine_busy_s is None
        or end.machine_busy_s is None
        or start.process_s is None
        or end.process_s is None
    ):
        return None
    machine = end.machine_busy_s - start.machine_busy_s
    own = end.process_s - start.process_s
    return max(0.0, (machine - own) / wall)


#: What a run says as soon as it sees other processes keeping the CPU busy. No figure: the share
#: so far is not the measurement's, and the result's warning (`load_warnings`) gives that one.
LIVE_LOAD_NOTICE = (
    "other processes are keeping the CPU busy during the measurement: figures are likely low "
    "(the result's warning will say how busy)"
)


def load_warnings(other_cores: float | None, cores: int | None, threads: int | None) -> list[str]:
    """The warnings a result carries about the machine's load; empty when it was quiet."""
    out: list[str] = []
    if other_cores is not None and cores:
        limit = max(OTHER_CPU_WARN_FRACTION * cores, OTHER_CPU_WARN_MIN_CORES)
        if other_cores > limit:
            out.append(
                f"other processes kept {other_cores:.2f} of {cores} cores busy during the "
                f"measurement ({100 * other_cores / cores:.0f} % of the CPU): figures are likely "
                "low; rerun on a quiet machine"
            )
    if threads and cores and threads > cores:
        out.append(
            f"threads = {threads} is more than the {cores} cores here: threads compete for the CPU "
            "and latency varies"
        )
    return out


class LoadMonitor:
    """Counters around the timed part of a run; `summary()` is what the result records."""

    def __init__(
        self,
        threads: int,
        cores: int | None = None,
        read: Callable[[], CpuCounters] = read_counters,
    ) -> None:
        self.threads = threads
        self.cores = cores or os.cpu_count()
        self._read = read
        self._start: CpuCounters | None = None
        self._end: CpuCounters | None = None
        self._loadavg_start: tuple[float, float, float] | None = None
        self._loadavg_end: tuple[float, float, float] | None = None

    def start(self) -> None:
        self._start = self._read()
        self._loadavg_start = _loadavg()

    def sample(self) -> float | None:
        """Other processes' cores since `start()`, without ending the measurement."""
        if self._start is None:
            return None
        return other_cpu_cores(self._start, self._read())

    def stop(self) -> None:
        if self._start is not None and self._end is None:
            self._end = self._read()
            self._loadavg_end = _loadavg()

    def summary(self) -> dict[str, Any]:
        other = (
            other_cpu_cores(self._start, self._end)
            if self._start is not None and self._end is not None
            else None
        )
        return {
            "other_processes_cores": None if other is None else round(other, 3),
            "cores": self.cores,
            "threads": self.threads,
            "loadavg_start": self._loadavg_start,
            "loadavg_end": self._loadavg_end,
            "measured_s": (
                round(self._end.wall_s - self._start.wall_s, 3)
                if self._start is not None and self._end is not None
                else None
            ),
            "warn_above_cores": round(
                max(OTHER_CPU_WARN_FRACTION * (self.cores or 1), OTHER_CPU_WARN_MIN_CORES), 3
            ),
            "warnings": load_warnings(other, self.cores, self.threads),
        }
