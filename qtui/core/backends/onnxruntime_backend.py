"""ONNX Runtime backend: CPU execution provider, explicit intra-op threads, full graph optimisation.

The executed precision comes from ONNX Runtime itself: the session is created with profiling on,
runs one batch-1 inference at load time (it doubles as a warm-up), and profiling is ended at once
(later runs are not profiled). The profile lists every node the CPU EP actually ran after graph
optimisation, with its op type and input element types: e.g. QDQ models show the fused
`QLinearConv` nodes, and a float16 model whose ops have no float16 CPU kernel shows float32
`Conv` nodes (ORT casts the weights to float32 once, at load). For FP16 models the summary starts
with what that means: "fp16 weights, f32 compute" (x86: MLAS has float16 kernels only on ARM64),
"fp16 weights, f16 compute" (ARM64 with FP16 arithmetic, where ORT registers its float16 Conv
kernels), or "fp16 weights, mixed compute" naming which ops ran in which type. This costs one inference and a small JSON file in a temporary folder,
instead of writing the whole optimised model (hundreds of MB for VGG-19) to disk.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from qtui.core.backends import Artifact, Backend, BackendError
from qtui.core.model_input import input_feed

#: Ops that do the arithmetic in float (labelled by their input's element type)…
_FLOAT_COMPUTE = {"Conv", "FusedConv", "NhwcFusedConv", "Gemm", "FusedGemm", "MatMul", "FusedMatMul"}
#: …and with integer weights, with the index from which the weight (or its zero point, when ORT
#: pre-packed the weight and the profile omits it) is the first 8-bit integer input.
_QUANTIZED_COMPUTE = {
    "QLinearConv": 3,
    "QGemm": 3,
    "QLinearMatMul": 3,
    "ConvInteger": 1,
    "MatMulInteger": 1,
    "DynamicQuantizeMatMul": 1,
    "MatMulIntegerToFloat": 1,
}
_INT8_TYPES = ("int8", "uint8")
_TYPE_NAMES = {"float": "float32", "double": "float64", "MLFloat16": "float16"}
#: ORT's input type → the numpy type of the profiling run's zeros (a user model's input)
_NUMPY_TYPES: dict[str, Any] = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
}



def session_options(threads: int, profile_prefix: str | None) -> ort.SessionOptions:
    """The session options of every ONNX Runtime session qtui times or profiles (`qtui explain`
    profiles the same configuration the timed runs use); `profile_prefix` turns profiling on."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if profile_prefix is not None:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    return opts

class OnnxRuntimeBackend(Backend):
    framework = "onnxruntime"

    def __init__(self) -> None:
        self._session: ort.InferenceSession | None = None
        self._input = ""
        self._output = ""
        self._executed = ""

    def load(self, artifact: Artifact, threads: int, scenario: str) -> None:
        scratch = tempfile.mkdtemp(prefix="qtui-ort-profile-")
        try:
            try:
                self._session = ort.InferenceSession(
                    str(artifact.path),
                    sess_options=session_options(threads, os.path.join(scratch, "profile")),
                    providers=["CPUExecutionProvider"],
                )
            except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
                raise BackendError(f"ONNX Runtime could not load {artifact.path}: {exc}") from exc
            inp = self._session.get_inputs()[0]
            self._input = inp.name
            self._output = self._session.get_outputs()[0].name
            dim0 = inp.shape[0]
            self.max_batch = dim0 if isinstance(dim0, int) else None
            executed = self._profile_one_run(inp, artifact.precision)
            self._executed = executed or _describe_artifact(artifact, inp.type)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _profile_one_run(self, inp: Any, precision: str) -> str | None:
        """Run one batch-1 inference under the profiler, end profiling, summarise the nodes."""
        assert self._session is not None
        try:
            feed = {}
            for one in self._session.get_inputs():  # a user model may have several
                shape = [d if isinstance(d, int) and d > 0 else 1 for d in one.shape]
                shape[0] = 1 if self.max_batch is None else self.max_batch
                feed[one.name] = np.zeros(shape, _NUMPY_TYPES.get(str(one.type), np.float32))
            self._session.run([self._output], feed)
        except Exception:  # an unusual input signature: fall back to the artifact's graph
            return None
        finally:
            path = self._session.end_profiling()
        try:
            events = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            return None
        return describe_profile(events, inp.type, precision)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        assert self._session is not None, "load() first"
        return self._session.run([self._output], input_feed(batch, self._input))[0]

    def version(self) -> str:
        return ort.__version__

    def executed_precision(self) -> str:
        return self._executed

    def close(self) -> None:
        self._session = None


