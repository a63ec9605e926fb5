"""ONNX Runtime's per-node profile: `SessionOptions.enable_profiling` writes a JSON trace whose
`Node` events (`<node>_kernel_time`) carry the op type that ran after graph optimisation
(`QLinearConv`, `ConvInteger`, `Conv`…), its execution provider, its input element types and its
duration in µs. Node names keep torch's module scopes ('/features/features.3/conv/conv.0/…')."""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import onnxruntime as ort

from qtui.core.backends.onnxruntime_backend import session_options
from qtui.core.explain import LayerRow, Profile, onnx_scope, precision_of, resolve
from qtui.core.explain._common import cpu_name, median_ms, overhead, sample_input
from qtui.core.explain.onnx_graph import resolve_names

#: Ops doing a layer's arithmetic (their first input is the activation).
COMPUTE_OPS = {
    "Conv", "FusedConv", "NhwcFusedConv", "Gemm", "FusedGemm", "MatMul", "FusedMatMul",
    "QLinearConv", "QGemm", "QLinearMatMul", "ConvInteger", "MatMulInteger",
    "DynamicQuantizeMatMul", "MatMulIntegerToFloat",
}
QUANTIZE_OPS = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"}
REORDER_OPS = {"Transpose", "ReorderInput", "ReorderOutput"}
#: Ops whose activations are quantized at run time: the arithmetic is integer, what flows
#: between layers is float.
FLOAT_ACTIVATIONS = {"ConvInteger", "MatMulInteger", "DynamicQuantizeMatMul", "MatMulIntegerToFloat"}
#: Profiled passes before the `runs` counted ones: the explicit warm-up and median_ms's first call.
WARMUP_PASSES = 2
_TYPES = {"float": "float32", "double": "float64", "MLFloat16": "float16"}


def _first_type(args: dict[str, Any]) -> str:
    inputs = args.get("input_type_shape") or []
    name = next(iter(inputs[0]), "?") if inputs else "?"
    return _TYPES.get(name, name)


def _warmup_windows(events: list[dict[str, Any]], warmup: int) -> list[tuple[float, float]]:
    """The (start, end) µs of the first `warmup` `model_run` session events: the warm-up passes."""
    runs = sorted((float(e.get("ts", 0)), float(e.get("ts", 0)) + float(e.get("dur", 0)))
                  for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
    return runs[:warmup]


def rows_from_events(events: list[dict[str, Any]], owners: dict[str, str], quantized: bool, warmup: int = 0) -> list[LayerRow]:
    """One row per node, its time the median over the profiled runs (µs: robust to a busy
    machine's outliers). The node events of the first `warmup` runs (`model_run` events; the
    profiler records the warm-up passes too) are left out."""
    windows = _warmup_windows(events, warmup)
    nodes: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for e in events:
        name = str(e.get("name", ""))
        if e.get("cat") != "Node" or not name.endswith("_kernel_time"):
            continue
        node = name[: -len("_kernel_time")]
        entry = nodes.setdefault(node, {"args": e.get("args", {}), "durs": []})
        ts = float(e.get("ts", 0))
        if any(start <= ts <= end for start, end in windows):
            continue
        entry["durs"].append(float(e.get("dur", 0)))
    rows = []
    for node, entry in nodes.items():
        args = entry["args"]
        op = str(args.get("op_name", "?"))
        role = "compute" if op in COMPUTE_OPS else "quantize" if op in QUANTIZE_OPS else "reorder" if op in REORDER_OPS else "other"
        act = _first_type(args)
        precision = precision_of(act)
        note = ""
        if op in FLOAT_ACTIVATIONS:
            precision = "int8"  # integer arithmetic; DynamicQuantizeMatMul takes the float input itself
            note = "float activations quantized at run time (DynamicQuantizeLinear), int32 output rescaled in float"
        elif role == "compute" and precision == "f32" and quantized:
            note = "float op in the graph ORT ran: no Q/DQ pair fused around it"
        rows.append(LayerRow(
            layer=resolve_names([node], owners) or resolve([onnx_scope(node)], owners), node=node, op=op,
            kernel=str(args.get("provider", "")).replace("ExecutionProvider", " EP"), precision=precision,
            time_us=round(statistics.median(entry["durs"]), 2) if entry["durs"] else None, role=role, note=note,
        ))
    return rows


def collect(artifact: Any, owners: dict[str, str], threads: int, runs: int) -> Profile:
    scratch = tempfile.mkdtemp(prefix="qtui-explain-ort-")
    try:
        session = ort.InferenceSession(str(artifact.path), sess_options=session_options(threads, str(Path(scratch) / "p")), providers=["CPUExecutionProvider"])
        inp = session.get_inputs()[0]
        feed = {inp.name: sample_input()}
        session.run(None, feed)  # warm-up, profiled too: its node events are dropped below
        profiled = median_ms(lambda: session.run(None, feed), runs)  # its first call is a warm-up too
        events = json.loads(Path(session.end_profiling()).read_text())
        plain_session = ort.InferenceSession(str(artifact.path), sess_options=session_options(threads, None), providers=["CPUExecutionProvider"])
        plain = median_ms(lambda: plain_session.run(None, feed), runs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # the warm-up and median_ms's own first call were profiled as well: their events are dropped
    rows = rows_from_events(events, owners, artifact.precision.startswith("int8"), warmup=WARMUP_PASSES)
    return Profile(
        framework="onnxruntime", precision=artifact.precision, model="", artifact=artifact.directory.name,
        runtime=f"onnxruntime {ort.__version__}", cpu=cpu_name(), threads=threads, runs=runs,
        rows=rows, overhead=overhead(plain, profiled, runs),
        notes=["ONNX Runtime profiling JSON: per node after graph optimisation, CPUExecutionProvider"],
    )
