"""Tests for qtui.core.environment: fake /proc and /sys trees plus the real machine."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import qtui
from qtui.core import environment as envmod
from qtui.core.environment import (
    FRAMEWORK_DISTRIBUTIONS,
    ISA_FLAGS,
    board_model,
    capture_environment,
    cpu_flags,
    cpu_governor,
    cpu_model,
    cpu_temperature_c,
    describe_isa,
    environment_warnings,
    framework_versions,
    isa_summary,
    throttling,
)

FIXTURES = Path(__file__).parent / "fixtures" / "env"


def make_root(tmp_path: Path, cpuinfo: str | None = None) -> Path:
    """A fake filesystem root; `cpuinfo` names a fixture copied to proc/cpuinfo."""
    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    if cpuinfo is not None:
        shutil.copyfile(FIXTURES / cpuinfo, root / "proc" / "cpuinfo")
    return root


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)


# --------------------------------------------------------------------------- x86


def test_x86_epyc_flags_model_and_isa(tmp_path: Path) -> None:
    root = make_root(tmp_path, "cpuinfo.epyc9654")
    flags = cpu_flags(root)
    assert {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "f16c"} <= flags
    assert "amx_int8" not in flags and "avx_vnni" not in flags
    assert all(f == f.lower() for f in flags)
    assert cpu_model(root) == "AMD EPYC 9654 96-Core Processor"
    assert board_model(root) is None  # x86 "model : 17" must not be taken for a board

    isa = isa_summary(flags, "x86_64")
    assert set(isa) == set(ISA_FLAGS) | {"neon"}
    assert isa["avx512_vnni"] and isa["avx512_bf16"] and isa["avx2"]
    assert not isa["amx_int8"] and not isa["avx512_fp16"] and not isa["neon"]
    assert not isa["asimd"]

    env = {"machine": "x86_64", "isa": isa}
    assert describe_isa(env) == (
        "x86_64 AVX2 AVX512F AVX512-VNNI AVX512-BF16 (no AMX, no AVX512-FP16)"
    )


def test_capture_environment_on_fake_x86_root(tmp_path: Path) -> None:
    root = make_root(tmp_path, "cpuinfo.epyc9654")
    env = capture_environment(root=root)
    json.dumps(env)
    assert env["cpu_model"] == "AMD EPYC 9654 96-Core Processor"
    assert env["cpu_flags_relevant"] == ["avx2", "avx512_bf16", "avx512_vnni", "avx512f", "f16c"]
    assert env["board_model"] is None
    assert env["governor"] is None and env["temperature_c"] is None


def test_describe_isa_x86_variants() -> None:
    laptop = isa_summary({"avx2", "f16c", "avx_vnni", "fma"}, "x86_64")
    assert describe_isa({"machine": "x86_64", "isa": laptop}) == (
        "x86_64 AVX2 AVX-VNNI (no AVX-512, no AMX)"
    )
    everything = isa_summary(set(ISA_FLAGS), "AMD64")
    line = describe_isa({"machine": "AMD64", "isa": everything})
    assert line.startswith("AMD64 AVX2 AVX512F") and "AMX-INT8" in line and "no " not in line
    old = isa_summary({"sse4_2", "avx", "f16c"}, "x86_64")
    assert describe_isa({"machine": "x86_64", "isa": old}) == (
        "x86_64 (no AVX2, no AVX-512, no VNNI, no AMX)"
    )


# --------------------------------------------------------------------------- Raspberry Pi


def test_pi4_cpuinfo(tmp_path: Path) -> None:
    root = make_root(tmp_path, "cpuinfo.rpi4")
    flags = cpu_flags(root)
    assert flags == {"fp", "asimd", "evtstrm", "crc32", "cpuid"}
    assert cpu_model(root) == "Cortex-A72"
    # No device tree under emulation: the cpuinfo "Model" line is used, verbatim.
    assert board_model(root) == "Raspberry Pi 4 Model B Rev 1.5 (emulated)"
    isa = isa_summary(flags, "aarch64")
    assert isa["neon"] and isa["asimd"] and not isa["asimddp"] and not isa["asimdhp"]
    assert describe_isa({"machine": "aarch64", "isa": isa}) == (
        "aarch64 NEON/ASIMD, no dot-product (asimddp), no FP16 arithmetic (asimdhp)"
    )


def test_pi5_cpuinfo(tmp_path: Path) -> None:
    root = make_root(tmp_path, "cpuinfo.rpi5")
    flags = cpu_flags(root)
    assert {"asimd", "asimddp", "asimdhp", "fphp"} <= flags
    assert cpu_model(root) == "Cortex-A76"
    assert board_model(root) == "Raspberry Pi 5 Model B Rev 1.0 (emulated)"
    isa = isa_summary(flags, "aarch64")
    assert isa["neon"] and isa["asimddp"] and isa["asimdhp"] and not isa["i8mm"]
    assert describe_isa({"machine": "aarch64", "isa": isa}) == (
        "aarch64 NEON/ASIMD, dot-product (asimddp), FP16 arithmetic (asimdhp), no I8MM"
    )


def test_cpuinfo_without_model_line_gives_no_board(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    text = (FIXTURES / "cpuinfo.rpi4").read_text()
    write(root / "proc/cpuinfo", "".join(ln for ln in text.splitlines(True) if "Model" not in ln))
    assert board_model(root) is None
    assert cpu_model(root) == "Cortex-A72"


def test_device_tree_model_wins_and_trailing_nul_is_stripped(tmp_path: Path) -> None:
    root = make_root(tmp_path, "cpuinfo.rpi4")
    write(root / "proc/device-tree/model", b"Raspberry Pi 4 Model B Rev 1.4\x00")
    assert board_model(root) == "Raspberry Pi 4 Model B Rev 1.4"


def test_device_tree_via_sys_firmware(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    write(root / "sys/firmware/devicetree/base/model", b"Raspberry Pi 5 Model B Rev 1.0\x00")
    assert board_model(root) == "Raspberry Pi 5 Model B Rev 1.0"


def test_big_little_and_unknown_arm_parts(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    block = (
        "processor\t: {n}\nFeatures\t: fp asimd asimddp\nCPU implementer\t: 0x41\nCPU part\t: {p}\n"
    )
    write(
        root / "proc/cpuinfo",
        "\n".join(
            block.format(n=n, p=p) for n, p in enumerate(["0xd05", "0xd05", "0xd0b", "0xd0b"])
        ),
    )
    assert cpu_model(root) == "Cortex-A55 + Cortex-A76"
    write(root / "proc/cpuinfo", block.format(n=0, p="0xfff"))
    assert cpu_model(root) == "implementer 0x41 CPU part 0xfff"


def test_arm32_model_name_and_neon(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    write(
        root / "proc/cpuinfo",
        "processor\t: 0\nmodel name\t: ARMv7 Processor rev 3 (v7l)\n"
        "Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt lpae evtstrm\n"
        "CPU implementer\t: 0x41\nCPU part\t: 0xd08\n",
    )
    assert cpu_model(root) == "Cortex-A72"  # the core name beats the generic ARMv7 string
    isa = isa_summary(cpu_flags(root), "armv7l")
    assert isa["neon"] and not isa["asimd"]


# --------------------------------------------------------------------------- sysfs


def test_thermal_zone_picked_by_type(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    thermal = root / "sys/class/thermal"
    write(thermal / "thermal_zone0/type", "acpitz\n")
    write(thermal / "thermal_zone0/temp", "27800\n")
    write(thermal / "thermal_zone1/type", "x86_pkg_temp\n")
    write(thermal / "thermal_zone1/temp", "61500\n")
    assert cpu_temperature_c(root) == 61.5

    write(thermal / "thermal_zone1/type", "iwlwifi_1\n")
    assert cpu_temperature_c(root) == 27.8  # no preferred type: the first zone


def test_thermal_zone_pi_and_broken_zones(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    thermal = root / "sys/class/thermal"
    write(thermal / "thermal_zone10/type", "cpu-thermal\n")
    write(thermal / "thermal_zone10/temp", "48312\n")
    write(thermal / "thermal_zone2/type", "gpu-thermal\n")
    write(thermal / "thermal_zone2/temp", "not a number\n")
    write(thermal / "thermal_zone3/type", "bogus\n")
    write(thermal / "thermal_zone3/temp", "-273000\n")
    (thermal / "thermal_zone4").mkdir()  # no files at all
    assert cpu_temperature_c(root) == 48.3


def test_governor(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    write(root / "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "ondemand\n")
    assert cpu_governor(root) == "ondemand"


def test_missing_everything_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    assert cpu_flags(root) == set()
    assert board_model(root) is None
    assert cpu_governor(root) is None
    assert cpu_temperature_c(root) is None
    # Without cpuinfo the model comes from platform.processor(): "" on most Linux boxes -> None.
    monkeypatch.setattr(envmod.platform, "processor", lambda: "")
    assert cpu_model(root) is None

    env = capture_environment(root=root)
    assert env["cpu_model"] is None
    json.dumps(env)
    assert env["cpu_flags_relevant"] == []
    assert not any(env["isa"].values())
    assert env["board_model"] is None and env["governor"] is None
    assert env["temperature_c"] is None
    assert describe_isa(env).endswith("(ISA extensions not detected)")


def test_cpu_model_falls_back_to_platform_processor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS and Windows have no /proc/cpuinfo: platform.processor() names the CPU there."""
    monkeypatch.setattr(envmod.platform, "processor", lambda: "  Intel64 Family 6 Model 143 Stepping 8, GenuineIntel ")
    root = tmp_path / "empty"
    root.mkdir()
    assert cpu_model(root) == "Intel64 Family 6 Model 143 Stepping 8, GenuineIntel"
    assert capture_environment(root=root)["cpu_model"] == "Intel64 Family 6 Model 143 Stepping 8, GenuineIntel"
    # cpuinfo, when there is one, wins over platform.processor()
    assert cpu_model(make_root(tmp_path, "cpuinfo.epyc9654")) == "AMD EPYC 9654 96-Core Processor"

    def broken() -> str:
        raise OSError("no uname")

    monkeypatch.setattr(envmod.platform, "processor", broken)
    assert cpu_model(root) is None  # never raises


