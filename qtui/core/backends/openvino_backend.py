"""OpenVINO backend: the CPU plugin with an explicit inference precision, the exact thread count,
the LATENCY hint for SingleStream/MultiStream and THROUGHPUT for Offline, where `predict_stream`
keeps the compiled model's optimal number of requests in flight through an `AsyncInferQueue`.

The inference precision is always set, never left to OpenVINO's CPU default (bf16 on CPUs with
avx512_bf16, f16 on ARM with FP16 arithmetic): f32 for FP32 and INT8 artifacts; for FP16
artifacts f16 where the CPU plugin has f16 kernels for this CPU ('FP16' among its
OPTIMIZATION_CAPABILITIES: x86 with avx512_fp16 or AVX2-VNNI-2, ARM with FP16 arithmetic), else
f32 with the f16 weights — never bf16 (asked for f16 on a CPU without f16 kernels, OpenVINO
would fall back to its bf16 default: 19 dB instead of 38 dB on MobileNetV2). A compiled model
that resolved to another precision than the one asked for is refused.

`executed_precision()` reports what the runtime chose: the compiled model's
`INFERENCE_PRECISION_HINT` and the precision each compute layer of the runtime graph computes in
(the element type of its data input, e.g. "Convolution: u8 ×34, i8 ×18"), led for FP16 by
"fp16 weights, f16 compute" or "fp16 weights, f32 compute".
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from qtui.core.paths import decline_openvino_telemetry

decline_openvino_telemetry()  # before `import openvino`, which starts it
import openvino as ov  # noqa: E402

from qtui.core.backends import Artifact, Backend, BackendError  # noqa: E402

#: Runtime layer types whose precision says what the model computes in.
COMPUTE_LAYERS = ("Convolution", "GroupConvolution", "Deconvolution", "FullyConnected", "MatMul")

_CORE: ov.Core | None = None
_CORE_LOCK = threading.Lock()


def core() -> ov.Core:
    """The process's one `ov.Core`, which must outlive every compiled model. Destroying a
    compiled model whose Core is already gone joins OpenVINO's stream threads while holding the
    GIL, and a stream thread that ran an `AsyncInferQueue` Python callback needs the GIL to
    exit: a deadlock (measured with OpenVINO 2026.4 on the first such `del`)."""
    global _CORE
    with _CORE_LOCK:
        if _CORE is None:
            _CORE = ov.Core()
        return _CORE


def native_f16() -> bool:
    """Whether OpenVINO's CPU plugin computes in f16 on this CPU: 'FP16' among its
    OPTIMIZATION_CAPABILITIES, the same test (`hasHardwareSupport(f16)`) with which it honours
    an f16 hint (x86: avx512_fp16 or AVX2-VNNI-2; ARM: FP16 arithmetic)."""
    try:
        return "FP16" in core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # noqa: BLE001 - no answer: f32, the precision every CPU runs
        return False


def precision_hint(precision: str) -> str:
    """The `INFERENCE_PRECISION_HINT` for an artifact precision: f16 only for FP16 artifacts on
    a CPU where OpenVINO computes in f16, f32 for everything else (never bf16)."""
    return "f16" if precision == "fp16" and native_f16() else "f32"


class OpenVinoBackend(Backend):
    framework = "openvino"
    async_stream = True  # Offline: an AsyncInferQueue keeps several batches in flight

    def __init__(self) -> None:
        self._compiled: Any = None
        self._request: Any = None
        self._queue: Any = None
        self._jobs = 1
        self._executed = ""
        self._note = ""
        self._layers: dict[str, dict[str, int]] = {}

    def load(self, artifact: Artifact, threads: int, scenario: str) -> None:
        hint = precision_hint(artifact.precision)
        config = {
            "INFERENCE_PRECISION_HINT": hint,
            "INFERENCE_NUM_THREADS": int(threads),
            "PERFORMANCE_HINT": "THROUGHPUT" if scenario == "Offline" else "LATENCY",
        }
        self._note = ""
        if artifact.precision == "int8_dynamic" and scenario == "Offline":
            # OpenVINO 2026.4's CPU plugin computes convolutions with compressed (u8 + zero point
            # + scale) weights wrongly when the model runs in more than one stream: MobileNetV2
            # logits SQNR -23 dB against torch with 2 streams, 16.8 dB with 1 (torch simulation
            # of the same weights: 17.2 dB). One stream keeps the THROUGHPUT hint otherwise.
            config["NUM_STREAMS"] = 1
            self._note = " (1 stream: multi-stream weight-compressed convolutions are wrong in this OpenVINO)"
        try:
            model = core().read_model(str(artifact.path))
            compiled = core().compile_model(model, "CPU", config)
        except Exception as exc:  # OpenVINO raises RuntimeError with a multi-line message
            raise BackendError(f"OpenVINO could not load {artifact.path}: {exc}") from exc
        got_threads = int(compiled.get_property("INFERENCE_NUM_THREADS"))
        if got_threads != threads:
            raise BackendError(
                f"OpenVINO would run {got_threads} threads, not the {threads} requested (its CPU "
                f"plugin caps the thread count at the cores it can use): choose at most {got_threads}"
            )
        layers = runtime_layer_precisions(compiled)
        _check_precision(compiled, hint, layers, artifact)
        self._layers = layers
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self._jobs = max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self._queue = None
        dim0 = model.inputs[0].get_partial_shape()[0]
        self.max_batch = None if dim0.is_dynamic else dim0.get_length()
        self._executed = _describe(compiled, artifact.precision, self._layers, self._jobs) + self._note

    def predict(self, batch: np.ndarray) -> np.ndarray:
        assert self._request is not None, "load() first"
        # share_inputs: the request reads the caller's array in place (no copy of the batch);
        # infer() is synchronous, so the array outlives its use.
        self._request.infer(_feed(batch), share_inputs=True)
        return self._request.get_output_tensor(0).data.copy()

    def predict_stream(
        self,
        batches: Iterator[tuple[Any, np.ndarray]],
        on_result: Callable[[Any, np.ndarray], None],
    ) -> None:
        """Keep `OPTIMAL_NUMBER_OF_INFER_REQUESTS` batches in flight; `on_result` runs on
        OpenVINO's callback threads. The first error stops submitting; the batches already in
        flight are still reported (unless `on_result` itself failed: then it is not called
        again), and the error is raised here. Returns once every submitted batch has been
        reported: `wait_all` alone does not guarantee that the Python callbacks have finished.
        A batch the runtime rejects (e.g. a wrong shape) fails inside OpenVINO's thread: its
        callback never runs and the error comes from `wait_all`."""
        assert self._compiled is not None, "load() first"
        if self._queue is None:
            self._queue = ov.AsyncInferQueue(self._compiled, self._jobs)
        queue = self._queue
        errors: list[BaseException] = []
        callback_failed = threading.Event()
        state = threading.Condition()
        counts = {"submitted": 0, "finished": 0}

        # Each batch in flight is read in place (share_inputs) and kept alive here until its
        # request has finished.
        inflight: dict[Any, dict[Any, np.ndarray]] = {}

        def callback(request: Any, key: Any) -> None:
            inflight.pop(key, None)
            try:
                if not callback_failed.is_set():
                    on_result(key, request.get_output_tensor(0).data.copy())
            except BaseException as exc:  # noqa: BLE001 - re-raised from predict_stream
                errors.append(exc)
                callback_failed.set()
            finally:
                with state:
                    counts["finished"] += 1
                    state.notify_all()

        queue.set_callback(callback)
        runtime_failed = False
        try:
            for key, batch in batches:
                if errors:
                    break
                data = _feed(batch)
                inflight[key] = data
                queue.start_async(data, key, share_inputs=True)
                with state:
                    counts["submitted"] += 1
        except BaseException as exc:  # noqa: BLE001 - submitting failed: drain, then raise
            errors.append(exc)
        finally:
            try:
                queue.wait_all()
            except Exception as exc:  # a request failed inside the runtime: its callback never runs
                runtime_failed = True
                errors.append(exc)
            with state:
                # Every successful request's callback runs; after a runtime failure some never
                # will, so only wait briefly for the others.
                state.wait_for(
                    lambda: counts["finished"] >= counts["submitted"],
                    timeout=2.0 if runtime_failed else None,
                )
            # The queue (C++) holds the callback, which holds on_result and through it the SUT,
            # its samples and this backend: a cycle Python's GC cannot see, so the compiled
            # model and everything the run loaded were never freed. Drop it.
            queue.set_callback(_no_callback)
        if errors:
            # A failed request leaves its error in the queue, which then raises it from every
            # later start_async: the next call gets a fresh queue.
            self._queue = None
            raise errors[0]

    def version(self) -> str:
        return ov.get_version()

    def executed_precision(self) -> str:
        return self._executed

    def inference_precision(self) -> str:
        """The compiled model's `INFERENCE_PRECISION_HINT` as OpenVINO resolved it (e.g. "f32")."""
        assert self._compiled is not None, "load() first"
        return str(self._compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name())

    def runtime_layers(self) -> dict[str, dict[str, int]]:
        """`{layer type: {runtime precision: count}}` of the compute layers (for tests/reports)."""
        return {k: dict(v) for k, v in self._layers.items()}

    def close(self) -> None:
        if self._queue is not None:
            try:
                self._queue.wait_all()
            except Exception:  # noqa: BLE001 - closing: nothing left to report to
                pass
        self._queue = None
        self._request = None
        self._compiled = None


