"""ResNet-50 v1.5 in plain torch, state-dict compatible with torchvision's `resnet50()`.

MLPerf's edge image-classification reference model. v1.5: a bottleneck block downsamples in its
3×3 convolution (`conv2`, stride 2), not in its first 1×1 (`conv1`) as the original paper's
v1 did — torchvision's layout, whose IMAGENET1K_V1 checkpoint this module loads.

Module tree `conv1`, `bn1`, `layer1`…`layer4` (3, 4, 6 and 3 bottlenecks `layerL.B.{conv1,
bn1,conv2,bn2,conv3,bn3}`, the first of each with a `downsample.0` 1×1 conv and
`downsample.1` BatchNorm) and a Linear `fc`, built in torchvision's order with torchvision's
default initialisation (kaiming normal fan-out convolutions, BatchNorm weight 1 and bias 0, no
zero-initialised residual BatchNorm).
"""

from __future__ import annotations

import torch
from torch import nn

#: Bottlenecks per stage of ResNet-50.
LAYERS: tuple[int, ...] = (3, 4, 6, 3)
EXPANSION = 4


def _conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class Bottleneck(nn.Module):
    """1×1 reduce → 3×3 (stride here: v1.5) → 1×1 expand ×4, plus the shortcut."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * EXPANSION)
        self.bn3 = nn.BatchNorm2d(planes * EXPANSION)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet with bottleneck blocks, torchvision's layout and initialisation."""

    def __init__(self, layers: tuple[int, ...] = LAYERS, num_classes: int = 1000) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * EXPANSION, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample: nn.Module | None = None
        if stride != 1 or self.inplanes != planes * EXPANSION:
            downsample = nn.Sequential(
                _conv1x1(self.inplanes, planes * EXPANSION, stride), nn.BatchNorm2d(planes * EXPANSION)
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * EXPANSION
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resnet50(num_classes: int = 1000) -> ResNet:
    """A freshly initialised ResNet-50 v1.5 (bottlenecks 3-4-6-3; training mode)."""
    return ResNet(LAYERS, num_classes)
