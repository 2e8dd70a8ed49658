"""A MobileNetV2-style student for small images (Sandler et al., *MobileNetV2: Inverted
Residuals and Linear Bottlenecks*, CVPR 2018).

Inverted residual blocks (1x1 expand -> 3x3 depthwise -> 1x1 linear projection, residual
when the shape is kept) with the paper's stage table (t, c, n, s), adapted to 32x32 inputs
as is usual for CIFAR: the stem and the first two downsampling stages use stride 1, so a
32x32 input leaves the last stage at 4x4. ``width_mult`` scales every channel count
(rounded to multiples of 8); the embedding is the 1x1 conv to ``last_channels`` after
global average pooling. Input (N, C, H, W).
"""
from __future__ import annotations

import torch
from torch import nn

from benchmark.models.base import Classifier
from benchmark.models.resnet_cifar import ConvNet, _init
from benchmark.core.registry import register_model

# (expansion t, output channels c, repeats n, first stride s); strides adapted to 32x32
_STAGES = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _round8(v: float) -> int:
    return max(8, int(v + 4) // 8 * 8)


class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, t: int) -> None:
        super().__init__()
        hidden = c_in * t
        layers: list[nn.Module] = []
        if t != 1:
            layers += [nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
                   nn.ReLU6(), nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


@register_model("mobilenetv2")
def mobilenetv2(input_shape: tuple[int, ...], num_classes: int, width_mult: float = 0.5,
                last_channels: int = 320, dropout: float = 0.0) -> Classifier:
    """MobileNetV2 for (N, C, H, W); embedding width ``last_channels``. At width 0.5 with
    320 last channels: 0.54M parameters."""
    if len(input_shape) != 3:
        raise ValueError(f"mobilenetv2 needs image inputs (C, H, W), got input shape {input_shape}")
    c = _round8(32 * width_mult)
    layers: list[nn.Module] = [nn.Conv2d(input_shape[0], c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU6()]
    for t, ch, n, s in _STAGES:
        c_out = _round8(ch * width_mult)
        for i in range(n):
            layers.append(InvertedResidual(c, c_out, s if i == 0 else 1, t))
            c = c_out
    layers += [nn.Conv2d(c, last_channels, 1, bias=False), nn.BatchNorm2d(last_channels), nn.ReLU6(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    model = ConvNet(nn.Sequential(*layers), nn.Linear(last_channels, num_classes))
    _init(model)
    return model
