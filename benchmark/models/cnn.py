"""A small convolutional network for low-resolution images (8x8 to 32x32)."""
from __future__ import annotations

from torch import nn

from benchmark.models.base import Classifier
from benchmark.core.registry import register_model


@register_model("small_cnn")
def small_cnn(input_shape: tuple[int, ...], num_classes: int, channels: list[int] | tuple[int, ...] = (32, 64),
              dropout: float = 0.0) -> Classifier:
    """[Conv3x3 -> BN -> ReLU -> MaxPool2] per entry of ``channels``, then global average
    pooling (the embedding, width ``channels[-1]``) and a linear head. Input: (N, C, H, W)."""
    if len(input_shape) != 3:
        raise ValueError(f"small_cnn needs image inputs (C, H, W), got input shape {input_shape}")
    layers: list[nn.Module] = []
    c_in = input_shape[0]
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
        c_in = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return Classifier(nn.Sequential(*layers), nn.Linear(c_in, num_classes))
