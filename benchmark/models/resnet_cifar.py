"""CIFAR-style ResNets (He, Zhang, Ren & Sun, *Deep Residual Learning for Image Recognition*,
CVPR 2016, section 4.2): a 3x3 stem with ``width`` filters, three stages of ``n`` basic
blocks each with ``width``, ``2*width`` and ``4*width`` filters (stride 2 at the start of
stages 2 and 3), global average pooling (the embedding, ``4*width`` wide), optional dropout
on the pooled features (``dropout`` > 0; 0 by default, as in the paper) and a linear head.
Depth = 6n + 2: ResNet-20 (n = 3, 0.27M parameters) and ResNet-56 (n = 9, 0.85M).

Shortcuts: ``shortcut: A`` (the paper's CIFAR choice, parameter-free) subsamples the input
with stride 2 and zero-pads the new channels; ``shortcut: B`` uses a 1x1 convolution with
batch norm where the shape changes. Input (N, C, H, W), any C, H, W >= 8.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.models.base import Classifier
from benchmark.core.registry import register_model


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, shortcut: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.stride, self.pad = stride, c_out - c_in
        self.proj: nn.Module | None = None
        if shortcut == "B" and (stride != 1 or c_in != c_out):
            self.proj = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.proj is not None:
            return self.proj(x)
        if self.stride != 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, 0, self.pad))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self._shortcut(x))


class ConvNet(Classifier):
    channels_last = True


def _init(m: nn.Module) -> None:
    for mod in m.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(mod, nn.BatchNorm2d):
            nn.init.ones_(mod.weight)
            nn.init.zeros_(mod.bias)


@register_model("resnet_cifar")
def resnet_cifar(input_shape: tuple[int, ...], num_classes: int, depth: int = 20, width: int = 16,
                 shortcut: str = "A", dropout: float = 0.0) -> Classifier:
    """ResNet-``depth`` (depth = 6n + 2) for (N, C, H, W) inputs; embedding width ``4*width``;
    ``dropout`` on the pooled features before the head."""
    if len(input_shape) != 3:
        raise ValueError(f"resnet_cifar needs image inputs (C, H, W), got input shape {input_shape}")
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"resnet_cifar: depth must be 6n + 2 (20, 32, 44, 56, 110), got {depth}")
    if shortcut not in ("A", "B"):
        raise ValueError(f"resnet_cifar: shortcut must be 'A' or 'B', got {shortcut!r}")
    n = (depth - 2) // 6
    layers: list[nn.Module] = [nn.Conv2d(input_shape[0], width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    c = width
    for stage, c_out in enumerate((width, 2 * width, 4 * width)):
        for i in range(n):
            layers.append(BasicBlock(c, c_out, 2 if (stage > 0 and i == 0) else 1, shortcut))
            c = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    model = ConvNet(nn.Sequential(*layers), nn.Linear(c, num_classes))
    _init(model)
    return model


@register_model("resnet20")
def resnet20(input_shape: tuple[int, ...], num_classes: int, width: int = 16, shortcut: str = "A",
             dropout: float = 0.0) -> Classifier:
    """ResNet-20 (n = 3): 0.27M parameters at width 16."""
    return resnet_cifar(input_shape, num_classes, depth=20, width=width, shortcut=shortcut, dropout=dropout)


@register_model("resnet56")
def resnet56(input_shape: tuple[int, ...], num_classes: int, width: int = 16, shortcut: str = "A",
             dropout: float = 0.0) -> Classifier:
    """ResNet-56 (n = 9): 0.85M parameters at width 16."""
    return resnet_cifar(input_shape, num_classes, depth=56, width=width, shortcut=shortcut, dropout=dropout)
