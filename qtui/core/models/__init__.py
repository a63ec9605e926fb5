"""The benchmark's CNNs: MobileNetV2, VGG-19, DenseNet-121 and ResNet-50 v1.5 in plain torch, plus
their weights; which ones, and their names, come from the model table (`qtui.core.model_table`).

The architectures are state-dict compatible with torchvision's `mobilenet_v2()`, `vgg19()`,
`densenet121()` and `resnet50()` (torchvision itself is not needed). `build_model` gives an architecture with
torchvision's default initialisation; `load_model` gives one with seeded random (BatchNorm
recalibrated), torchvision ImageNet or file weights, plus a digest and provenance.

Importing this package does not import torch: `qtui doctor` imports it and must stay light.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from qtui.core import model_table as _table

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

#: The built-in models' ids and titles, from the model table (`qtui.core.model_table`).
MODEL_NAMES: tuple[str, ...] = _table.IDS
MODEL_TITLES: dict[str, str] = {m.id: m.title for m in _table.TABLE}


def architecture(name: str) -> Callable[[], torch.nn.Module]:
    """The constructor of model `name` (imports torch). Raises ValueError for unknown names."""
    try:
        module_name, function = _table.info(name).constructor.split(":")
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}") from None
    constructor: Callable[[], torch.nn.Module] = getattr(importlib.import_module(module_name), function)
    return constructor


def build_model(name: str) -> torch.nn.Module:
    """Model `name` with torchvision's default (random) initialisation, in eval mode."""
    return architecture(name)().eval()
