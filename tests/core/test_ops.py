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
    assert ops.model_gmacs("resnet50") == pytest.approx(4.09, rel=0.01)  # torchvision: 4.09 GFLOPS


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
    assert ops.cpu_max_clock(tmp_path) == (pytest.approx(2600.5), "cpuinfo")
    freq = tmp_path / "sys/devices/system/cpu/cpu0/cpufreq"
    freq.mkdir(parents=True)
    (freq / "cpuinfo_max_freq").write_text("3700000\n")
    assert ops.cpu_max_mhz(tmp_path) == pytest.approx(3700.0)
    assert ops.cpu_max_clock(tmp_path) == (pytest.approx(3700.0), "cpufreq")
    assert ops.cpu_max_mhz(tmp_path / "nothing") is None and ops.cpu_max_clock(tmp_path / "nothing") is None


# ------------------------------------------------------------- what executed → which peak applies

_ORT_INT8 = "QLinearConv×52 (uint8 act, int8 weights), QGemm×1 (uint8 act, int8 weights); other: QuantizeLinear×1; input float32 [CPUExecutionProvider, optimised graph]"
_ORT_DYNAMIC = "ConvInteger×52 (uint8 act, int8 weights), MatMulInteger×1 (uint8 act, int8 weights); other: DynamicQuantizeLinear×53; input float32 [CPUExecutionProvider, optimised graph]"
_OV_INT8 = "inference precision f32 · Convolution: u8 ×35; GroupConvolution: u8 ×17; FullyConnected: u8 ×1 · LATENCY, 1 stream(s), 1 request(s), 2 threads"
_OV_WEIGHT_ONLY = "inference precision f32 · Convolution: f32 ×35; GroupConvolution: f32 ×17; FullyConnected: f32 ×1 · LATENCY, 1 stream(s), 1 request(s), 2 threads"
_OV_MIXED = "inference precision f32 · Convolution: u8 ×34, f32 ×1; GroupConvolution: u8 ×17 · LATENCY, 1 stream(s), 1 request(s), 2 threads"
_TFL_INT8 = "XNNPACK 65/65 ops: CONV_2D int8/int8 ×35, DEPTHWISE_CONV_2D int8/int8 ×17 (activation/weight dtypes); input int8, output int8; 2 threads"
_TFL_INT8_OFF = "TFLite kernels (no XNNPACK): CONV_2D int8/int8 ×35 on TFLite kernels, DEPTHWISE_CONV_2D int8/int8 ×17 on TFLite kernels (activation/weight dtypes); input int8, output int8; 2 threads"
_TFL_HYBRID = "XNNPACK 65/65 ops: CONV_2D float32/int8 ×35, DEPTHWISE_CONV_2D float32/float32 ×17 (activation/weight dtypes); input float32, output float32; 2 threads"
_TORCH_INT8 = "TorchScript, quantized engine x86, quantized::conv2d_relu ×35, quantized::conv2d ×17, quantized::linear ×1 (int8); float conv ×0, 2 threads"
_TORCH_LINEAR_ONLY = "TorchScript, quantized engine x86, quantized::linear_dynamic ×1 (int8); float conv ×52, 2 threads"


@pytest.mark.parametrize(
    ("precision", "executed", "expected"),
    [
        ("fp32", "Conv×52 (float32); input float32 [CPUExecutionProvider, optimised graph]", "fp32"),
        ("fp32", None, "fp32"),  # an FP32 artifact computes in f32 in every runtime
        ("fp16", "fp16 weights, f32 compute (no float16 CPU kernels for these ops here: ORT casts the weights to float32 at load) · Conv×52 (float32)", "fp32"),
        ("fp16", "fp16 weights, f16 compute (OpenVINO's f16 CPU kernels: 'FP16' in its OPTIMIZATION_CAPABILITIES) · inference precision f16", "fp16"),
        ("fp16", "fp16 weights, f16 compute (oneDNN f16 kernels: avx512_fp16) · eager float16, channels_last, 2 threads", "fp16"),
        ("fp16", "fp16 weights, mixed compute (float16: Conv; float32: Gemm) · …", None),
        ("fp16", "fp16 weights, f16 or f32 compute: the model's reduced_precision_support metadata lets XNNPACK compute in f16 where the CPU has f16 arithmetic", None),
        ("fp16", "fp16 weights, compute in float16/float32", None),
        ("fp16", "Conv×52, input float32 (artifact graph)", None),  # the fallback says nothing
        ("int8_static", _ORT_INT8, "int8"),
        ("int8_dynamic", _ORT_DYNAMIC, "int8"),  # ConvInteger: u8 × s8 integer GEMMs
        ("int8_static", _OV_INT8, "int8"),
        ("int8_dynamic", _OV_WEIGHT_ONLY, "fp32"),  # weight-only: convolutions compute in f32
        ("int8_static", _OV_MIXED, None),
        ("int8_static", _TFL_INT8, "int8"),
        ("int8_static", _TFL_INT8_OFF, None),  # TFLite's own int8 kernels: not the VNNI path
        ("int8_dynamic", _TFL_HYBRID, None),  # dynamic range: inner arithmetic not reported
        ("int8_static", _TORCH_INT8, "int8"),
        ("int8_dynamic", _TORCH_LINEAR_ONLY, "fp32"),  # only the classifier is quantized
        ("int8_static", "", None),
        ("int8_static", None, None),
        ("int8_static", "graph not inspectable", None),
        ("int4", _ORT_INT8, None),
    ],
)
def test_compute_precision_follows_what_executed(precision: str, executed: str | None, expected: str | None) -> None:
    assert ops.compute_precision(precision, executed) == expected


