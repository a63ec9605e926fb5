"""ONNX Runtime artifacts: FP32 export from the torch model with a dynamic batch dimension, and the
FP16, INT8 dynamic and INT8 static models converted from that one export.

Every precision starts from the same FP32 export (`export_fp32`); the converted ones are made in a
scratch folder inside the artifact's staging folder that is deleted before returning, so the
artifact folder holds only `model.onnx` and its size is the model's.

- fp16: `onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types=True)` (ships in
  the onnxruntime wheel on every platform: no extra package); inputs/outputs stay float32. ORT
  computes it in float16 only where MLAS has float16 kernels (ARM64 with FP16 arithmetic); on
  x86 it casts the weights to float32 at load and computes in float32.
- int8_dynamic: `quantize_dynamic`, int8 weights; activations are quantized per batch at run time
  (ConvInteger on CNNs, slower than FP32 on CPUs: a finding, not a bug).
- int8_static: `quant_pre_process` then `quantize_static`, QDQ format, MinMax calibration on the
  profile's calibration images, int8 per-channel weights; activations uint8 on x86-64 (measured
  ≈3× faster here than int8) and int8 on ARM (ORT's recommended S8S8 QDQ). See `static_recipe`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import platform
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qtui.core.model_input import input_feed
from qtui.core.model_source import OnnxModel
from qtui.core.prepare import PrepareError, dist_version, require_available, target
from qtui.core.quiet import quiet_python

OPSET = 17
#: Bump when a conversion recipe below changes its output: it is part of the cache key.
RECIPE_VERSION = "1"

_ARM = ("aarch64", "arm64")


def _is_arm() -> bool:
    """Whether the artifact being prepared will run on ARM (this machine, or the device of
    `target.preparing_for`)."""
    return target.machine().lower() in _ARM


def static_recipe() -> dict[str, Any]:
    """The INT8 static settings for this machine and why (recorded in the artifact's details).

    x86-64: U8S8 (uint8 activations, int8 weights). Measured on this project's x86 machine
    (Zen 4, avx512_vnni): int8 activations ran ≈3× slower, because ORT's CPU EP then leaves the
    depthwise convolutions in float between Q/DQ pairs and adds layout Transposes; with uint8
    every Conv becomes QLinearConv. `reduce_range` (7-bit weights) only on x86 without VNNI, as
    ORT's quantization docs advise for U8S8 per-channel on AVX2/AVX512 (VPMADDUBSW saturation);
    with VNNI it only lowered the logits' SQNR (12.8 → 12.3 dB on MobileNetV2).

    ARM (aarch64/arm64): S8S8, not measured on ARM here. Based on ORT's quantization docs ("S8S8
    with QDQ is the default setting and balances performance and accuracy. It should be the first
    choice"; the saturation issue is x86-only) and on MLAS's ARM64 symmetric-conv kernels, which
    compute in signed int8 (SDOT) and convert uint8 input by shifting its zero point by 128.
    """
    if _is_arm():
        return {
            "activations": "int8",
            "weights": "int8 per-channel",
            "reduce_range": False,
            "basis": (
                "ARM: S8S8 QDQ, ORT's recommended default ('first choice' in its quantization "
                "docs; no U8S8 saturation issue on ARM; MLAS ARM64 conv kernels are signed "
                "int8, uint8 input is shifted by 128). Not measured on ARM by qtui."
            ),
        }
    vnni = _has_vnni()
    reduce_range = not vnni  # unknown (None): take the docs' safe side
    return {
        "activations": "uint8",
        "weights": "int8 per-channel",
        "reduce_range": reduce_range,
        "basis": (
            "x86-64: U8S8 QDQ; int8 activations measured ≈3× slower with ORT's CPU EP on "
            "x86 (depthwise Conv left in float, extra Transposes). "
            + (
                "reduce_range on: no VNNI detected, ORT docs advise it for U8S8 per-channel on "
                "AVX2/AVX512 (saturation)."
                if reduce_range
                else "reduce_range off: VNNI present (ORT docs: not needed; it only lowered SQNR)."
            )
        ),
    }


def _has_vnni() -> bool | None:
    """Whether the x86 CPU the artifact will run on has VNNI (None: cannot tell, e.g. no
    /proc/cpuinfo): this machine's flags, or what the device of `target.preparing_for` said."""
    device = target.target()
    if device is not None:
        return device.vnni
    try:
        from qtui.core.environment import cpu_flags

        flags = cpu_flags()
    except Exception:
        return None
    if not flags:
        return None
    return bool({"avx512_vnni", "avx_vnni"} & flags)


def _recipe_id() -> str:
    r = static_recipe()
    act = "U8S8" if r["activations"] == "uint8" else "S8S8"
    return f"v{RECIPE_VERSION}:static={act}-qdq-perchannel-minmax{'-rr' if r['reduce_range'] else ''}"


#: Implemented precisions and what each means here (shown by `qtui doctor` and the TUI).
PRECISION_NOTES: dict[str, str] = {
    "fp32": "torch → ONNX export (opset 17), CPU execution provider",
    "fp16": (
        "FP32 ONNX converted to float16 (float32 inputs/outputs); computes in float16 where ORT "
        "has float16 CPU kernels (ARM64 with FP16 arithmetic), else in float32 with the weights "
        "cast at load (x86) — see executed precision"
    ),
    "int8_dynamic": (
        "quantize_dynamic: int8 weights, activations quantized per batch at run time (ConvInteger)"
    ),
    "int8_static": (
        "quantize_static, QDQ, MinMax calibration, int8 per-channel weights, "
        + ("int8 activations (S8S8, ARM)" if _is_arm() else "uint8 activations (U8S8, x86)")
    ),
}

#: What differs for the user's ONNX file (`catalog` shows it): it is not exported from torch.
SOURCE_PRECISION_NOTES: dict[str, dict[str, str]] = {
    "onnx": {"fp32": "the ONNX file as it is (no torch needed), CPU execution provider"},
}


def _quantization_tools_present() -> bool:
    """onnxruntime's Python quantization tools, found without importing onnxruntime."""
    try:
        spec = importlib.util.find_spec("onnxruntime")
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    return any((Path(loc) / "quantization").is_dir() for loc in spec.submodule_search_locations)


def runtime_unavailable_reason(precision: str) -> str | None:
    """Nothing stops this framework from running an artifact of any precision it offers here."""
    return None


def unavailable_reason(precision: str) -> str | None:
    """Why `precision` cannot be prepared/run on this machine (None: it can)."""
    if precision not in PRECISION_NOTES:
        return f"ONNX Runtime {precision} is not implemented in this qtui version"
    if precision != "fp32" and not _quantization_tools_present():
        return (
            "this onnxruntime build has no Python quantization/float16 tools: "
            "pip install 'qtui[onnxruntime]'"
        )
    return None


def check_supported(precision: str, user_file: bool = False) -> None:
    """Raise PrepareError when `precision` cannot be prepared here: a torch model is exported to
    ONNX with torch; the user's ONNX file (`user_file`) needs only onnx, no torch."""
    if user_file:
        require_available(
            sys.modules[__name__], precision, ("onnx",),
            "preparing an ONNX model needs {dist}: pip install 'qtui[onnxruntime]'",
        )
        return
    require_available(
        sys.modules[__name__], precision, ("torch", "onnx"),
        "exporting to ONNX needs {dist}: pip install 'qtui[torch,onnxruntime]' (or import a prepared bundle)",
    )


def tool_versions() -> dict[str, str | None]:
    return {
        "torch": dist_version("torch"),
        "onnx": dist_version("onnx"),
        "onnxruntime": dist_version("onnxruntime"),
        "opset": str(OPSET),
        "recipe": _recipe_id(),
    }


#: Above this a copied user model keeps its weights in one external-data file beside it
#: (a protobuf message cannot exceed 2 GiB).
_INLINE_LIMIT = 1_800_000_000


def copy_user_model(model: OnnxModel, path: Path) -> None:
    """The user's ONNX model (with its external data) as the FP32 artifact at `path`: weights
    inline, or in `<name>.data` beside it when too large; then checked by creating an ONNX
    Runtime session, so an operator or opset ONNX Runtime lacks is named now, as the user's
    mistake (PrepareError), not as a failed run."""
    import onnx

    with _quiet():
        loaded = onnx.load(str(model.path), load_external_data=True)
        if loaded.ByteSize() > _INLINE_LIMIT:
            onnx.save_model(loaded, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                            location=path.name + ".data")
        else:
            onnx.save_model(loaded, str(path))
    refused = runtime_refusal(path)
    if refused:
        raise PrepareError(f"ONNX Runtime cannot run model {model.name}: {refused}")


def runtime_refusal(path: Path) -> str | None:
    """Why ONNX Runtime's CPU execution provider refuses the ONNX model at `path` (an operator
    or opset it lacks, an invalid graph), in one line; None when it loads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph/NotImplemented types
        text = " ".join(str(exc).split())
        return text.split("] ", 1)[-1][:300] or type(exc).__name__
    return None


def export_fp32(loaded: Any, path: Path) -> None:
    """Export the eval-mode torch model to ONNX (legacy TorchScript exporter, dynamic batch);
    a user's ONNX model is copied instead (`copy_user_model`)."""
    if isinstance(loaded, OnnxModel):
        copy_user_model(loaded, path)
        return
    import torch

    # an entry point's own inputs (the profile's), named as qtui's samples are; else one image
    inputs = getattr(loaded, "inputs", None) or (("input", "float32", (3, 224, 224)),)
    dummies = loaded.examples() if hasattr(loaded, "examples") else (torch.zeros(1, 3, 224, 224),)
    names = [name for name, _, _ in inputs]
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            loaded.module,
            tuple(dummies),
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**{name: {0: "batch"} for name in names}, "logits": {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep the converters' prints, Python warnings/logging and ORT's C++ log lines out of the
    user's terminal (the calibrator creates its own sessions at the default log level)."""
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    try:
        with quiet_python("", "onnxruntime"):
            yield
    finally:
        ort.set_default_logger_severity(2)  # ORT's own default (warning)


def _to_fp16(src: Path, dst: Path) -> dict[str, Any]:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    converted = convert_float_to_float16(model, keep_io_types=True)
    onnx.save(converted, str(dst))
    return {
        "converter": "onnxruntime.transformers.float16.convert_float_to_float16",
        "keep_io_types": True,
    }


def _to_int8_dynamic(src: Path, dst: Path) -> dict[str, Any]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=False)
    return {
        "quantizer": "onnxruntime.quantization.quantize_dynamic",
        "weights": "int8 per-tensor",
        "activations": "uint8, range computed per batch at run time",
    }


def _to_int8_static(
    src: Path,
    dst: Path,
    work: Path,
    calibration_batches: Callable[[], Any],
    progress: Callable[[str, float | None], None],
) -> dict[str, Any]:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    recipe = static_recipe()
    progress("counting calibration images", None)
    total_images = sum(int(batch.shape[0]) for batch in calibration_batches())
    if total_images == 0:
        raise PrepareError("INT8 static quantization needs calibration images; the calibration set is empty")

    progress("optimising the ONNX graph for quantization", None)
    pre = work / "preprocessed.onnx"
    quant_pre_process(str(src), str(pre))
    input_name = onnx.load(str(pre), load_external_data=False).graph.input[0].name

    class _Reader(CalibrationDataReader):
        """Feeds the calibration images one at a time: MinMax takes the min/max over every
        call, so the ranges (and the model) are identical to whole batches, while the
        unoptimised calibration session's peak memory drops (MobileNetV2: 1.03 → 0.27 GB)."""

        def __init__(self) -> None:
            self._images = (batch[k : k + 1] for batch in calibration_batches() for k in range(batch.shape[0]))
            self._done = 0

        def get_next(self) -> dict[str, Any] | None:
            progress("calibrating", self._done / total_images)
            image = next(self._images, None)
            if image is None:
                progress("writing the quantized model", None)
                return None
            self._done += 1
            return input_feed(image, input_name)  # a user model's several inputs: one array each

    activation = QuantType.QUInt8 if recipe["activations"] == "uint8" else QuantType.QInt8
    quantize_static(
        str(pre),
        str(dst),
        _Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=activation,
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=recipe["reduce_range"],
        calibrate_method=CalibrationMethod.MinMax,
    )
    return {
        "quantizer": "onnxruntime.quantization.quantize_static",
        "preprocess": "quant_pre_process (shape inference + ORT graph optimisation)",
        "format": "QDQ",
        "calibration": "MinMax",
        "calibration_images": total_images,
        "activations": recipe["activations"],
        "weights": recipe["weights"],
        "reduce_range": recipe["reduce_range"],
        "machine": platform.machine(),
        **({"made_for": target.machine()} if target.target() is not None else {}),
        "choice_basis": recipe["basis"],
    }


def prepare(
    loaded: Any,
    precision: str,
    out_dir: Path,
    calibration_batches: Callable[[], Any] | None,
    progress: Callable[[str, float | None], None],
) -> dict[str, Any]:
    check_supported(precision, user_file=isinstance(loaded, OnnxModel))
    if precision == "int8_static" and calibration_batches is None:
        raise PrepareError("INT8 static quantization needs calibration images (none were given)")
    final = out_dir / "model.onnx"
    details: dict[str, Any] = {"opset": OPSET, "source": "torch → ONNX FP32 export"}
    if isinstance(loaded, OnnxModel):
        details = {"opset": loaded.opset, "source": f"the user's ONNX file {loaded.name}"}
    if precision == "fp32":
        progress("exporting to ONNX", None)
        export_fp32(loaded, final)
        return {"file": final.name, "format": "onnx", "details": details}

    work = out_dir / ".work"
    work.mkdir(parents=True, exist_ok=True)
    try:
        progress("exporting to ONNX", None)
        fp32 = work / "fp32.onnx"
        export_fp32(loaded, fp32)
        with _quiet():
            if precision == "fp16":
                progress("converting to float16", None)
                details.update(_to_fp16(fp32, final))
            elif precision == "int8_dynamic":
                progress("quantizing weights to int8 (dynamic)", None)
                details.update(_to_int8_dynamic(fp32, final))
            else:
                assert calibration_batches is not None
                details.update(_to_int8_static(fp32, final, work, calibration_batches, progress))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"file": final.name, "format": "onnx", "details": details}
