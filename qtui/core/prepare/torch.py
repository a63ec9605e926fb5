"""PyTorch artifacts: FP32 as the model's state dict (rebuilt into the eager model at load time)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtui.core.prepare import PrepareError, dist_version

#: Implemented precisions and what each means here (shown by `qtui doctor` and the TUI).
PRECISIONS: dict[str, str] = {
    "fp32": "eager, channels_last",
}


def unavailable_reason(precision: str) -> str | None:
    """Why `precision` cannot be prepared/run on this machine (None: it can)."""
    if precision not in PRECISIONS:
        return f"PyTorch {precision} is not implemented in this qtui version"
    return None


def check_supported(precision: str) -> None:
    reason = unavailable_reason(precision)
    if reason:
        raise PrepareError(reason)


def tool_versions() -> dict[str, str | None]:
    return {"torch": dist_version("torch")}


def prepare(
    loaded: Any,
    precision: str,
    out_dir: Path,
    calibration_batches: Callable[[], Any] | None,
    progress: Callable[[str, float | None], None],
) -> dict[str, Any]:
    import torch

    progress("saving PyTorch state dict", None)
    torch.save(loaded.module.state_dict(), out_dir / "model.pt")
    return {"file": "model.pt", "format": "state_dict", "details": {"model": loaded.name}}
