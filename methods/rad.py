"""``rad``: the robust game-theoretic selector for active distillation.

Reference: C. Baykal, K. Trinh, F. Iliopoulos, G. Menghani and E. Vee, *Robust Active
Distillation*, ICLR 2023 (arXiv:2210.01213). The paper's body was not available to us; the
formulation below is our own derivation from the game its abstract describes. It is exact
for that game and checked against a linear-programming solver in the tests.

The game. The learner picks inclusion probabilities ``pi`` in [0, 1]^n with sum ``b``; an
adversary marks at most ``k`` pool points as mislabeled by the teacher. The learner earns
the informativeness ``g_i`` of every selected, correctly labeled point::

    max_pi  min_{c in {0,1}^n, |c = 0| <= k}  sum_i pi_i g_i c_i
      =  max_pi  [ sum_i w_i - (sum of the k largest w_i) ],   w_i = pi_i g_i
      =  max_pi max_{lam >= 0}  sum_i min(w_i, lam) - k lam.

Single draw (b = 1), closed form. Sort g descending, ``S_m = sum_{i<=m} 1/g_(i)``,
``V(m) = (m - k) / S_m`` for m = k+1..n, ``m* = argmax V``; then
``p*_(i) = (1/g_(i)) / S_{m*}`` for i <= m* (0 otherwise) and the game value is
``v* = V(m*)``: every support point has ``p*_i g_i = v*``, so the adversary is indifferent.

Batch of b. If ``b max p* <= 1``, ``pi = b p*`` is optimal with value ``b v*``. Otherwise
water-filling: for a level ``lam``, fill points in decreasing gain with
``pi_(i) = min(1, lam / g_(i))`` until the total is b (the last may be fractional). The
value ``G(lam)`` of that fill is concave and piecewise linear in ``lam``; we maximise it by
golden-section search and then evaluate every breakpoint next to the maximiser, which is
exact. ``k = 0`` gives deterministic top-b sampling.

Sampling. ``sampler: systematic`` (the default) draws exactly b distinct points with
P(i) = pi_i by systematic sampling in a random order; ``sampler: deprnd`` by dependent
rounding (``methods.depround``; Gandhi et al., J. ACM 2006), the paper's Algorithm 2. Both
have the same marginals, so the guarantee below holds for either; they differ in how the
selections are correlated.

Guarantee. For every placement of at most k teacher mistakes, the expected total gain of
the correctly labeled selected points is at least the game value. Deterministic top-b has
worst case ``sum_{i=k+1..b} g_(i)`` (0 once k >= b); uniform sampling has
``(b/n) sum_{i>k} g_(i)``; RAD weakly dominates both.

Choosing k. ``k = round(k_scale * eps_T * n)`` each round, with ``eps_T`` the teacher's
top-1 error on the labeled validation split and n the unqueried pool size; ``k >= n`` is
treated as ``n - 1``. The privileged ablation ``rad_true_k`` (``methods.rad_true_k``) uses
the true number of teacher mistakes on the pool instead; ``rad`` never sees it.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from benchmark.core.config import ConfigError
from benchmark.core.registry import register_method
from benchmark.run.state import PoolState
from methods.base import AcquisitionMethod
from methods.depround import dep_round
from methods.uncertainty import GAINS

GAIN_FLOOR = 1e-12


def _prepare(gains: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Clamp gains, sort descending, clip k to n-1. Returns (order, g_sorted, S, k) with
    S[m] = sum of 1/g over the top m (S[0] = 0)."""
    g = np.maximum(np.asarray(gains, dtype=np.float64), GAIN_FLOOR)
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"gains must be a non-empty 1-D array, got shape {g.shape}")
    if not np.isfinite(g).all():
        raise ValueError("gains must be finite")
    order = np.argsort(-g)
    gs = g[order]
    S = np.concatenate([[0.0], np.cumsum(1.0 / gs)])
    return order, gs, S, int(min(max(int(k), 0), len(g) - 1))


