"""What a user model's input is, from its file and the profile's `[input]` table, and the data
that feeds it.

The file says the input's name, element type and (static) dimensions; its first dimension is the
batch, set by qtui. What the file leaves open comes from the profile: `input.shape` (every
dimension after the batch) or, for an image, `input.crop` (its height and width). An input is an
**image** when it is float32 with three dimensions after the batch, three channels first (NCHW)
or last (NHWC), and a square picture: qtui's image data (pictures, class folders, the synthetic
images) is preprocessed for it by a `data.Preprocess` (the `[input]` table's, or, without one,
ImageNet's mean/std with the crop the model takes and a resize 256/224 of it). Any other input is
a **tensor**: it runs on generated data (`GeneratedTensors`, seeded, of the input's type) when
`dataset.source = "synthetic"`, or on a `.npy`/`.npz` file.

Every problem is a `ModelSourceError` naming the model file, the input and the key to set.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qtui.core.data import (
    CROP,
    RESIZE,
    Dataset,
    DatasetError,
    Preprocess,
    _file_digest,
    _show,
    preprocess_from_spec,
)
from qtui.core.model_source import ModelSourceError, OnnxModel
from qtui.core.model_source_tflite import TfliteModel
from qtui.core.text import one_line

#: Generated integer inputs draw from 0..INT_HIGH-1 (uint8: the whole 0..255), booleans from
#: both values, floats from a standard normal distribution.
INT_HIGH = 16


@dataclass(frozen=True)
class ModelInput:
    """A user model's input, resolved: what the data sets must produce."""

    name: str
    dtype: str  #: numpy name, e.g. "float32"
    shape: tuple[int, ...]  #: the dimensions after the batch
    #: "image" (pictures are preprocessed for it), "tensor" (generated data or a .npy/.npz file)
    #: or "inputs" (several inputs, `parts`: each sample is one numpy record of them)
    kind: str
    preprocess: Preprocess | None = None  #: for an image
    parts: tuple[ModelInput, ...] = ()

    @property
    def numpy_dtype(self) -> np.dtype[Any]:
        """A sample's numpy type: the input's, or a record of every input for several."""
        if self.parts:
            return np.dtype([(p.name, p.dtype, p.shape) for p in self.parts])
        return np.dtype(self.dtype)

    def describe(self) -> str:
        if self.parts:
            return f"{len(self.parts)} inputs (" + "; ".join(p.describe() for p in self.parts) + ")"
        dims = "×".join(str(d) for d in self.shape)
        if self.preprocess is not None:
            return f"{self.name}: {self.dtype} {dims} image ({self.preprocess.describe()})"
        return f"{self.name}: {self.dtype} {dims} tensor"


