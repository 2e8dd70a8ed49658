"""``oracle_correct_margin``: margin sampling restricted to points the teacher labels correctly.

Privileged, for analysis only: it reads pool labels and the teacher's pool outputs, which no
practitioner has, so its rows are reported apart and never ranked. It shows the ceiling a
teacher-error-aware method such as RAD (Baykal et al., "Robust Active Distillation",
ICLR 2023) aims at: the informativeness of margin sampling (Scheffer et al., 2001) without
paying for the teacher's mistakes.

Rule: among the unqueried points whose teacher top-1 class equals the true label, take the
b with the smallest student margin p_(1) - p_(2) (ties at random). If fewer than b such
points remain, take all of them and fill up with the smallest-margin points the teacher
gets wrong. Hidden information arrives only through the explicit ``privileged`` argument
(a ``PrivilegedView``), never through ``PoolState``.
"""
from __future__ import annotations

import numpy as np

from benchmark.core.registry import register_method
from benchmark.run.state import PoolState, PrivilegedView
from methods.base import AcquisitionMethod, MethodError
from methods.topk import top_k
from methods.uncertainty import margin_gain


@register_method("oracle_correct_margin")
class OracleCorrectMargin(AcquisitionMethod):
    """Smallest-margin points among those the teacher labels correctly (privileged)."""

    requires = frozenset({"student_probs"})
    privileged = True

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator,
                         privileged: PrivilegedView | None = None) -> np.ndarray:
        if not isinstance(privileged, PrivilegedView):
            raise MethodError(f"method {self.name!r} needs the privileged view (pool labels and teacher outputs); "
                              f"got {type(privileged).__name__}")
        u = state.unlabeled
        correct = privileged.teacher_pool_probs[u].argmax(axis=1) == privileged.pool_labels[u]
        gain = margin_gain(state.student_probs)
        good, bad = np.flatnonzero(correct), np.flatnonzero(~correct)
        k = min(budget, len(good))
        picked = good[top_k(gain[good], k, rng)]
        if k < budget:
            picked = np.concatenate([picked, bad[top_k(gain[bad], budget - k, rng)]])
        self.log(teacher_correct_unqueried=int(len(good)), filled_with_incorrect=int(budget - k))
        return picked.astype(np.int64)