def _no_callback(request: Any, userdata: Any) -> None:
    """The queue's callback between runs: holds no reference to a finished run."""


def runtime_layer_precisions(compiled: Any) -> dict[str, dict[str, int]]:
    """The precision each compute layer of the executable graph computes in, per layer type:
    the element type of its data input (f32, f16, bf16, u8, i8). Not the layer's
    `runtimePrecision`, which names the f16 *weights* of an FP16 IR run in f32 ("f16") too."""
    counts: dict[str, Counter[str]] = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        layer = info["layerType"].astype(str) if "layerType" in info else op.get_type_name()
        if layer not in COMPUTE_LAYERS:
            continue
        precision = op.input(0).get_element_type().get_type_name() if op.get_input_size() else "?"
        counts.setdefault(layer, Counter())[precision] += 1
    return {layer: dict(c.most_common()) for layer, c in counts.items()}


def _resolved_precision(compiled: Any) -> str:
    return str(compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name())


def _check_precision(compiled: Any, hint: str, layers: dict[str, dict[str, int]], artifact: Artifact) -> None:
    """Refuse a compiled model that does not compute in the precision asked for: OpenVINO
    quietly replaces an unsupported f16 hint by its CPU default (bf16 with avx512_bf16). For
    FP32/FP16 artifacts no compute layer may run in another half precision either."""
    got = _resolved_precision(compiled)
    half: list[str] = []
    if artifact.precision in ("fp32", "fp16"):
        half = sorted({p for counts in layers.values() for p in counts if p in ("bf16", "f16") and p != hint})
    if got != hint or half:
        what = got if got != hint else "/".join(half)
        raise BackendError(
            f"OpenVINO would run {artifact.precision} in {what} here, not the {hint} qtui asked for "
            f"(INFERENCE_PRECISION_HINT={hint}): refused, FP16 never runs as bf16 and FP32 only in f32"
        )


