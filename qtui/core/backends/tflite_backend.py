"""TensorFlow Lite backend: ai-edge-litert's Interpreter with the XNNPACK delegate and exactly
`threads` threads (tflite-runtime only as a fallback, where it imports and runs).

Converted models have a fixed batch of 1: each distinct batch size gets its own interpreter,
resized once and kept (a few at most), so alternating sizes never re-plan. Whether the model can
be resized at all is checked at load on a delegate-free interpreter (shape propagation only: no
weight packing, no inference); a model that cannot (litert-torch's VGG-19) reports
`max_batch = 1` and batches are run one sample at a time.
Integer models (ai-edge-quantizer's INT8 static) take and return int8: inputs are quantized and
outputs dequantized with the tensors' own scale and zero point.

FP16 models (fp16 weights behind DEQUANTIZE ops, float32 activations) compute in f32 on every
CPU: XNNPACK turns the fp16 weights into f32 when it is created and computes in f16 only when
its delegate is forced to (qtui uses the default delegate) or when the model's
`reduced_precision_support` metadata asks for it; the executed precision says which, from the
interpreter's op dtypes and that metadata.
"""

from __future__ import annotations

import contextlib
import importlib
import mmap
import os
import sys
import tempfile
from collections import Counter, OrderedDict
from collections.abc import Iterator
from importlib import metadata
from typing import Any

import numpy as np

from qtui.core.backends import Artifact, Backend, BackendError
from qtui.core.model_input import input_feed

#: How many interpreters (one per batch size) are kept for a model of ordinary size.
MAX_INTERPRETERS = 3
#: Above this model size only one interpreter is kept (XNNPACK packs the weights per interpreter).
LARGE_MODEL_BYTES = 256 << 20
#: Batch size tried at load on a fixed-batch model to see whether the batch propagates.
PROBE_BATCH = 2

_BANNER = "Created TensorFlow Lite XNNPACK delegate for CPU."


def _runtime() -> tuple[Any, str]:
    """The Interpreter class and a 'name version' label: ai-edge-litert, else tflite-runtime."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, f"ai-edge-litert {_version('ai-edge-litert')}"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter  # type: ignore[import-not-found]
    except ImportError:
        raise BackendError(
            "no TensorFlow Lite runtime here: pip install 'qtui[tflite]' (ai-edge-litert)"
        ) from None
    return Interpreter, f"tflite-runtime {_version('tflite-runtime')}"


def _no_delegate_resolver() -> Any:
    """`OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES` of the runtime in use (None: unknown)."""
    for module in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter"):
        try:
            resolver = importlib.import_module(module).OpResolverType
            return resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        except (ImportError, AttributeError):
            continue
    return None


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


@contextlib.contextmanager
def _native_stderr(sink: list[str]) -> Iterator[None]:
    """Capture what native code writes to fd 2 into `sink`: TFLite's once-per-process 'Created …
    XNNPACK delegate' line and its errors (e.g. a failed reshape). Held only while an
    interpreter is created (milliseconds), never around inference."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            sink.extend(ln for ln in text.splitlines() if ln.strip() and _BANNER not in ln)


