"""PyTorch backend: eager FP32/FP16 state dicts (channels_last) and TorchScript int8 artifacts,
run under `torch.inference_mode()` with an explicit thread count.

FP16 state dicts run in float16 (`half()`) only where PyTorch computes float16 natively — its own
test, `torch.ops.mkldnn._is_mkldnn_fp16_supported()`: oneDNN f16 kernels on x86 with
avx512_fp16 or avx_ne_convert. Elsewhere (e.g. AMD Zen 4, every ARM CPU in torch ≤ 2.13) the fp16
weights are upcast to float32 at load and the model computes in float32: `half()` there runs
PyTorch's generic kernels, emulated and ≈15× slower than FP32. `executed_precision` says which,
from the dtype the loaded module actually holds.

For int8 artifacts the quantized engine recorded at preparation ("x86", "fbgemm" or "qnnpack") is
set before `torch.jit.load` (packed weights are rebuilt for the current engine while loading, and
ARM builds have no default engine). `executed_precision` counts the quantized ops of the loaded
TorchScript graph and the float convolutions/linears left in it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qtui.core.backends import Artifact, Backend, BackendError
from qtui.core.quiet import quiet

#: x86 CPU flags with which PyTorch's oneDNN computes float16 ("fp16 path needs the cpu support
#: avx_ne_convert or avx512_fp16"); named in the executed precision.
F16_FLAGS = ("avx512_fp16", "amx_fp16", "avx_ne_convert")

#: Float compute ops worth naming when they are left in a TorchScript graph.
_FLOAT_HEAVY = {
    "aten::_convolution": "conv",
    "aten::conv2d": "conv",
    "aten::linear": "linear",
    "aten::addmm": "linear",
    "aten::matmul": "matmul",
}


class TorchBackend(Backend):
    framework = "torch"

    def __init__(self) -> None:
        self._module: Any = None
        self._dtype = torch.float32
        self._kind = "state_dict"
        self._channels_last = True
        self._engine: str | None = None
        self._threads = 0
        self._ops = ""
        self._precision = ""
        self._path: Path | None = None
        self._first_call = False

    def load(self, artifact: Artifact, threads: int, scenario: str) -> None:
        from qtui.core.models import build_model

        torch.set_num_threads(threads)
        self._threads = threads
        self._dtype = torch.float32
        self._engine = None
        self._ops = ""
        self._precision = artifact.precision
        meta = artifact.meta
        details: dict[str, Any] = meta.get("details", {}) or {}
        kind = meta.get("format", "state_dict")
        engine = details.get("quantized_engine")
        if engine:
            _set_engine(engine)
            self._engine = engine
        try:
            with quiet(native=True):
                if kind == "state_dict":
                    module = build_model(meta.get("model") or details["model"])
                    state = torch.load(artifact.path, map_location="cpu", weights_only=True)
                    module.load_state_dict(state, strict=True)
                elif kind == "torchscript":
                    module = torch.jit.load(str(artifact.path), map_location="cpu")
                else:
                    raise BackendError(f"unknown torch artifact format '{kind}' in {artifact.directory}")
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(f"PyTorch could not load {artifact.path}: {exc}") from exc
        module.eval()
        self._kind = kind
        if kind == "state_dict":
            # load_state_dict copied the fp16 values into the float32 model: that is the upcast
            if artifact.precision == "fp16" and native_f16():
                module = module.half()
            self._dtype = next(module.parameters(), torch.empty(0)).dtype  # what it computes in
            module = module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # accepted at run time, missing from the stubs
            for p in module.parameters():
                p.requires_grad_(False)
            self._channels_last = True
        else:
            self._channels_last = details.get("input_memory_format") == "channels_last"
            self._ops = _describe_graph(module)
        self._module = module
        self._path = artifact.path
        # TorchScript: the first call is made quietly (below)
        self._first_call = kind == "torchscript"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        assert self._module is not None, "load() first"
        if self._first_call:
            # Quietly: torch warns once per process (deprecated quantized tensors) on the first
            # quantized run, which must not reach the terminal. And with the run's own batch (the
            # runner's warm-up makes this call): a TorchScript INT8 MobileNetV2 first called with a
            # batch of 1 ran batches of 8 7-8 % slower from then on (17.6 vs 16.3 ms a call,
            # alternating with a module first called with 8; AMD EPYC Zen 4, x86 engine).
            try:
                with quiet(native=True):
                    out = self._predict(batch)
            except Exception as exc:
                raise BackendError(f"PyTorch could not run {self._path}: {_first_line(exc)}") from exc
            self._first_call = False
            return out
        return self._predict(batch)

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        assert self._module is not None, "load() first"
        with torch.inference_mode():
            if batch.dtype.names:  # an entry point's several inputs (`model_input`): in order
                out = self._module(*(self._tensor(np.ascontiguousarray(batch[n])) for n in batch.dtype.names))
                return out.float().numpy()
            out = self._module(self._tensor(batch))
            return out.float().numpy()

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(array)
        if self._dtype != torch.float32 and x.is_floating_point():
            x = x.to(self._dtype)
        if self._channels_last and x.dim() == 4:  # a picture; any other input as it is
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def version(self) -> str:
        return torch.__version__

    def executed_precision(self) -> str:
        threads = f"{torch.get_num_threads()} threads"
        if self._kind == "state_dict":
            dtype = str(self._dtype).replace("torch.", "")
            text = f"eager {dtype}, channels_last, {threads}"
            return f"{_fp16_compute(self._dtype)} · {text}" if self._precision == "fp16" else text
        return f"TorchScript, quantized engine {self._engine or torch.backends.quantized.engine}, {self._ops}, {threads}"

    def close(self) -> None:
        self._module = None


def native_f16() -> bool:
    """Whether PyTorch computes float16 convolutions natively on this CPU (oneDNN f16 kernels):
    its own `torch.ops.mkldnn._is_mkldnn_fp16_supported()`; False where it cannot say."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_fp16_supported())
    except Exception:  # noqa: BLE001 - an older or unusual build: the safe f32 path
        return False


