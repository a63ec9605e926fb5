"""The raw reference: each runtime used directly, the plain way its own documentation shows, with
the same artifact, thread count, runtime options and batching that qtui uses — but without qtui,
LoadGen, a sample library or a recorder. qtui's harness ratio is measured against these loops.

  ONNX Runtime  InferenceSession (CPU EP, intra-op threads, sequential, ORT_ENABLE_ALL), `run`
  OpenVINO      compile_model with INFERENCE_NUM_THREADS, INFERENCE_PRECISION_HINT f32 and the
                LATENCY hint (SingleStream/MultiStream: `infer_request.infer(share_inputs=True)`)
                or THROUGHPUT (Offline: an AsyncInferQueue of OPTIMAL_NUMBER_OF_INFER_REQUESTS)
  TFLite        ai-edge-litert Interpreter(num_threads) resized to the batch (XNNPACK default
                delegate), set_tensor/invoke/get_tensor; int8 models get their input quantized
                and output dequantized with the tensors' scale and zero point, as any caller must
  PyTorch       torch.set_num_threads; eager channels_last module (FP32) or the TorchScript
                module (INT8, its quantized engine), input in the module's memory format, under
                torch.inference_mode()

Inputs are contiguous slices of one stacked float32 array (a batch costs no copy), cycled in
order. Call every function from a fresh thread (PyTorch's OpenMP team belongs to its thread).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from qtui.core.backends import Artifact

_OV_CORE: Any = None


class RawModel:
    """A runtime loaded for one scenario and batch size: `predict(x)` on (batch, 3, 224, 224)
    float32, and `offline(batches)` that runs them all the way the runtime recommends for
    throughput (OpenVINO: asynchronously)."""

    def __init__(self, predict: Callable[[np.ndarray], Any], offline: Callable[[list[np.ndarray]], None] | None = None,
                 close: Callable[[], None] | None = None) -> None:
        self.predict = predict
        self._offline = offline
        self._close = close

    def offline(self, batches: list[np.ndarray]) -> None:
        if self._offline is not None:
            self._offline(batches)
            return
        for x in batches:
            self.predict(x)

    def close(self) -> None:
        if self._close is not None:
            self._close()


def _onnxruntime(artifact: Artifact, threads: int, scenario: str, batch: int) -> RawModel:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(artifact.path), sess_options=opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    out = [session.get_outputs()[0].name]
    return RawModel(lambda x: session.run(out, {name: x}))


def _openvino(artifact: Artifact, threads: int, scenario: str, batch: int) -> RawModel:
    global _OV_CORE
    import openvino as ov

    if _OV_CORE is None:
        _OV_CORE = ov.Core()  # kept for the process: compiled models must not outlive it
    config = {
        "PERFORMANCE_HINT": "THROUGHPUT" if scenario == "Offline" else "LATENCY",
        "INFERENCE_NUM_THREADS": threads,
        "INFERENCE_PRECISION_HINT": "f32",
    }
    compiled = _OV_CORE.compile_model(str(artifact.path), "CPU", config)
    request = compiled.create_infer_request()
    jobs = max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
    queue = ov.AsyncInferQueue(compiled, jobs) if scenario == "Offline" else None

    def offline(batches: list[np.ndarray]) -> None:
        assert queue is not None
        for x in batches:
            queue.start_async({0: x}, share_inputs=True)
        queue.wait_all()

    return RawModel(lambda x: request.infer({0: x}, share_inputs=True), offline if queue is not None else None)


def _tflite(artifact: Artifact, threads: int, scenario: str, batch: int) -> RawModel:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(artifact.path), num_threads=threads)
    inp = interpreter.get_input_details()[0]
    if int(inp["shape"][0]) != batch:
        shape = list(inp["shape"])
        shape[0] = batch
        interpreter.resize_tensor_input(inp["index"], shape)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    i_idx, o_idx = inp["index"], out["index"]
    in_dtype = np.dtype(inp["dtype"])
    if np.issubdtype(in_dtype, np.integer):
        scale, zero = inp["quantization"]
        info = np.iinfo(in_dtype)
        inv = np.float32(1.0 / scale)
        scratch = np.empty(tuple(inp["shape"]), np.float32)
        quantized = np.empty(tuple(inp["shape"]), in_dtype)

        def to_input(x: np.ndarray) -> np.ndarray:
            np.multiply(x, inv, out=scratch)
            np.rint(scratch, out=scratch)
            np.add(scratch, np.float32(zero), out=scratch)
            np.clip(scratch, info.min, info.max, out=scratch)
            np.copyto(quantized, scratch, casting="unsafe")
            return quantized
    else:
        def to_input(x: np.ndarray) -> np.ndarray:
            return x
    o_scale, o_zero = out["quantization"] if np.issubdtype(np.dtype(out["dtype"]), np.integer) else (0.0, 0)

    def predict(x: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(i_idx, to_input(x))
        interpreter.invoke()
        y = interpreter.get_tensor(o_idx)
        if o_scale:
            return (y.astype(np.float32) - np.float32(o_zero)) * np.float32(o_scale)
        return y

    return RawModel(predict)


def _torch(artifact: Artifact, threads: int, scenario: str, batch: int) -> RawModel:
    import torch

    torch.set_num_threads(threads)
    meta = artifact.meta
    details = meta.get("details", {}) or {}
    if meta.get("format") == "torchscript":
        engine = details.get("quantized_engine")
        if engine:
            torch.backends.quantized.engine = engine
        module = torch.jit.load(str(artifact.path), map_location="cpu")
        channels_last = details.get("input_memory_format") == "channels_last"
    else:
        from qtui.core.models import build_model

        module = build_model(meta.get("model") or details["model"])
        module.load_state_dict(torch.load(artifact.path, map_location="cpu", weights_only=True))
        module = module.eval().to(memory_format=torch.channels_last)
        channels_last = True
    module.eval()
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def predict(x: np.ndarray) -> Any:
        with torch.inference_mode():
            return module(torch.from_numpy(x).contiguous(memory_format=fmt))

    return RawModel(predict)


LOADERS: dict[str, Callable[[Artifact, int, str, int], RawModel]] = {
    "onnxruntime": _onnxruntime,
    "openvino": _openvino,
    "tflite": _tflite,
    "torch": _torch,
}

WARMUP_CALLS = 16
#: ... and at least this long: a runtime's first calls after loading run slower (thread pools,
#: page faults, caches); qtui's warm-up in the bench lasts about as long (harness.warmup_queries).
WARMUP_SECONDS = 1.0


def raw_offline(framework: str, artifact: Artifact, threads: int, samples: np.ndarray, batch: int, total: int) -> float:
    """Samples/s over `total` samples in batches of `batch` (contiguous slices, cycled)."""
    model = LOADERS[framework](artifact, threads, "Offline", batch)
    try:
        n = samples.shape[0] // batch * batch
        starts = [(k * batch) % n for k in range(total // batch)]
        batches = [samples[s : s + batch] for s in starts]
        warm_until = time.perf_counter() + WARMUP_SECONDS
        calls = 0
        while calls < WARMUP_CALLS or time.perf_counter() < warm_until:
            model.offline(batches[: min(len(batches), 4)])
            calls += min(len(batches), 4)
        t = time.perf_counter()
        model.offline(batches)
        return len(batches) * batch / (time.perf_counter() - t)
    finally:
        model.close()


def raw_latencies(framework: str, artifact: Artifact, threads: int, samples: np.ndarray, per_query: int,
                  queries: int, scenario: str) -> np.ndarray:
    """Latency (ns) of each of `queries` calls of `per_query` samples, one after another."""
    model = LOADERS[framework](artifact, threads, scenario, per_query)
    try:
        n = samples.shape[0] // per_query * per_query
        warm_until = time.perf_counter() + WARMUP_SECONDS
        k = 0
        while k < WARMUP_CALLS or time.perf_counter() < warm_until:
            s = (k * per_query) % n
            model.predict(samples[s : s + per_query])
            k += 1
        out = np.empty(queries, dtype=np.int64)
        for q in range(queries):
            s = (q * per_query) % n
            x = samples[s : s + per_query]
            t = time.perf_counter_ns()
            model.predict(x)
            out[q] = time.perf_counter_ns() - t
        return out
    finally:
        model.close()
