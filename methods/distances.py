"""Chunked distance kernels shared by the geometric selection methods (coreset, pcoreset,
badge, cluster_margin).

Everything runs in torch on the PoolState's ``device`` (CUDA when the harness runs there,
CPU otherwise) and never builds a distance block larger than ``CHUNK_ELEMENTS`` entries, so
memory stays O(n·d) for n points of dimension d. Squared Euclidean distances use the
expansion ``‖x - c‖² = ‖x‖² + ‖c‖² - 2 x·c`` (clamped at 0), so a distance block is one
matrix product.

Precision. The expansion loses digits to cancellation when the points sit far from the
origin compared with their spread: its rounding error grows with ``‖x‖² + ‖c‖²`` while the
distance does not (400 points on a unit segment, shifted by 300 in each of 512 float32
coordinates, make k-center greedy pick the wrong points). Distances do not change under a
common translation, so the kernels subtract a mean first (``centered``; ``min_sq_dist`` and
``pairwise_sq_dist_block`` do it themselves unless given norms) and keep float64 input in
float64 (``float_dtype``); float32 is the default for everything else.

One CPU detail: the greedy loops (k-center, k-means++ seeding) do per step one
matrix-vector product that reads the whole (n, d) matrix, plus O(n) vector work. On CPU
they run on numpy views of the same buffers (``loop_arrays``) with single-threaded BLAS
(``blas_single_thread``). Measured on 2 cores, n = 50,000, d = 512: torch's CPU ``mv`` is
single-threaded MKL at about 15 GB/s (18 ms per step when the machine is shared), and
interleaving torch's OpenMP vector ops with BLAS threads made a step 42 ms; numpy's BLAS
``gemv`` streams the matrix at the speed of a plain read (1.8 to 3.5 ms per step). Its
multi-threaded form saves about 20% on an idle machine but loses 1.5 to 70 times on a busy
one (a step waits for a descheduled worker thread), so the loops use one BLAS thread. On
CUDA they run in torch.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator

import numpy as np
import torch
from threadpoolctl import threadpool_limits

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


def float_dtype(*arrays: Any) -> torch.dtype:
    """float64 when any of ``arrays`` (numpy arrays or tensors; None is skipped) is float64,
    else float32: the precision the distance kernels compute in."""
    for a in arrays:
        if a is not None and getattr(a, "dtype", None) in (np.float64, torch.float64):
            return torch.float64
    return torch.float32


def mean_row(*parts: torch.Tensor) -> torch.Tensor:
    """The mean row (d,) of all rows of ``parts`` (n_i, d) together, in the dtype of the first
    part. It only sets a translation, which changes no distance, so float32 sums suffice."""
    n = sum(p.shape[0] for p in parts)
    total = sum(p.sum(dim=0).double() for p in parts if p.shape[0])
    if n == 0:
        return torch.zeros(parts[0].shape[1], dtype=parts[0].dtype, device=parts[0].device)
    return (total / n).to(parts[0].dtype)


def centered(*parts: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Each of ``parts`` (n_i, d) minus ``mean_row(*parts)``: new tensors of the same dtype, so
    O(sum n_i · d) extra memory. Distances between any rows are unchanged; the norm expansion
    then works near the origin."""
    mu = mean_row(*parts)
    return tuple(p - mu for p in parts)


def check_finite(norms: torch.Tensor, what: str) -> None:
    """Raise if a row of ``what`` holds NaN or ±inf, checked on its squared row norms (n,), which
    are NaN or inf exactly then (or when a row's norm overflows float32, equally unusable)."""
    if not bool(torch.isfinite(norms).all()):
        raise ValueError(f"{what} contains NaN or infinite values")


def loop_arrays(*tensors: torch.Tensor) -> tuple[Any, list[Any]]:
    """The array module and arrays a greedy loop works on: numpy views of CPU tensors (shared
    memory, no copy), or the tensors themselves on CUDA. Loops use only operations that both
    spell the same way (``@``, in-place arithmetic, ``xp.argmax``, ``xp.minimum(..., out=)``)."""
    if all(t.device.type == "cpu" for t in tensors):
        return np, [t.numpy() for t in tensors]
    return torch, list(tensors)


@contextlib.contextmanager
def blas_single_thread(xp: Any) -> Iterator[None]:
    """One BLAS thread for a numpy greedy loop (see the module note); no-op for torch."""
    if xp is np:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    else:
        yield


def sq_norms(x: torch.Tensor) -> torch.Tensor:
    """Row squared norms: x (n, d) -> (n,), as squared Euclidean norms (one read of x, no
    (n, d) temporary)."""
    return torch.linalg.vector_norm(x, dim=1).square_()


def _blocks(n: int, m: int) -> tuple[int, int]:
    """Row and column block sizes so that a block has at most ~CHUNK_ELEMENTS entries."""
    cols = min(m, max(1, CHUNK_ELEMENTS // 64))
    rows = max(1, CHUNK_ELEMENTS // max(cols, 1))
    return min(rows, max(n, 1)), max(cols, 1)


def min_sq_dist(x: torch.Tensor, c: torch.Tensor, x_norms: torch.Tensor | None = None,
                c_norms: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distance of every row of x (n, d) to its nearest row of c (m, d), and that row's
    index: (n,), (n,) int64. Blocked; never holds more than one (rows, cols) block.

    Without norms, x and c are first shifted by their joint mean (``centered``). Given norms
    must be those of x and c as passed: callers that pass them centre first themselves."""
    n, m = x.shape[0], c.shape[0]
    if m == 0:
        raise ValueError("min_sq_dist needs at least one center")
    if x_norms is None and c_norms is None:
        x, c = centered(x, c)
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
    """One block of squared distances, x (a, d) and y (b, d) -> (a, b); the caller bounds a·b.
    Both are shifted by y's mean row first (the expansion is then computed near the origin)."""
    mu = mean_row(y)
    x, y = x - mu, y - mu
    d = torch.addmm(sq_norms(y)[None, :], x, y.T, beta=1.0, alpha=-2.0)
    d += sq_norms(x)[:, None]
    return d.clamp_(min=0.0)
