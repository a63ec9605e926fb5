"""Source layers of the user's own TFLite model, read from the file itself: every compute op of the
source file (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED…) is a layer, owning its output tensor
by name. qtui's TFLite artifacts of that file (FP32 is the file as it is; FP16, INT8 dynamic and
INT8 static come from ai-edge-quantizer) keep the names of the tensors the ops produce, so a
runtime op of any of them is the layer whose source output tensor its own output is named after
(the name itself, else its longest prefix cut at '/' or '_' that is one: a quantizer's '_dequant'
or '_quant' suffix). A layer is named by the torch module path litert-torch left in the names
(the last module of the output tensor's fused names — 'ReLU_2;;BatchNorm2d_1;;Conv2d_0' is
'features.0' — else of its weights tensor), when that path names one layer only; else by the
output tensor's first name ('model/conv2d/Relu' from TensorFlow's converter). Imports the TFLite
runtime only inside `owners`."""

from __future__ import annotations

from typing import Any

from qtui.core.explain.onnx_graph import name_prefixes

#: TFLite ops doing a layer's arithmetic (as the TFLite collector counts them).
COMPUTE_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "BATCH_MATMUL"}
#: Keep the walk bounded for very large files.
MAX_OPS = 200_000


def owners(path: str) -> dict[str, str]:
    """`{layer name or source output tensor name: layer}` for the .tflite file at `path`, the
    layers first in the file's order; empty when no TFLite runtime is installed or the file cannot
    be read (the profile then keeps the module paths in the runtime's tensor names)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # type: ignore[import-not-found]
        except ImportError:
            return {}
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=1)
        tensors = {int(d["index"]): str(d["name"]) for d in interpreter.get_tensor_details()}
        ops = interpreter._get_ops_details()[:MAX_OPS]
    except Exception:  # noqa: BLE001 - a file gone or changed since: the runtime's names stay
        return {}
    return op_owners(ops, tensors)


def _names(op: dict[str, Any], key: str, tensors: dict[int, str]) -> list[str]:
    return [tensors[int(i)] for i in op.get(key, []) if int(i) >= 0 and int(i) in tensors]


def op_owners(ops: list[dict[str, Any]], tensors: dict[int, str]) -> dict[str, str]:
    """The owner map of `ops` (the interpreter's op details, in the file's order; `tensors`
    its tensor names by index)."""
    compute = [op for op in ops if str(op.get("op_name", "")) in COMPUTE_OPS]
    outputs = [(_names(op, "outputs", tensors) or [""])[0] for op in compute]
    scopes = []
    for op, out in zip(compute, outputs, strict=True):
        weights = _names(op, "inputs", tensors)[1:2]
        found = tensor_scopes(out)[-1:] or [s for w in weights for s in tensor_scopes(w)][-1:]
        scopes.append(found[0] if found else "")
    layers = []
    for op, out, scope in zip(compute, outputs, scopes, strict=True):
        if scope and scopes.count(scope) == 1:
            layers.append(scope)
        else:
            first = out.split(";")[0]
            layers.append(first if first and outputs.count(out) == 1 else f"{op.get('index')}:{op.get('op_name')}")
    result: dict[str, str] = {}
    for layer in layers:
        result.setdefault(layer, layer)
    for out, layer in zip(outputs, layers, strict=True):
        if out:
            result.setdefault(out, layer)
    return result


def tensor_scopes(name: str) -> list[str]:
    """Module paths in a litert-torch tensor name: each '/'-separated part is 'Type_name'."""
    out = []
    for piece in name.split(";"):
        parts = [p.rsplit("_", 1)[-1] for p in piece.split("/")[1:] if "_" in p]
        if parts:
            out.append(".".join(parts))
    return out


def resolve_tensor(name: str, owners: dict[str, str]) -> str | None:
    """The layer whose source output tensor `name` is (or a prefix of it, cut at '/' or '_'),
    or None."""
    if not name:
        return None
    for candidate in name_prefixes(name):
        if candidate in owners:
            return owners[candidate]
    return None
