"""Multi-layer perceptron on flattened inputs."""
from __future__ import annotations

import math

from torch import nn

from benchmark.models.base import Classifier, mlp_classifier
from benchmark.core.registry import register_model


@register_model("mlp")
def mlp(input_shape: tuple[int, ...], num_classes: int, hidden: list[int] | tuple[int, ...] = (128,),
        dropout: float = 0.0) -> Classifier:
    """Flatten -> [Linear -> ReLU -> Dropout] x len(hidden) -> Linear. Embedding: last hidden layer."""
    return mlp_classifier(nn.Flatten(), math.prod(input_shape), hidden, num_classes, dropout)
