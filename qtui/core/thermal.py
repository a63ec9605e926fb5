"""Edge conditions around a measurement: was the CPU throttled while it ran, and a cooldown
between runs on machines that heat up (a Raspberry Pi without a fan loses a third of its speed).

Throttling is read before and after each run from what the machine offers:
- Raspberry Pi firmware: `vcgencmd get_throttled` (sticky "occurred" bits and "now" bits);
- x86 Linux: `/sys/devices/system/cpu/cpu*/thermal_throttle/*_throttle_count` counters;
- any Linux with cpufreq: the current and maximum frequency of each CPU (recorded; a frequency
  below the maximum alone is not called throttling, since governors lower it when idle).
A run is marked throttled only on evidence: a counter that grew, or a firmware bit that was set
during the run or is set at its end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtui.core.environment import cpu_temperature_c, throttling

#: Default cooldown: wait before a run until the CPU is below this (°C), at most this long (s).
COOLDOWN_BELOW_C = 60.0
COOLDOWN_MAX_WAIT_S = 300.0


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def throttle_counters(root: Path = Path("/")) -> dict[str, int] | None:
    """x86 Linux: summed core and package thermal-throttle event counts (None when absent)."""
    base = Path(root) / "sys/devices/system/cpu"
    totals = {"core_throttle_count": 0, "package_throttle_count": 0}
    found = False
    try:
        cpus = sorted(base.glob("cpu[0-9]*/thermal_throttle"))
    except OSError:
        return None
    for folder in cpus:
        for key in totals:
            value = _read_int(folder / key)
            if value is not None:
                totals[key] += value
                found = True
    return totals if found else None


def cpu_frequencies_khz(root: Path = Path("/")) -> dict[str, int] | None:
    """Lowest current and highest maximum frequency over the CPUs (kHz), from cpufreq."""
    base = Path(root) / "sys/devices/system/cpu"
    current: list[int] = []
    maximum: list[int] = []
    try:
        folders = sorted(base.glob("cpu[0-9]*/cpufreq"))
    except OSError:
        return None
    for folder in folders:
        cur = _read_int(folder / "scaling_cur_freq")
        top = _read_int(folder / "cpuinfo_max_freq")
        if cur is not None:
            current.append(cur)
        if top is not None:
            maximum.append(top)
    if not current:
        return None
    return {"min_current_khz": min(current), "max_khz": max(maximum) if maximum else max(current)}


def read_state(
    root: Path = Path("/"), vcgencmd: Callable[[], dict[str, Any] | None] = throttling
) -> dict[str, Any]:
    """Everything readable now: firmware throttling, x86 counters, frequencies, temperature."""
    return {
        "firmware": vcgencmd(),
        "counters": throttle_counters(root),
        "frequency": cpu_frequencies_khz(root),
        "temperature_c": cpu_temperature_c(root),
    }


def throttled_between(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Evidence that the CPU was throttled between two `read_state()`s; empty when none."""
    reasons: list[str] = []
    fw_after = after.get("firmware") or {}
    fw_before = before.get("firmware") or {}
    for key, value in fw_after.items():
        if key == "raw" or not value:
            continue
        if key.endswith("_now"):
            reasons.append(f"firmware reports {key[:-4].replace('_', ' ')} at the end of the run")
        elif key.endswith("_occurred") and not fw_before.get(key):
            reasons.append(f"firmware reports {key[:-9].replace('_', ' ')} during the run")
    c0, c1 = before.get("counters") or {}, after.get("counters") or {}
    for key, value in c1.items():
        grew = value - c0.get(key, value)
        if grew > 0:
            reasons.append(f"{grew} thermal throttle events ({key.replace('_count', '')})")
    return reasons


def wait_for_cooldown(
    below_c: float = COOLDOWN_BELOW_C,
    max_wait_s: float = COOLDOWN_MAX_WAIT_S,
    on_wait: Callable[[float, float], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    read_temperature: Callable[[], float | None] = cpu_temperature_c,
    poll_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Wait until the CPU is below `below_c` (at most `max_wait_s`). Returns what happened:
    {"start_c", "end_c", "waited_s", "reached"}; a machine without a thermal sensor waits 0 s."""
    start = read_temperature()
    waited = 0.0
    current = start
    while current is not None and current >= below_c and waited < max_wait_s and not should_stop():
        if on_wait is not None:
            on_wait(current, waited)
        sleep(poll_s)
        waited += poll_s
        current = read_temperature()
    return {
        "start_c": start,
        "end_c": current,
        "waited_s": round(waited, 1),
        "reached": current is None or current < below_c,
        "below_c": below_c,
    }
