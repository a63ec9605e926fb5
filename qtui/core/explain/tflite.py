"""TFLite's per-op view: the interpreter's `_get_ops_details()` lists every op of the model with
its operand and result types; tensor names from litert-torch keep torch's module path
(`…/Sequential_features/…ConvBNReLU6_0/…ReLU6_2`); for the user's own .tflite file a compute op
is the layer of the source file whose output tensor it is named after (`tflite_graph`). Per-op timing is not reachable from the
interpreter's Python API (LiteRT's op profiler lives in its C++ benchmark tool): a TFLite profile
says so and has no times, never invented ones."""

from __future__ import annotations

from typing import Any

import numpy as np

from qtui.core.explain import LayerRow, Profile, precision_of, resolve, tflite_graph
from qtui.core.explain._common import cpu_name
from qtui.core.explain.tflite_graph import tensor_scopes as tensor_scopes

COMPUTE_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL"}
QUANTIZE_OPS = {"QUANTIZE", "DEQUANTIZE"}
REORDER_OPS = {"TRANSPOSE"}
NO_TIMING = "not available: TFLite's Python API has no per-op timing"


def _type_name(t: Any) -> str:
    return np.dtype(t).name if t is not None else "?"


def collect(artifact: Any, owners: dict[str, str], threads: int, runs: int) -> Profile:
    try:
        from ai_edge_litert.interpreter import Interpreter
        runtime = "ai-edge-litert"
    except ImportError:
        from tflite_runtime.interpreter import Interpreter  # type: ignore[import-not-found]
        runtime = "tflite-runtime"
    interpreter = Interpreter(model_path=str(artifact.path), num_threads=threads)
    interpreter.allocate_tensors()
    tensors = {d["index"]: d for d in interpreter.get_tensor_details()}
    delegated = False
    rows = []
    for op in interpreter._get_ops_details():
        name = str(op.get("op_name", "?"))
        if name == "DELEGATE":
            delegated = True
            continue
        types = [_type_name(t) for t in op.get("operand_types", [])]
        role = "compute" if name in COMPUTE_OPS else "quantize" if name in QUANTIZE_OPS else "reorder" if name in REORDER_OPS else "other"
        precision = precision_of(types[0]) if types else "?"
        note = ""
        if role == "compute" and precision == "f32" and "int8" in types[1:]:
            note = "float activations, int8 weights (dynamic-range kernel; whether it quantizes the activations at run time is not reported)"
        outputs = [int(i) for i in op.get("outputs", []) if int(i) >= 0]
        out_name = str(tensors[outputs[0]]["name"]) if outputs and outputs[0] in tensors else ""
        inputs = [int(i) for i in op.get("inputs", []) if int(i) >= 0]
        in_names = [str(tensors[i]["name"]) for i in inputs[1:2] if i in tensors]
        candidates = [*tensor_scopes(out_name), *(s for n in in_names for s in tensor_scopes(n))]
        # the user's .tflite: the source op whose output tensor this one is named after
        layer = (tflite_graph.resolve_tensor(out_name, owners) or resolve(candidates, owners)) if role == "compute" else ""
        rows.append(LayerRow(
            layer=layer, node=f"{op.get('index')}:{name}",
            op=name, kernel="", precision=precision, time_us=None, role=role, note=note,
        ))
    notes = [f"per-op time {NO_TIMING}"]
    if delegated:
        notes.append("the XNNPACK delegate took the model's supported ops; which ones is not reported per op")
    return Profile(
        framework="tflite", precision=artifact.precision, model="", artifact=artifact.directory.name,
        runtime=runtime, cpu=cpu_name(), threads=threads, runs=0, rows=rows, timing=NO_TIMING,
        overhead={"ratio": None, "note": "no profiler ran"}, notes=notes,
    )
