"""Source layers of the user's own ONNX model, read from its graph: every Conv/Gemm/MatMul node is
a layer (named by torch's module path when the exporter left one, '/features/features.3/Conv' →
'features.3', else by the node's own name), and owns the activation/normalisation nodes that
follow it alone (its BatchNormalization, Relu, Clip, bias Add…) — so a runtime node named after
any of them (ONNX Runtime names a fused Conv+ReLU after the ReLU's output; OpenVINO lists the
ONNX node names it absorbed) is that layer's row. Imports onnx only inside `owners`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: ONNX ops doing a layer's arithmetic.
COMPUTE_OPS = {"Conv", "ConvTranspose", "Gemm", "MatMul", "ConvInteger", "MatMulInteger", "QLinearConv", "QLinearMatMul"}
#: Ops that belong to the compute layer whose output they alone take (its epilogue).
FOLLOWER_OPS = {
    "BatchNormalization", "Relu", "Clip", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish",
    "Tanh", "Elu", "Selu", "Softplus", "Gelu", "Add", "Mul",
}
#: Keep the graph walk bounded for very large files.
MAX_NODES = 200_000


def owners(path: str) -> dict[str, str]:
    """`{node name, output tensor name or layer name: compute layer it belongs to}` for the ONNX
    file at `path`; empty when onnx is not installed or the file cannot be read (the profile
    then keeps the runtime's own node names)."""
    try:
        import onnx
    except ImportError:
        return {}
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception:  # noqa: BLE001 - a file gone or changed since: the runtime's names stay
        return {}
    return graph_owners(list(model.graph.node)[:MAX_NODES], {i.name for i in model.graph.initializer})


def onnx_scope(name: str) -> str:
    """The module path of an ONNX node name from torch's exporter: '/features/features.3/conv/
    conv.0/conv.0.0/Conv_token_19' → 'features.3.conv.0.0'."""
    parts: list[str] = []
    for comp in name.strip("/").split("/")[:-1]:
        if parts and comp.startswith(parts[-1] + "."):
            parts[-1] = comp
        elif comp:
            parts.append(comp)
    return ".".join(parts)


def _scope(name: str) -> str:
    return onnx_scope(name)


def graph_owners(nodes: list[Any], constants: set[str]) -> dict[str, str]:
    """The owner map of `nodes` (ONNX NodeProtos in graph order; `constants` the initializer
    names). The layer of a compute node is its module path when that path is unique among the
    compute nodes, else its node name (else its first output)."""
    consumers: dict[str, int] = {}
    for node in nodes:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    constants = constants | {o for n in nodes if n.op_type == "Constant" for o in n.output}
    compute = [n for n in nodes if n.op_type in COMPUTE_OPS]
    scopes = [_scope(n.name) for n in compute]
    layer_of: dict[int, str] = {}
    for node, scope in zip(compute, scopes, strict=True):
        unique = scope and scopes.count(scope) == 1
        layer_of[id(node)] = scope if unique else (node.name or (node.output[0] if node.output else ""))
    out: dict[str, str] = {}
    for node in compute:  # the layers first, in the model's order (compute_layers reads them so)
        if layer_of[id(node)]:
            out.setdefault(layer_of[id(node)], layer_of[id(node)])
    produced_by: dict[str, str] = {}  # tensor → layer that owns its producer
    for node in nodes:
        layer = layer_of.get(id(node))
        if layer is None and node.op_type in FOLLOWER_OPS and node.input:
            data = [i for i in node.input if i and i not in constants]
            if len(data) == 1 and data[0] in produced_by and consumers.get(data[0], 0) == 1:
                layer = produced_by[data[0]]
        if not layer:
            continue
        for key in (node.name, *node.output):
            if key:
                out.setdefault(key, layer)
                produced_by[key] = layer
    return out


def name_prefixes(name: str) -> list[str]:
    """`name` and its prefixes cut at '/' or '_', longest first: a runtime's node name with the
    suffixes it added ('_token_1', '_output_0_nchwc', '/WithoutBiases', '_quant') leads back to
    the ONNX node or tensor it came from."""
    cuts = [i for i, ch in enumerate(name) if ch in "/_" and i > 0]
    return [name, *(name[:i] for i in reversed(cuts))]


def resolve_names(names: Iterable[str], owners: dict[str, str]) -> str | None:
    """The layer owning the first of `names` (or of its prefixes) found in `owners`, or None."""
    for name in names:
        for candidate in name_prefixes(name):
            if candidate in owners:
                return owners[candidate]
    return None
