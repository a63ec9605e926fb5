"""DenseNet-121 in plain torch, state-dict compatible with torchvision's `densenet121()`.

Module tree `features.conv0/norm0`, `features.denseblockB.denselayerL.{norm1,conv1,norm2,conv2}`,
`features.transitionT.{norm,conv}`, `features.norm5` and a Linear `classifier`, built in
torchvision's order with torchvision's default initialisation. `remap_legacy_keys` renames the
old-style keys (`norm.1`, `conv.2`, …) found in the published checkpoint.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

GROWTH_RATE = 32
BLOCK_CONFIG: tuple[int, ...] = (6, 12, 24, 16)
NUM_INIT_FEATURES = 64
BN_SIZE = 4

# '.' is no longer allowed in module names, but the published checkpoint still has
# 'denselayerN.norm.1.weight' etc.; this matches those keys (torchvision uses the same pattern).
LEGACY_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def remap_legacy_keys(state_dict: Mapping[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """Copy of `state_dict` with `…denselayerN.norm.1.weight` renamed `…denselayerN.norm1.weight`."""
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, value in state_dict.items():
        match = LEGACY_KEY.match(key)
        out[match.group(1) + match.group(2) if match else key] = value
    return out


class DenseLayer(nn.Module):
    """BN-ReLU-Conv1×1 (bottleneck, bn_size·k channels) then BN-ReLU-Conv3×3 (k new channels)."""

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(
            num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False
        )
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(
            bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False
        )

    def forward(self, prev_features: list[torch.Tensor]) -> torch.Tensor:
        concatenated = torch.cat(prev_features, 1)
        bottleneck = self.conv1(self.relu1(self.norm1(concatenated)))
        return self.conv2(self.relu2(self.norm2(bottleneck)))


class DenseBlock(nn.ModuleDict):
    """`num_layers` dense layers, each fed the concatenation of all earlier outputs."""

    def __init__(
        self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int
    ) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features: torch.Tensor) -> torch.Tensor:
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """BN-ReLU-Conv1×1 halving the channels, then 2×2 average pooling."""

    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(num_input_features))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module(
            "conv",
            nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False),
        )
        self.add_module("pool", nn.AvgPool2d(kernel_size=2, stride=2))


class DenseNet(nn.Module):
    """DenseNet-BC ("Densely Connected Convolutional Networks"), torchvision's layout."""

    def __init__(
        self,
        growth_rate: int = GROWTH_RATE,
        block_config: tuple[int, ...] = BLOCK_CONFIG,
        num_init_features: int = NUM_INIT_FEATURES,
        bn_size: int = BN_SIZE,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            OrderedDict(
                [
                    (
                        "conv0",
                        nn.Conv2d(
                            3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False
                        ),
                    ),
                    ("norm0", nn.BatchNorm2d(num_init_features)),
                    ("relu0", nn.ReLU(inplace=True)),
                    ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
                ]
            )
        )
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, num_features, bn_size, growth_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(
                    f"transition{i + 1}", Transition(num_features, num_features // 2)
                )
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)
        out = F.relu(features, inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1))
        out = torch.flatten(out, 1)
        return self.classifier(out)


def densenet121(num_classes: int = 1000) -> DenseNet:
    """A freshly initialised DenseNet-121 (k = 32, blocks 6-12-24-16; training mode)."""
    return DenseNet(GROWTH_RATE, BLOCK_CONFIG, NUM_INIT_FEATURES, BN_SIZE, num_classes)
