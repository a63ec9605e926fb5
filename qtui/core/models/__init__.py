"""The benchmark's CNNs: MobileNetV2, VGG-19, DenseNet-121 and ResNet-50 v1.5 in plain torch, plus
their weights; which ones, and their names, come from the model table (`qtui.core.model_table`).

The architectures are state-dict compatible with torchvision's `mobilenet_v2()`, `vgg19()`,
`densenet121()` and `resnet50()` (torchvision itself is not needed). `build_model` gives an architecture with
torchvision's default initialisation; `load_model` gives one with seeded random (BatchNorm
recalibrated), torchvision ImageNet or file weights, plus a digest and provenance.

Importing this package does not import torch: `qtui doctor` imports it and must stay light.
"""

from __future__ import annotations

from .architectures import MODEL_NAMES, MODEL_TITLES, architecture, build_model
from .weights import LoadedModel, WeightsError, load_model

__all__ = [
    "MODEL_NAMES",
    "MODEL_TITLES",
    "LoadedModel",
    "WeightsError",
    "architecture",
    "build_model",
    "load_model",
]