def test_nonexistent_root_and_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist"
    assert cpu_flags(missing) == set()
    assert board_model(missing) is None
    assert cpu_temperature_c(missing) is None
    root = make_root(tmp_path)
    (root / "proc/cpuinfo").mkdir()  # a directory where a file is expected
    assert cpu_flags(root) == set()
    json.dumps(capture_environment(root=root))


# --------------------------------------------------------------------------- throttling


def fake_run(output: str | None):
    calls: list[list[str]] = []

    def run(argv: list[str]) -> str | None:
        calls.append(argv)
        return output

    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_throttling_clear() -> None:
    run = fake_run("throttled=0x0\n")
    state = throttling(run)
    assert run.calls == [["vcgencmd", "get_throttled"]]  # type: ignore[attr-defined]
    assert state is not None and state["raw"] == "0x0"
    assert not any(v for k, v in state.items() if k != "raw")
    assert len(state) == 9
    assert environment_warnings({"throttling": state}) == []


def test_throttling_0x50005() -> None:
    state = throttling(fake_run("throttled=0x50005\n"))
    assert state == {
        "raw": "0x50005",
        "under_voltage_now": True,
        "freq_capped_now": False,
        "throttled_now": True,
        "soft_temp_limit_now": False,
        "under_voltage_occurred": True,
        "freq_capped_occurred": False,
        "throttled_occurred": True,
        "soft_temp_limit_occurred": False,
    }
    assert environment_warnings({"throttling": state}) == [
        "CPU is throttled now (vcgencmd 0x50005: under-voltage, throttled)"
    ]


