"""Throttling evidence before/after a run and the cooldown wait, from fake sysfs trees and a
fake firmware reading (this machine has neither a Pi's firmware nor, often, thermal zones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtui.core.thermal import read_state, throttle_counters, throttled_between, wait_for_cooldown


def _cpu(root: Path, n: int, core: int, package: int, cur: int = 1_500_000, top: int = 3_000_000) -> None:
    base = root / "sys/devices/system/cpu" / f"cpu{n}"
    (base / "thermal_throttle").mkdir(parents=True, exist_ok=True)
    (base / "thermal_throttle/core_throttle_count").write_text(f"{core}\n")
    (base / "thermal_throttle/package_throttle_count").write_text(f"{package}\n")
    (base / "cpufreq").mkdir(parents=True, exist_ok=True)
    (base / "cpufreq/scaling_cur_freq").write_text(f"{cur}\n")
    (base / "cpufreq/cpuinfo_max_freq").write_text(f"{top}\n")


def test_x86_counters_that_grow_mark_the_run(tmp_path: Path) -> None:
    _cpu(tmp_path, 0, 1, 2)
    _cpu(tmp_path, 1, 0, 2)
    before = read_state(tmp_path, vcgencmd=lambda: None)
    assert before["counters"] == {"core_throttle_count": 1, "package_throttle_count": 4}
    assert before["frequency"] == {"min_current_khz": 1_500_000, "max_khz": 3_000_000}
    assert throttled_between(before, read_state(tmp_path, vcgencmd=lambda: None)) == []
    _cpu(tmp_path, 1, 3, 2)
    (reason,) = throttled_between(before, read_state(tmp_path, vcgencmd=lambda: None))
    assert reason == "3 thermal throttle events (core_throttle)"


def test_no_counters_no_evidence(tmp_path: Path) -> None:
    assert throttle_counters(tmp_path) is None
    state = read_state(tmp_path, vcgencmd=lambda: None)
    assert throttled_between(state, state) == []


def _fw(**bits: bool) -> dict[str, Any]:
    keys = ["under_voltage", "freq_capped", "throttled", "soft_temp_limit"]
    out: dict[str, Any] = {"raw": "0x0"}
    for k in keys:
        out[f"{k}_now"] = bits.get(f"{k}_now", False)
        out[f"{k}_occurred"] = bits.get(f"{k}_occurred", False)
    return out


def test_pi_firmware_bits_set_during_the_run(tmp_path: Path) -> None:
    before = {"firmware": _fw(under_voltage_occurred=True)}  # since boot: not this run's fault
    after = {"firmware": _fw(under_voltage_occurred=True, throttled_occurred=True, soft_temp_limit_now=True)}
    reasons = throttled_between(before, after)
    assert "firmware reports throttled during the run" in reasons
    assert "firmware reports soft temp limit at the end of the run" in reasons
    assert not any("under voltage" in r for r in reasons)


def test_cooldown_waits_until_below_the_limit() -> None:
    temps = iter([72.0, 68.0, 61.0, 59.5])
    slept: list[float] = []
    seen: list[float] = []
    out = wait_for_cooldown(60.0, 300.0, on_wait=lambda t, w: seen.append(t),
                            read_temperature=lambda: next(temps), sleep=slept.append, poll_s=2.0)
    assert out == {"start_c": 72.0, "end_c": 59.5, "waited_s": 6.0, "reached": True, "below_c": 60.0}
    assert seen == [72.0, 68.0, 61.0] and slept == [2.0, 2.0, 2.0]


def test_cooldown_gives_up_after_the_limit_and_without_a_sensor() -> None:
    out = wait_for_cooldown(60.0, 4.0, read_temperature=lambda: 80.0, sleep=lambda s: None, poll_s=2.0)
    assert out["reached"] is False and out["waited_s"] == 4.0
    none = wait_for_cooldown(60.0, 4.0, read_temperature=lambda: None, sleep=lambda s: None)
    assert none["reached"] is True and none["waited_s"] == 0.0
