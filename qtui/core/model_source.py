"""Where a profile's `model` comes from: a built-in name (the model table), or the path of the
user's own ONNX file.

`source_kind(model)` says which, without touching the file. `inspect_onnx(path)` reads an ONNX
file's graph (not its weights) and checks what qtui needs before any work: that it is an ONNX
model, not truncated, its external-data files present and long enough, one input of a type qtui
can feed, with a shape (open dimensions are resolved with the profile by `qtui.core.model_input`:
the first is the batch, set by qtui). Every failure is a
`ModelSourceError` whose message names the file and what to do. `OnnxModel` is what the
prepare modules receive in place of a torch model; its `digest` (sha256 of the file and its
external data) is the model's identity in the artifact key, and its provenance names the file,
never its folder.

Imports `onnx` only inside `inspect_onnx`; nothing here imports a runtime.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtui.core import model_table
from qtui.core.model_file import ONNX_DTYPES as ONNX_DTYPES
from qtui.core.model_file import ModelSourceError as ModelSourceError
from qtui.core.model_file import file_digest as file_digest

#: A protobuf message cannot be larger than 2 GiB: an ONNX file above it cannot be parsed, its
#: weights must live in external data files.
PROTOBUF_LIMIT = 2**31 - 1


def source_kind(model: str) -> str:
    """"builtin" for a name of the model table, "onnx" for a path ending in .onnx, "tflite" for
    one ending in .tflite (`qtui.core.model_source_tflite`); "unknown" for anything else (the
    profile refuses it)."""
    if model_table.is_builtin(model):
        return "builtin"
    if model.lower().endswith(".onnx"):
        return "onnx"
    if model.lower().endswith(".tflite"):
        return "tflite"
    from qtui.core.model_source_entry import is_entry

    if is_entry(model):
        return "entry"  # a PyTorch entry point (`qtui.core.model_source_entry`)
    return "unknown"


def is_user_model(model: str) -> bool:
    return source_kind(model) != "builtin"


def model_matches(model: str, wanted: str) -> bool:
    """Whether a profile's `model` is the one a `--model` filter names: a built-in by its id; the
    user's model file by its file name (`my_model.onnx` or any path ending in it), since results
    keep the path as it was typed, relative or absolute."""
    if model == wanted:
        return True
    return is_user_model(model) and is_user_model(wanted) and Path(model).name == Path(wanted).name


def model_label(model: str) -> str:
    """A model where text shows its value (run tables, CSV, HTML attributes, progress lines): a
    built-in's id, the user's model file by its name, never its folder (the profile and the
    result's JSON keep the path as it was typed)."""
    kind = source_kind(model)
    if kind in ("onnx", "tflite"):
        return Path(model).name
    if kind == "entry":  # path/to/net.py:build → net.py:build; pkg.mod:build stays
        target, factory = model.rsplit(":", 1)
        return f"{Path(target).name if target.endswith('.py') else target}:{factory}"
    return model


def model_slug(model: str) -> str:
    """The model in a run id or a file name: a built-in's name, or the user's file's stem
    with anything but letters, digits, '.', '_' and '-' replaced (never a folder)."""
    if not is_user_model(model):
        return model
    if source_kind(model) == "entry":  # path/to/file.py:factory → file-factory, pkg.mod:f → mod-f
        target, factory = model.rsplit(":", 1)
        base = Path(target).stem if target.endswith(".py") else target.rsplit(".", 1)[-1]
        model = f"{base}-{factory}.entry"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model).stem).strip("._") or "model"
    return stem[:40]


@dataclass(frozen=True)
class OnnxModel:
    """The user's ONNX model, inspected: what preparing and running it need."""

    path: Path  #: absolute path of the .onnx file
    external: tuple[Path, ...]  #: its external-data files (absolute), sorted
    digest: str  #: sha256 over the file and its external data (see `file_digest`)
    size_bytes: int  #: the file plus its external data
    input_name: str
    input_shape: tuple[int | str, ...]  #: as the file says: str for a named open dimension
    output_name: str
    opset: int
    input_dtype: str = "float32"  #: numpy name of the input's element type
    #: every input (the first is `input_name`): (name, numpy type, shape as the file says)
    inputs: tuple[tuple[str, str, tuple[int | str, ...]], ...] = ()

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def provenance(self) -> str:
        """One line for results: the file's name (not its folder), digest and size."""
        extra = f" + {len(self.external)} external-data file(s)" if self.external else ""
        return f"ONNX file {self.name}{extra} (sha256 {self.digest[:12]}…, {self.size_bytes / 1e6:.1f} MB)"

    @property
    def trained(self) -> bool:
        """Unknown weights: qtui does not know whether they are trained, so accuracy is shown
        where labels exist and fidelity against its FP32 artifact always."""
        return True

    def record(self) -> dict[str, Any]:
        """What a result records about the model file."""
        return {
            "kind": "onnx",
            "file": self.name,
            "sha256": self.digest,
            "size_bytes": self.size_bytes,
            "external_data_files": [p.name for p in self.external],
            "input": {"name": self.input_name, "dtype": self.input_dtype, "shape": list(self.input_shape)},
            **({"inputs": [
                {"name": n, "dtype": t, "shape": list(s)} for n, t, s in self.inputs
            ]} if len(self.inputs) > 1 else {}),
            "opset": self.opset,
        }


def _hint() -> str:
    return (
        f"set model to a built-in name ({', '.join(model_table.IDS)}), the path of an .onnx or .tflite "
        "file, or a PyTorch entry point package.module:factory"
    )


