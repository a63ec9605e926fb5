"""ONNX Runtime backend: CPU execution provider, explicit intra-op threads, full graph optimisation."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnxruntime as ort

from qtui.core.backends import Artifact, Backend, BackendError


class OnnxRuntimeBackend(Backend):
    framework = "onnxruntime"

    def __init__(self) -> None:
        self._session: ort.InferenceSession | None = None
        self._input = ""
        self._output = ""
        self._executed = ""

    def load(self, artifact: Artifact, threads: int, scenario: str) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(artifact.path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
            raise BackendError(f"ONNX Runtime could not load {artifact.path}: {exc}") from exc
        inp = self._session.get_inputs()[0]
        self._input = inp.name
        self._output = self._session.get_outputs()[0].name
        dim0 = inp.shape[0]
        self.max_batch = dim0 if isinstance(dim0, int) else None
        self._executed = _describe_ops(artifact, inp.type)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        assert self._session is not None, "load() first"
        return self._session.run([self._output], {self._input: batch})[0]

    def version(self) -> str:
        return ort.__version__

    def executed_precision(self) -> str:
        return self._executed

    def close(self) -> None:
        self._session = None


def _describe_ops(artifact: Artifact, input_type: str) -> str:
    """Summarise the compute ops of the ONNX graph (e.g. 'Conv×52 float32')."""
    try:
        import onnx

        model = onnx.load(str(artifact.path), load_external_data=False)
        ops = Counter(n.op_type for n in model.graph.node)
        heavy = [op for op in ("Conv", "ConvInteger", "QLinearConv", "MatMul", "MatMulInteger", "Gemm", "QuantizeLinear", "DequantizeLinear") if op in ops]
        desc = ", ".join(f"{op}×{ops[op]}" for op in heavy)
        return f"{desc} (input {input_type})" if desc else f"input {input_type}"
    except Exception:  # onnx not installed or unreadable: still report the input type
        return f"input {input_type}"


def create() -> Backend:
    return OnnxRuntimeBackend()
