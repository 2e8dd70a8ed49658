"""k-center greedy (farthest-first traversal), shared by ``coreset`` and ``pcoreset``.

Gonzalez (1985); used for active learning as the core-set approach by Sener & Savarese,
"Active Learning for Convolutional Neural Networks: A Core-Set Approach", ICLR 2018
(their Algorithm 1, the greedy 2-approximation of the k-center problem).

Rule: given points x_1..x_n (the unqueried pool) and initial centers c_1..c_m (the labeled
and already queried points), repeat b times: select the point whose squared Euclidean
distance to its nearest center is largest (the lowest position on a tie), and make it a
center. With no initial centers the first point is drawn uniformly with the run's rng.

Cost: the initial min-distance vector takes one blocked pass over the n × m distances; each
greedy step is one matrix-vector product (reads the (n, d) matrix once) plus O(n) vector
work. Memory: the mean-centred copy of the points (n, d), the running min-distance vector
and norms, O(n), plus one distance block.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from benchmark.run.state import PoolState
from methods.base import AcquisitionMethod
from methods.distances import (as_tensor, blas_single_thread, centered, check_finite, float_dtype, loop_arrays,
                               min_sq_dist, resolve, sq_norms)


@dataclass(frozen=True)
class KCenterResult:
    """``positions`` (b,) int64 in selection order; covering radii (max distance from a point to
    its nearest center, Euclidean) over the points before and after the selection."""

    positions: np.ndarray
    radius_before: float
    radius_after: float


def kcenter_greedy(points, centers, budget: int, rng: np.random.Generator, device: str = "cpu",
                   what: str = "points") -> KCenterResult:
    """k-center greedy over ``points`` (n, d) from initial ``centers`` (m, d), m may be 0.

    Both may be numpy arrays or tensors; the work runs on ``device``, in float64 when either
    is float64 and in float32 otherwise, on copies shifted by the mean of all points and
    centers (one extra (n, d) buffer), so a large common offset costs no precision. Returns
    positions into ``points``."""
    dev = resolve(device)
    dtype = float_dtype(points, centers)
    x = as_tensor(points, dev, dtype)
    n = x.shape[0]
    if x.ndim != 2:
        raise ValueError(f"{what} must be a 2-D (n, d) array, got shape {tuple(x.shape)}")
    if not 0 < budget <= n:
        raise ValueError(f"budget {budget} must be in [1, {n}]")
    check_finite(sq_norms(x), what)
    c = as_tensor(centers, dev, dtype) if centers is not None else x[:0]
    if c.shape[0] and (c.ndim != 2 or c.shape[1] != x.shape[1]):
        raise ValueError(f"centers have shape {tuple(c.shape)}; expected (m, {x.shape[1]}) like the {what}")
    if c.shape[0]:
        check_finite(sq_norms(c), f"centers of {what}")
    x, c = centered(x, c)  # exact distances for points far from the origin (see methods.distances)
    xn = sq_norms(x)
    if c.shape[0]:
        mind, _ = min_sq_dist(x, c, x_norms=xn, c_norms=sq_norms(c))
    else:
        mind = torch.full((n,), float("inf"), dtype=x.dtype, device=dev)
    radius_before = float(mind.max().sqrt()) if c.shape[0] else float("inf")

    xp, (xa, xna, minda) = loop_arrays(x, xn, mind)
    selected = np.empty(budget, dtype=np.int64)
    with blas_single_thread(xp):
        for t in range(budget):
            j = int(rng.integers(n)) if t == 0 and c.shape[0] == 0 else int(xp.argmax(minda))
            selected[t] = j
            d = xa @ xa[j]  # (n,): one read of the matrix
            d *= -2.0
            d += xna
            d += xna[j]
            xp.minimum(minda, d, out=minda)
            minda[j] = -float("inf")  # never selected again
    remaining = mind[mind > -float("inf")]
    radius_after = float(remaining.clamp(min=0).max().sqrt()) if remaining.numel() else 0.0
    return KCenterResult(selected, radius_before, radius_after)


class KCenterMethod(AcquisitionMethod):
    """k-center greedy over the PoolState field ``points_field`` (unlabeled, (n, d)) from the
    initial centers in ``centers_field`` (labeled then queried, (m, d)). Logs the covering
    radius before and after the selection."""

    points_field: ClassVar[str] = ""
    centers_field: ClassVar[str] = ""

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator, *args: Any) -> np.ndarray:
        res = kcenter_greedy(getattr(state, self.points_field), getattr(state, self.centers_field), budget, rng,
                             device=state.device, what=self.points_field)
        self.log(radius_before=res.radius_before, radius_after=res.radius_after)
        return res.positions
