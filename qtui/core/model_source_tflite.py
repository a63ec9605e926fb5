"""The user's own TensorFlow Lite model (a path ending in `.tflite`, FP32) as a profile's `model`.

`inspect_tflite(path)` checks what qtui needs before any work: a TFLite flatbuffer (its file
identifier, and the runtime's own verifier, so a truncated file is refused, never crashes),
not already quantized, one float32 image input of rank 4 whose only open dimension is the
first (the batch), three colour channels first (NCHW) or last (NHWC). Every failure is a
`ModelSourceError` naming the file and what to do. `TfliteModel` is what the TFLite prepare
module receives in place of a torch model: its `digest` (sha256 of the file) is the model's
identity in the artifact key, its provenance names the file, never its folder.
`profile_problem(model, profile)` says when the profile's images do not fit the model's input
(layout or size), before any work.

Imports `ai_edge_litert` only inside `inspect_tflite`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtui.core.model_source import ModelSourceError, file_digest

#: A flatbuffer cannot be larger than 2 GiB (its offsets are 32-bit).
FLATBUFFER_LIMIT = 2**31 - 1
#: The file identifier of a TFLite flatbuffer, at bytes 4-8.
TFLITE_IDENTIFIER = b"TFL3"
#: Tensor types of a model that is already quantized (qtui quantizes the FP32 model itself).
QUANTIZED_TYPES = ("int8", "uint8", "int16", "float16", "int4")


@dataclass(frozen=True)
class TfliteModel:
    """The user's TFLite model, inspected: what preparing and running it need."""

    path: Path  #: absolute path of the .tflite file
    digest: str  #: sha256 over the file (see `model_source.file_digest`)
    size_bytes: int
    input_name: str
    input_shape: tuple[int | str, ...]  #: "batch" for an open first dimension
    layout: str  #: "NCHW" or "NHWC": where the three colour channels are
    output_shape: tuple[int, ...]
    signature: str | None  #: the model's first signature key (calibration feeds it), if any

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def external(self) -> tuple[Path, ...]:
        return ()

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One sample of the input, without the batch dimension."""
        return tuple(int(d) for d in self.input_shape[1:])

    @property
    def provenance(self) -> str:
        """One line for results: the file's name (not its folder), digest and size."""
        return f"TFLite file {self.name} (sha256 {self.digest[:12]}…, {self.size_bytes / 1e6:.1f} MB)"

    @property
    def trained(self) -> bool:
        """Unknown weights: accuracy where labels exist, fidelity against its FP32 artifact always."""
        return True

    def record(self) -> dict[str, Any]:
        """What a result records about the model file."""
        return {
            "kind": "tflite",
            "file": self.name,
            "sha256": self.digest,
            "size_bytes": self.size_bytes,
            "input": {"name": self.input_name, "shape": list(self.input_shape), "layout": self.layout},
        }


def _hint() -> str:
    from qtui.core import model_table

    return f"set model to a built-in name ({', '.join(model_table.IDS)}) or the path of an .onnx or .tflite file"


