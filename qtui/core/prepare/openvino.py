"""OpenVINO artifacts: IR (`model.xml` + `model.bin`) converted straight from the torch model with
`openvino.convert_model` and reshaped to a dynamic batch `[-1, 3, 224, 224]`; FP32 (weights kept
f32), FP16 (weights compressed to f16), INT8 weight-only (NNCF `compress_weights`, INT8_ASYM) and
INT8 static (NNCF post-training quantization on the calibration set, performance preset).

The execution precision is not stored in the IR: the backend sets `INFERENCE_PRECISION_HINT`
explicitly, because OpenVINO's CPU default on CPUs with bf16/fp16 arithmetic is half precision:
f32 for FP32 and INT8; for FP16 f16 where OpenVINO has f16 kernels for the CPU, else f32 with
the f16 weights (never bf16). OpenVINO's and NNCF's usage telemetry (which would try
to reach the network from a subprocess and wait up to 3 s per event) is switched off for the
duration of a conversion or quantization, answers as declined so that it writes nothing into
$HOME (`paths.decline_openvino_telemetry`), and their progress bars and logs are captured.
"""

from __future__ import annotations

import contextlib
import platform
import sys
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from qtui.core.model_source import OnnxModel
from qtui.core.paths import decline_openvino_telemetry
from qtui.core.prepare import PrepareError, dist_version, require_available
from qtui.core.quiet import quiet_python

# before this module imports openvino or nncf, which start OpenVINO's telemetry (files in ~/intel)
decline_openvino_telemetry()

#: Bump when the recipe below changes the artifact (it goes into the cache key).
RECIPE = "v1"
INPUT_SHAPE = (-1, 3, 224, 224)
#: NNCF reads at most this many calibration batches (of 8): far more than any profile uses.
MAX_CALIBRATION_BATCHES = 10_000
CALIBRATION_STEP = "calibrating INT8 (NNCF statistics)"


def _arm() -> bool:
    return platform.machine().lower() in ("aarch64", "arm64", "armv8l", "armv7l")


_INT8_STATIC_NOTE = "NNCF post-training quantization (performance preset): int8 weights and activations"
if _arm():
    _INT8_STATIC_NOTE += (
        "; on ARM, OpenVINO runs int8 convolutions through ACL only where supported and falls "
        "back to fp16/f32 elsewhere: see the executed precision"
    )

#: Implemented precisions and what each means here (shown by `qtui doctor` and the TUI).
PRECISION_NOTES: dict[str, str] = {
    "fp32": "torch → OpenVINO IR, f32 weights, executed with INFERENCE_PRECISION_HINT=f32",
    "fp16": (
        "IR with f16 weights; computes in f16 where OpenVINO has f16 kernels for the CPU "
        "(x86 avx512_fp16, ARM FP16 arithmetic), else in f32 (INFERENCE_PRECISION_HINT=f32, "
        "never bf16): see the executed precision"
    ),
    "int8_dynamic": (
        "NNCF weight-only INT8 (asymmetric, per channel): weights stored int8, convolutions "
        "compute in float (f32)"
    ),
    "int8_static": _INT8_STATIC_NOTE,
}

#: What differs for the user's ONNX file (`catalog` shows it): it is not converted from torch.
SOURCE_PRECISION_NOTES: dict[str, dict[str, str]] = {
    "onnx": {"fp32": "ONNX file → OpenVINO IR (ONNX frontend, no torch needed), f32 weights, executed with INFERENCE_PRECISION_HINT=f32"},
}


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str] | None:
    """CPU feature flags from /proc/cpuinfo (x86 `flags`, ARM `Features`); None if unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return None


def _arm_without(flag: str) -> bool:
    """True on an ARM CPU whose /proc/cpuinfo features lack `flag` (unknown features: False)."""
    if not _arm():
        return False
    flags = _cpu_flags()
    return flags is not None and flag not in flags


def runtime_unavailable_reason(precision: str) -> str | None:
    """Why OpenVINO here cannot *run* `precision`, even an artifact prepared elsewhere."""
    if precision == "int8_static" and _arm_without("asimddp"):
        return (
            "OpenVINO's ARM CPU plugin cannot compile INT8 convolutions on a CPU without "
            "dot-product instructions ('asimddp'; e.g. the Raspberry Pi 4's Cortex-A72): "
            "'Convolution node ... is not initialized'. Use ONNX Runtime, TFLite or PyTorch INT8 here"
        )
    return None


def unavailable_reason(precision: str) -> str | None:
    """Why `precision` cannot be prepared/run on this machine (None: it can)."""
    if precision not in PRECISION_NOTES:
        return f"OpenVINO {precision} is not implemented in this qtui version"
    if precision.startswith("int8") and dist_version("nncf") is None:
        return f"OpenVINO {precision} is made with NNCF, not installed here: pip install 'qtui[openvino]'"
    return runtime_unavailable_reason(precision)


def check_supported(precision: str) -> None:
    require_available(
        sys.modules[__name__], precision, ("openvino", "torch"),
        "converting to OpenVINO needs {dist}: pip install 'qtui[torch,openvino]' (or import a prepared bundle)",
    )


def tool_versions() -> dict[str, str | None]:
    return {
        "openvino": dist_version("openvino"),
        "nncf": dist_version("nncf"),
        "torch": dist_version("torch"),
        "recipe": RECIPE,
    }


# -- keeping the frameworks quiet ------------------------------------------------------------


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Capture Python-level output and warnings; silence NNCF's logger."""
    with quiet_python("nncf"):
        yield


