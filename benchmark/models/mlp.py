"""Multi-layer perceptron on flattened inputs."""
from __future__ import annotations

import math

from torch import nn

from benchmark.models.base import Classifier
from benchmark.registry import register_model


@register_model("mlp")
def mlp(input_shape: tuple[int, ...], num_classes: int, hidden: list[int] | tuple[int, ...] = (128,),
        dropout: float = 0.0) -> Classifier:
    """Flatten -> [Linear -> ReLU -> Dropout] x len(hidden) -> Linear. Embedding: last hidden layer."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(input_shape)
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    return Classifier(nn.Sequential(*layers), nn.Linear(width, num_classes))