def _dims(shape: Sequence[int | str]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _image_layout(dims: Sequence[int | str], spec: Any) -> str | None:
    """NCHW or NHWC when `dims` (after the batch) can be a 3-channel picture, else None; the
    profile's `input.layout` decides when both can."""
    if len(dims) != 3:
        return None
    first = dims[0] == 3 or (isinstance(dims[0], str) and spec is not None)
    last = dims[2] == 3 or (isinstance(dims[2], str) and spec is not None)
    if first and last:
        return str(spec.layout) if spec is not None else "NCHW"
    return "NCHW" if first else "NHWC" if last else None


def _given_shapes(model: OnnxModel | TfliteModel | EntryInputs, spec: Any) -> dict[str, tuple[int, ...]]:
    """`input.shapes` ("name=16x8" for each input of several whose file leaves dimensions open)."""
    out: dict[str, tuple[int, ...]] = {}
    names = [n for n, _, _ in model.inputs]
    for text in (spec.shapes or ()) if spec is not None else ():
        name, sep, dims = text.rpartition("=")
        try:
            shape = tuple(int(d) for d in dims.lower().split("x")) if sep else ()
        except ValueError:
            shape = ()
        if not shape or not all(d > 0 for d in shape):
            raise ModelSourceError(
                f"model {model.name}: input.shapes entry {text!r} is not 'NAME=D1xD2…' (the input's "
                "dimensions after the batch, e.g. 'tokens=128')"
            )
        if name not in names:
            raise ModelSourceError(
                f"model {model.name}: input.shapes names {name!r}, which is not an input of the model "
                f"(its inputs: {', '.join(names)})"
            )
        out[name] = shape
    return out


def resolve(model: OnnxModel | TfliteModel | EntryInputs, spec: Any) -> ModelInput:
    """The input of `model` (an ONNX or a TFLite file) under the profile's `[input]` table `spec` (None: absent)."""
    if len(model.inputs) > 1:
        if spec is not None and spec.shape is not None:
            raise ModelSourceError(
                f"model {model.name} has {len(model.inputs)} inputs: give their open dimensions in "
                "input.shapes ('NAME=D1xD2…' each), not input.shape"
            )
        given = _given_shapes(model, spec)
        parts = tuple(
            _tensor(model.name, name, dtype, shape, given.get(name), "input.shapes", f"'{name}=D1xD2…'")
            for name, dtype, shape in model.inputs
        )
        return ModelInput("+".join(p.name for p in parts), "record", (), "inputs", parts=parts)
    where = f"model {model.name}: input {model.input_name!r} {_dims(model.input_shape)}"
    dims: list[int | str] = list(model.input_shape[1:])
    if spec is not None and spec.shapes:
        raise ModelSourceError(f"model {model.name} has one input: give its open dimensions in input.shape")
    if spec is not None and spec.shape is not None:
        dims = list(_fit(where, dims, tuple(spec.shape), "input.shape"))
    layout = _image_layout(dims, spec) if model.input_dtype == "float32" else None
    if layout is not None:
        channel = 0 if layout == "NCHW" else 2
        h, w = (dims[1], dims[2]) if layout == "NCHW" else (dims[0], dims[1])
        square = not (isinstance(h, int) and isinstance(w, int) and h != w)
        if square and not (isinstance(dims[channel], int) and dims[channel] != 3):
            return _image(model, spec, where, layout, h, w)
    return _tensor(model.name, model.input_name, model.input_dtype, model.input_shape, tuple(int(d) for d in dims)
                   if all(isinstance(d, int) for d in dims) else None, "input.shape", "[D1, D2, …]")


def _fit(where: str, dims: Sequence[int | str], given: tuple[int, ...], key: str) -> tuple[int, ...]:
    """`given` in place of `dims` (a file's dimensions after the batch), when it keeps the fixed ones."""
    if len(given) != len(dims) or any(isinstance(d, int) and d != g for d, g in zip(dims, given, strict=False)):
        raise ModelSourceError(
            f"{where}: {key} gives {list(given)}, which does not fit it; give its {len(dims)} dimension(s) "
            f"after the batch, keeping the fixed ones ({_dims(['batch', *dims])})"
        )
    return given


def _tensor(
    file: str, name: str, dtype: str, shape: Sequence[int | str], given: tuple[int, ...] | None, key: str, form: str
) -> ModelInput:
    """A tensor input: its dimensions after the batch from the file, or `given` (the profile's)."""
    where = f"model {file}: input {name!r} {_dims(shape)}"
    dims = list(shape[1:])
    if given is not None:
        dims = list(_fit(where, dims, given, key))
    open_dims = [f"{i + 1}: {d}" for i, d in enumerate(dims) if not isinstance(d, int)]
    if open_dims:
        raise ModelSourceError(
            f"{where} leaves dimension(s) {', '.join(open_dims)} open besides the batch; qtui sets only "
            f"the first (batch): set {key} ({form}, its {len(dims)} dimension(s) after the batch) in "
            "the profile's [input] table, or export the model with a fixed shape"
        )
    return ModelInput(name, dtype, tuple(int(d) for d in dims), "tensor")


def _image(model: OnnxModel | TfliteModel | EntryInputs, spec: Any, where: str, layout: str, h: int | str, w: int | str) -> ModelInput:
    size = h if isinstance(h, int) else w if isinstance(w, int) else None
    if spec is None:
        if size is None:
            raise ModelSourceError(
                f"{where} leaves the image's height and width open besides the batch; qtui sets only "
                "the first (batch): set input.crop (the image size) in the profile's [input] table, "
                "or export the model with a fixed image size"
            )
        resize = max(size, round(size * RESIZE / CROP))
        pre = Preprocess(resize=resize, crop=size, layout=layout)
    else:
        if spec.layout != layout:
            raise ModelSourceError(
                f"{where} takes {layout} images but input.layout is {spec.layout!r}: set input.layout = {layout!r}"
            )
        if size is not None and spec.crop != size:
            raise ModelSourceError(
                f"{where} takes {size}×{size} images but input.crop is {spec.crop}: set input.crop = {size} "
                f"(and input.resize ≥ {size}, e.g. {max(size, round(size * RESIZE / CROP))})"
            )
        pre = preprocess_from_spec(spec)
    shape = pre.sample_shape
    return ModelInput(model.input_name, "float32", tuple(shape), "image", pre)


class GeneratedTensors(Dataset):
    """Seeded generated inputs of a tensor input's type and shape (no labels, no cache): the
    data of `dataset.source = "synthetic"` for a model whose input is not an image."""

    def __init__(self, count: int, seed: int, model_input: ModelInput) -> None:
        if count < 1:
            raise DatasetError(f"generated tensors: count must be at least 1, got {count}")
        self.name = self.kind = "synthetic"
        self.count = int(count)
        self.seed = int(seed)
        self.has_labels = False
        self.dtype = model_input.numpy_dtype
        self._shape = model_input.shape
        self._parts = model_input.parts or (model_input,)
        self.label = "generated"
        what = "; ".join(
            f"{p.name}: {p.dtype} {'×'.join(str(d) for d in p.shape)} "
            f"{'standard normal' if np.dtype(p.dtype).kind == 'f' else 'random'}"
            for p in self._parts
        )
        self.provenance = f"generated tensors ({what}; seed {self.seed}, {self.count} samples) — no labels"
        self.digest = hashlib.sha256(
            f"generated:{self.dtype.str}:{self.dtype.descr}:{list(self._shape)}:seed={self.seed}:n={self.count}".encode()
        ).hexdigest()[:16]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def identity(self) -> str:
        return f"generated:{self.digest}"

    def get(self, index: int) -> np.ndarray:
        i = int(index)
        if not 0 <= i < self.count:
            raise IndexError(f"sample index {i} out of range 0..{self.count - 1}")
        if not self.dtype.names:
            return self._generate(self._parts[0], i, 0)
        out = np.zeros((), self.dtype)
        for k, part in enumerate(self._parts):
            out[part.name] = self._generate(part, i, k)
        return out

    def _generate(self, part: ModelInput, index: int, which: int) -> np.ndarray:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed & 0xFFFFFFFF, index, which]))
        dtype = np.dtype(part.dtype)
        if dtype.kind == "f":
            return rng.standard_normal(part.shape, dtype=np.float32).astype(dtype)
        if dtype.kind == "b":
            return rng.integers(0, 2, part.shape).astype(bool)
        high = 256 if dtype == np.uint8 else INT_HIGH
        return rng.integers(0, high, part.shape).astype(dtype)