def inspect_onnx(path_text: str) -> OnnxModel:
    """The ONNX model at `path_text`, checked (see the module docstring); ModelSourceError when
    it cannot be used."""
    path = Path(path_text).expanduser().absolute()
    if not path.exists():
        raise ModelSourceError(f"model file {path} does not exist; {_hint()}")
    if not path.is_file():
        raise ModelSourceError(f"model path {path} is not a file; {_hint()}")
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ModelSourceError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    if size == 0:
        raise ModelSourceError(f"model file {path} is empty; export the model again")
    if size > PROTOBUF_LIMIT:
        raise ModelSourceError(
            f"model file {path} is {size / 2**30:.1f} GiB: no ONNX file can exceed 2 GiB; save the "
            "model with its weights as external data (onnx.save_model(..., save_as_external_data=True))"
        )
    import onnx
    from onnx import external_data_helper

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # DecodeError and friends: not a protobuf, or cut short
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ModelSourceError(
            f"model file {path} is not an ONNX model, or is truncated (onnx could not parse it: "
            f"{first}); export it again"
        ) from None
    if model.ir_version <= 0 or not model.opset_import or not model.graph.node:
        raise ModelSourceError(
            f"model file {path} is not an ONNX model (no graph, IR version or opset in it); export it again"
        )

    external: dict[str, Path] = {}
    for tensor in external_data_helper._get_all_tensors(model):
        if not external_data_helper.uses_external_data(tensor):
            continue
        info = external_data_helper.ExternalDataInfo(tensor)
        location = Path(info.location)
        if location.is_absolute() or ".." in location.parts:
            raise ModelSourceError(
                f"model file {path}: tensor {tensor.name!r} points at external data {info.location!r}, "
                "outside the model's folder; keep external-data files beside the .onnx file"
            )
        data = path.parent / location
        if not data.is_file():
            raise ModelSourceError(
                f"model file {path} keeps its weights in {info.location}, which is not beside it "
                f"({data} is missing); copy that file next to the model"
            )
        end = (info.offset or 0) + (info.length or 0)
        if info.length and data.stat().st_size < end:
            raise ModelSourceError(
                f"external data {data} of model {path.name} is truncated: tensor {tensor.name!r} "
                f"needs bytes up to {end}, the file has {data.stat().st_size}; copy it again"
            )
        external[info.location] = data

    try:
        onnx.checker.check_model(str(path))  # by path: external data is found beside the file
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ModelSourceError(f"model file {path} is not a valid ONNX model (onnx checker: {first})") from None

    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if not inputs:
        raise ModelSourceError(f"model {path.name} has no input; export it with its input")
    declared: list[tuple[str, str, tuple[int | str, ...]]] = []
    for one in inputs:
        tensor_type = one.type.tensor_type
        dtype = ONNX_DTYPES.get(tensor_type.elem_type)
        if dtype is None:
            name = onnx.TensorProto.DataType.Name(tensor_type.elem_type) if tensor_type.elem_type else "unknown"
            raise ModelSourceError(
                f"model {path.name}: input {one.name!r} is {name}; qtui feeds inputs of type "
                f"{', '.join(sorted(set(ONNX_DTYPES.values())))}"
            )
        dims: list[int | str] = []
        for d in tensor_type.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?"))
        if not tensor_type.HasField("shape") or not dims:
            raise ModelSourceError(
                f"model {path.name}: input {one.name!r} has no shape in the file (or is a scalar); "
                "qtui needs at least the batch dimension: export the model with its input shape"
            )
        declared.append((one.name, dtype, tuple(dims)))
    first_name, dtype, first_shape = declared[0]
    shape = list(first_shape)
    if not model.graph.output:
        raise ModelSourceError(f"model {path.name} has no output")
    files = [path, *(external[k] for k in sorted(external))]
    try:
        digest, total = file_digest(files)
    except OSError as exc:
        raise ModelSourceError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    return OnnxModel(
        path=path,
        external=tuple(files[1:]),
        digest=digest,
        size_bytes=total,
        input_name=first_name,
        input_shape=tuple(shape),
        input_dtype=dtype,
        inputs=tuple(declared),
        output_name=model.graph.output[0].name,
        opset=opset,
    )


_INSPECTED: dict[str, tuple[tuple[tuple[int, int], ...], Any]] = {}


def _stats(files: list[Path]) -> tuple[tuple[int, int], ...] | None:
    try:
        return tuple((st.st_size, st.st_mtime_ns) for st in (f.stat() for f in files))
    except OSError:
        return None


def inspect_cached(path_text: str) -> Any:
    """`inspect_onnx` (or `model_source_tflite.inspect_tflite` for a .tflite file), remembered
    while the file and its external data keep their sizes and modification times (a run asks
    several times: the key, the preparation, the record)."""
    path = Path(path_text).expanduser().absolute()
    found = _INSPECTED.get(str(path))
    if found is not None and _stats([found[1].path, *found[1].external]) == found[0]:
        return found[1]
    if source_kind(path_text) == "tflite":
        from qtui.core.model_source_tflite import inspect_tflite

        model: Any = inspect_tflite(path_text)
    else:
        model = inspect_onnx(path_text)
    stats = _stats([model.path, *model.external])
    if stats is not None:
        _INSPECTED[str(path)] = (stats, model)
    return model


def _shape(shape: list[int | str]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"