@contextlib.contextmanager
def _no_telemetry(nncf: bool = False) -> Iterator[None]:
    """Replace OpenVINO's converter (and with `nncf`, NNCF's) telemetry senders by their own
    stubs for a while.

    Both send usage events by default (no opt-in dialog) from a forked subprocess that is given
    3 s to reach the network: offline, converting MobileNetV2 took 21 s instead of 9 s.
    """
    patches: list[tuple[Any, str, Any]] = []
    try:
        from openvino.tools.ovc import convert_impl, telemetry_stub, telemetry_utils

        for module in (convert_impl, telemetry_utils):
            if hasattr(module, "tm"):
                patches.append((module, "tm", telemetry_stub))
    except ImportError:
        pass
    if nncf:
        try:
            from nncf.telemetry import decorator as nncf_decorator
            from nncf.telemetry.wrapper import NNCFTelemetryStub

            if hasattr(nncf_decorator, "telemetry"):
                patches.append((nncf_decorator, "telemetry", NNCFTelemetryStub()))
        except ImportError:
            pass
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    for obj, name, value in patches:
        setattr(obj, name, value)
    try:
        yield
    finally:
        for obj, name, value in saved:
            setattr(obj, name, value)


# -- the recipe ------------------------------------------------------------------------------


def runtime_refusal(path: Path) -> str | None:
    """Why OpenVINO's ONNX frontend refuses the ONNX model at `path` (an operator it lacks), in
    one line; None when it reads it."""
    import openvino as ov

    try:
        with _quiet(), _no_telemetry():
            ov.Core().read_model(str(path))
    except Exception as exc:  # OpConversionFailure, GeneralFailure, …
        return " ".join(str(exc).split())[:300] or type(exc).__name__
    return None


def convert(loaded: Any) -> Any:
    """The torch model as an `ov.Model` with input `[-1, 3, 224, 224]` (dynamic batch); a user's
    ONNX model through OpenVINO's ONNX frontend, its batch dimension left as the file has it
    (an operator the frontend lacks is a PrepareError naming it)."""
    import openvino as ov

    if isinstance(loaded, OnnxModel):
        try:
            with _quiet(), _no_telemetry():
                model = ov.convert_model(str(loaded.path))
        except Exception as exc:  # OpConversionFailure, GeneralFailure, …
            text = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise PrepareError(f"OpenVINO cannot convert model {loaded.name}: {text}") from None
        # the batch open unless the file fixes it; the other dimensions as the file has them
        shapes = {name: shape for name, _, shape in loaded.inputs} or {loaded.input_name: loaded.input_shape}
        model.reshape({
            model.input(name): ov.PartialShape([d if isinstance(d, int) else -1 for d in shape])
            for name, shape in shapes.items()
        })
        return model
    import torch

    if hasattr(loaded, "examples") and len(loaded.inputs) > 0:  # an entry point: its own inputs
        with _quiet(), _no_telemetry():
            model = ov.convert_model(loaded.module, example_input=tuple(loaded.examples()))
        for port, (name, _, _) in zip(model.inputs, loaded.inputs, strict=True):
            port.get_tensor().set_names({name})  # fed by name, as qtui's samples are
        model.reshape({model.input(name): ov.PartialShape([-1, *shape]) for name, _, shape in loaded.inputs})
        return model
    with _quiet(), _no_telemetry():
        model = ov.convert_model(loaded.module, example_input=torch.zeros(1, 3, 224, 224))
    model.reshape({model.inputs[0]: ov.PartialShape(list(INPUT_SHAPE))})
    return model


