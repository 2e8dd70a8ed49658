"""Small, fast text students on token ids (N, L) int64, padded with -1 (the attention mask
is ``x >= 0``). ``vocab_size`` comes from the task's tokenizer (``LoadedData.meta``).

- ``embedding_bag``: the masked mean of learned token embeddings, then an MLP (a fastText-
  style bag of words; Joulin et al., *Bag of Tricks for Efficient Text Classification*,
  EACL 2017). Embedding: the last hidden layer (or the mean embedding with no hidden layer).
- ``tiny_transformer``: a pre-norm Transformer encoder (Vaswani et al., 2017) with learned
  positions and masked mean pooling; embedding: the pooled ``dim``-wide vector.
"""
from __future__ import annotations

import torch
from torch import nn

from benchmark.models.base import Classifier, mlp_classifier
from benchmark.core.registry import register_model


def right_padded(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (N, L) padded with -1 on either side (or both) -> (ids, mask), (N, W) each:
    every row's real tokens moved to the front in order, cut to W = the most real tokens in
    a row (at least 1), and ``mask = ids >= 0``. So a model sees the same sequence (positions
    from 0) whether the tokenizer padded on the left or on the right; right-padded input is
    only cut."""
    mask = x >= 0
    if x.shape[1] > 1 and bool((mask[:, 1:] & ~mask[:, :-1]).any()):  # a real token after padding
        order = torch.argsort((~mask).to(torch.uint8), dim=1, stable=True)
        x, mask = x.gather(1, order), mask.gather(1, order)
    width = int(mask.sum(1).max().clamp_min(1)) if len(x) else 1
    return x[:, :width], mask[:, :width]


def _check_text(name: str, input_shape: tuple[int, ...], vocab_size: int | None) -> int:
    if len(input_shape) != 1:
        raise ValueError(f"{name} needs token-id inputs (L,), got input shape {input_shape}")
    if not vocab_size or vocab_size < 2:
        raise ValueError(f"{name}: vocab_size is unknown; use a text task (its tokenizer sets it) or set "
                         f"student params vocab_size")
    return int(vocab_size)


class MeanEmbedding(nn.Module):
    """(N, L) ids with -1 padding -> (N, dim) masked mean of embeddings. With ``buckets``,
    token ids are hashed into that many rows (the hashing trick of fastText), which shrinks
    the table, and so the optimizer's work per step, for large vocabularies."""

    def __init__(self, vocab_size: int, dim: int, buckets: int | None = None) -> None:
        super().__init__()
        self.buckets = int(buckets) if buckets else None
        self.rows = self.buckets or vocab_size
        # one extra row for padding, excluded from the mean by padding_idx
        self.emb = nn.EmbeddingBag(self.rows + 1, dim, mode="mean", padding_idx=self.rows)
        with torch.no_grad():
            nn.init.normal_(self.emb.weight, std=0.1)
            self.emb.weight[self.rows].zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = (x * 2654435761) % self.buckets if self.buckets else x
        return self.emb(torch.where(x >= 0, ids, torch.full_like(x, self.rows)))


class TextEncoder(nn.Module):
    """(N, L) ids -> (N, dim): embeddings + positions, ``layers`` pre-norm encoder layers,
    masked mean pooling. Rows are right-aligned and trimmed to the longest unpadded length in
    the batch (``right_padded``), so the padding side does not matter."""

    def __init__(self, vocab_size: int, max_len: int, dim: int, layers: int, heads: int, ff: int,
                 dropout: float) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab_size, dim)
        self.pos = nn.Embedding(max_len, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, ff, dropout, batch_first=True, norm_first=True,
                                           activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, mask = right_padded(x)
        h = self.tok(x.clamp_min(0)) + self.pos(torch.arange(x.shape[1], device=x.device))[None]
        h = self.norm(self.encoder(h, src_key_padding_mask=~mask))
        m = mask[..., None].to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp_min(1)


@register_model("embedding_bag")
def embedding_bag(input_shape: tuple[int, ...], num_classes: int, vocab_size: int | None = None, dim: int = 64,
                  hidden: list[int] | tuple[int, ...] = (), dropout: float = 0.0,
                  buckets: int | None = None) -> Classifier:
    """Bag of embeddings (``buckets`` hashed rows, or one row per token) ->
    [Linear -> ReLU -> Dropout] x len(hidden) -> Linear; with no hidden layer, ``dropout`` > 0
    applies to the mean embedding."""
    v = _check_text("embedding_bag", input_shape, vocab_size)
    return mlp_classifier(MeanEmbedding(v, dim, buckets), dim, hidden, num_classes, dropout)


@register_model("tiny_transformer")
def tiny_transformer(input_shape: tuple[int, ...], num_classes: int, vocab_size: int | None = None, dim: int = 64,
                     layers: int = 2, heads: int = 4, ff: int = 128, dropout: float = 0.1) -> Classifier:
    """A ``layers``-layer Transformer encoder of width ``dim`` with mean pooling."""
    v = _check_text("tiny_transformer", input_shape, vocab_size)
    model = Classifier(TextEncoder(v, int(input_shape[0]), dim, layers, heads, ff, dropout), nn.Linear(dim, num_classes))
    model.eval_batch_size = 1024
    return model
