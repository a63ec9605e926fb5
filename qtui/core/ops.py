"""How close a run came to the CPU's limit: each model's multiply-accumulate count (counted, not
quoted), the operations per second a throughput amounts to, and a *nominal* peak of the CPU for
the precision — cores × clock × operations per cycle of the best vector unit the runtimes use for
it (AVX2/AVX-512 FMA for FP32, VNNI or AMX for INT8, NEON/dot product on ARM). Nominal: from the
CPU's documented issue widths, never measured; None wherever it cannot be derived honestly.

One multiply-accumulate (MAC) is two operations (a multiply and an add), so GOP/s = 2 × GMAC ×
samples/s. The peak follows what *executed*, not only the precision asked for
(`compute_precision`): an FP16 artifact whose runtime computes in f32 runs at the FP32 peak.
`run_efficiency` is what a saved result records (`RunResult.efficiency`), `efficiency_text` its
one line. Imports nothing heavy (no torch): `count_macs` imports torch only when called.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from qtui.core import model_table

#: MACs per 224×224 image (the model table's), counted with forward hooks on every Conv2d
#: (output elements × kernel height × width × input channels per group) and Linear (output
#: elements × input features) of qtui's own models (`count_macs`; tests/core/test_ops.py
#: recounts them). Published figures agree: MobileNetV2 ≈ 0.30 G, VGG-19 ≈ 19.6 G,
#: DenseNet-121 ≈ 2.8–2.9 G, ResNet-50 ≈ 4.09 G.
MODEL_MACS: dict[str, int] = {m.id: m.macs for m in model_table.TABLE}


def model_gmacs(model: str) -> float:
    """Multiply-accumulates per image (224×224), in billions. KeyError for an unknown model."""
    return MODEL_MACS[model] / 1e9


def achieved_gops(model: str, samples_per_s: float) -> float:
    """Operations per second (billions) that `samples_per_s` images amount to: 2 × GMAC × rate."""
    return 2.0 * model_gmacs(model) * samples_per_s


def count_macs(model: str, size: int = 224) -> int:
    """Count the MACs of qtui's `model` for one `size`×`size` image on torch's meta device (no
    weights, no arithmetic): the source of `MODEL_MACS`."""
    import torch

    from qtui.core.models import architecture

    with torch.device("meta"):
        module = architecture(model)().eval()
    total = 0

    def conv(mod: Any, _inputs: Any, out: Any) -> None:
        nonlocal total
        kh, kw = mod.kernel_size
        total += out.numel() * kh * kw * (mod.in_channels // mod.groups)

    def linear(mod: Any, _inputs: Any, out: Any) -> None:
        nonlocal total
        total += out.numel() * mod.in_features

    for mod in module.modules():
        if isinstance(mod, torch.nn.Conv2d):
            mod.register_forward_hook(conv)
        elif isinstance(mod, torch.nn.Linear):
            mod.register_forward_hook(linear)
    with torch.no_grad():
        module(torch.empty(1, 3, size, size, device="meta"))
    return total


# ------------------------------------------------------------------------------ the CPU's clock


def cpu_max_clock(root: Path = Path("/")) -> tuple[float, str] | None:
    """(the CPU's highest clock in MHz, where it came from): cpufreq's `cpuinfo_max_freq` (kHz)
    where the kernel has it ("cpufreq"), else the highest "cpu MHz" of /proc/cpuinfo ("cpuinfo":
    a VM's or a fixed-clock CPU's only figure, often the base clock, which boost may exceed);
    None when neither is readable."""
    try:
        khz = (Path(root) / "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text().strip()
        if khz:
            return int(khz) / 1000.0, "cpufreq"
    except (OSError, ValueError):
        pass
    try:
        text = (Path(root) / "proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    values = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([0-9.]+)", text, flags=re.MULTILINE)]
    return (max(values), "cpuinfo") if values else None


def cpu_max_mhz(root: Path = Path("/")) -> float | None:
    """The CPU's highest clock in MHz (`cpu_max_clock` without its source); None when unknown."""
    found = cpu_max_clock(root)
    return found[0] if found else None


_GHZ_IN_NAME = re.compile(r"@\s*([0-9]+(?:\.[0-9]+)?)\s*GHz", re.IGNORECASE)


def _clock_ghz(env: dict[str, Any]) -> tuple[float, str] | None:
    mhz = env.get("cpu_max_mhz")
    if isinstance(mhz, (int, float)) and mhz > 0:
        if env.get("cpu_max_mhz_source") == "cpuinfo":
            return float(mhz) / 1000.0, "clock in /proc/cpuinfo, no cpufreq: may be the base clock"
        return float(mhz) / 1000.0, "max clock"
    m = _GHZ_IN_NAME.search(str(env.get("cpu_model") or ""))
    if m:
        return float(m.group(1)), "base clock in the model name: boost may exceed it"
    return None


def clock_is_max(env: dict[str, Any]) -> bool:
    """Whether the clock a nominal peak uses is the CPU's maximum (cpufreq's), rather than a
    figure boost may exceed (/proc/cpuinfo's or the model name's): otherwise the peak may be
    too low and the fraction achieved is an upper bound."""
    mhz = env.get("cpu_max_mhz")
    return isinstance(mhz, (int, float)) and mhz > 0 and env.get("cpu_max_mhz_source") == "cpufreq"


# --------------------------------------------------------------------- operations per cycle


#: FP32 FLOP/cycle/core of ARM cores by name (2 per FMA lane): Cortex-A53/A55 one 64-bit FMA
#: path (4), A72/A73 one 128-bit FMA pipe (8), A76 and later two 128-bit pipes (16).
_ARM_FP32 = {
    "Cortex-A53": 4,
    "Cortex-A55": 4,
    "Cortex-A57": 8,
    "Cortex-A72": 8,
    "Cortex-A73": 8,
    "Cortex-A75": 8,
    "Cortex-A76": 16,
    "Cortex-A77": 16,
    "Cortex-A78": 16,
    "Cortex-X1": 32,
    "Neoverse-N1": 16,
}


#: What the peak functions take for integer arithmetic: the compute precision "int8"
#: (`compute_precision`) or a profile's INT8 precision.
_INT8 = ("int8", "int8_static", "int8_dynamic")


def _isa(env: dict[str, Any]) -> set[str]:
    isa = env.get("isa") or {}
    flags = {k for k, v in isa.items() if v}
    flags.update(str(f).lower() for f in env.get("cpu_flags_relevant") or ())
    return flags


def _x86_per_cycle(env: dict[str, Any], precision: str, framework: str | None) -> tuple[float, str] | None:
    flags = _isa(env)
    model = str(env.get("cpu_model") or "")
    amd = "AMD" in model.upper()
    # Zen 4 executes 512-bit vector instructions as two 256-bit halves; Zen 5 (which adds
    # AVX-VNNI beside AVX512-VNNI) and Intel server cores have two full 512-bit FMA units.
    half_width_512 = amd and "avx512f" in flags and "avx_vnni" not in flags
    if "avx512f" in flags:
        fp32, fp32_what = (32, "AVX-512 FMA as 2×256-bit (AMD Zen 4): 2 pipes × 8 lanes × 2") if half_width_512 else (
            64, "AVX-512 FMA: 2 units × 16 lanes × 2")
    elif "avx2" in flags:
        fp32, fp32_what = 32, "AVX2 FMA: 2 units × 8 lanes × 2"
    else:
        return None
    if precision == "fp32":
        return fp32, fp32_what
    if precision == "fp16":
        # AMX-FP16 (Granite Rapids on): oneDNN's f16 kernels (PyTorch, OpenVINO) use it
        if "amx_fp16" in flags and framework in ("torch", "openvino"):
            return 1024, "AMX-FP16: 512 MAC per core per cycle × 2"
        if "avx512_fp16" in flags:
            return 2 * fp32, "AVX512-FP16 FMA: 2 units × 32 lanes × 2"
        return fp32, f"no native FP16 arithmetic: computes in f32, {fp32_what}"
    if precision in _INT8:
        # AMX: ONNX Runtime (MLAS), OpenVINO and PyTorch (oneDNN) use it; XNNPACK (TFLite) does not
        if "amx_int8" in flags and framework != "tflite":
            return 2048, "AMX-INT8: 1024 MAC per core per cycle × 2"
        if "avx512_vnni" in flags:
            return 4 * fp32, f"AVX512-VNNI: 4 int8 MACs per FP32 lane ({fp32_what} × 4)"
        if "avx_vnni" in flags:
            return 128, "AVX-VNNI (256-bit): 2 units × 8 lanes × 4 MACs × 2"
        return 2 * fp32, f"AVX2 int8 (vpmaddubsw, no VNNI): 2× the FP32 rate ({fp32_what} × 2)"
    return None


def _arm_per_cycle(env: dict[str, Any], precision: str) -> tuple[float, str] | None:
    flags = _isa(env)
    model = str(env.get("cpu_model") or "")
    names = [n for n in _ARM_FP32 if n in model]
    if len(names) != 1 or not ("neon" in flags or "asimd" in flags):
        return None  # unknown core, or big.LITTLE: no single per-core figure
    fp32 = _ARM_FP32[names[0]]
    what = f"{names[0]} NEON FMA: {fp32} FLOP/cycle"
    if precision == "fp32":
        return fp32, what
    if precision == "fp16":
        if "asimdhp" in flags:
            return 2 * fp32, f"{names[0]} NEON FP16 FMA: 2× the FP32 lanes"
        return fp32, f"no FP16 arithmetic: computes in f32, {what}"
    if precision in _INT8:
        if "asimddp" in flags:
            return 4 * fp32, f"{names[0]} dot product (sdot/udot): 4 int8 MACs per FP32 lane"
        return 2 * fp32, f"{names[0]} NEON int8 widening multiply-accumulate: 2× the FP32 rate"
    return None


def nominal_peak_gops(env: dict[str, Any], precision: str, framework: str | None = None) -> tuple[float, str] | None:
    """(nominal peak GOP/s, what it assumed) of the machine in `env` (as `capture_environment`
    records it, with `cpu_max_mhz`) for `precision` — a compute precision ("fp32", "fp16",
    "int8": see `compute_precision`) or a profile's precision — or None when the CPU, its clock or its
    vector units are not known. Cores are the physical cores, or the run's `threads` when it
    used fewer; `framework` only matters where runtimes differ (TFLite does not use AMX)."""
    clock = _clock_ghz(env)
    cores = env.get("cores_physical") or env.get("cores_logical")
    if clock is None or not isinstance(cores, int) or cores <= 0:
        return None
    threads = env.get("threads")
    used = min(cores, threads) if isinstance(threads, int) and threads > 0 else cores
    machine = str(env.get("machine") or "").lower()
    if machine in ("x86_64", "amd64", "i686", "i386"):
        per_cycle = _x86_per_cycle(env, precision, framework)
    elif machine in ("aarch64", "arm64") or machine.startswith("arm"):
        per_cycle = _arm_per_cycle(env, precision)
    else:
        per_cycle = None
    if per_cycle is None:
        return None
    ops, what = per_cycle
    ghz, clock_what = clock
    peak = used * ghz * ops
    core_text = f"{used} of {cores} cores" if used != cores else f"{cores} cores"
    return peak, f"nominal: {core_text} × {ghz:.2f} GHz ({clock_what}) × {ops:g} ops/cycle ({what})"


def fraction_of_peak(model: str, samples_per_s: float, env: dict[str, Any], precision: str,
                     framework: str | None = None) -> float | None:
    """Achieved GOP/s ÷ the nominal peak (None when the peak is unknown)."""
    peak = nominal_peak_gops(env, precision, framework)
    if peak is None or peak[0] <= 0:
        return None
    return achieved_gops(model, samples_per_s) / peak[0]


# ------------------------------------------------------------------ what executed, and a run's share


#: What an FP16 artifact computed in, as every backend's executed precision begins:
#: "fp16 weights, f32 compute (…)" or "fp16 weights, f16 compute (…)". Anything else ("mixed
#: compute", TFLite's "f16 or f32 compute", "compute in float16/float32") does not say.
_FP16_COMPUTE = re.compile(r"^fp16 weights, (f16|f32) compute\b")
_COUNT = r"×\d+(?!\d)"  # an op count, "×52" (never a prefix of a longer number)
#: Convolutions (nearly all of these models' MACs) by the arithmetic they ran in, as each backend
#: names them in its executed precision (qtui.core.backends.*).
_INT8_CONV = (
    re.compile(r"\b(?:QLinearConv|ConvInteger)×[1-9]"),  # ONNX Runtime: u8 activations × s8 weights
    re.compile(r"\b(?:Group)?Convolution: [^;·]*\b[ui]8 ×"),  # OpenVINO: the layer's input u8/i8
    re.compile(r"\b(?:DEPTHWISE_)?CONV_2D int8/int8 " + _COUNT + r"(?! on TFLite)"),  # XNNPACK
    re.compile(r"\bquantized::conv\w* ×[1-9]"),  # PyTorch TorchScript
)
_FLOAT_CONV = (
    re.compile(r"\b(?:Conv|FusedConv|NhwcFusedConv)×\d+ \(float32"),
    re.compile(r"\b(?:Group)?Convolution: [^;·]*\bf32 ×"),
    re.compile(r"\b(?:DEPTHWISE_)?CONV_2D float32/float32 "),
    re.compile(r"\bfloat conv ×[1-9]"),
)
#: Convolutions whose inner arithmetic the text does not settle: TFLite's dynamic-range
#: ("hybrid") kernels, its own int8 kernels off XNNPACK, OpenVINO layers in a half precision.
_UNSAID_CONV = (
    re.compile(r"\b(?:DEPTHWISE_)?CONV_2D float32/int8\b"),
    re.compile(r"\b(?:DEPTHWISE_)?CONV_2D \w+/\w+ " + _COUNT + " on TFLite"),
    re.compile(r"\b(?:Group)?Convolution: [^;·]*\b(?:bf16|f16) ×"),
)


def compute_precision(precision: str, executed: str | None) -> str | None:
    """The arithmetic a run's convolutions executed in — "fp32", "fp16" or "int8", the precision
    whose peak applies — from the profile's `precision` and the runtime's executed precision
    (`RunResult.artifact["executed_precision"]`); None when the text does not say (no guess).

    FP32 artifacts compute in f32 everywhere (OpenVINO refuses anything else). FP16 follows the
    "fp16 weights, f32/f16 compute" the backends report. INT8 (static or dynamic) is "int8" when
    every convolution named ran on integers (ORT QLinearConv/ConvInteger, OpenVINO u8/i8 layers,
    XNNPACK int8/int8, PyTorch quantized::conv*), "fp32" when they all ran in f32 (weight-only or
    Linear-only quantization: OpenVINO's and PyTorch's INT8 dynamic), None when mixed or hybrid."""
    if precision == "fp32":
        return "fp32"
    text = (executed or "").strip()
    if not text:
        return None
    if precision == "fp16":
        m = _FP16_COMPUTE.match(text)
        return None if m is None else {"f32": "fp32", "f16": "fp16"}[m.group(1)]
    if precision in ("int8_static", "int8_dynamic"):
        if any(p.search(text) for p in _UNSAID_CONV):
            return None
        ints = any(p.search(text) for p in _INT8_CONV)
        floats = any(p.search(text) for p in _FLOAT_CONV)
        if ints == floats:  # mixed, or no convolution named
            return None
        return "int8" if ints else "fp32"
    return None


def run_efficiency(
    model: str,
    samples_per_s: Any,
    env: dict[str, Any],
    precision: str,
    executed: str | None,
    framework: str | None = None,
    rate_basis: str = "",
) -> dict[str, Any] | None:
    """What a result records as `efficiency`: the model's GMAC per image, the GOP/s its rate
    amounts to (`rate_basis` says which rate), the compute precision that executed, and the
    nominal peak for it with the fraction achieved (both None where no peak can be derived;
    `peak_basis` then says why). None without a rate or for a model whose MACs are not known."""
    if model not in MODEL_MACS or isinstance(samples_per_s, bool) or not isinstance(samples_per_s, (int, float)):
        return None
    rate = float(samples_per_s)
    if not (rate > 0 and rate < float("inf")):
        return None
    achieved = achieved_gops(model, rate)
    compute = compute_precision(precision, executed)
    peak = nominal_peak_gops(env, compute, framework) if compute is not None else None
    upper_bound = False
    if peak is not None and peak[0] > 0:
        value, basis = peak
        fraction: float | None = achieved / value
        upper_bound = not clock_is_max(env)
        if achieved > value:
            basis += "; above 100 %: this nominal peak is too low (a clock below the real one, or more arithmetic units than assumed)"
    else:
        value, fraction = None, None
        basis = (
            "no nominal peak: the executed precision does not say which arithmetic the convolutions ran in"
            if compute is None
            else "no nominal peak: this CPU's cores, clock or vector units are not known"
        )
    return {
        "model_gmacs": model_gmacs(model),
        "achieved_gops": achieved,
        "rate_basis": rate_basis,
        "compute_precision": compute,
        "nominal_peak_gops": value,
        "fraction_of_nominal_peak": fraction,
        #: the clock is not known to be the maximum: the peak may be low, the fraction high
        "fraction_is_upper_bound": upper_bound,
        "peak_basis": basis,
    }


def _figure(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 99.95 else f"{value:.0f}"


def percent_text(fraction: float) -> str:
    """A fraction as a percentage with sensible digits: 0.041 → "4.1", 0.00043 → "0.043"."""
    pct = 100.0 * fraction
    return f"{pct:.2g}" if abs(pct) < 1 else f"{pct:.1f}" if abs(pct) < 10 else f"{pct:.0f}"


def fraction_text(fraction: float, upper_bound: bool) -> str:
    """"12 %", or "≤12 %" when the clock behind the peak may be below the real one."""
    return f"{'≤' if upper_bound else ''}{percent_text(fraction)} %"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def efficiency_text(efficiency: dict[str, Any] | None) -> str:
    """One line of a result's `efficiency`: "12.3 GOP/s achieved, 4.1 % of a nominal 298 GOP/s
    int8 peak (nominal: …)", or "12.3 GOP/s achieved; no nominal peak: …"; "" without one."""
    eff = efficiency or {}
    achieved = _num(eff.get("achieved_gops"))
    if achieved is None:
        return ""
    text = f"{_figure(achieved)} GOP/s achieved"
    peak, fraction = _num(eff.get("nominal_peak_gops")), _num(eff.get("fraction_of_nominal_peak"))
    basis = str(eff.get("peak_basis") or "")
    if peak is not None and fraction is not None:
        compute = eff.get("compute_precision")
        what = f" {compute}" if isinstance(compute, str) and compute else ""
        share = fraction_text(fraction, eff.get("fraction_is_upper_bound") is True)
        return f"{text}, {share} of a nominal {_figure(peak)} GOP/s{what} peak" + (f" ({basis})" if basis else "")
    return f"{text}; {basis}" if basis else text
