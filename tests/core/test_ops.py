"""Operation counts of qtui's models and the nominal CPU peak: counted MACs match the stored
figures, GOP/s follow from a throughput, and the peak is derived from the environment record
(cores, clock, ISA) for x86 and ARM CPUs, or refused (None) where it cannot be."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qtui.core import ops


@pytest.mark.parametrize("model", sorted(ops.MODEL_MACS))
def test_stored_mac_counts_are_what_the_models_count(model: str) -> None:
    assert ops.count_macs(model) == ops.MODEL_MACS[model]


def test_mac_counts_agree_with_published_figures() -> None:
    assert ops.model_gmacs("mobilenet_v2") == pytest.approx(0.30, rel=0.02)
    assert ops.model_gmacs("vgg19") == pytest.approx(19.6, rel=0.01)
    assert ops.model_gmacs("densenet121") == pytest.approx(2.87, rel=0.02)


def test_achieved_gops_is_two_ops_per_mac() -> None:
    assert ops.achieved_gops("mobilenet_v2", 1000.0) == pytest.approx(2 * 300.774272)


def _env(**changes: Any) -> dict[str, Any]:
    env: dict[str, Any] = {
        "machine": "x86_64",
        "cpu_model": "AMD EPYC",
        "cores_physical": 2,
        "cores_logical": 2,
        "threads": 2,
        "cpu_max_mhz": 2600.0,
        "isa": {"avx2": True, "avx512f": True, "avx512_vnni": True, "avx_vnni": False, "amx_int8": False,
                "avx512_fp16": False},
    }
    env.update(changes)
    return env


def test_zen4_runs_avx512_at_half_width() -> None:
    value, what = ops.nominal_peak_gops(_env(), "fp32")  # type: ignore[misc]
    assert value == pytest.approx(2 * 2.6 * 32)
    assert what.startswith("nominal") and "Zen 4" in what
    int8, what8 = ops.nominal_peak_gops(_env(), "int8_static")  # type: ignore[misc]
    assert int8 == pytest.approx(2 * 2.6 * 128) and "VNNI" in what8


def test_intel_server_amx_and_fp16() -> None:
    isa = {"avx2": True, "avx512f": True, "avx512_vnni": True, "amx_int8": True, "avx512_fp16": True}
    env = _env(cpu_model="Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", isa=isa, cpu_max_mhz=None,
               cores_physical=4, threads=4)
    fp32, what = ops.nominal_peak_gops(env, "fp32")  # type: ignore[misc]
    assert fp32 == pytest.approx(4 * 2.7 * 64) and "model name" in what
    amx, amx_what = ops.nominal_peak_gops(env, "int8_static", "onnxruntime")  # type: ignore[misc]
    assert amx == pytest.approx(4 * 2.7 * 2048) and "AMX" in amx_what
    xnn, xnn_what = ops.nominal_peak_gops(env, "int8_static", "tflite")  # type: ignore[misc]
    assert xnn == pytest.approx(4 * 2.7 * 256) and "VNNI" in xnn_what
    fp16, _ = ops.nominal_peak_gops(env, "fp16")  # type: ignore[misc]
    assert fp16 == pytest.approx(4 * 2.7 * 128)


def test_fewer_threads_than_cores_count_only_the_cores_used() -> None:
    value, what = ops.nominal_peak_gops(_env(cores_physical=8, cores_logical=16, threads=2), "fp32")  # type: ignore[misc]
    assert value == pytest.approx(2 * 2.6 * 32) and "2 of 8 cores" in what


def test_avx2_only_cpu() -> None:
    env = _env(cpu_model="Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", cpu_max_mhz=4600.0,
               isa={"avx2": True}, cores_physical=6, threads=6)
    assert ops.nominal_peak_gops(env, "fp32")[0] == pytest.approx(6 * 4.6 * 32)  # type: ignore[index]
    assert ops.nominal_peak_gops(env, "int8_static")[0] == pytest.approx(6 * 4.6 * 64)  # type: ignore[index]


def test_raspberry_pi_cores() -> None:
    pi4 = {"machine": "aarch64", "cpu_model": "Cortex-A72", "cores_physical": 4, "threads": 4,
           "cpu_max_mhz": 1800.0, "isa": {"asimd": True, "neon": True, "asimddp": False}}
    assert ops.nominal_peak_gops(pi4, "fp32")[0] == pytest.approx(4 * 1.8 * 8)  # type: ignore[index]
    assert ops.nominal_peak_gops(pi4, "int8_static")[0] == pytest.approx(4 * 1.8 * 16)  # type: ignore[index]
    pi5 = dict(pi4, cpu_model="Cortex-A76", cpu_max_mhz=2400.0, isa={"asimd": True, "neon": True, "asimddp": True})
    assert ops.nominal_peak_gops(pi5, "int8_static")[0] == pytest.approx(4 * 2.4 * 64)  # type: ignore[index]


@pytest.mark.parametrize(
    "changes",
    [
        {"cpu_max_mhz": None},  # no clock anywhere
        {"machine": "riscv64"},
        {"isa": {}},  # no AVX2: not derived
        {"cores_physical": None, "cores_logical": None},
    ],
)
def test_unknown_peak_is_none(changes: dict[str, Any]) -> None:
    assert ops.nominal_peak_gops(_env(**changes), "fp32") is None


def test_unknown_or_mixed_arm_cores_give_none() -> None:
    env = {"machine": "aarch64", "cpu_model": "Cortex-A55 + Cortex-A76", "cores_physical": 8,
           "cpu_max_mhz": 2400.0, "isa": {"asimd": True}}
    assert ops.nominal_peak_gops(env, "fp32") is None
    assert ops.nominal_peak_gops(dict(env, cpu_model="implementer 0x61 CPU part 0x022"), "fp32") is None


def test_fraction_of_peak() -> None:
    frac = ops.fraction_of_peak("mobilenet_v2", 500.0, _env(), "int8_static")
    assert frac == pytest.approx(2 * 0.300774272 * 500 / (2 * 2.6 * 128))
    assert ops.fraction_of_peak("mobilenet_v2", 500.0, _env(machine="s390x"), "fp32") is None


def test_cpu_max_mhz_from_cpufreq_then_cpuinfo(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text("processor: 0\ncpu MHz\t\t: 2596.146\nprocessor: 1\ncpu MHz\t\t: 2600.5\n")
    assert ops.cpu_max_mhz(tmp_path) == pytest.approx(2600.5)
    freq = tmp_path / "sys/devices/system/cpu/cpu0/cpufreq"
    freq.mkdir(parents=True)
    (freq / "cpuinfo_max_freq").write_text("3700000\n")
    assert ops.cpu_max_mhz(tmp_path) == pytest.approx(3700.0)
    assert ops.cpu_max_mhz(tmp_path / "nothing") is None
