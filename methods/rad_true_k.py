"""``rad_true_k``: RAD with the true number of teacher mistakes as the adversary budget.

Privileged, for analysis only: an ablation of RAD (Baykal et al., "Robust Active
Distillation", ICLR 2023) that replaces the estimate of the number of teacher mistakes by
the true count, which no practitioner has, so its rows are reported apart and never ranked.
It separates two sources of error in RAD: the robust game itself, and the estimate of k
from the teacher's validation error.

Rule. Each round, ``k = round(k_scale * m)``, clipped to [0, n - 1], where m is the number of
unqueried pool points whose teacher top-1 class differs from the hidden label (under the
task's teacher noise, the same answers the teacher gives when queried) and n the number of
unqueried points; then RAD's maximin inclusion probabilities against k mistakes and its
sampler, exactly as in ``methods.rad``. Hidden information arrives only through the explicit
``privileged`` argument (a ``PrivilegedView``), which the harness passes only to a method
whose registered class is privileged; ``rad`` itself has no way to read the count.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.core.registry import register_method
from benchmark.run.state import PoolState, PrivilegedView
from methods.base import MethodError
from methods.rad import DEFAULT_SAMPLER, RAD


def teacher_mistakes(state: PoolState, view: PrivilegedView) -> int:
    """The number of unqueried pool points (``state.unlabeled``) whose teacher top-1 class
    differs from the pool label in ``view``."""
    u = state.unlabeled
    return int((view.teacher_pool_probs[u].argmax(axis=1) != view.pool_labels[u]).sum())


@register_method("rad_true_k")
class RADTrueK(RAD):
    """RAD with the true number of teacher mistakes on the pool as k (privileged ablation).

    RAD (Baykal et al., ICLR 2023) whose adversary budget is ``round(k_scale * m)``, clipped to
    [0, n - 1], with m the number of unqueried pool points the teacher labels wrong; privileged,
    so its results are reported apart and never ranked.

    Parameters: ``gain`` (margin, entropy, least_confidence), ``k_scale`` >= 0 and ``sampler``
    (systematic, deprnd), as for ``rad``. Logs RAD's diagnostics (``k_used`` is the scaled true
    count) plus ``teacher_mistakes_unqueried`` (the count m) and ``k_validation`` (the k that
    ``rad`` with the same ``k_scale`` would use, from the teacher's validation error). Raises
    ``MethodError`` when called without the privileged view."""

    privileged = True

    def __init__(self, gain: str = "margin", k_scale: float = 1.0, sampler: str = DEFAULT_SAMPLER) -> None:
        self.gain = gain
        self.k_scale = k_scale
        self.sampler = sampler

    def validate_params(self) -> None:
        self._validate_common()

    def adversary_budget(self, state: PoolState, privileged: PrivilegedView | None = None) -> int:
        """k for this round from the true count of teacher mistakes, clipped to [0, n - 1]."""
        return self.scaled_k(teacher_mistakes(state, self._view(privileged)), state.n_unlabeled)

    def _view(self, privileged: Any) -> PrivilegedView:
        if not isinstance(privileged, PrivilegedView):
            raise MethodError(f"method {self.name!r} needs the privileged view (pool labels and teacher outputs); "
                              f"got {type(privileged).__name__}")
        return privileged

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator,
                         privileged: PrivilegedView | None = None, *args: Any) -> np.ndarray:
        self.validate_params()
        n, m = state.n_unlabeled, teacher_mistakes(state, self._view(privileged))
        pos = self.draw(state, budget, rng, self.scaled_k(m, n))
        self.log(teacher_mistakes_unqueried=m, k_validation=self.scaled_k(state.validation_teacher_error * n, n))
        return pos