class TFLiteBackend(Backend):
    framework = "tflite"

    def __init__(self) -> None:
        self._cls: Any = None
        self._label = ""
        self._path = ""
        self._threads = 1
        self._interpreters: OrderedDict[int, Any] = OrderedDict()
        self._capacity = MAX_INTERPRETERS
        self._native_batch = 1
        self._fixed = True
        self._open_dims = False
        self._in_index = 0
        self._out_index = 0
        self._in_dtype: Any = np.float32
        self._out_dtype: Any = np.float32
        self._in_quant: tuple[float, int] | None = None
        #: a user model's inputs: (name, index, dtype, quantization) each, fed by name
        self._inputs: list[tuple[str, int, Any, tuple[float, int] | None]] = []
        self._out_quant: tuple[float, int] | None = None
        self._executed = ""
        self.native_log: list[str] = []

    # -- loading ----------------------------------------------------------------------------------
    def load(self, artifact: Artifact, threads: int, scenario: str) -> None:
        self._cls, self._label = _runtime()
        self._path = str(artifact.path)
        self._threads = int(threads)
        self._interpreters.clear()
        first = self._create(None)
        inp = first.get_input_details()[0]
        out = first.get_output_details()[0]
        self._in_index, self._out_index = inp["index"], out["index"]
        self._in_dtype, self._out_dtype = inp["dtype"], out["dtype"]
        self._in_quant = _quant(inp, plain=True)
        self._out_quant = _quant(out)
        self._inputs = [(str(d["name"]), int(d["index"]), d["dtype"], _quant(d, plain=True)) for d in first.get_input_details()]
        signature = list(inp.get("shape_signature", inp["shape"]))
        self._native_batch = int(inp["shape"][0])
        self._capacity = 1 if artifact.path.stat().st_size > LARGE_MODEL_BYTES else MAX_INTERPRETERS
        self._interpreters[self._native_batch] = first
        self._fixed = bool(signature) and signature[0] != -1
        # a dimension besides the batch the file leaves open (the profile's input.shape sets
        # it): the input is fed at the samples' shape, resized first (`_feed`)
        self._open_dims = any(int(d) == -1 for d in signature[1:])
        resizable = not self._fixed or self._batch_propagates(PROBE_BATCH if self._native_batch != PROBE_BATCH else 1)
        self.max_batch = None if resizable else self._native_batch
        self._executed = self._describe(first)
        if artifact.precision == "fp16":
            self._executed = f"{fp16_compute(first, self._path)} · {self._executed}"

    def _create(self, batch: int | None) -> Any:
        """A new interpreter on the model, resized to `batch` (None: the model's own shape)."""
        said: list[str] = []
        try:
            with _native_stderr(said):
                interpreter = self._cls(model_path=self._path, num_threads=self._threads)
                if batch is not None:
                    for detail in interpreter.get_input_details():  # every input: the batch
                        shape = list(detail["shape"])
                        shape[0] = batch
                        interpreter.resize_tensor_input(detail["index"], shape)
                interpreter.allocate_tensors()
        except Exception as exc:
            self.native_log.extend(said)
            hint = f" ({said[-1].strip()})" if said else ""
            if self._label.startswith("tflite-runtime") and int(np.__version__.split(".")[0]) >= 2:
                hint += " — tflite-runtime ≤ 2.14 does not work with numpy 2: pip install ai-edge-litert"
            raise BackendError(f"{self._label} could not load {self._path}: {exc}{hint}") from exc
        self.native_log.extend(said)
        return interpreter

    def _batch_propagates(self, batch: int) -> bool:
        """Whether the fixed-batch model accepts another batch size (litert-torch's VGG-19 does
        not: its flatten keeps batch 1). Checked without the delegate, so nothing is packed."""
        said: list[str] = []
        try:
            with _native_stderr(said):
                kwargs: dict[str, Any] = {"model_path": self._path, "num_threads": 1}
                resolver = _no_delegate_resolver()
                if resolver is not None:
                    kwargs["experimental_op_resolver_type"] = resolver
                light = self._cls(**kwargs)
                for detail in light.get_input_details():
                    shape = list(detail["shape"])
                    shape[0] = batch
                    light.resize_tensor_input(detail["index"], shape)
                light.allocate_tensors()
                return int(light.get_output_details()[0]["shape"][0]) == batch
        except Exception:  # a shape error in some op's Prepare: a fixed batch
            return False

    def _interpreter_for(self, batch: int) -> Any:
        cached = self._interpreters.get(batch)
        if cached is not None:
            self._interpreters.move_to_end(batch)
            return cached
        while len(self._interpreters) >= self._capacity:
            self._interpreters.popitem(last=False)  # free the memory before packing again
        interpreter = self._create(batch)
        self._interpreters[batch] = interpreter
        return interpreter

    # -- inference --------------------------------------------------------------------------------
    def predict(self, batch: np.ndarray) -> np.ndarray:
        if not self._interpreters:
            raise BackendError("TFLite backend: load() first")
        n = batch.shape[0]
        limit = self.max_batch
        if limit is not None and n != limit:
            if n > limit:
                return np.concatenate([self.predict(batch[i : i + limit]) for i in range(0, n, limit)])
            pad = np.zeros((limit - n, *batch.shape[1:]), batch.dtype)  # fixed batch > n: pad
            return self.predict(np.concatenate([batch, pad]))[:n]
        try:
            interpreter = self._interpreter_for(n)
        except BackendError:
            if not self._fixed or n == self._native_batch:
                raise
            # TFLite's kernels took the new size but XNNPACK cannot: run the model's own batch
            self.max_batch = self._native_batch
            self._executed += f"; fixed batch {self._native_batch} (XNNPACK cannot resize), larger batches looped"
            return self.predict(batch)
        if batch.dtype.names or len(self._inputs) > 1 or self._open_dims:
            self._feed(interpreter, batch)
        else:
            interpreter.set_tensor(self._in_index, self._to_input(batch))
        interpreter.invoke()
        out = interpreter.get_tensor(self._out_index)
        if self._out_quant is not None:
            scale, zero = self._out_quant
            return (out.astype(np.float32) - np.float32(zero)) * np.float32(scale)
        return out.astype(np.float32, copy=False)

    def _feed(self, interpreter: Any, batch: np.ndarray) -> None:
        """A user model's several inputs (a record batch, `model_input`): each by its name, in
        its own type and quantization; an input whose fed shape differs from the interpreter's
        (a dimension the file leaves open, set by the profile) is resized first."""
        arrays = input_feed(batch, self._inputs[0][0])
        if not set(arrays) & {name for name, _, _, _ in self._inputs}:  # a converted entry point: in order
            arrays = {name: a for (name, _, _, _), a in zip(self._inputs, arrays.values(), strict=False)}
        missing = [name for name, _, _, _ in self._inputs if name not in arrays]
        if missing:
            raise BackendError(f"TFLite model input {missing[0]!r} is not in the samples ({', '.join(arrays)})")
        resized = False
        for detail in interpreter.get_input_details():
            want = arrays[str(detail["name"])].shape
            if tuple(detail["shape"]) != tuple(want):
                interpreter.resize_tensor_input(detail["index"], list(want))
                resized = True
        if resized:
            interpreter.allocate_tensors()
        for name, index, dtype, quant in self._inputs:
            interpreter.set_tensor(index, self._to_input(arrays[name], dtype, quant))

    def _to_input(
        self, batch: np.ndarray, dtype: Any = None, quant: tuple[float, int] | None | bool = False
    ) -> np.ndarray:
        if dtype is None:
            dtype, quant = self._in_dtype, self._in_quant
        if quant is None or quant is False:
            return np.ascontiguousarray(batch, dtype=dtype)
        assert not isinstance(quant, bool)
        scale, zero = quant
        info = np.iinfo(dtype)
        q = np.multiply(batch, np.float32(1.0 / scale), dtype=np.float32)
        np.rint(q, out=q)
        q += np.float32(zero)
        np.clip(q, info.min, info.max, out=q)
        return q.astype(dtype)

    # -- reporting --------------------------------------------------------------------------------
    def version(self) -> str:
        return self._label

    def executed_precision(self) -> str:
        return self._executed

    def _describe(self, interpreter: Any) -> str:
        """From the interpreter itself: I/O dtypes, the heavy ops with their activation/weight
        dtypes, and which of them the XNNPACK delegate took (the rest run on TFLite kernels)."""
        io_text = f"input {np.dtype(self._in_dtype).name}, output {np.dtype(self._out_dtype).name}"
        try:
            summary = describe_ops(interpreter)
        except Exception:  # private API changed: still report what is certain
            summary = "ops unknown"
        batch = "" if self.max_batch is None else f"; fixed batch {self.max_batch}, larger batches looped"
        return f"{summary}; {io_text}{batch}; {self._threads} threads"

    def close(self) -> None:
        self._interpreters.clear()


