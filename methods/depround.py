"""Dependent rounding (DepRound): exactly b distinct points with P(i selected) = pi_i.

Reference: R. Gandhi, S. Khuller, S. Parthasarathy and A. Srinivasan, *Dependent rounding
and its applications to approximation algorithms*, J. ACM 53(3), 2006. Robust Active
Distillation (Baykal et al., ICLR 2023) draws its batch from RAD's inclusion probabilities
with it (its Algorithm 2); ``rad`` does so with ``sampler: deprnd``.

Rule. Inclusion probabilities ``pi`` (n,) in [0, 1] with integer sum b. While two entries
i, j are fractional, let ``alpha = min(1 - p_i, p_j)`` and ``beta = min(p_i, 1 - p_j)``; with
probability ``beta / (alpha + beta)`` move to ``(p_i + alpha, p_j - alpha)``, otherwise to
``(p_i - beta, p_j + beta)``. Each step keeps the sum and the expectation of every entry
(``beta alpha - alpha beta = 0``) and makes at least one of the two entries 0 or 1, so after
at most n - 1 steps every entry is 0 or 1: exactly b points, each selected with probability
pi_i, and the selections are negatively correlated.

Pairing. The fractional entries are taken in a random order (a permutation from the run's
rng) as a stream: the entry still fractional after a step is paired with the next one. One
pass, O(n) time and memory, one uniform per fractional entry. The pass is a Python loop:
about 0.6 s per 10^6 fractional entries on one CPU core (systematic sampling of the same
vector: 0.05 s).
"""
from __future__ import annotations

import numpy as np

SNAP = 1e-9
"""Entries within SNAP of 0 or 1 (in the input and after each step) count as 0 or 1."""
SUM_TOL = 1e-6
"""The sum of ``pi`` may differ from an integer by at most ``SUM_TOL + SNAP * n``."""


def dep_round(pi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exactly ``b = round(sum pi)`` distinct positions (b,) int64, sorted ascending, position i
    included with probability ``pi_i`` (dependent rounding, Gandhi et al., J. ACM 2006).

    pi (n,) float in [0, 1]. Entries within 1e-9 of 0 or 1 are snapped to it (an entry snapped
    to 0 is never taken, one snapped to 1 always). A sum that is not exactly an integer
    (floating error, at most ``1e-6 + 1e-9 n`` away) is absorbed by the last entry left
    fractional, which is rounded so that exactly b positions come back; the marginals are then
    off by at most that deviation. ``rng`` gives the pairing order (a permutation of the f
    fractional entries) and f uniforms; nothing is drawn when no entry is fractional.

    Raises ``ValueError`` for pi not 1-D, not finite, with an entry outside [0, 1] (beyond
    1e-9), or with a sum farther than that from an integer."""
    p = np.asarray(pi, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"pi must be a 1-D array, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError("pi must be finite")
    if p.size and (p.min() < -SNAP or p.max() > 1 + SNAP):
        raise ValueError(f"pi must lie in [0, 1], got entries in [{p.min():.6g}, {p.max():.6g}]")
    total = float(p.sum())
    b = int(round(total))
    if abs(total - b) > SUM_TOL + SNAP * p.size:
        raise ValueError(f"pi must sum to an integer (the number of points to draw), got {total:.9g}")
    ones = p >= 1 - SNAP
    frac = np.flatnonzero((p > SNAP) & ~ones)
    chosen = list(np.flatnonzero(ones))
    if len(frac):
        order = frac[rng.permutation(len(frac))]
        chosen += _stream(order.tolist(), p[order].tolist(), rng.random(len(order)).tolist(), b - len(chosen),
                          SUM_TOL + SNAP * p.size)
    if len(chosen) != b:  # cannot happen for a sum within tolerance: the stream keeps the total
        raise RuntimeError(f"dependent rounding drew {len(chosen)} points instead of {b}")
    return np.sort(np.asarray(chosen, dtype=np.int64))


def _stream(idx: list[int], val: list[float], u: list[float], need: int, tol: float) -> list[int]:
    """Dependent rounding of the fractional entries ``val`` (positions ``idx``, in pairing
    order) with uniforms ``u``; returns the positions rounded to 1. The entry still fractional
    after a step (the carry) meets the next one. The last carry, fractional only through
    floating error in the sum, is taken iff fewer than ``need`` positions were taken; it must
    lie within ``tol`` of that outcome (the steps keep the total), else ``RuntimeError``."""
    taken: list[int] = []
    ci, cv = idx[0], val[0]  # the carry
    lo, hi = SNAP, 1 - SNAP
    for t in range(1, len(idx)):
        j, pj = idx[t], val[t]
        if ci < 0:  # the previous step rounded both entries: j starts a new carry
            ci, cv = j, pj
            continue
        alpha = min(1.0 - cv, pj)
        beta = min(cv, 1.0 - pj)
        if u[t] * (alpha + beta) < beta:  # up: (p_i + alpha, p_j - alpha)
            if 1.0 - cv <= pj:  # i reaches 1
                taken.append(ci)
                rest = pj - (1.0 - cv)
                ci, cv = (j, rest) if rest > lo else (-1, 0.0)
            else:  # j reaches 0
                cv += pj
                if cv >= hi:
                    taken.append(ci)
                    ci = -1
        else:  # down: (p_i - beta, p_j + beta)
            if cv <= 1.0 - pj:  # i reaches 0
                rest = pj + cv
                if rest >= hi:
                    taken.append(j)
                    ci = -1
                else:
                    ci, cv = j, rest
            else:  # j reaches 1
                taken.append(j)
                cv -= 1.0 - pj
                if cv <= lo:
                    ci = -1
    if ci >= 0:
        last = need - len(taken)
        if last not in (0, 1) or abs(cv - last) > tol:
            raise RuntimeError(f"dependent rounding left {cv:.9g} on its last entry with {last} still to take")
        if last:
            taken.append(ci)
    return taken
