"""PyTorch's per-op profile: torch.profiler over a few batch-1 calls of the loaded artifact (eager
state dict or TorchScript INT8). Top-level op names say what ran (`quantized::conv2d`,
`quantized::linear_dynamic`, `aten::conv2d`…); their CPU time includes the kernels they call.
TorchScript keeps no module names on its ops, so compute ops are matched to the model's
Conv2d/Linear layers by execution order (when the counts agree; the profile says so)."""

from __future__ import annotations

import statistics
from typing import Any

import torch

from qtui.core.backends import get_backend
from qtui.core.explain import LayerRow, Profile, compute_layers, precision_of
from qtui.core.explain._common import cpu_name, median_ms, overhead, sample_input

COMPUTE_OPS = ("quantized::conv", "quantized::linear", "aten::conv2d", "aten::linear", "aten::addmm", "aten::_convolution", "aten::matmul")
QUANTIZE_OPS = ("aten::quantize_per_tensor", "aten::quantize_per_channel", "aten::dequantize", "quantized::dequantize")
REORDER_OPS = ("aten::contiguous", "aten::to", "aten::copy_", "aten::clone")


def _role(name: str) -> str:
    if name.startswith(COMPUTE_OPS):
        return "compute"
    if name.startswith(QUANTIZE_OPS):
        return "quantize"
    return "reorder" if name.startswith(REORDER_OPS) else "other"


def _top_level(events: list[Any]) -> list[Any]:
    return [e for e in events if e.cpu_parent is None or e.cpu_parent.name == "forward"]


def collect(artifact: Any, owners: dict[str, str], threads: int, runs: int) -> Profile:
    from torch.profiler import ProfilerActivity, profile

    backend = get_backend("torch")
    backend.load(artifact, threads, "SingleStream")
    try:
        x = sample_input()
        plain = median_ms(lambda: backend.predict(x), runs)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            profiled = median_ms(lambda: backend.predict(x), runs)
        calls = runs + 1
        events = [e for e in _top_level(list(prof.events())) if e.name != "forward"]
        dtype = str(getattr(backend, "_dtype", torch.float32))
    finally:
        backend.close()
    per_call = len(events) // calls if calls and len(events) % calls == 0 else 0
    notes = ["torch.profiler, top-level ops; time = CPU time including the kernels each op calls"]
    if not per_call:
        per_call, calls = len(events), 1
        notes.append("the calls did not record the same ops: one row per recorded op")
    layers = compute_layers(owners)
    first = events[:per_call]
    compute_idx = [i for i, e in enumerate(first) if _role(e.name) == "compute"]
    match = len(compute_idx) == len(layers) and bool(layers)
    names = {i: layers[k] for k, i in enumerate(compute_idx)} if match else {}
    # median_ms's first call ran under the profiler too: a warm-up, not one of the profiled runs
    counted = range(1, calls) if calls > 1 else range(calls)
    rows = []
    for i, e in enumerate(first):
        times = [events[c * per_call + i].cpu_time_total for c in counted]
        role = _role(e.name)
        quantized_op = e.name.startswith("quantized::")
        precision = "int8" if quantized_op else precision_of(dtype) if role == "compute" else "?"
        note = ""
        if e.name.startswith("quantized::linear_dynamic"):
            note = "float activations quantized at run time (dynamic), output in float"
        elif role == "compute" and not quantized_op and artifact.precision.startswith("int8"):
            note = "left in float by the quantization (not a quantized module)"
        rows.append(LayerRow(
            layer=names.get(i, ""), node=f"{i}:{e.name}", op=e.name, kernel=f"quantized engine {torch.backends.quantized.engine}" if quantized_op else "aten",
            precision=precision, time_us=round(statistics.median(times), 2), role=role, note=note,
        ))
    return Profile(
        framework="torch", precision=artifact.precision, model="", artifact=artifact.directory.name,
        runtime=f"torch {torch.__version__}", cpu=cpu_name(), threads=threads, runs=len(counted), rows=rows,
        layer_match="by execution order" if match else "none (op count differs from the model's layers)",
        overhead=overhead(plain, profiled, runs), notes=notes,
    )