def _fp16_compute(dtype: torch.dtype) -> str:
    if dtype == torch.float16:
        from qtui.core.environment import cpu_flags

        flags = "/".join(f for f in F16_FLAGS if f in cpu_flags()) or "native f16"
        return f"fp16 weights, f16 compute (oneDNN f16 kernels: {flags})"
    return (
        "fp16 weights, f32 compute (weights upcast to float32 at load: PyTorch has no native f16 "
        "convolutions on this CPU, its half() would be emulated)"
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def _set_engine(engine: str) -> None:
    supported = torch.backends.quantized.supported_engines
    if engine not in supported:
        raise BackendError(
            f"this artifact needs PyTorch's '{engine}' quantized engine, which this build lacks "
            f"(it has: {', '.join(e for e in supported if e != 'none') or 'none'}); prepare it on this machine"
        )
    torch.backends.quantized.engine = engine


def graph_op_counts(module: Any) -> Counter[str]:
    """Node kinds of a TorchScript module's graph with every submodule call inlined."""
    graph = module.inlined_graph if hasattr(module, "inlined_graph") else module.graph
    counts: Counter[str] = Counter()

    def walk(block: Any) -> None:
        for node in block.nodes():
            counts[node.kind()] += 1
            for sub in node.blocks():
                walk(sub)

    walk(graph)
    return counts


def _describe_graph(module: Any) -> str:
    """E.g. 'quantized::conv2d_relu ×35, quantized::conv2d ×17, quantized::add ×10,
    quantized::linear ×1 (int8); float conv ×0'."""
    try:
        counts = graph_op_counts(module)
    except Exception:  # a graph we cannot walk: say so rather than fail the run
        return "graph not inspectable"
    quantized = sorted(
        ((k, n) for k, n in counts.items() if k.startswith("quantized::")), key=lambda kv: (-kv[1], kv[0])
    )
    floats: Counter[str] = Counter()
    for kind, n in counts.items():
        if kind in _FLOAT_HEAVY:
            floats[_FLOAT_HEAVY[kind]] += n
    parts = []
    if quantized:
        parts.append(", ".join(f"{k} ×{n}" for k, n in quantized) + " (int8)")
    float_text = ", ".join(f"{k} ×{n}" for k, n in sorted(floats.items())) if floats else "conv ×0"
    parts.append(f"float {float_text}")
    return "; ".join(parts)


def create() -> Backend:
    return TorchBackend()
