"""PyTorch artifacts for every precision.

- fp32: the model's state dict (rebuilt into the eager model, channels_last, at load time).
- fp16: the state dict in float16; the backend runs the eager model after `half()` where PyTorch
  computes f16 natively (oneDNN f16 kernels), and upcasts the weights to float32 elsewhere.
- int8_dynamic: `torch.ao.quantization.quantize_dynamic` on `nn.Linear` (only the classifier in
  these CNNs), persisted as TorchScript (`torch.jit.trace` + `torch.jit.save`).
- int8_static: FX graph mode post-training quantization (`prepare_fx` → calibration →
  `convert_fx`) with the quantized engine's default qconfig mapping ("x86" on x86, "qnnpack" on
  ARM), persisted as TorchScript. FX-converted modules cannot be reloaded after `torch.save`.

`select_engine` decides the quantized engine and qconfig for this machine; the engine is stored in
the artifact's details and the backend sets it again before loading (ARM builds have no default).
On qnnpack, `replace_relu6` works around a PyTorch kernel bug that scrambles quantized ReLU6
outputs (MobileNetV2). `quiet` keeps torch's deprecation warnings, including the one its C++
prints straight to fd 2, out of the user's terminal.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtui.core.prepare import PrepareError, dist_version, require_available, target
from qtui.core.quiet import quiet

#: Implemented precisions and what each means here (shown by `qtui doctor` and the TUI).
PRECISION_NOTES: dict[str, str] = {
    "fp32": "eager, channels_last",
    "fp16": (
        "FP16 state dict; eager half() (f16 compute, oneDNN) where PyTorch has native f16 "
        "convolutions (x86 avx512_fp16 or avx_ne_convert), else the weights are upcast to f32 at "
        "load and it computes in f32 (its half() there is emulated, ≈15× slower than FP32)"
    ),
    "int8_dynamic": (
        "quantize_dynamic on nn.Linear only (the classifier): every convolution stays FP32; TorchScript"
    ),
    "int8_static": (
        "FX graph mode PTQ, calibrated: x86 engine + qconfig (7-bit activations, per-channel "
        "weights), qnnpack on ARM (per-tensor weights); TorchScript"
    ),
}

#: What FP32 and FP16 mean for a user's PyTorch entry point (`_prepare_entry_float`).
SOURCE_PRECISION_NOTES: dict[str, dict[str, str]] = {
    "entry": {
        "fp32": "TorchScript trace of the entry point's module (loads without your code)",
        "fp16": "weights rounded to float16, computed in float32 (TorchScript trace)",
    },
}

ARM_MACHINES = ("aarch64", "arm64", "armv7l", "armv8l", "armv7", "armv8")
X86_MACHINES = ("x86_64", "amd64", "i386", "i686", "x86")
#: Example input for FX preparation and TorchScript tracing (batch size stays dynamic).
EXAMPLE_SHAPE = (1, 3, 224, 224)


def is_arm(machine: str | None = None) -> bool:
    """Whether `machine` (default: the CPU the artifact being prepared runs on, see
    `target.preparing_for`) is an ARM CPU."""
    m = (machine if machine is not None else target.machine()).lower()
    return m in ARM_MACHINES or m.startswith("arm")


def is_x86(machine: str | None = None) -> bool:
    """Whether `machine` (default: as for `is_arm`) is an x86 CPU."""
    return (machine if machine is not None else target.machine()).lower() in X86_MACHINES


def engine_family(machine: str | None = None) -> str | None:
    """The quantized engine family for a CPU architecture, without importing torch."""
    if is_arm(machine):
        return "qnnpack"
    if is_x86(machine):
        return "x86"
    return None


def select_engine(supported: list[str] | None = None, machine: str | None = None) -> tuple[str, str]:
    """(quantized engine, qconfig mapping backend) for this machine.

    x86: engine "x86" with the "x86" qconfig mapping, or "fbgemm" where the build lacks "x86".
    ARM: "qnnpack" for both (ARM builds have no default engine: it must be set explicitly).
    `supported` defaults to `torch.backends.quantized.supported_engines`.
    """
    if supported is None:
        import torch

        supported = list(torch.backends.quantized.supported_engines)
    family = engine_family(machine)
    if family == "qnnpack":
        if "qnnpack" in supported:
            return "qnnpack", "qnnpack"
    elif family == "x86":
        for engine in ("x86", "fbgemm"):
            if engine in supported:
                return engine, engine
    raise PrepareError(
        f"PyTorch has no int8 engine for this CPU ({target.machine() if machine is None else machine}; "
        f"quantized engines built in: {', '.join(e for e in supported if e != 'none') or 'none'})"
    )


def runtime_unavailable_reason(precision: str) -> str | None:
    """Nothing stops this framework from running an artifact of any precision it offers here."""
    return None


def unavailable_reason(precision: str) -> str | None:
    """Why `precision` cannot be prepared/run on this machine (None: it can)."""
    if precision not in PRECISION_NOTES:
        return f"PyTorch {precision} is not implemented in this qtui version"
    if precision.startswith("int8") and engine_family() is None:
        return f"PyTorch int8 needs the x86 (fbgemm) or ARM (qnnpack) engine; this CPU is {target.machine()}"
    return None


def check_supported(precision: str) -> None:
    require_available(sys.modules[__name__], precision)


def tool_versions() -> dict[str, str | None]:
    # The engine family decides how int8 weights are packed and which qconfig calibrates them.
    return {"torch": dist_version("torch"), "quantized_engine": engine_family()}


def set_engine(engine: str) -> None:
    import torch

    if engine not in torch.backends.quantized.supported_engines:
        raise PrepareError(f"this PyTorch build has no '{engine}' quantized engine")
    torch.backends.quantized.engine = engine


def prepare(
    loaded: Any,
    precision: str,
    out_dir: Path,
    calibration_batches: Callable[[], Any] | None,
    progress: Callable[[str, float | None], None],
) -> dict[str, Any]:
    import torch

    details: dict[str, Any] = {"model": loaded.name}
    if target.target() is not None:  # made here for a device of another architecture
        details["made_for"] = target.machine()
    if hasattr(loaded, "location") and precision in ("fp32", "fp16"):
        return _prepare_entry_float(loaded, precision, out_dir, progress, details)
    if precision == "fp32":
        progress("saving PyTorch state dict", None)
        torch.save(loaded.module.state_dict(), out_dir / "model.pt")
        return {"file": "model.pt", "format": "state_dict", "details": details}
    if precision == "fp16":
        progress("converting weights to FP16", None)
        state = {
            k: (v.half() if v.is_floating_point() else v) for k, v in loaded.module.state_dict().items()
        }
        torch.save(state, out_dir / "model.pt")
        return {"file": "model.pt", "format": "state_dict", "details": {**details, "dtype": "float16"}}
    if precision == "int8_dynamic":
        return _prepare_dynamic(loaded, out_dir, progress, details)
    if precision == "int8_static":
        if calibration_batches is None:
            raise PrepareError("PyTorch INT8 static needs calibration images")
        return _prepare_static(loaded, out_dir, calibration_batches, progress, details)
    raise PrepareError(f"PyTorch {precision} is not implemented in this qtui version")


def _prepare_entry_float(
    loaded: Any, precision: str, out_dir: Path, progress: Callable[[str, float | None], None], details: dict[str, Any]
) -> dict[str, Any]:
    """A user's entry point (`model_source_entry.EntryModel`): traced to TorchScript, so the
    artifact runs without the user's code (a state dict would need their class at load). FP16
    rounds the weights to float16 and computes in float32, like the built-ins' FP16 on a CPU
    without native FP16 arithmetic."""
    import torch

    model = copy.deepcopy(loaded.module).eval()
    if precision == "fp16":
        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                if tensor.is_floating_point():
                    tensor.copy_(tensor.half().float())
        details.update(dtype="float16 weights, float32 compute (rounded, TorchScript)")
    _save_torchscript(model, examples(loaded), out_dir / "model.ts", freeze=False, progress=progress)
    details.update(entry_point=loaded.location.label, input_memory_format="contiguous", frozen=False)
    return {"file": "model.ts", "format": "torchscript", "details": details}


def _prepare_dynamic(
    loaded: Any, out_dir: Path, progress: Callable[[str, float | None], None], details: dict[str, Any]
) -> dict[str, Any]:
    import torch

    engine, _ = select_engine()
    progress("quantizing nn.Linear layers (dynamic int8)", None)
    with quiet(native=True):
        set_engine(engine)
        model = copy.deepcopy(loaded.module).eval().to(memory_format=torch.channels_last)
        quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    example = tuple(  # a picture channels_last, any other input as it is
        t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in examples(loaded)
    )
    # Not frozen: freezing would also fold BatchNorm into the FP32 convolutions (≈20 % faster
    # here), a gain that has nothing to do with quantizing the classifier.
    _save_torchscript(quantized, example, out_dir / "model.ts", freeze=False, progress=progress)
    details.update(
        {
            "quantized_engine": engine,
            "qconfig": "default_dynamic_qconfig: int8 weights per tensor, activations quantized per batch at run time",
            "quantized_layers": "nn.Linear (classifier) only; convolutions and BatchNorm stay FP32",
            "input_memory_format": "channels_last",
            "frozen": False,
        }
    )
    return {"file": "model.ts", "format": "torchscript", "details": details}


def examples(loaded: Any) -> tuple[Any, ...]:
    """Zero inputs to trace and export with: an entry point's own (`EntryModel.examples`: the
    inputs the profile gives it), else one 1×3×224×224 image."""
    import torch

    if hasattr(loaded, "examples"):
        return tuple(loaded.examples())
    return (torch.zeros(EXAMPLE_SHAPE),)


def as_tensors(batch: Any) -> tuple[Any, ...]:
    """A batch as `forward()`'s arguments: a record batch of several inputs (`model_input`) one
    tensor each, in order; floats as float32, other types as they are."""
    import numpy as np
    import torch

    arrays = [batch[n] for n in batch.dtype.names] if batch.dtype.names else [batch]
    return tuple(
        torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32 if a.dtype.kind == "f" else a.dtype)) for a in arrays
    )


def _save_torchscript(
    module: Any, example: Any, path: Path, freeze: bool, progress: Callable[[str, float | None], None]
) -> None:
    import torch

    progress("tracing to TorchScript", None)
    with quiet(native=True), torch.no_grad():
        scripted = torch.jit.trace(module, example, check_trace=False)
        if freeze:
            scripted = torch.jit.freeze(scripted.eval())
    progress("saving TorchScript", None)
    with quiet(native=True):
        torch.jit.save(scripted, str(path))


def _contiguous_relu6_module() -> Any:
    """nn.ReLU6 that first makes its input NCHW-contiguous.

    Works around PyTorch's QNNPACK clamp kernel (quantized hardtanh/relu6): it writes a
    channels_last input's bytes into an NCHW-strided output, scrambling it. QNNPACK convolutions
    return channels_last tensors, so without this MobileNetV2 gives garbage logits on qnnpack.
    """
    import torch

    class ContiguousReLU6(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.hardtanh(x.contiguous(), 0.0, 6.0)

    return ContiguousReLU6().eval()


def replace_relu6(model: Any) -> int:
    """Replace every nn.ReLU6 in `model` by the qnnpack-safe variant; returns how many."""
    import torch

    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.ReLU6):
                setattr(parent, name, _contiguous_relu6_module())
                count += 1
    return count


def _prepare_static(
    loaded: Any,
    out_dir: Path,
    calibration_batches: Callable[[], Any],
    progress: Callable[[str, float | None], None],
    details: dict[str, Any],
) -> dict[str, Any]:
    import numpy as np
    import torch

    engine, qconfig_backend = select_engine()
    progress(f"preparing FX graph ({engine} engine)", None)
    with quiet():
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        set_engine(engine)
        model = copy.deepcopy(loaded.module).eval()
        relu6_patched = replace_relu6(model) if engine == "qnnpack" else 0
        mapping = get_default_qconfig_mapping(qconfig_backend)
        qconfig = mapping.global_qconfig
        if qconfig is None:  # the default mappings always set one
            raise PrepareError(f"torch's default {qconfig_backend} qconfig mapping has no global qconfig")
        example = examples(loaded)
        prepared = prepare_fx(model, mapping, example)
    progress("calibrating", 0.0)
    batches = [np.asarray(b) for b in calibration_batches()]
    total = sum(int(b.shape[0]) for b in batches)
    if total == 0:
        raise PrepareError("PyTorch INT8 static: the calibration set is empty")
    images = 0
    with torch.no_grad():
        for batch in batches:
            with quiet():
                prepared(*as_tensors(batch))
            images += int(batch.shape[0])
            progress("calibrating", images / total)
    del batches
    progress("converting to int8", None)
    with quiet(native=True):
        quantized = convert_fx(prepared)
    # Frozen: same speed here, and it loads ≈4× faster (0.1 s vs 0.4 s for MobileNetV2).
    _save_torchscript(quantized, example, out_dir / "model.ts", freeze=True, progress=progress)
    details.update(
        {
            "quantized_engine": engine,
            "qconfig": (
                f"get_default_qconfig_mapping('{qconfig_backend}'): activations {_observer_text(qconfig.activation)}, "
                f"weights {_observer_text(qconfig.weight)}"
            ),
            "calibration_images": images,
            "input_memory_format": "contiguous",
            "frozen": True,
        }
    )
    if relu6_patched:
        details["relu6_contiguous_workaround"] = relu6_patched
    return {"file": "model.ts", "format": "torchscript", "details": details}


def _observer_text(factory: Any) -> str:
    """'HistogramObserver(quint8, per_tensor_affine, reduce_range=True)' from an observer factory."""
    try:
        with quiet():
            obs = factory()
        kind = type(obs).__name__
        scheme = str(getattr(obs, "qscheme", "")).replace("torch.", "")
        dtype = str(getattr(obs, "dtype", "")).replace("torch.", "")
        return f"{kind}({dtype}, {scheme}, reduce_range={getattr(obs, 'reduce_range', False)})"
    except Exception:  # an exotic observer: its repr is still informative
        return repr(factory)

