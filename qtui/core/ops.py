"""How close a run came to the CPU's limit: each model's multiply-accumulate count (counted, not
quoted), the operations per second a throughput amounts to, and a *nominal* peak of the CPU for
the precision — cores × clock × operations per cycle of the best vector unit the runtimes use for
it (AVX2/AVX-512 FMA for FP32, VNNI or AMX for INT8, NEON/dot product on ARM). Nominal: from the
CPU's documented issue widths, never measured; None wherever it cannot be derived honestly.

One multiply-accumulate (MAC) is two operations (a multiply and an add), so GOP/s = 2 × GMAC ×
samples/s. Imports nothing heavy (no torch): `count_macs` imports torch only when called.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

#: MACs per 224×224 image, counted with forward hooks on every Conv2d (output elements × kernel
#: height × width × input channels per group) and Linear (output elements × input features) of
#: qtui's own models (`count_macs`; tests/core/test_ops.py recounts them). Published figures
#: agree: MobileNetV2 ≈ 0.30 G, VGG-19 ≈ 19.6 G, DenseNet-121 ≈ 2.8–2.9 G.
MODEL_MACS: dict[str, int] = {
    "mobilenet_v2": 300_774_272,
    "vgg19": 19_632_062_464,
    "densenet121": 2_834_161_664,
}


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


def cpu_max_mhz(root: Path = Path("/")) -> float | None:
    """The CPU's highest clock in MHz: cpufreq's `cpuinfo_max_freq` (kHz) where the kernel has
    it, else the highest "cpu MHz" of /proc/cpuinfo (a VM's or a fixed-clock CPU's only figure:
    often the base clock). For the environment record; None when neither is readable."""
    try:
        khz = (Path(root) / "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text().strip()
        if khz:
            return int(khz) / 1000.0
    except (OSError, ValueError):
        pass
    try:
        text = (Path(root) / "proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    values = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([0-9.]+)", text, flags=re.MULTILINE)]
    return max(values) if values else None


_GHZ_IN_NAME = re.compile(r"@\s*([0-9]+(?:\.[0-9]+)?)\s*GHz", re.IGNORECASE)


def _clock_ghz(env: dict[str, Any]) -> tuple[float, str] | None:
    mhz = env.get("cpu_max_mhz")
    if isinstance(mhz, (int, float)) and mhz > 0:
        return float(mhz) / 1000.0, "max clock"
    m = _GHZ_IN_NAME.search(str(env.get("cpu_model") or ""))
    if m:
        return float(m.group(1)), "clock in the model name"
    return None


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
        if "avx512_fp16" in flags:
            return 2 * fp32, "AVX512-FP16 FMA: 2 units × 32 lanes × 2"
        return fp32, f"no native FP16 arithmetic: computes in f32, {fp32_what}"
    if precision in ("int8_static", "int8_dynamic"):
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
    if precision in ("int8_static", "int8_dynamic"):
        if "asimddp" in flags:
            return 4 * fp32, f"{names[0]} dot product (sdot/udot): 4 int8 MACs per FP32 lane"
        return 2 * fp32, f"{names[0]} NEON int8 widening multiply-accumulate: 2× the FP32 rate"
    return None


def nominal_peak_gops(env: dict[str, Any], precision: str, framework: str | None = None) -> tuple[float, str] | None:
    """(nominal peak GOP/s, what it assumed) of the machine in `env` (as `capture_environment`
    records it, plus `cpu_max_mhz`) for `precision`, or None when the CPU, its clock or its
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