def _fp16_compute(hint: str) -> str:
    if hint == "f16":
        return "fp16 weights, f16 compute (OpenVINO's f16 CPU kernels: 'FP16' in its OPTIMIZATION_CAPABILITIES)"
    return (
        "fp16 weights, f32 compute (OpenVINO has no f16 kernels for this CPU: "
        "INFERENCE_PRECISION_HINT=f32, never its bf16 default)"
    )


def _describe(compiled: Any, precision: str, layers: dict[str, dict[str, int]], jobs: int) -> str:
    got = _resolved_precision(compiled)
    parts = [", ".join(f"{p} ×{n}" for p, n in c.items()) for c in layers.values()]
    desc = "; ".join(f"{layer}: {text}" for layer, text in zip(layers, parts, strict=True))
    head = f"inference precision {got}"
    if precision == "fp16":
        head = f"{_fp16_compute(got)} · {head}"
    streams = compiled.get_property("NUM_STREAMS")
    threads = compiled.get_property("INFERENCE_NUM_THREADS")
    mode = compiled.get_property("PERFORMANCE_HINT")
    return f"{head} · {desc} · {mode}, {streams} stream(s), {jobs} request(s), {threads} threads"


def create() -> Backend:
    return OpenVinoBackend()


def _feed(batch: np.ndarray) -> dict[Any, np.ndarray]:
    """A batch as the compiled model takes it: contiguous float32 for images and float tensors,
    a user model's integer or boolean input in its own type, one array per input of a record
    batch (a model with several inputs)."""
    if batch.dtype.names:
        return {n: _feed(batch[n])[0] for n in batch.dtype.names}
    if batch.dtype.kind in "iub":
        return {0: np.ascontiguousarray(batch)}
    return {0: np.ascontiguousarray(batch, dtype=np.float32)}
