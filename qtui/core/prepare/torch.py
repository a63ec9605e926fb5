"""PyTorch artifacts: FP32 as the model's state dict (rebuilt into the eager model at load time)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtui.core.prepare import PrepareError, dist_version

SUPPORTED = ("fp32",)


def check_supported(precision: str) -> None:
    if precision not in SUPPORTED:
        raise PrepareError(f"PyTorch {precision} is not available in this qtui yet (supported: {', '.join(SUPPORTED)})")


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