def _distribution_sorted(gs: np.ndarray, S: np.ndarray, k: int) -> np.ndarray:
    """p* in sorted (descending-gain) order; see ``rad_distribution``."""
    n = len(gs)
    m = np.arange(k + 1, n + 1)
    V = (m - k) / S[m]
    m_star = int(m[np.flatnonzero(V >= V.max() * (1 - 1e-12))[-1]])
    p = np.zeros(n)
    p[:m_star] = (1.0 / gs[:m_star]) / S[m_star]
    return p


def rad_distribution(gains: np.ndarray, k: int) -> np.ndarray:
    """Single-draw optimal distribution p* (n,) for gains (n,) and at most k mistakes.

    ``p*_(i) = (1/g_(i)) / S_{m*}`` on the top m* gains, ``m* = argmax_{m>k} (m - k) / S_m``
    (the largest maximiser, so the support is exactly ``{g >= v*}``). ``k >= n`` acts as n-1."""
    order, gs, S, k = _prepare(gains, k)
    p = np.zeros(len(gs))
    p[order] = _distribution_sorted(gs, S, k)
    return p


def _fill_value(lam: float, gs: np.ndarray, S: np.ndarray, P: np.ndarray, k: int, b: float) -> float:
    """G(lam) = sum_i min(pi_i g_i, lam) - k lam for the water-fill at level lam (O(log n))."""
    n = len(gs)
    h = int(np.searchsorted(-gs, -lam, side="left"))  # points with g > lam: pi = lam / g
    cap = lam * S[h]
    if cap >= b:  # the budget ends inside the top h points
        m = int(np.searchsorted(S, b / lam, side="right")) - 1 if lam > 0 else 0
        m = min(m, h)
        rem = b - lam * S[m]
        return m * lam + (rem * gs[m] if m < n else 0.0) - k * lam
    r = b - cap  # the rest fills points with g <= lam at pi = 1, the last one fractionally
    t = int(math.floor(r))
    if h + t >= n:
        return h * lam + (P[n] - P[h]) - k * lam
    return h * lam + (P[h + t] - P[h]) + (r - t) * gs[h + t] - k * lam


def _fill(lam: float, gs: np.ndarray, S: np.ndarray, b: float) -> np.ndarray:
    """The water-fill pi (sorted order) at level lam, with sum exactly b."""
    n = len(gs)
    pi = np.zeros(n)
    h = int(np.searchsorted(-gs, -lam, side="left"))
    cap = lam * S[h]
    if cap >= b:
        m = min(int(np.searchsorted(S, b / lam, side="right")) - 1, h)
        pi[:m] = lam / gs[:m]
        if m < n:
            pi[m] = b - lam * S[m]
        return np.clip(pi, 0.0, 1.0)
    pi[:h] = lam / gs[:h]
    r = b - cap
    t = int(math.floor(r))
    if h + t >= n:  # capacity below b: raise the top h towards 1, which changes no value
        pi[h:] = 1.0
        spare = b - pi.sum()
        room = 1.0 - pi[:h]
        if spare > 0 and room.sum() > 0:
            pi[:h] += room * min(1.0, spare / room.sum())
        return np.clip(pi, 0.0, 1.0)
    pi[h:h + t] = 1.0
    pi[h + t] = r - t
    return np.clip(pi, 0.0, 1.0)


def _best_level(gs: np.ndarray, S: np.ndarray, k: int, b: float) -> float:
    """argmax_lam G(lam): golden-section search on [0, g_max], then the exact breakpoints
    next to the maximiser (levels g_j, b / S_m, and (b - t) / S_h)."""
    P = np.concatenate([[0.0], np.cumsum(gs)])
    n = len(gs)

    def G(lam: float) -> float:
        return _fill_value(lam, gs, S, P, k, b)

    lo, hi = 0.0, float(gs[0])
    phi = (math.sqrt(5) - 1) / 2
    x1, x2 = hi - phi * (hi - lo), lo + phi * (hi - lo)
    f1, f2 = G(x1), G(x2)
    for _ in range(200):
        if hi - lo <= 1e-15 * max(hi, 1e-300):
            break
        if f1 < f2:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + phi * (hi - lo)
            f2 = G(x2)
        else:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - phi * (hi - lo)
            f1 = G(x1)
    lam = (lo + hi) / 2
    cands = {lo, hi, lam, float(gs[0])}
    h = int(np.searchsorted(-gs, -lam, side="left"))
    for j in range(max(h - 2, 0), min(h + 3, n)):
        cands.add(float(gs[j]))
    if lam > 0:
        m = int(np.searchsorted(S, b / lam, side="right")) - 1
        for mm in range(max(m - 2, 1), min(m + 3, n + 1)):
            cands.add(b / S[mm])
    for hh in range(max(h - 2, 1), min(h + 3, n + 1)):
        r = b - lam * S[hh]
        for t in range(max(int(math.floor(r)) - 2, 0), int(math.floor(r)) + 3):
            if b - t > 0:
                cands.add((b - t) / S[hh])
    return max((c for c in cands if c >= 0), key=lambda c: (G(c), -c))


