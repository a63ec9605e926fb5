"""The user's own TensorFlow Lite model (a path ending in `.tflite`, FP32) as a profile's `model`.

`inspect_tflite(path)` checks what qtui needs before any work: a TFLite flatbuffer (its file
identifier, and the runtime's own verifier, so a truncated file is refused, never crashes),
not already quantized, inputs of a type qtui can feed. Each input's name, type and shape come
from the interpreter's input details (its shape signature: -1 is an open dimension; the first
is the batch, set by qtui). One float32 input of rank 4 with three colour channels first (NCHW)
or last (NHWC) and a square picture is an **image** (as before: the `[input]` table's
preprocessing, checked by `profile_problem`); any other input, or several, is resolved with the
profile by `qtui.core.model_input` like an ONNX file's (tensors, `input.shape`/`input.shapes`,
generated or `.npy`/`.npz` data). Every failure is a
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

from qtui.core.model_file import ModelSourceError, file_digest

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
    layout: str  #: "NCHW" or "NHWC": where an image's three colour channels are ("" for a tensor)
    output_shape: tuple[int, ...]
    signature: str | None  #: the model's first signature key (calibration feeds it), if any
    input_dtype: str = "float32"  #: numpy name of the (first) input's element type
    #: every input (the first is `input_name`): (name, numpy type, shape, "batch"/"dN" when open)
    inputs: tuple[tuple[str, str, tuple[int | str, ...]], ...] = ()

    @property
    def is_image(self) -> bool:
        """One float32 picture input (3 channels first or last, square, fixed size): the
        `[input]` table's preprocessing feeds it; anything else goes through `model_input`."""
        return len(self.inputs) <= 1 and self.input_dtype == "float32" and self.layout != ""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def external(self) -> tuple[Path, ...]:
        return ()

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """One sample of an image input, without the batch dimension."""
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
            "input": {"name": self.input_name, "shape": list(self.input_shape), "layout": self.layout}
            if self.is_image
            else {"name": self.input_name, "dtype": self.input_dtype, "shape": list(self.input_shape)},
            **({"inputs": [{"name": n, "dtype": t, "shape": list(d)} for n, t, d in self.inputs]}
               if len(self.inputs) > 1 else {}),
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
    from qtui.core.model_file import ONNX_DTYPES

    described: list[tuple[str, str, tuple[int | str, ...]]] = []
    for inp in inputs:
        dtype = np.dtype(inp["dtype"]).name
        if dtype not in ONNX_DTYPES.values():
            raise ModelSourceError(
                f"model {path.name}: input {inp['name']!r} is {dtype}; qtui feeds "
                f"{', '.join(sorted(set(ONNX_DTYPES.values())))} inputs"
            )
        dims = [int(d) for d in inp.get("shape_signature", inp["shape"])]
        if not dims:
            raise ModelSourceError(
                f"model {path.name}: input {inp['name']!r} is a scalar; qtui feeds inputs whose first "
                "dimension is the batch"
            )
        described.append((
            str(inp["name"]), dtype,
            tuple(("batch" if i == 0 else f"d{i}") if d < 0 else d for i, d in enumerate(dims)),
        ))
    if not described:
        raise ModelSourceError(f"model {path.name} has no input")
    name, dtype, shape = described[0]
    layout = ""
    if len(described) == 1 and dtype == "float32" and len(shape) == 4 and all(isinstance(d, int) for d in shape[1:]):
        if shape[1] == 3 and shape[2] == shape[3]:
            layout = "NCHW"
        elif shape[3] == 3 and shape[1] == shape[2]:
            layout = "NHWC"
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
        input_name=name,
        input_shape=shape,
        layout=layout,
        output_shape=tuple(int(d) for d in outputs[0]["shape"]),
        signature=next(iter(signatures), None),
        input_dtype=dtype,
        inputs=tuple(described),
    )


def profile_problem(model: TfliteModel, profile: Any) -> str | None:
    """Why the profile's images do not fit the model's input (layout, size), or None: images
    are cropped to `input.crop` and laid out as `input.layout` (NCHW when there is no [input]).
    A model whose input is no image is checked by `model_input.for_profile` instead."""
    from qtui.core.data import preprocess_from_spec

    if not model.is_image:
        return None
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
