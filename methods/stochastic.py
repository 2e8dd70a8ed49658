"""Stochastic batch acquisition: sample the batch with probabilities that grow with a score.

Reference: A. Kirsch, S. Farquhar, P. Atighehchian, A. Jesson, F. Branchaud-Charron and
Y. Gal, "Stochastic Batch Acquisition: A Simple Baseline for Deep Active Learning", TMLR
2023 (power and softmax acquisition, their section 3).

Rule. Let s_i >= 0 be a per-point score of the unqueried pool: ``margin`` scores
s_i = 1 - (p_(1) - p_(2)) in [0, 1], ``entropy`` scores s_i = -sum_c p_c log p_c. Draw b
distinct points without replacement, one after another, each with probability proportional
to its weight among the points not drawn yet:

- ``power_margin``, ``power_entropy``: w_i = s_i^beta,
- ``softmax_margin``: w_i = exp(beta * s_i),

with ``beta >= 0`` (default 1). ``beta`` -> infinity gives the top-b scores; ``beta = 0``
gives uniform sampling (0^0 = 1: points of score 0 included).

Implementation: the Gumbel-top-k trick (Vieira 2014; Kool, van Hoof & Welling, ICML 2019).
With g_i i.i.d. standard Gumbel noise from the run's rng, the b largest keys
log w_i + g_i are distributed exactly as b successive draws without replacement with
probabilities proportional to w_i, in the order of the keys. One draw therefore costs one
O(n) noise vector and the shared top-k. A point of score 0 under a power rule with beta > 0
has weight 0 and key -inf: it is taken only when fewer than b points of positive weight
remain, and then uniformly at random among such points (the top-k's tie-breaking), so the
answer always has exactly b distinct points.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from benchmark.core.config import ConfigError
from benchmark.core.registry import register_method
from benchmark.run.state import PoolState
from methods.base import AcquisitionMethod
from methods.topk import top_k
from methods.uncertainty import GAINS


def power_log_weights(scores: np.ndarray, beta: float) -> np.ndarray:
    """log(s^beta) for scores s (n,) >= 0: -inf where s = 0 and beta > 0; 0 everywhere when
    beta = 0. Returns (n,) float64."""
    s = np.asarray(scores, dtype=np.float64)
    if beta == 0:
        return np.zeros(len(s))
    with np.errstate(divide="ignore"):
        out = np.log(s)
    out *= beta
    return out


def softmax_log_weights(scores: np.ndarray, beta: float) -> np.ndarray:
    """log(exp(beta * s)) = beta * s for scores s (n,); (n,) float64."""
    return beta * np.asarray(scores, dtype=np.float64)


def gumbel_top_k(log_weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k distinct positions drawn without replacement with probability proportional to
    exp(log_weights) (n,), in draw order: the k largest log_weights + Gumbel noise. Positions
    of weight 0 (-inf) come last, uniformly at random among themselves. Returns (k,) int64."""
    keys = rng.gumbel(size=len(log_weights))
    keys += log_weights
    return top_k(keys, k, rng)


class StochasticAcquisition(AcquisitionMethod):
    """Samples b points with weights ``weighting``(score, beta) of the gain ``gain_name``."""

    requires = frozenset({"student_probs"})
    gain_name: ClassVar[str] = ""
    weighting: ClassVar[str] = ""  # "power" or "softmax"

    def __init__(self, beta: float = 1.0) -> None:
        self.beta = beta

    def validate_params(self) -> None:
        b = self.beta
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b) or b < 0:
            raise ConfigError(f"{self.name}: beta must be a finite number >= 0, got {b!r}")

    def log_weights(self, state: PoolState) -> np.ndarray:
        """(n_unlabeled,) log-weights of the unqueried points."""
        scores = GAINS[self.gain_name](state.student_probs)
        if self.weighting == "power":
            return power_log_weights(np.maximum(scores, 0.0), float(self.beta))
        return softmax_log_weights(scores, float(self.beta))

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator, *args: Any) -> np.ndarray:
        self.validate_params()
        logw = self.log_weights(state)
        self.log(zero_weight=int(np.isneginf(logw).sum()))
        return gumbel_top_k(logw, budget, rng)


@register_method("power_margin")
class PowerMargin(StochasticAcquisition):
    """b draws without replacement, P(i) proportional to (1 - margin_i)^beta."""

    gain_name = "margin"
    weighting = "power"


@register_method("power_entropy")
class PowerEntropy(StochasticAcquisition):
    """b draws without replacement, P(i) proportional to entropy_i^beta."""

    gain_name = "entropy"
    weighting = "power"


@register_method("softmax_margin")
class SoftmaxMargin(StochasticAcquisition):
    """b draws without replacement, P(i) proportional to exp(beta * (1 - margin_i))."""

    gain_name = "margin"
    weighting = "softmax"