def _type_name(entry: dict[str, Any]) -> str:
    name = next(iter(entry), "?")
    return _TYPE_NAMES.get(name, name)


def describe_profile(events: list[dict[str, Any]], input_type: str, precision: str = "") -> str | None:
    """Summarise the nodes ORT executed (from its profiling events) as op counts with the
    element types of compute ops, e.g. 'QLinearConv×52 (uint8 act, int8 weights), QGemm×1 (…);
    other: QLinearAdd×10, …; input float32 — ORT CPU EP, optimised graph'."""
    nodes = [
        e.get("args", {})
        for e in events
        if e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time")
    ]
    if not nodes:
        return None
    counts: Counter[str] = Counter()
    types: dict[str, Counter[str]] = {}
    providers: set[str] = set()
    for args in nodes:
        op = str(args.get("op_name", "?"))
        counts[op] += 1
        providers.add(str(args.get("provider", "")))
        inputs = args.get("input_type_shape") or []
        if not inputs:
            continue
        if op in _FLOAT_COMPUTE:
            types.setdefault(op, Counter())[_type_name(inputs[0])] += 1
        elif op in _QUANTIZED_COMPUTE:
            found = (_type_name(t) for t in inputs[_QUANTIZED_COMPUTE[op] :])
            weight = next((t for t in found if t in _INT8_TYPES), "?")
            types.setdefault(op, Counter())[f"{_type_name(inputs[0])} act, {weight} weights"] += 1
    compute = []
    for op, c in counts.most_common():
        if op in types:
            labels = "; ".join(label for label, _ in types[op].most_common())
            compute.append(f"{op}×{c} ({labels})")
    others = [f"{op}×{c}" for op, c in counts.most_common() if op not in types]
    text = ", ".join(compute) if compute else "no compute ops"
    if others:
        text += "; other: " + ", ".join(others)
    input_name = input_type.replace("tensor(", "").rstrip(")")
    text += f"; input {_TYPE_NAMES.get(input_name, input_name)}"
    if precision == "fp16" and types:
        text = f"{fp16_compute(types)} · {text}"
    provider = ", ".join(sorted(p for p in providers if p)) or "CPUExecutionProvider"
    return f"{text} [{provider}, optimised graph]"


def fp16_compute(types: dict[str, Counter[str]]) -> str:
    """'fp16 weights, f32 compute (…)' / 'f16 compute (…)' / 'mixed compute (…)' from the element
    types the float compute ops ran on (`types`: op → Counter of labels)."""
    by_type: dict[str, list[str]] = {}
    for op, labels in types.items():
        for label in labels:
            by_type.setdefault(label, []).append(op)
    if set(by_type) == {"float32"}:
        return "fp16 weights, f32 compute (no float16 CPU kernels for these ops here: ORT casts the weights to float32 at load)"
    if set(by_type) == {"float16"}:
        return "fp16 weights, f16 compute (ORT's float16 CPU kernels)"
    detail = "; ".join(f"{label}: {', '.join(sorted(ops))}" for label, ops in sorted(by_type.items()))
    return f"fp16 weights, mixed compute ({detail})"


def _describe_artifact(artifact: Artifact, input_type: str) -> str:
    """Summarise the compute ops of the ONNX file (before ORT's optimisations)."""
    try:
        import onnx

        model = onnx.load(str(artifact.path), load_external_data=False)
        ops = Counter(n.op_type for n in model.graph.node)
        heavy = [op for op in ("Conv", "ConvInteger", "QLinearConv", "MatMul", "MatMulInteger", "Gemm", "QuantizeLinear", "DequantizeLinear") if op in ops]
        desc = ", ".join(f"{op}×{ops[op]}" for op in heavy)
        return f"{desc} (input {input_type}; artifact graph)" if desc else f"input {input_type}"
    except Exception:  # onnx not installed or unreadable: still report the input type
        return f"input {input_type}"


def create() -> Backend:
    return OnnxRuntimeBackend()
