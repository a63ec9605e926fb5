"""ONNX Runtime artifacts: FP32 export from the torch model with a dynamic batch dimension."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtui.core.prepare import PrepareError, dist_version

#: Implemented precisions and what each means here (shown by `qtui doctor` and the TUI).
PRECISIONS: dict[str, str] = {
    "fp32": "torch → ONNX export (opset 17), CPU execution provider",
}
OPSET = 17


def unavailable_reason(precision: str) -> str | None:
    """Why `precision` cannot be prepared/run on this machine (None: it can)."""
    if precision not in PRECISIONS:
        return f"ONNX Runtime {precision} is not implemented in this qtui version"
    return None


def check_supported(precision: str) -> None:
    reason = unavailable_reason(precision)
    if reason:
        raise PrepareError(reason)
    for dist in ("torch", "onnx"):
        if dist_version(dist) is None:
            raise PrepareError(
                f"exporting to ONNX needs {dist}: pip install 'qtui[torch,onnxruntime]' "
                "(or import a prepared bundle)"
            )


def tool_versions() -> dict[str, str | None]:
    return {"torch": dist_version("torch"), "onnx": dist_version("onnx"), "opset": str(OPSET)}


def export_fp32(loaded: Any, path: Path) -> None:
    """Export the eval-mode torch model to ONNX (legacy TorchScript exporter, dynamic batch)."""
    import torch

    dummy = torch.zeros(1, 3, 224, 224)
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            loaded.module,
            (dummy,),
            str(path),
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def prepare(
    loaded: Any,
    precision: str,
    out_dir: Path,
    calibration_batches: Callable[[], Any] | None,
    progress: Callable[[str, float | None], None],
) -> dict[str, Any]:
    progress("exporting to ONNX", None)
    export_fp32(loaded, out_dir / "model.onnx")
    return {"file": "model.onnx", "format": "onnx", "details": {"opset": OPSET}}