def test_throttling_0x80008() -> None:
    state = throttling(fake_run("throttled=0x80008"))
    assert state is not None
    assert state["soft_temp_limit_now"] and state["soft_temp_limit_occurred"]
    assert not state["under_voltage_now"] and not state["throttled_occurred"]
    assert environment_warnings({"throttling": state}) == [
        "CPU is throttled now (vcgencmd 0x80008: soft temperature limit)"
    ]


def test_throttling_only_in_the_past() -> None:
    state = throttling(fake_run("throttled=0x50000"))
    assert state is not None and not state["throttled_now"] and state["throttled_occurred"]
    assert environment_warnings({"throttling": state}) == [
        "throttling occurred since boot (vcgencmd 0x50000: under-voltage, throttled)"
    ]


@pytest.mark.parametrize(
    "output", [None, "", "garbage", "throttled=", "throttled=0xZZ", "VCHI initialization failed"]
)
def test_throttling_garbage_is_none(output: str | None) -> None:
    assert throttling(fake_run(output)) is None


def test_throttling_runner_that_raises_is_none() -> None:
    def run(argv: list[str]) -> str | None:
        raise OSError("boom")

    assert throttling(run) is None


def test_throttling_default_without_vcgencmd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envmod.shutil, "which", lambda name: None)
    assert throttling() is None


# --------------------------------------------------------------------------- warnings


def test_environment_warnings_governor_and_temperature() -> None:
    assert environment_warnings({"governor": "powersave", "temperature_c": 82.0}) == [
        "CPU governor is 'powersave' (not 'performance'): latency may vary",
        "CPU temperature 82.0 °C",
    ]
    assert environment_warnings({"governor": "performance", "temperature_c": 79.9}) == []
    assert environment_warnings({}) == []
    assert environment_warnings({"governor": None, "temperature_c": None, "throttling": None}) == []