def rad_inclusion_probabilities(gains: np.ndarray, k: int, budget: int) -> np.ndarray:
    """The batch solution pi (n,): 0 <= pi <= 1, sum pi = budget, maximising
    ``sum pi g - (k largest pi g)``. Closed form ``budget * p*`` when ``budget * max p* <= 1``,
    water-filling otherwise. gains (n,); ``k >= n`` acts as n-1; 1 <= budget <= n."""
    order, gs, S, kk = _prepare(gains, k)
    n = len(gs)
    if not 1 <= budget <= n:
        raise ValueError(f"budget {budget} must be in [1, {n}]")
    p = _distribution_sorted(gs, S, kk)
    if budget * p.max() <= 1.0 + 1e-12:
        pi_sorted = np.minimum(budget * p, 1.0)
    else:
        pi_sorted = _fill(_best_level(gs, S, kk, float(budget)), gs, S, float(budget))
    pi = np.empty(n)
    pi[order] = pi_sorted
    return pi


def systematic_sample(pi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exactly ``round(sum pi)`` distinct indices, index i included with probability pi_i.

    Points with pi_i = 1 are taken with certainty; the rest are permuted with ``rng``, their
    cumulative sum is cut at ``u, u+1, ..., u+b'-1`` with ``u ~ U[0, 1)``. pi (n,) in [0, 1]."""
    pi = np.asarray(pi, dtype=np.float64)
    if pi.ndim != 1 or (pi < -1e-12).any() or (pi > 1 + 1e-9).any():
        raise ValueError("pi must be a 1-D array with entries in [0, 1]")
    b = int(round(pi.sum()))
    certain = np.flatnonzero(pi >= 1 - 1e-12)
    rest = np.flatnonzero((pi > 0) & (pi < 1 - 1e-12))
    need = b - len(certain)
    if need <= 0:
        return certain[:b].astype(np.int64)
    if len(rest) == 0:
        raise ValueError(f"pi sums to {pi.sum():.6g} but has no fractional entries to draw from")
    perm = rest[rng.permutation(len(rest))]
    c = np.cumsum(pi[perm])
    c *= need / c[-1]  # absorb rounding so the last cut lies inside
    u = rng.random()
    picks = np.searchsorted(c, u + np.arange(need), side="right")
    chosen = perm[np.minimum(picks, len(perm) - 1)]
    return np.concatenate([certain, chosen]).astype(np.int64)


def worst_case_value(pi: np.ndarray, gains: np.ndarray, k: int) -> float:
    """``sum_i pi_i g_i`` minus the k largest ``pi_i g_i``: the learner's payoff against the
    adversary's best placement of k teacher mistakes. pi, gains (n,)."""
    w = np.asarray(pi, dtype=np.float64) * np.maximum(np.asarray(gains, dtype=np.float64), GAIN_FLOOR)
    k = int(min(max(k, 0), w.size))
    if k == 0:
        return float(w.sum())
    top = np.partition(w, w.size - k)[w.size - k:]
    return float(w.sum() - top.sum())


K_MODES = ("validation", "fixed", "fraction")
SAMPLERS = {"systematic": systematic_sample, "deprnd": dep_round}
DEFAULT_SAMPLER = "systematic"


@register_method("rad")
class RAD(AcquisitionMethod):
    """Robust active distillation: maximin inclusion probabilities against k teacher mistakes.

    Baykal et al., *Robust Active Distillation*, ICLR 2023. Exactly b distinct points are drawn
    with the maximin inclusion probabilities (see the module docstring).

    Parameters: ``gain`` (margin, entropy, least_confidence); ``k_mode`` (validation: k from
    the teacher's validation error; fixed: ``k``; fraction: ``fraction`` of the unqueried pool)
    and ``k_scale`` >= 0 multiplying it; ``sampler`` (systematic, deprnd). ``sampler`` was
    added after version 1: ``get_params`` leaves it out while it is ``systematic``, so the
    parameters and run id of a run made before it existed stay the same. Logs ``k_used`` (the
    adversary budget), ``support_size`` (points with pi > 0), ``game_value`` and
    ``expected_gain`` per round."""

    requires = frozenset({"student_probs"})

    def __init__(self, gain: str = "margin", k_mode: str = "validation", k: int | None = None,
                 fraction: float | None = None, k_scale: float = 1.0, sampler: str = DEFAULT_SAMPLER) -> None:
        self.gain = gain
        self.k_mode = k_mode
        self.k = k
        self.fraction = fraction
        self.k_scale = k_scale
        self.sampler = sampler

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        if params.get("sampler") == DEFAULT_SAMPLER:
            del params["sampler"]
        return params

    def _validate_common(self) -> None:
        """The parameters every RAD variant has: gain, k_scale, sampler."""
        if self.gain not in GAINS:
            raise ConfigError(f"method {self.name!r}: gain {self.gain!r} is not one of {', '.join(GAINS)}")
        if not isinstance(self.k_scale, (int, float)) or self.k_scale < 0:
            raise ConfigError(f"method {self.name!r}: k_scale must be a number >= 0, got {self.k_scale!r}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"method {self.name!r}: sampler {self.sampler!r} is not one of {', '.join(SAMPLERS)}")

    def validate_params(self) -> None:
        self._validate_common()
        if self.k_mode not in K_MODES:
            raise ConfigError(f"method {self.name!r}: k_mode {self.k_mode!r} is not one of {', '.join(K_MODES)}")
        if self.k_mode == "fixed" and (not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 0):
            raise ConfigError(f"method {self.name!r}: k_mode 'fixed' needs an integer k >= 0, got k={self.k!r}")
        if self.k_mode == "fraction" and (not isinstance(self.fraction, (int, float)) or not 0 <= self.fraction <= 1):
            raise ConfigError(f"method {self.name!r}: k_mode 'fraction' needs fraction in [0, 1], "
                              f"got {self.fraction!r}")

    def scaled_k(self, base: float, n: int) -> int:
        """``round(k_scale * base)`` clipped to [0, n - 1]."""
        return int(min(max(round(self.k_scale * base), 0), n - 1))

    def adversary_budget(self, state: PoolState) -> int:
        """k for this round, clipped to [0, n - 1]."""
        n = state.n_unlabeled
        if self.k_mode == "validation":
            base = state.validation_teacher_error * n
        elif self.k_mode == "fixed":
            base = float(self.k)
        else:
            base = float(self.fraction) * n
        return self.scaled_k(base, n)

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator, *args: Any) -> np.ndarray:
        self.validate_params()
        return self.draw(state, budget, rng, self.adversary_budget(state))

    def draw(self, state: PoolState, budget: int, rng: np.random.Generator, k: int) -> np.ndarray:
        """(budget,) positions into ``state.unlabeled`` drawn from the maximin inclusion
        probabilities against ``k`` mistakes (0 <= k <= n - 1), with the diagnostics logged."""
        g = np.maximum(GAINS[self.gain](np.asarray(state.student_probs)), GAIN_FLOOR)
        pi = rad_inclusion_probabilities(g, k, budget)
        pos = SAMPLERS[self.sampler](pi, rng)
        self.log(k_used=k, support_size=int((pi > 0).sum()), game_value=worst_case_value(pi, g, k),
                 expected_gain=float(pi @ g))
        return pos