HEAVY_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL")


def describe_ops(interpreter: Any) -> str:
    """E.g. 'XNNPACK 71/71 ops: CONV_2D int8/int8 ×35, …' — activation/weight dtypes per op type,
    a weight made by DEQUANTIZE shown as 'float16→float32', ops left to TFLite kernels marked."""
    ops = interpreter._get_ops_details()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    dtype = {i: np.dtype(t["dtype"]).name for i, t in tensors.items()}
    producer = {int(t): op for op in ops if op["op_name"] != "DELEGATE" for t in op["outputs"]}
    delegated = _delegated(ops, producer)
    originals = [op for op in ops if op["op_name"] != "DELEGATE"]
    groups: Counter[tuple[str, str, str, bool]] = Counter()
    for op in originals:
        if op["op_name"] not in HEAVY_OPS:
            continue
        ins = [int(i) for i in op["inputs"] if i >= 0]
        act = dtype.get(ins[0], "?") if ins else "?"
        weight = dtype.get(ins[1], "?") if len(ins) > 1 else "?"
        source = producer.get(ins[1]) if len(ins) > 1 else None
        if source is not None and source["op_name"] == "DEQUANTIZE":
            src_in = [int(i) for i in source["inputs"] if i >= 0]
            weight = f"{dtype.get(src_in[0], '?')}→{weight}" if src_in else weight
        groups[(op["op_name"], act, weight, op["index"] in delegated)] += 1
    parts = []
    for (name, act, weight, on_xnn), count in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0])):
        where = "" if on_xnn else " on TFLite kernels"
        parts.append(f"{name} {act}/{weight} ×{count}{where}")
    n_del = sum(1 for op in originals if op["index"] in delegated)
    head = f"XNNPACK {n_del}/{len(originals)} ops" if n_del else "TFLite kernels (no XNNPACK)"
    text = f"{head}: " + ", ".join(parts) + " (activation/weight dtypes)"
    rest = Counter(op["op_name"] for op in originals if op["op_name"] not in HEAVY_OPS and op["index"] not in delegated)
    if n_del and rest:
        text += "; on TFLite kernels: " + ", ".join(f"{name} ×{n}" for name, n in rest.most_common())
    return text


