"""The benchmark's CNNs: MobileNetV2, VGG-19 and DenseNet-121 in plain torch, plus their weights.

The architectures are state-dict compatible with torchvision's `mobilenet_v2()`, `vgg19()` and
`densenet121()` (torchvision itself is not needed). `build_model` gives an architecture with
torchvision's default initialisation; `load_model` gives one with seeded random (BatchNorm
recalibrated), torchvision ImageNet or file weights, plus a digest and provenance.

Importing this package does not import torch: `qtui doctor` imports it and must stay light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .weights import LoadedModel, WeightsError, load_model

if TYPE_CHECKING:
    import torch

__all__ = [
    "MODEL_NAMES",
    "MODEL_TITLES",
    "LoadedModel",
    "WeightsError",
    "architecture",
    "build_model",
    "load_model",
]

MODEL_NAMES: tuple[str, ...] = ("mobilenet_v2", "vgg19", "densenet121")
MODEL_TITLES: dict[str, str] = {
    "mobilenet_v2": "MobileNetV2",
    "vgg19": "VGG-19",
    "densenet121": "DenseNet-121",
}


def architecture(name: str) -> Callable[[], torch.nn.Module]:
    """The constructor of model `name` (imports torch). Raises ValueError for unknown names."""
    if name == "mobilenet_v2":
        from .mobilenet_v2 import mobilenet_v2

        return mobilenet_v2
    if name == "vgg19":
        from .vgg import vgg19

        return vgg19
    if name == "densenet121":
        from .densenet import densenet121

        return densenet121
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


def build_model(name: str) -> torch.nn.Module:
    """Model `name` with torchvision's default (random) initialisation, in eval mode."""
    return architecture(name)().eval()
