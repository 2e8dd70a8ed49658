"""Batched image augmentation on the training device: random crop with zero padding and
random horizontal flip (the standard CIFAR recipe of He et al., 2016), with no per-sample
Python work: one gather builds every crop of the batch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def crop_flip(x: torch.Tensor, padding: int, gen: torch.Generator, flip: bool = True) -> torch.Tensor:
    """x: (N, C, H, W) -> (N, C, H, W): each image shifted by a random offset in
    [-padding, padding]^2 (zero fill) and, if ``flip``, mirrored left-right with probability 1/2.
    ``gen`` lives on x's device; the result is deterministic for a given generator state."""
    n, c, h, w = x.shape
    if padding > 0:
        p = padding
        xp = F.pad(x, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (n,), device=x.device, generator=gen)
        dx = torch.randint(0, 2 * p + 1, (n,), device=x.device, generator=gen)
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (N, 1, H, 1)
        cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (N, 1, 1, W)
        n_idx = torch.arange(n, device=x.device)[:, None, None, None]
        c_idx = torch.arange(c, device=x.device)[None, :, None, None]
        x = xp[n_idx, c_idx, rows, cols]
    if not flip:
        return x
    mirror = torch.rand(n, device=x.device, generator=gen) < 0.5
    return torch.where(mirror[:, None, None, None], x.flip(3), x)