def inspect_tflite(path_text: str) -> TfliteModel:
    """The TFLite model at `path_text`, checked (see the module docstring); ModelSourceError
    when it cannot be used."""
    path = Path(path_text).expanduser().absolute()
    if not path.exists():
        raise ModelSourceError(f"model file {path} does not exist; {_hint()}")
    if not path.is_file():
        raise ModelSourceError(f"model path {path} is not a file; {_hint()}")
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ModelSourceError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    if size == 0:
        raise ModelSourceError(f"model file {path} is empty; convert the model again")
    if size > FLATBUFFER_LIMIT:
        raise ModelSourceError(
            f"model file {path} is {size / 2**30:.1f} GiB: a TFLite flatbuffer cannot exceed 2 GiB; "
            "export a smaller model, or the model as ONNX with external data"
        )
    if head[4:8] != TFLITE_IDENTIFIER:
        raise ModelSourceError(
            f"model file {path} is not a TFLite model (no TFL3 flatbuffer identifier); convert the model "
            "to .tflite again, or name an .onnx file"
        )
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ModelSourceError(
            f"model file {path} is a TFLite model, and ai-edge-litert is not installed: pip install 'qtui[tflite]'"
        ) from None
    try:
        # the runtime verifies the whole flatbuffer first: a truncated file is an error here
        interpreter = Interpreter(model_path=str(path), num_threads=1)
        inputs = interpreter.get_input_details()
        outputs = interpreter.get_output_details()
        tensors = interpreter.get_tensor_details()
        signatures = interpreter.get_signature_list()
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ModelSourceError(
            f"model file {path} is truncated or not a TFLite model TensorFlow Lite can load ({first}); "
            "convert the model again"
        ) from None
    import numpy as np

    quantized = sorted({np.dtype(t["dtype"]).name for t in tensors} & set(QUANTIZED_TYPES))
    if quantized:
        raise ModelSourceError(
            f"model {path.name} is already quantized ({', '.join(quantized)} tensors); give qtui the FP32 "
            "model: it makes FP16 and INT8 itself"
        )
    if len(inputs) != 1:
        names = ", ".join(str(i["name"]) for i in inputs) or "none"
        raise ModelSourceError(
            f"model {path.name} has {len(inputs)} inputs ({names}); qtui runs TFLite models with one image input"
        )
    (inp,) = inputs
    if np.dtype(inp["dtype"]) != np.float32:
        raise ModelSourceError(
            f"model {path.name}: input {inp['name']!r} is {np.dtype(inp['dtype']).name}; qtui feeds float32 images"
        )
    signature = [int(d) for d in inp.get("shape_signature", inp["shape"])]
    shape: list[int | str] = ["batch" if (i == 0 and d == -1) else d for i, d in enumerate(signature)]
    if len(shape) != 4:
        raise ModelSourceError(
            f"model {path.name}: input {inp['name']!r} has shape {_shape(shape)}; qtui feeds float32 "
            "images of rank 4 ([batch, 3, H, W] or [batch, H, W, 3])"
        )
    open_dims = [str(i) for i, d in enumerate(signature) if i > 0 and d < 0]
    if open_dims:
        raise ModelSourceError(
            f"model {path.name}: input {inp['name']!r} {_shape(shape)} leaves dimension(s) "
            f"{', '.join(open_dims)} open besides the batch; convert the model with a fixed image size"
        )
    if signature[1] == 3:
        layout = "NCHW"
    elif signature[3] == 3:
        layout = "NHWC"
    else:
        raise ModelSourceError(
            f"model {path.name}: input {inp['name']!r} has shape {_shape(shape)}, not an RGB image "
            "(3 channels first or last)"
        )
    if not outputs:
        raise ModelSourceError(f"model {path.name} has no output")
    try:
        digest, total = file_digest([path])
    except OSError as exc:
        raise ModelSourceError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    return TfliteModel(
        path=path,
        digest=digest,
        size_bytes=total,
        input_name=str(inp["name"]),
        input_shape=tuple(shape),
        layout=layout,
        output_shape=tuple(int(d) for d in outputs[0]["shape"]),
        signature=next(iter(signatures), None),
    )


def profile_problem(model: TfliteModel, profile: Any) -> str | None:
    """Why the profile's images do not fit the model's input (layout, size), or None: images
    are cropped to `input.crop` and laid out as `input.layout` (NCHW when there is no [input])."""
    from qtui.core.data import preprocess_from_spec

    want = preprocess_from_spec(profile.input).sample_shape
    if tuple(want) == model.sample_shape:
        return None
    height, width = model.sample_shape[1:] if model.layout == "NCHW" else model.sample_shape[:2]
    if height != width:
        return (
            f"model {model.name} takes {height}×{width} images ({_shape(list(model.input_shape))}); "
            "qtui feeds square centre crops: convert the model with a square input"
        )
    given = preprocess_from_spec(profile.input)
    fix = [f"layout = '{model.layout}'"] if given.layout != model.layout else []
    if given.crop != height:
        fix.append(f"crop = {height}")
    return (
        f"model {model.name} takes {model.layout} images of shape {_shape(list(model.input_shape))}, the "
        f"profile gives {list(want)} per image: set {' and '.join(fix)} in the profile's [input] table"
    )


def _shape(shape: list[int | str]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"
