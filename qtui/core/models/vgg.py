"""VGG-19 (configuration "E", no BatchNorm) in plain torch, compatible with torchvision's `vgg19()`.

Module tree `features.N` (convs at 0, 2, 5, 7, 10, …, 34), `avgpool` (7×7 adaptive) and
`classifier.0/3/6` (Linear layers with ReLU and dropout between), built in torchvision's order
with torchvision's default initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

# Output channels of each 3×3 conv; "M" is a 2×2 max pool.
# fmt: off
CFG_E: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)
# fmt: on


def make_layers(cfg: tuple[int | str, ...] = CFG_E) -> nn.Sequential:
    """The convolutional trunk: Conv2d(3×3, pad 1) + ReLU per entry, MaxPool2d(2) per "M"."""
    layers: list[nn.Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            out_channels = int(v)
            layers += [
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
            ]
            in_channels = out_channels
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG with torchvision's head: AdaptiveAvgPool 7×7 → 4096 → 4096 → classes, dropout 0.5."""

    def __init__(
        self, features: nn.Sequential, num_classes: int = 1000, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def vgg19(num_classes: int = 1000) -> VGG:
    """A freshly initialised VGG-19 without BatchNorm (training mode, like torchvision's)."""
    return VGG(make_layers(CFG_E), num_classes=num_classes)
