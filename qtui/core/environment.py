"""Facts about the machine a benchmark runs on, recorded next to every result.

Provides the installed framework versions (from package metadata, without importing any
framework), the CPU's model and the ISA extensions that decide INT8/FP16 speed (AVX2, AVX-512
VNNI/BF16/FP16, AMX on x86; NEON, dot-product, FP16 arithmetic, I8MM on ARM), the board model
(Raspberry Pi), the CPU frequency governor, the CPU temperature, the Raspberry Pi firmware's
throttling flags (`vcgencmd get_throttled`), and `capture_environment()`, which bundles all of
these into one JSON-serialisable dict together with human-readable warnings.

Everything here is cheap (no framework import, at most one short subprocess) and never raises on
an unusual machine: a fact that cannot be read (missing file, no permission, macOS, Windows)
becomes None. Functions that read files take a `root` so tests can point them at a fake tree.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from qtui.core import frameworks
from qtui.core.ops import cpu_max_clock

__all__ = [
    "FRAMEWORK_DISTRIBUTIONS",
    "ISA_FLAGS",
    "board_model",
    "capture_environment",
    "cpu_flags",
    "cpu_governor",
    "cpu_model",
    "cpu_temperature_c",
    "describe_isa",
    "environment_warnings",
    "framework_versions",
    "isa_summary",
    "throttling",
]

# Framework key -> distributions that provide it, in order of preference: every framework of the
# framework table, the tools that prepare artifacts for them, LoadGen and numpy.
FRAMEWORK_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    **{f.id: f.distributions for f in frameworks.TABLE},
    **{tool: (tool,) for f in frameworks.TABLE for tool in f.tools},
    "mlcommons-loadgen": ("mlcommons-loadgen",),
    "numpy": ("numpy",),
}

# Always reported by capture_environment(), whatever frameworks were asked for.
_ALWAYS_FRAMEWORKS = ("mlcommons-loadgen", "numpy")

# /proc/cpuinfo flag names (x86 "flags", ARM "Features") that matter for quantized inference.
ISA_FLAGS: tuple[str, ...] = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "amx_int8",
    "amx_bf16",
    "amx_fp16",
    "avx512_bf16",
    "avx512_fp16",
    "f16c",
    "asimd",
    "asimddp",
    "asimdhp",
    "i8mm",
    "bf16",
    "sve",
)

# "CPU part" values of ARM Ltd. cores (CPU implementer 0x41).
_ARM_PARTS: dict[int, str] = {
    0xC07: "Cortex-A7",
    0xC08: "Cortex-A8",
    0xC09: "Cortex-A9",
    0xC0F: "Cortex-A15",
    0xD01: "Cortex-A32",
    0xD02: "Cortex-A34",
    0xD03: "Cortex-A53",
    0xD04: "Cortex-A35",
    0xD05: "Cortex-A55",
    0xD06: "Cortex-A65",
    0xD07: "Cortex-A57",
    0xD08: "Cortex-A72",
    0xD09: "Cortex-A73",
    0xD0A: "Cortex-A75",
    0xD0B: "Cortex-A76",
    0xD0C: "Neoverse-N1",
    0xD0D: "Cortex-A77",
    0xD0E: "Cortex-A76AE",
    0xD40: "Neoverse-V1",
    0xD41: "Cortex-A78",
    0xD42: "Cortex-A78AE",
    0xD44: "Cortex-X1",
    0xD46: "Cortex-A510",
    0xD47: "Cortex-A710",
    0xD48: "Cortex-X2",
    0xD49: "Neoverse-N2",
    0xD4A: "Neoverse-E1",
    0xD4B: "Cortex-A78C",
    0xD4D: "Cortex-A715",
    0xD4E: "Cortex-X3",
    0xD4F: "Neoverse-V2",
    0xD80: "Cortex-A520",
    0xD81: "Cortex-A720",
    0xD82: "Cortex-X4",
    0xD84: "Neoverse-V3",
    0xD85: "Cortex-X925",
    0xD87: "Cortex-A725",
    0xD8E: "Neoverse-N3",
}

# vcgencmd get_throttled bits: (bit, key, words used in warnings).
_THROTTLE_BITS: tuple[tuple[int, str, str], ...] = (
    (0, "under_voltage_now", "under-voltage"),
    (1, "freq_capped_now", "frequency capped"),
    (2, "throttled_now", "throttled"),
    (3, "soft_temp_limit_now", "soft temperature limit"),
    (16, "under_voltage_occurred", "under-voltage"),
    (17, "freq_capped_occurred", "frequency capped"),
    (18, "throttled_occurred", "throttled"),
    (19, "soft_temp_limit_occurred", "soft temperature limit"),
)

_PREFERRED_THERMAL_TYPES = ("cpu-thermal", "cpu_thermal", "x86_pkg_temp")
_HOT_C = 80.0

_CpuInfo = list[tuple[str, str]]


# --------------------------------------------------------------------------- small helpers


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (OSError, ValueError):
        return None


def _read_text(path: Path) -> str | None:
    data = _read_bytes(path)
    if data is None:
        return None
    return data.decode("utf-8", errors="replace")


def _read_line(path: Path) -> str | None:
    """First meaningful content of a small sysfs/procfs file, NULs and whitespace stripped."""
    text = _read_text(path)
    if text is None:
        return None
    text = text.replace("\x00", " ").strip()
    return text or None


def _read_cpuinfo(root: Path) -> _CpuInfo:
    """`/proc/cpuinfo` as (key, value) pairs in file order; empty when unreadable."""
    text = _read_text(Path(root) / "proc" / "cpuinfo")
    pairs: _CpuInfo = []
    if not text:
        return pairs
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            pairs.append((key.strip(), value.strip()))
    return pairs


def _first(info: _CpuInfo, key: str) -> str | None:
    """First non-empty value of `key`; case-sensitive ("Model" on a Pi, "model" on x86)."""
    for k, v in info:
        if k == key and v:
            return v
    return None


def _parse_int(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def _norm_machine(machine: str | None) -> str:
    m = (machine or "").lower()
    if m in ("aarch64", "arm64", "aarch64_be"):
        return "aarch64"
    if m in ("x86_64", "amd64", "x64", "i386", "i686", "x86"):
        return "x86_64"
    if m.startswith("arm"):
        return "arm"
    return m


# --------------------------------------------------------------------------- frameworks


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
    except Exception:  # broken metadata must not break a benchmark run
        return None


def framework_versions(keys: Iterable[str] | None = None) -> dict[str, str | None]:
    """Framework key -> installed version of its first distribution found, else None.

    Reads package metadata only; nothing is imported. `keys` restricts the result (an unknown
    key is looked up as a distribution name); default: every key of FRAMEWORK_DISTRIBUTIONS.
    """
    wanted = list(FRAMEWORK_DISTRIBUTIONS) if keys is None else list(dict.fromkeys(keys))
    result: dict[str, str | None] = {}
    for key in wanted:
        version = None
        for dist in FRAMEWORK_DISTRIBUTIONS.get(key, (key,)):
            version = _dist_version(dist)
            if version is not None:
                break
        result[key] = version
    return result


# --------------------------------------------------------------------------- CPU


def _flags_from(info: _CpuInfo) -> set[str]:
    line = _first(info, "flags") or _first(info, "Features")
    return set(line.lower().split()) if line else set()


def cpu_flags(root: Path = Path("/")) -> set[str]:
    """CPU feature flags, lower-case, from /proc/cpuinfo "flags" (x86) or "Features" (ARM).

    Empty when /proc/cpuinfo is missing (macOS, Windows) or unreadable.
    """
    return _flags_from(_read_cpuinfo(Path(root)))


def isa_summary(flags: set[str], machine: str) -> dict[str, bool]:
    """Each ISA_FLAGS entry -> present, plus "neon".

    "neon" is True on aarch64 when "asimd" is present (on 32-bit ARM when "neon" is listed).
    """
    flags = {f.lower() for f in flags}
    summary = {flag: flag in flags for flag in ISA_FLAGS}
    arch = _norm_machine(machine)
    if arch == "aarch64":
        summary["neon"] = "asimd" in flags
    elif arch == "arm":
        summary["neon"] = "neon" in flags or "asimd" in flags
    else:
        summary["neon"] = False
    return summary


def _model_from(info: _CpuInfo) -> str | None:
    names: list[str] = []
    unknown: list[str] = []
    implementer = _first(info, "CPU implementer")
    impl = _parse_int(implementer) if implementer else None
    for k, v in info:
        if k != "CPU part":
            continue
        part = _parse_int(v)
        name = _ARM_PARTS.get(part) if part is not None and impl in (None, 0x41) else None
        if name is not None:
            if name not in names:
                names.append(name)
        elif v not in unknown:
            unknown.append(v)
    if names and not unknown:
        return " + ".join(names)  # big.LITTLE: "Cortex-A55 + Cortex-A76"
    model_name = _first(info, "model name")
    if model_name:
        return model_name
    if names or unknown:
        parts = names + [f"CPU part {p}" for p in unknown]
        prefix = f"implementer {implementer} " if implementer and unknown else ""
        return prefix + " + ".join(parts)
    return None


def cpu_model(root: Path = Path("/")) -> str | None:
    """CPU model: ARM core name from "CPU part" (0xd08 -> Cortex-A72), else the "model name"
    line (x86, 32-bit ARM), else platform.processor(); None when nothing is known."""
    try:
        model = _model_from(_read_cpuinfo(Path(root)))
        if model:
            return model
        return platform.processor().strip() or None
    except Exception:
        return None


def _board_from(root: Path, info: _CpuInfo) -> str | None:
    for rel in ("proc/device-tree/model", "sys/firmware/devicetree/base/model"):
        data = _read_bytes(Path(root) / rel)
        if data:
            text = data.decode("utf-8", errors="replace").rstrip("\x00").strip()
            text = text.replace("\x00", " ")
            if text:
                return text
    return _first(info, "Model")


def board_model(root: Path = Path("/")) -> str | None:
    """Board model from /proc/device-tree/model (trailing NUL stripped), else the cpuinfo "Model"
    line (e.g. "Raspberry Pi 4 Model B Rev 1.4"); None on PCs and when neither exists."""
    return _board_from(Path(root), _read_cpuinfo(Path(root)))


def cpu_governor(root: Path = Path("/")) -> str | None:
    """cpufreq scaling governor of cpu0 ("performance", "ondemand", "powersave", ...)."""
    return _read_line(Path(root) / "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")


def _zone_index(path: Path) -> int:
    digits = path.name.removeprefix("thermal_zone")
    return int(digits) if digits.isdigit() else 1 << 30


def cpu_temperature_c(root: Path = Path("/")) -> float | None:
    """CPU temperature in °C from /sys/class/thermal: the zone of type cpu-thermal (Pi) or
    x86_pkg_temp, else the first zone with a plausible reading."""
    base = Path(root) / "sys/class/thermal"
    try:
        zones = sorted(base.glob("thermal_zone*"), key=_zone_index)
    except OSError:
        return None
    readings: list[tuple[str, float]] = []
    for zone in zones:
        raw = _read_line(zone / "temp")
        if raw is None:
            continue
        try:
            celsius = int(raw) / 1000.0
        except ValueError:
            continue
        if not -40.0 <= celsius <= 150.0:  # "unavailable" sentinels such as -273000 or 0x7fffffff
            continue
        readings.append(((_read_line(zone / "type") or "").lower(), round(celsius, 1)))
    for wanted in _PREFERRED_THERMAL_TYPES:
        for kind, celsius in readings:
            if kind == wanted:
                return celsius
    return readings[0][1] if readings else None


# --------------------------------------------------------------------------- throttling


def _run_vcgencmd(argv: list[str]) -> str | None:
    """Run `argv` (2 s timeout) if its program is on PATH; stdout on success, else None."""
    try:
        if not argv or shutil.which(argv[0]) is None:
            return None
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=2, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return done.stdout if done.returncode == 0 else None


_THROTTLED_RE = re.compile(r"throttled\s*=\s*(0x[0-9a-f]+)\b", re.IGNORECASE)


def throttling(run: Callable[[list[str]], str | None] = _run_vcgencmd) -> dict | None:
    """Raspberry Pi firmware throttling state from `vcgencmd get_throttled`.

    Returns {"raw": "0x50005", "<cause>_now": bool, ..., "<cause>_occurred": bool} for the
    causes under_voltage, freq_capped, throttled, soft_temp_limit (bits 0-3 now, 16-19 since
    boot), or None when vcgencmd is absent, fails, or prints something unexpected.
    """
    try:
        output = run(["vcgencmd", "get_throttled"])
    except Exception:
        return None
    if not isinstance(output, str):
        return None
    match = _THROTTLED_RE.search(output)
    if match is None:
        return None
    value = int(match.group(1), 16)
    result: dict[str, Any] = {"raw": f"0x{value:x}"}
    for bit, key, _ in _THROTTLE_BITS:
        result[key] = bool(value >> bit & 1)
    return result


# --------------------------------------------------------------------------- capture


def _safe(fn: Callable[[], Any], default: Any = None) -> Any:
    try:
        return fn()
    except Exception:
        return default


def _cores() -> tuple[int | None, int | None, int | None]:
    try:
        import psutil
    except Exception:
        return os.cpu_count(), None, None
    logical = _safe(lambda: psutil.cpu_count(logical=True)) or os.cpu_count()
    physical = _safe(lambda: psutil.cpu_count(logical=False))
    memory = _safe(lambda: int(psutil.virtual_memory().total))
    return logical, physical, memory


def capture_environment(
    threads: int | None = None,
    frameworks: Iterable[str] | None = None,
    root: Path = Path("/"),
) -> dict[str, Any]:
    """Everything this module knows about the machine, as a JSON-serialisable dict.

    Keys: hostname, os, system, machine, python {version, implementation}, cpu_model,
    board_model, cores_logical, cores_physical, cpu_max_mhz and cpu_max_mhz_source ("cpufreq" or
    "cpuinfo": the highest clock, for the nominal peak of `qtui.core.ops`), memory_total_bytes,
    isa, cpu_flags_relevant, governor, temperature_c, throttling, frameworks, threads, warnings.
    `frameworks` restricts the framework versions reported (mlcommons-loadgen and numpy are
    always included). `root` only redirects file reads (cpuinfo, device tree, sysfs, the clock);
    platform/psutil facts are live.
    """
    root = Path(root)
    info = _safe(lambda: _read_cpuinfo(root), [])
    machine = _safe(platform.machine, "") or ""
    flags = _safe(lambda: _flags_from(info), set())
    isa = _safe(lambda: isa_summary(flags, machine), {})

    model = _safe(lambda: _model_from(info))
    if model is None:
        model = _safe(lambda: platform.processor().strip() or None)

    if frameworks is None:
        keys = None
    else:
        keys = list(dict.fromkeys([*frameworks, *_ALWAYS_FRAMEWORKS]))
    logical, physical, memory = _safe(_cores, (None, None, None))
    clock = _safe(lambda: cpu_max_clock(root))

    env: dict[str, Any] = {
        "hostname": _safe(platform.node) or None,
        "os": _safe(platform.platform),
        "kernel": _safe(platform.release) or None,
        "qtui_version": _qtui_version(),
        "system": _safe(platform.system) or None,
        "machine": machine or None,
        "python": {
            "version": _safe(platform.python_version),
            "implementation": _safe(platform.python_implementation),
        },
        "cpu_model": model,
        "board_model": _safe(lambda: _board_from(root, info)),
        "cores_logical": logical,
        "cores_physical": physical,
        "cpu_max_mhz": clock[0] if clock else None,
        "cpu_max_mhz_source": clock[1] if clock else None,
        "memory_total_bytes": memory,
        "isa": isa,
        "cpu_flags_relevant": sorted(f for f in ISA_FLAGS if f in flags),
        "governor": _safe(lambda: cpu_governor(root)),
        "temperature_c": _safe(lambda: cpu_temperature_c(root)),
        "throttling": _safe(throttling),
        "frameworks": _safe(lambda: framework_versions(keys), {}),
        "threads": threads,
    }
    env["warnings"] = _safe(lambda: environment_warnings(env), [])
    return env


def _qtui_version() -> str:
    from qtui import __version__

    return __version__


# --------------------------------------------------------------------------- presentation


def environment_warnings(env: dict) -> list[str]:
    """Human-readable warnings about conditions that distort latency measurements."""
    warnings: list[str] = []
    throttle = env.get("throttling")
    if isinstance(throttle, dict):
        raw = throttle.get("raw", "?")
        now = [words for bit, key, words in _THROTTLE_BITS if bit < 16 and throttle.get(key)]
        past = [
            words
            for bit, key, words in _THROTTLE_BITS
            if bit >= 16 and throttle.get(key) and words not in now
        ]
        if now:
            warnings.append(f"CPU is throttled now (vcgencmd {raw}: {', '.join(now)})")
        if past:
            warnings.append(f"throttling occurred since boot (vcgencmd {raw}: {', '.join(past)})")
    governor = env.get("governor")
    if isinstance(governor, str) and governor and governor != "performance":
        warnings.append(f"CPU governor is '{governor}' (not 'performance'): latency may vary")
    temperature = env.get("temperature_c")
    if isinstance(temperature, (int, float)) and temperature >= _HOT_C:
        warnings.append(f"CPU temperature {temperature:.1f} °C")
    return warnings


def describe_isa(env: dict) -> str:
    """One line with the ISA facts that decide INT8/FP16 speed, e.g.
    "x86_64 AVX2 AVX512F AVX512-VNNI AVX512-BF16 (no AMX, no AVX512-FP16)" or
    "aarch64 NEON/ASIMD, no dot-product (asimddp), no FP16 arithmetic (asimdhp)"."""
    machine = env.get("machine") or "unknown"
    isa = env.get("isa") or {}

    def has(flag: str) -> bool:
        return bool(isa.get(flag))

    arch = _norm_machine(machine)
    if not any(isa.values()):
        # Also what a machine without /proc/cpuinfo (macOS, Windows) reports.
        return f"{machine} (ISA extensions not detected)"

    if arch == "x86_64":
        names = (
            ("avx2", "AVX2"),
            ("avx512f", "AVX512F"),
            ("avx_vnni", "AVX-VNNI"),
            ("avx512_vnni", "AVX512-VNNI"),
            ("avx512_bf16", "AVX512-BF16"),
            ("avx512_fp16", "AVX512-FP16"),
            ("amx_int8", "AMX-INT8"),
            ("amx_bf16", "AMX-BF16"),
        )
        present = [name for flag, name in names if has(flag)]
        missing: list[str] = []
        if not has("avx2"):
            missing.append("no AVX2")
        if not has("avx512f"):
            missing.append("no AVX-512")
        if not (has("avx512_vnni") or has("avx_vnni")):
            missing.append("no VNNI")
        if not has("amx_int8"):
            missing.append("no AMX")
        if has("avx512f") and not has("avx512_bf16"):
            missing.append("no AVX512-BF16")
        if has("avx512f") and not has("avx512_fp16"):
            missing.append("no AVX512-FP16")
        line = " ".join([machine, *present])
        return f"{line} ({', '.join(missing)})" if missing else line

    if arch in ("aarch64", "arm"):
        items: list[str] = ["NEON/ASIMD" if has("neon") else "no NEON"]
        items.append("dot-product (asimddp)" if has("asimddp") else "no dot-product (asimddp)")
        items.append(
            "FP16 arithmetic (asimdhp)" if has("asimdhp") else "no FP16 arithmetic (asimdhp)"
        )
        if has("i8mm"):
            items.append("I8MM")
        elif has("asimddp"):
            items.append("no I8MM")
        if has("bf16"):
            items.append("BF16")
        if has("sve"):
            items.append("SVE")
        return f"{machine} {', '.join(items)}"

    present = [flag for flag in ISA_FLAGS if has(flag)]
    return " ".join([machine, *present])
