"""Chunked distance kernels shared by the geometric selection methods (coreset, pcoreset,
badge, cluster_margin).

Everything runs in torch on the PoolState's ``device`` (CUDA when the harness runs there,
CPU otherwise) and never builds a distance block larger than ``CHUNK_ELEMENTS`` entries, so
memory stays O(n·d) for n points of dimension d. Squared Euclidean distances use the
expansion ``‖x - c‖² = ‖x‖² + ‖c‖² - 2 x·c`` (clamped at 0), so a distance block is one
matrix product.

One CPU detail: the greedy methods' inner step is a matrix-vector product that reads the
whole (n, d) matrix once. torch's CPU ``mv`` runs single-threaded (about 15 GB/s on the
machine this was measured on) while numpy's BLAS ``gemv`` uses every core (about 37 GB/s,
the speed of a plain read of the matrix), so ``matvec`` hands CPU tensors to numpy; the
arrays are shared, not copied.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

CHUNK_ELEMENTS = 1 << 22  # entries of one distance block: 4M float32 = 16 MB


def resolve(device: str | torch.device) -> torch.device:
    """A torch device from a PoolState's ``device`` string; CUDA requested but absent -> CPU."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        return torch.device("cpu")
    return dev


def as_tensor(a: Any, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``a`` (numpy array or tensor) as a tensor on ``device``; CPU numpy float32 input is shared,
    not copied. The result must be treated as read-only (PoolState arrays are)."""
    if isinstance(a, torch.Tensor):
        return a.to(device=device, dtype=dtype)
    arr = np.ascontiguousarray(a)
    with warnings.catch_warnings():  # read-only arrays: we never write through the tensor
        warnings.simplefilter("ignore", UserWarning)
        t = torch.from_numpy(arr)
    return t.to(device=device, dtype=dtype)


def check_finite(x: torch.Tensor, what: str) -> None:
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{what} contains NaN or infinite values")


def matvec(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """x (n, d) @ v (d,) -> (n,). Memory-bound: reads x once (see the module note on CPU)."""
    if x.device.type == "cpu" and x.dtype == torch.float32 and x.is_contiguous():
        return torch.from_numpy(x.numpy() @ v.contiguous().numpy())
    return x @ v


def sq_norms(x: torch.Tensor) -> torch.Tensor:
    """Row squared norms: x (n, d) -> (n,), computed in row chunks."""
    n, d = x.shape
    rows = max(1, CHUNK_ELEMENTS // max(d, 1))
    out = torch.empty(n, dtype=x.dtype, device=x.device)
    for s in range(0, n, rows):
        xc = x[s:s + rows]
        out[s:s + rows] = (xc * xc).sum(dim=1)
    return out


def _blocks(n: int, m: int) -> tuple[int, int]:
    """Row and column block sizes so that a block has at most ~CHUNK_ELEMENTS entries."""
    cols = min(m, max(1, CHUNK_ELEMENTS // 64))
    rows = max(1, CHUNK_ELEMENTS // max(cols, 1))
    return min(rows, max(n, 1)), max(cols, 1)


def min_sq_dist(x: torch.Tensor, c: torch.Tensor, x_norms: torch.Tensor | None = None,
                c_norms: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distance of every row of x (n, d) to its nearest row of c (m, d), and that row's
    index: (n,), (n,) int64. Blocked; never holds more than one (rows, cols) block."""
    n, m = x.shape[0], c.shape[0]
    if m == 0:
        raise ValueError("min_sq_dist needs at least one center")
    xn = sq_norms(x) if x_norms is None else x_norms
    cn = sq_norms(c) if c_norms is None else c_norms
    best = torch.full((n,), float("inf"), dtype=x.dtype, device=x.device)
    arg = torch.zeros(n, dtype=torch.int64, device=x.device)
    rows, cols = _blocks(n, m)
    for s in range(0, n, rows):
        xs = x[s:s + rows]
        for t in range(0, m, cols):
            d = torch.addmm(cn[None, t:t + cols], xs, c[t:t + cols].T, beta=1.0, alpha=-2.0)
            d += xn[s:s + rows, None]
            val, idx = d.min(dim=1)
            better = val < best[s:s + rows]
            best[s:s + rows] = torch.where(better, val, best[s:s + rows])
            arg[s:s + rows] = torch.where(better, idx + t, arg[s:s + rows])
    return best.clamp_(min=0.0), arg


def pairwise_sq_dist_block(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One block of squared distances, x (a, d) and y (b, d) -> (a, b); the caller bounds a·b."""
    d = torch.addmm(sq_norms(y)[None, :], x, y.T, beta=1.0, alpha=-2.0)
    d += sq_norms(x)[:, None]
    return d.clamp_(min=0.0)