#: TFLite's model-metadata key with which a model asks for reduced-precision (fp16) inference.
REDUCED_PRECISION_KEY = b"reduced_precision_support"


def fp16_compute(interpreter: Any, model_path: str) -> str:
    """'fp16 weights, f32 compute (…)' or 'f16 compute (…)' for an FP16 model, from the dtypes
    the heavy ops compute on and whether the model's metadata asks XNNPACK for fp16 inference
    (`XNN_FLAG_HINT_FP16_INFERENCE`, the only way besides a forced delegate)."""
    try:
        tensors = {t["index"]: np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
        acts = {
            tensors.get(int(op["inputs"][0]), "?")
            for op in interpreter._get_ops_details()
            if op["op_name"] in HEAVY_OPS and len(op["inputs"])
        }
    except Exception:  # noqa: BLE001 - private API changed: say what is not known
        acts = {"?"}
    if _asks_for_fp16(model_path):
        return (
            "fp16 weights, f16 or f32 compute: the model's reduced_precision_support metadata lets "
            "XNNPACK compute in f16 where the CPU has f16 arithmetic"
        )
    if acts == {"float32"}:
        return (
            "fp16 weights, f32 compute (XNNPACK turns the fp16 weights into f32 at load; "
            "it computes in f16 only when forced or asked by the model's metadata, and neither is the case)"
        )
    if acts == {"float16"}:
        return "fp16 weights, f16 compute (float16 activations)"
    return f"fp16 weights, compute in {'/'.join(sorted(acts))}"


def _asks_for_fp16(model_path: str) -> bool:
    """Whether the model file carries the `reduced_precision_support` metadata key (searched in
    place through a memory map: no copy of a large model)."""
    try:
        with open(model_path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return mapped.find(REDUCED_PRECISION_KEY) != -1
    except (OSError, ValueError):
        return False


def _delegated(ops: list[dict[str, Any]], producer: dict[int, dict[str, Any]]) -> set[int]:
    """Indices of the original nodes that a DELEGATE node replaced: walk back from each delegate
    node's outputs to its inputs through the original graph."""
    done: set[int] = set()
    for node in ops:
        if node["op_name"] != "DELEGATE":
            continue
        stop = {int(t) for t in node["inputs"]}
        stack = [int(t) for t in node["outputs"]]
        seen: set[int] = set()
        while stack:
            tensor = stack.pop()
            if tensor in stop or tensor in seen:
                continue
            seen.add(tensor)
            op = producer.get(tensor)
            if op is None or op["index"] in done:
                continue
            done.add(op["index"])
            stack.extend(int(t) for t in op["inputs"] if t >= 0)
    return done


def _quant(detail: dict[str, Any], plain: bool = False) -> tuple[float, int] | None:
    """(scale, zero point) of an integer I/O tensor; None for float tensors (and, `plain`, for
    an integer input without quantization parameters)."""
    if not np.issubdtype(np.dtype(detail["dtype"]), np.integer):
        return None
    scale, zero = detail.get("quantization", (0.0, 0))
    if not scale:
        params = detail.get("quantization_parameters", {})
        scales = params.get("scales", [])
        zeros = params.get("zero_points", [])
        if len(scales) == 0 and plain:
            return None  # a user model's integer input (ids, indices): fed as it is
        if len(scales) != 1:
            raise BackendError("TFLite model with integer input/output but no per-tensor scale")
        scale, zero = float(scales[0]), int(zeros[0]) if len(zeros) else 0
    return float(scale), int(zero)


def create() -> Backend:
    return TFLiteBackend()
