"""Uncertainty sampling on the student's probabilities p (n, C) over the unqueried pool.

- ``margin`` (Scheffer et al., 2001): the b smallest p_(1) - p_(2).
- ``entropy`` (Shannon; Settles, 2009): the b largest -sum_c p_c log p_c.
- ``least_confidence`` (Lewis & Gale, 1994): the b smallest max_c p_c.

All three share the seeded top-k with random tie-breaking. ``margin_gain`` etc. are also
the gain functions RAD can use.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from benchmark.core.registry import register_method
from benchmark.run.state import PoolState
from methods.base import ScoreMethod


CHUNK_BYTES = 1 << 22  # float64 bytes of one row chunk's temporaries (4 MiB)


def by_rows(probs: np.ndarray, gain: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``gain`` (a row-wise function, (k, C) -> (k,)) over ``probs`` (n, C), chunk by chunk of
    rows: the same values as ``gain(probs)``, with the float64 temporaries of one chunk (about
    ``CHUNK_BYTES`` each) instead of n x C; returns (n,) float64."""
    n, c = probs.shape
    rows = max(1, CHUNK_BYTES // (8 * max(c, 1)))
    if n <= rows:
        return gain(probs)
    out = np.empty(n, np.float64)
    for s in range(0, n, rows):
        out[s:s + rows] = gain(probs[s:s + rows])
    return out


def top2(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The largest and second-largest probability per row; probs (n, C) -> (n,), (n,)."""
    if probs.shape[1] < 2:
        return probs[:, 0], np.zeros(len(probs), probs.dtype)
    part = np.partition(probs, probs.shape[1] - 2, axis=1)
    return part[:, -1], part[:, -2]


def _margin_gain(probs: np.ndarray) -> np.ndarray:
    p1, p2 = top2(probs)
    return (1.0 - (p1.astype(np.float64) - p2)).clip(0.0, 1.0)


def _entropy_gain(probs: np.ndarray) -> np.ndarray:
    p = probs.astype(np.float64)
    return -(p * np.log(np.clip(p, 1e-12, None))).sum(axis=1)


def margin_gain(probs: np.ndarray) -> np.ndarray:
    """1 - (p_(1) - p_(2)) in [0, 1]; (n, C) -> (n,) float64, computed by row chunks (``by_rows``)."""
    return by_rows(probs, _margin_gain)


def entropy_gain(probs: np.ndarray) -> np.ndarray:
    """-sum_c p_c log p_c; (n, C) -> (n,) float64, computed by row chunks (``by_rows``)."""
    return by_rows(probs, _entropy_gain)


def least_confidence_gain(probs: np.ndarray) -> np.ndarray:
    """1 - max_c p_c; (n, C) -> (n,) float64."""
    return 1.0 - probs.max(axis=1).astype(np.float64)


GAINS = {"margin": margin_gain, "entropy": entropy_gain, "least_confidence": least_confidence_gain}


class _ProbabilityScore(ScoreMethod):
    requires = frozenset({"student_probs"})
    gain_name = ""

    def score(self, state: PoolState) -> np.ndarray:
        return GAINS[self.gain_name](state.student_probs)


@register_method("margin")
class MarginSampling(_ProbabilityScore):
    """The b smallest student margins p_(1) - p_(2)."""

    gain_name = "margin"


@register_method("entropy")
class EntropySampling(_ProbabilityScore):
    """The b largest student entropies."""

    gain_name = "entropy"


@register_method("least_confidence")
class LeastConfidence(_ProbabilityScore):
    """The b smallest student top-class probabilities."""

    gain_name = "least_confidence"
