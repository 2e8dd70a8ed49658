"""The ``Classifier`` interface shared by every registered model, and ``build_model``."""
from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from benchmark.core.config import ConfigError, ModelSpec
from benchmark.core.errors import UnknownNameError
from benchmark.core.registry import MODELS


class Classifier(nn.Module):
    """``features``: inputs (N, ...) -> (N, d); ``head``: (N, d) -> logits (N, C).

    Optional class attributes read by the training code: ``eval_batch_size`` (rows per
    no-grad pass; large for small models, small for transformers) and ``channels_last``
    (True for CNNs: NHWC memory format on the GPU)."""

    eval_batch_size: int = 8192
    channels_last: bool = False

    def __init__(self, features: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.head = head

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def mlp_classifier(first: nn.Module, width: int, hidden: list[int] | tuple[int, ...], num_classes: int,
                   dropout: float = 0.0) -> Classifier:
    """``first`` (inputs -> (N, width)) -> [Linear -> ReLU (-> Dropout)] x len(hidden) -> Linear head.
    The embedding is the last hidden layer (``width`` when ``hidden`` is empty). With no hidden
    layer, ``dropout`` > 0 applies to ``first``'s output, before the head."""
    layers: list[nn.Module] = [first]
    if not hidden and dropout > 0:
        layers.append(nn.Dropout(dropout))
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    return Classifier(nn.Sequential(*layers), nn.Linear(width, num_classes))


def check_model_spec(spec: ModelSpec, where: str = "") -> tuple[Any, inspect.Signature]:
    """The factory of a registered model and its signature; raises ``ConfigError`` (one line,
    prefixed by ``where``, e.g. ``task digits: field 'student'``) for an unknown name, with the
    valid names and the closest one, or an unknown constructor parameter, with the valid ones."""
    prefix = f"{where}: " if where else ""
    try:
        factory = MODELS.get(spec.name)
    except UnknownNameError as e:
        raise ConfigError(f"{prefix}{e}") from None
    sig = inspect.signature(factory)
    unknown = sorted(set(spec.params) - set(sig.parameters))
    if unknown:
        valid = [p for p in sig.parameters if p not in ("input_shape", "num_classes")]
        raise ConfigError(f"{prefix}model {spec.name!r}: unknown parameter {unknown[0]!r}; valid parameters: {valid}")
    return factory, sig


def build_model(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int,
                info: dict[str, Any] | None = None) -> Classifier:
    """Instantiate a registered model; bad parameters give a one-line error.

    ``info`` is the dataset's ``meta`` (e.g. ``vocab_size`` and ``tokenizer`` of text tasks):
    an entry whose key is a parameter of the factory is passed unless the spec sets it."""
    factory, sig = check_model_spec(spec)
    extra = {k: v for k, v in (info or {}).items()
             if k in sig.parameters and k not in spec.params and k not in ("input_shape", "num_classes")}
    return factory(input_shape=tuple(input_shape), num_classes=num_classes, **extra, **spec.params)