class _CalibrationSet:
    """Re-iterable view of the calibration batches for `nncf.Dataset`, reporting progress."""

    def __init__(
        self, batches: Callable[[], Any], progress: Callable[[str, float | None], None]
    ) -> None:
        self._batches = batches
        self._progress = progress
        self.samples = 0
        self.batches = 0

    def __iter__(self) -> Iterator[Any]:
        import numpy as np

        self.samples = self.batches = 0
        total = len(self._batches) if hasattr(self._batches, "__len__") else 0
        for batch in self._batches():
            # NNCF pulls every batch once per statistics pass: the share of this pass
            self._progress(CALIBRATION_STEP, min(1.0, self.batches / total) if total else None)
            self.samples += int(batch.shape[0])
            self.batches += 1
            if batch.dtype.names:  # a user model's several inputs: one array each
                yield {n: np.ascontiguousarray(batch[n]) for n in batch.dtype.names}
            elif batch.dtype.kind in "iub":
                yield np.ascontiguousarray(batch)
            else:
                yield np.ascontiguousarray(batch, dtype=np.float32)


def _count_constants(model: Any) -> dict[str, int]:
    from collections import Counter

    counts = Counter(
        str(op.get_output_element_type(0).get_type_name())
        for op in model.get_ops()
        if op.get_type_name() == "Constant"
    )
    return dict(sorted(counts.items()))


def prepare(
    loaded: Any,
    precision: str,
    out_dir: Path,
    calibration_batches: Callable[[], Any] | None,
    progress: Callable[[str, float | None], None],
) -> dict[str, Any]:
    import openvino as ov

    progress("converting to OpenVINO IR", None)
    model = convert(loaded)
    details: dict[str, Any] = {
        "converter": "openvino.convert_model (ONNX frontend)" if isinstance(loaded, OnnxModel)
        else "openvino.convert_model (PyTorch frontend)",
        "input_shape": [d.get_length() if d.is_static else -1 for d in model.inputs[0].get_partial_shape()],
        "weights": "f32",
    }
    compress_to_fp16 = False
    if precision == "fp16":
        compress_to_fp16 = True
        details["weights"] = "f16 (ov.save_model compress_to_fp16=True)"
    elif precision == "int8_dynamic":
        progress("compressing weights to INT8 (NNCF)", None)
        with _quiet(), _no_telemetry(nncf=True):
            import nncf

            model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
        details.update(
            {
                "weights": "int8 asymmetric per output channel (NNCF compress_weights INT8_ASYM)",
                "activations": "float (weight-only: decompressed at run time)",
                "constants": _count_constants(model),
            }
        )
    elif precision == "int8_static":
        if calibration_batches is None:
            raise PrepareError("INT8 static quantization needs a calibration set")
        calibration = _CalibrationSet(calibration_batches, progress)
        # NNCF builds its graph for seconds before it pulls the first batch: say so
        progress("NNCF: analysing the model for quantization", None)
        with _quiet(), _no_telemetry(nncf=True):
            import nncf
            from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters

            model = nncf.quantize(
                model,
                nncf.Dataset(calibration),
                preset=nncf.QuantizationPreset.PERFORMANCE,
                subset_size=MAX_CALIBRATION_BATCHES,
                advanced_parameters=AdvancedQuantizationParameters(batchwise_statistics=True),
            )
        if calibration.samples == 0:
            raise PrepareError("the calibration set is empty")
        details.update(
            {
                "weights": "int8 symmetric per output channel",
                "activations": "int8/uint8 per tensor (symmetric, performance preset)",
                "quantizer": "NNCF quantize (min/max, fast bias correction)",
                "calibration_images": calibration.samples,
                "calibration_batches": calibration.batches,
                "fake_quantize_nodes": sum(1 for op in model.get_ops() if op.get_type_name() == "FakeQuantize"),
            }
        )
    elif precision != "fp32":
        raise PrepareError(f"OpenVINO {precision} is not implemented in this qtui version")
    progress("saving OpenVINO IR", None)
    with _quiet():
        ov.save_model(model, str(out_dir / "model.xml"), compress_to_fp16=compress_to_fp16)
    return {"file": "model.xml", "format": "openvino_ir", "details": details}
