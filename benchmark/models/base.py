"""The ``Classifier`` interface shared by every registered model, and ``build_model``."""
from __future__ import annotations

import inspect

import torch
from torch import nn

from benchmark.config import ConfigError, ModelSpec
from benchmark.registry import MODELS


class Classifier(nn.Module):
    """``features``: inputs (N, ...) -> (N, d); ``head``: (N, d) -> logits (N, C)."""

    def __init__(self, features: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.head = head

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def build_model(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int) -> Classifier:
    """Instantiate a registered model; bad parameters give a one-line error."""
    factory = MODELS.get(spec.name)
    sig = inspect.signature(factory)
    unknown = sorted(set(spec.params) - set(sig.parameters))
    if unknown:
        valid = [p for p in sig.parameters if p not in ("input_shape", "num_classes")]
        raise ConfigError(f"model {spec.name!r}: unknown parameter {unknown[0]!r}; valid parameters: {valid}")
    return factory(input_shape=tuple(input_shape), num_classes=num_classes, **spec.params)