class InputArrays(Dataset):
    """A `.npz` file holding one array per input of a model with several (named after them,
    N samples each) and optionally `labels`: each sample is one record of the inputs."""

    def __init__(self, path: Path, count: int | None, model_input: ModelInput) -> None:
        where = _show(path)
        if path.suffix.lower() != ".npz" or not path.is_file():
            raise DatasetError(
                f"{where}: the model has {len(model_input.parts)} inputs: give a .npz file with one array "
                f"per input ({', '.join(p.name for p in model_input.parts)})"
            )
        self.root = path
        self.name = self.kind = "tensors"
        self.label = path.name
        self.dtype = model_input.numpy_dtype
        self._parts = model_input.parts
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {n: npz[n] for n in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise DatasetError(f"{where}: cannot read ({one_line(exc)})") from None
        missing = [p.name for p in self._parts if p.name not in arrays]
        if missing:
            raise DatasetError(
                f"{where}: no array named {one_line(repr(missing[0]))}; the model's inputs are "
                f"{', '.join(one_line(p.name) for p in self._parts)} (arrays: {', '.join(one_line(n) for n in arrays) or 'none'})"
            )
        sizes = set()
        for p in self._parts:
            arr = arrays[p.name]
            want = "×".join(str(d) for d in p.shape)
            if arr.dtype != np.dtype(p.dtype):
                raise DatasetError(f"{where}: array {one_line(repr(p.name))} is {arr.dtype}, the input takes {p.dtype}")
            if tuple(arr.shape[1:]) != p.shape or arr.shape[0] == 0:
                raise DatasetError(
                    f"{where}: array {one_line(repr(p.name))} has shape {tuple(arr.shape)}, the input takes N×{want}"
                )
            sizes.add(arr.shape[0])
        if len(sizes) != 1:
            raise DatasetError(f"{where}: the inputs' arrays hold different numbers of samples ({sorted(sizes)})")
        total = sizes.pop()
        n = total if count is None else min(count, total)
        self._records = np.zeros((n,), self.dtype)
        for p in self._parts:
            self._records[p.name] = arrays[p.name][:n]
        labels = arrays.get("labels")
        self.has_labels = labels is not None
        if labels is not None:
            if labels.ndim != 1 or labels.shape[0] != total or labels.dtype.kind not in "iu":
                raise DatasetError(f"{where}: 'labels' must be {total} integer class indices (one per sample)")
            self._labels = labels[:n].astype(np.int64)
        self.count = int(n)
        self.digest = _file_digest(path)
        self.provenance = (
            f"tensors in '{_show(path.name)}' ({self.count} samples of {len(self._parts)} inputs"
            + (", with labels" if self.has_labels else ", no labels") + ")"
        )

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return ()

    @property
    def identity(self) -> str:
        return f"tensors:{self.digest}:{self.count}"

    def get(self, index: int) -> np.ndarray:
        i = int(index)
        if not 0 <= i < self.count:
            raise IndexError(f"sample index {i} out of range 0..{self.count - 1}")
        return self._records[i].copy()

    def labels(self, indices: Sequence[int]) -> np.ndarray:
        if not self.has_labels:
            return super().labels(indices)
        return self._labels[np.asarray(list(indices), dtype=np.intp)].copy()


def input_feed(batch: np.ndarray, name: str) -> dict[str, np.ndarray]:
    """What a runtime is fed for `batch`: {name: batch}, or for a record batch of several
    inputs one contiguous array per input."""
    if batch.dtype.names:
        return {n: np.ascontiguousarray(batch[n]) for n in batch.dtype.names}
    return {name: batch}


@dataclass(frozen=True)
class EntryInputs:
    """A PyTorch entry point's inputs as the profile says them (its code says nothing): one
    input `input` of `input.shape`, or one per `input.shapes` entry in that order (the order
    `forward()` takes them), each of `input.dtype` (float32 when absent). Every dimension is
    open, so `resolve` takes them from the profile exactly as for a file's open ones."""

    name: str  #: the entry point without its folders
    inputs: tuple[tuple[str, str, tuple[int | str, ...]], ...]

    @property
    def input_name(self) -> str:
        return self.inputs[0][0]

    @property
    def input_dtype(self) -> str:
        return self.inputs[0][1]

    @property
    def input_shape(self) -> tuple[int | str, ...]:
        return self.inputs[0][2]


def entry_inputs(profile: Any) -> EntryInputs | None:
    """The entry point's inputs from the profile's `[input]` table; None when it gives neither
    `input.shape` nor `input.shapes` (one 3×224×224 float32 image, as for the built-ins)."""
    from qtui.core.model_source import model_label

    spec = profile.input
    if spec is None or (spec.shape is None and not spec.shapes):
        return None
    label = model_label(profile.model)
    dtype = spec.dtype or "float32"
    if spec.shape is not None and spec.shapes:
        raise ModelSourceError(
            f"entry point {label}: give input.shape (one input) or input.shapes (several, 'NAME=D1xD2…' "
            "each in the order forward() takes them), not both"
        )
    if spec.shape is not None:
        given = [("input", len(spec.shape))]
    else:
        given = []
        for text in spec.shapes:
            name, sep, dims = text.rpartition("=")
            if not sep or not name or name in (n for n, _ in given):
                raise ModelSourceError(
                    f"entry point {label}: input.shapes entry {text!r} is not 'NAME=D1xD2…' with a name "
                    "of its own (one entry per input, in the order forward() takes them)"
                )
            given.append((name, len(dims.split("x"))))
    described = [(n, dtype, ("batch", *(f"d{i + 1}" for i in range(k)))) for n, k in given]
    return EntryInputs(label, tuple(described))


def for_profile(profile: Any) -> ModelInput | None:
    """The resolved input of the profile's user model: an ONNX file's, a .tflite file's whose
    input is not one picture (`TfliteModel.is_image`), or an entry point's the profile gives
    (`entry_inputs`); None for a built-in, an image .tflite or an entry point without
    input.shape/input.shapes (their images are 3 channels square, set by the `[input]` table as
    for the built-ins, and checked by `model_source_tflite.profile_problem` / `load_entry`)."""
    from qtui.core.model_source import inspect_cached, source_kind

    kind = source_kind(profile.model)
    if kind == "entry":
        described = entry_inputs(profile)
        return None if described is None else resolve(described, profile.input)
    if kind not in ("onnx", "tflite"):
        return None
    model = inspect_cached(profile.model)
    if kind == "tflite" and model.is_image:
        return None
    return resolve(model, profile.input)


def not_an_image(model_input: ModelInput, kind: str) -> str:
    """Why a picture data set cannot feed a tensor input."""
    return (
        f"dataset.kind {kind!r} holds pictures, but the model's input {model_input.describe()} is not a "
        "3-channel square image: set dataset.source = 'synthetic' (generated tensors) or a .npy/.npz file "
        "of its samples"
    )