def test_peak_follows_the_compute_precision_not_the_artifact() -> None:
    env = _env()  # Zen 4: no avx512_fp16
    f32 = ops.nominal_peak_gops(env, "fp32")
    assert f32 is not None
    eff = ops.run_efficiency("mobilenet_v2", 100.0, env, "fp16", "fp16 weights, f32 compute (…)", "onnxruntime")
    assert eff is not None and eff["compute_precision"] == "fp32"
    assert eff["nominal_peak_gops"] == pytest.approx(f32[0]) and eff["peak_basis"] == f32[1]
    int8 = ops.run_efficiency("mobilenet_v2", 100.0, env, "int8_dynamic", _ORT_DYNAMIC, "onnxruntime")
    assert int8 is not None and int8["nominal_peak_gops"] == pytest.approx(2 * 2.6 * 128)
    assert "VNNI" in int8["peak_basis"]
    assert ops.nominal_peak_gops(env, "int8") == ops.nominal_peak_gops(env, "int8_static")


def test_amx_fp16_only_for_onednn_runtimes() -> None:
    isa = {"avx2": True, "avx512f": True, "avx512_fp16": True, "amx_fp16": True}
    env = _env(cpu_model="Intel(R) Xeon(R) 6972P", isa=isa)
    torch16, what = ops.nominal_peak_gops(env, "fp16", "torch")  # type: ignore[misc]
    assert torch16 == pytest.approx(2 * 2.6 * 1024) and "AMX-FP16" in what
    ort16, what = ops.nominal_peak_gops(env, "fp16", "onnxruntime")  # type: ignore[misc]
    assert ort16 == pytest.approx(2 * 2.6 * 128) and "AVX512-FP16" in what


def test_run_efficiency_without_a_peak_or_a_rate() -> None:
    eff = ops.run_efficiency("vgg19", 10.0, _env(machine="riscv64"), "fp32", None, "torch", "basis")
    assert eff is not None
    assert eff["achieved_gops"] == pytest.approx(2 * 19.632062464 * 10.0)
    assert eff["nominal_peak_gops"] is None and eff["fraction_of_nominal_peak"] is None
    assert eff["peak_basis"].startswith("no nominal peak: this CPU") and eff["rate_basis"] == "basis"
    unsaid = ops.run_efficiency("vgg19", 10.0, _env(), "int8_dynamic", _TFL_HYBRID, "tflite")
    assert unsaid is not None and unsaid["compute_precision"] is None and unsaid["nominal_peak_gops"] is None
    assert unsaid["peak_basis"].startswith("no nominal peak: the executed precision")
    for rate in (None, 0.0, -1.0, float("nan"), float("inf"), True):
        assert ops.run_efficiency("vgg19", rate, _env(), "fp32", None) is None
    assert ops.run_efficiency("resnet18", 10.0, _env(), "fp32", None) is None  # MACs not known


def test_efficiency_text() -> None:
    eff = ops.run_efficiency("mobilenet_v2", 500.0, _env(), "int8_static", _ORT_INT8, "onnxruntime")
    text = ops.efficiency_text(eff)
    # no cpufreq source: the clock may be the base clock, so the share is an upper bound
    assert text.startswith("301 GOP/s achieved, ≤45 % of a nominal 666 GOP/s int8 peak (nominal: 2 cores × 2.60 GHz"), text
    max_clock = ops.run_efficiency("mobilenet_v2", 500.0, _env(cpu_max_mhz_source="cpufreq"), "int8_static", _ORT_INT8, "onnxruntime")
    assert ops.efficiency_text(max_clock).startswith("301 GOP/s achieved, 45 % of a nominal 666 GOP/s int8 peak"), max_clock
    bare = ops.efficiency_text(ops.run_efficiency("mobilenet_v2", 5.0, _env(isa={}), "fp32", None))
    assert bare == "3.01 GOP/s achieved; no nominal peak: this CPU's cores, clock or vector units are not known"
    assert ops.efficiency_text(None) == "" and ops.efficiency_text({"achieved_gops": None}) == ""
    assert [ops.percent_text(f) for f in (0.00043, 0.041, 0.45)] == ["0.043", "4.1", "45"]
