"""``badge``: Batch Active learning by Diverse Gradient Embeddings (Ash et al., ICLR 2020).

Reference: J. T. Ash, C. Zhang, A. Krishnamurthy, J. Langford and A. Agarwal, "Deep Batch
Active Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020, Algorithm 1, and
the authors' reference implementation (``init_centers``).

Rule: for each unqueried x with student probabilities p (C,), hypothesized label
ŷ = argmax p and penultimate features h (d,), the gradient embedding is the gradient of the
cross-entropy at ŷ with respect to the last layer's weights, g(x) = (onehot(ŷ) - p) ⊗ h
(C·d; the sign does not matter for distances). Pick b points by k-means++ seeding on the
g(x): the first is the point of largest ‖g(x)‖ (as in the reference implementation); each
next point is drawn with probability proportional to D(x)², its squared distance to the
nearest point picked so far. The draw uses the run's rng: u = rng.random() · Σ D², and the
pick is the first position whose running sum of D² exceeds u (so a point with D = 0, such
as one already picked, is never drawn). If every remaining D is 0 (duplicates), the next
point is uniform over the unpicked ones.

Memory: g is never materialized (n × C·d floats would be 4 GB at n = 20,000, C = 100,
d = 512). With a = onehot(ŷ) - p, the factorized distance

    ‖a⊗h - a'⊗h'‖² = ‖a‖²‖h‖² + ‖a'‖²‖h'‖² - 2 (a·a') (h·h')

needs one product with the (n, C) matrix of a and one with the (n, d) matrix of h per
step: O(n·(C + d)) memory and time per pick.

Precision: features with a large common offset o (ReLU features often have one) make
‖a‖²‖h‖² and (a·a')(h·h') huge next to their difference, and float32 cancellation then
picks the wrong points. So h = o + e with o the mean feature row: h·h' = e·e' + o·o + e·o +
e'·o, where only e·e' (at the scale of the centred features) comes from the float32 product
with the (n, d) matrix; the large parts, a·a' (from the small (n, C) matrix) and the
difference itself are computed in float64. Float64 inputs are kept in float64. Adaptation to active distillation: none; the
student is trained on hard and soft labels, the embedding uses its own prediction ŷ.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmark.core.registry import register_method
from benchmark.run.state import PoolState
from methods.base import AcquisitionMethod
from methods.distances import (as_tensor, blas_single_thread, check_finite, float_dtype, loop_arrays, mean_row, resolve,
                               sq_norms)


def residuals(probs: torch.Tensor) -> torch.Tensor:
    """a = onehot(argmax p) - p: (n, C) -> (n, C)."""
    a = -probs
    rows = torch.arange(len(probs), device=probs.device)
    a[rows, probs.argmax(dim=1)] += 1.0
    return a


@dataclass(frozen=True)
class GradFactors:
    """The factors of the gradient embeddings a_i⊗h_i with h_i = o + e_i, o the mean row
    (numpy arrays or tensors alike): a (n, C) float64; e (n, d) in the features' dtype;
    eo = e_i·o and q = o·o + e_i·o (n,) float64, so that h_i·h_j = e_i·e_j + q_i + eo_j; and
    g2 = ‖a_i‖²‖h_i‖² (n,) float64."""

    a: Any
    e: Any
    eo: Any
    q: Any
    g2: Any

    @classmethod
    def build(cls, a: torch.Tensor, h: torch.Tensor) -> "GradFactors":
        """From the residuals a (n, C) and the features h (n, d)."""
        o = mean_row(h)
        e = h - o
        o2 = float(o.double() @ o.double())
        eo = (e @ o).double()
        a64 = a.double()
        g2 = sq_norms(a64) * (sq_norms(e).double() + o2 + 2.0 * eo)
        return cls(a64, e, eo, eo + o2, g2)

    def numpy_or_torch(self, xp: Any) -> "GradFactors":
        """The same factors as numpy views (``xp`` is numpy) or as the tensors themselves."""
        return self if xp is not np else GradFactors(*(t.numpy() for t in (self.a, self.e, self.eo, self.q, self.g2)))


def factorized_sq_dist(f: GradFactors, j: int):
    """Squared distance of every gradient embedding a_i⊗h_i to a_j⊗h_j, clamped at 0: (n,)
    float64, ‖a_i‖²‖h_i‖² + ‖a_j‖²‖h_j‖² - 2 (a_i·a_j)(h_i·h_j) with h_i·h_j from the
    centred features (module docstring). numpy arrays or torch tensors alike."""
    hh = f.e @ f.e[j]
    hh = hh.astype(np.float64) if isinstance(hh, np.ndarray) else hh.double()
    hh += f.q
    hh += float(f.eo[j])
    d = f.a @ f.a[j]
    d *= hh
    d *= -2.0
    d += f.g2
    d += float(f.g2[j])
    d[d < 0] = 0.0
    return d


def _searchsorted_right(xp, cum, value: float) -> int:
    if xp is np:
        return int(np.searchsorted(cum, value, side="right"))
    return int(torch.searchsorted(cum, torch.tensor([value], dtype=cum.dtype, device=cum.device), right=True))


def kmeanspp_factorized(probs, emb, budget: int, rng: np.random.Generator, device: str = "cpu") -> tuple[np.ndarray, float]:
    """BADGE's k-means++ seeding on factorized gradient embeddings. probs (n, C), emb (n, d)
    -> (budget,) positions in pick order, and the largest gradient-embedding norm."""
    dev = resolve(device)
    dtype = float_dtype(probs, emb)
    p = as_tensor(probs, dev, dtype)
    h = as_tensor(emb, dev, dtype)
    if p.ndim != 2 or h.ndim != 2 or len(p) != len(h):
        raise ValueError(f"student_probs {tuple(p.shape)} and student_embeddings {tuple(h.shape)} must be "
                         f"(n, C) and (n, d) with the same n")
    n = len(p)
    a = residuals(p)
    check_finite(sq_norms(a), "student_probs")
    check_finite(sq_norms(h), "student_embeddings")
    f = GradFactors.build(a, h)
    xp, _ = loop_arrays(a, h)
    f = f.numpy_or_torch(xp)
    picked = np.empty(budget, dtype=np.int64)
    with blas_single_thread(xp):
        j = int(xp.argmax(f.g2))
        picked[0] = j
        mind = factorized_sq_dist(f, j)  # float64: the running sums need it
        mind[j] = 0.0
        taken = np.zeros(n, dtype=bool)
        taken[j] = True
        for t in range(1, budget):
            cum = xp.cumsum(mind, 0)
            total = float(cum[-1])
            u = rng.random()
            if total > 0.0:
                j = min(_searchsorted_right(xp, cum, u * total), n - 1)
                if taken[j]:  # float rounding at the very end of the running sum
                    j = int(xp.nonzero(mind > 0)[0][-1]) if xp is np else int(torch.nonzero(mind > 0)[-1])
            else:
                free = np.flatnonzero(~taken)
                j = int(free[min(int(u * len(free)), len(free) - 1)])
            picked[t] = j
            taken[j] = True
            xp.minimum(mind, factorized_sq_dist(f, j), out=mind)
            mind[j] = 0.0
    return picked, float(f.g2.max()) ** 0.5


@register_method("badge")
class Badge(AcquisitionMethod):
    """k-means++ seeding on gradient embeddings (onehot(ŷ) - p) ⊗ h, factorized."""

    requires = frozenset({"student_probs", "student_embeddings"})

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator, *args) -> np.ndarray:
        pos, max_norm = kmeanspp_factorized(state.student_probs, state.student_embeddings, budget, rng,
                                            device=state.device)
        self.log(max_grad_norm=max_norm)
        return pos
