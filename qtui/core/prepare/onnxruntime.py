"""ONNX Runtime artifacts: FP32 export from the torch model with a dynamic batch dimension."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtui.core.prepare import PrepareError, dist_version

SUPPORTED = ("fp32",)
OPSET = 17


def check_supported(precision: str) -> None:
    if precision not in SUPPORTED:
        raise PrepareError(f"ONNX Runtime {precision} is not available in this qtui yet (supported: {', '.join(SUPPORTED)})")
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