def test_capture_environment_warnings_from_fake_root(tmp_path: Path) -> None:
    root = make_root(tmp_path, "cpuinfo.rpi5")
    write(root / "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "ondemand\n")
    write(root / "sys/class/thermal/thermal_zone0/type", "cpu-thermal\n")
    write(root / "sys/class/thermal/thermal_zone0/temp", "85100\n")
    env = capture_environment(threads=4, root=root)
    assert env["governor"] == "ondemand" and env["temperature_c"] == 85.1
    assert env["board_model"] == "Raspberry Pi 5 Model B Rev 1.0 (emulated)"
    assert env["cpu_model"] == "Cortex-A76"
    assert env["threads"] == 4
    assert "CPU governor is 'ondemand' (not 'performance'): latency may vary" in env["warnings"]
    assert "CPU temperature 85.1 °C" in env["warnings"]


# --------------------------------------------------------------------------- frameworks


def _installed_distributions() -> dict[str, str]:
    """Normalised distribution name -> version, listed by walking every installed distribution
    (the first on sys.path wins, as for an import): an oracle independent of the name look-ups
    framework_versions() makes."""
    from importlib import metadata

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(_canonical(name), dist.version)
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def test_framework_versions_are_what_is_installed_here() -> None:
    import numpy

    installed = _installed_distributions()
    versions = framework_versions()
    expected = {
        key: next((installed[_canonical(d)] for d in dists if _canonical(d) in installed), None)
        for key, dists in FRAMEWORK_DISTRIBUTIONS.items()
    }
    assert versions == expected
    assert versions["numpy"] == numpy.__version__  # a qtui dependency, imported: the one answer
    assert versions["mlcommons-loadgen"] is not None


def test_framework_versions_fallback_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = {"tflite-runtime": "2.14.0", "onnxruntime-gpu": "1.20.1"}
    monkeypatch.setattr(envmod, "_dist_version", installed.get)
    versions = framework_versions()
    assert versions["tflite"] == "2.14.0"
    assert versions["onnxruntime"] == "1.20.1"
    assert versions["torch"] is None


def test_capture_environment_restricts_frameworks() -> None:
    env = capture_environment(frameworks=["onnxruntime"])
    assert list(env["frameworks"]) == ["onnxruntime", "mlcommons-loadgen", "numpy"]
    env = capture_environment()
    assert set(env["frameworks"]) == set(FRAMEWORK_DISTRIBUTIONS)


# --------------------------------------------------------------------------- real machine


def test_capture_environment_real_machine_is_json() -> None:
    env = capture_environment(threads=2)
    text = json.dumps(env)
    assert json.loads(text) == env
    expected = {
        "hostname",
        "os",
        "kernel",
        "qtui_version",
        "system",
        "machine",
        "python",
        "cpu_model",
        "board_model",
        "cores_logical",
        "cores_physical",
        "cpu_max_mhz",
        "cpu_max_mhz_source",
        "memory_total_bytes",
        "isa",
        "cpu_flags_relevant",
        "governor",
        "temperature_c",
        "throttling",
        "frameworks",
        "threads",
        "warnings",
    }
    assert set(env) == expected
    # each fact against an independent reading of this machine
    assert env["machine"] == platform.machine()
    assert env["kernel"] == platform.release() and env["qtui_version"] == qtui.__version__
    assert env["python"] == {
        "version": platform.python_version(), "implementation": platform.python_implementation()
    }
    assert env["threads"] == 2
    assert env["cores_logical"] == os.cpu_count()
    assert env["warnings"] == environment_warnings(env)
    line = describe_isa(env)
    assert line.startswith(f"{env['machine']} ") and "\n" not in line
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():  # Linux: the model and flags are those of the file's first CPU
        fields = [ln.partition(":") for ln in cpuinfo.read_text().splitlines()]
        values = {k.strip(): v.strip() for k, _, v in reversed(fields) if v.strip()}
        flags = set((values.get("flags") or values.get("Features") or "").lower().split())
        assert env["cpu_flags_relevant"] == sorted(f for f in ISA_FLAGS if f in flags)
        if "CPU part" not in values:  # x86 (ARM names come from the part: fixtures above)
            assert env["cpu_model"] == values["model name"]


def test_import_pulls_in_no_framework_or_ui() -> None:
    code = (
        "import sys, qtui.core.environment as e; e.capture_environment();"
        "bad = [m for m in ('torch', 'onnxruntime', 'openvino', 'tflite_runtime', 'ai_edge_litert',"
        " 'tensorflow', 'textual', 'rich') if m in sys.modules]; print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == ""
