"""PyTorch backend: FP32 eager with channels_last, inference mode, explicit thread count."""

from __future__ import annotations

import numpy as np
import torch

from qtui.core.backends import Artifact, Backend, BackendError


class TorchBackend(Backend):
    framework = "torch"

    def __init__(self) -> None:
        self._module: torch.nn.Module | None = None
        self._dtype = torch.float32

    def load(self, artifact: Artifact, threads: int, scenario: str) -> None:
        from qtui.core.models import build_model

        torch.set_num_threads(threads)
        kind = artifact.meta.get("format", "state_dict")
        try:
            if kind == "state_dict":
                module = build_model(artifact.meta["model"])
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
        if artifact.precision == "fp16":
            module = module.half()
            self._dtype = torch.float16
        if kind == "state_dict":
            module = module.to(memory_format=torch.channels_last)
        self._module = module

    def predict(self, batch: np.ndarray) -> np.ndarray:
        assert self._module is not None, "load() first"
        with torch.inference_mode():
            x = torch.from_numpy(batch)
            if self._dtype != torch.float32:
                x = x.to(self._dtype)
            x = x.contiguous(memory_format=torch.channels_last)
            out = self._module(x)
        return out.float().numpy()

    def version(self) -> str:
        return torch.__version__

    def executed_precision(self) -> str:
        return f"eager {str(self._dtype).replace('torch.', '')}, channels_last, {torch.get_num_threads()} threads"

    def close(self) -> None:
        self._module = None


def create() -> Backend:
    return TorchBackend()
