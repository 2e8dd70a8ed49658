"""``coreset``: k-center greedy on the student's penultimate embeddings (Sener & Savarese, ICLR 2018).

Reference: O. Sener and S. Savarese, "Active Learning for Convolutional Neural Networks: A
Core-Set Approach", ICLR 2018, Algorithm 1 (k-Center-Greedy).

Rule: let h(x) be the current student's penultimate features. The initial centers are
h(L ∪ Q), the labeled set and every point queried so far (``student_embeddings_train``).
Repeat b times: query the unqueried point u maximizing min_c ‖h(u) - h(c)‖ over the
current centers, then add it to the centers. Ties go to the lowest position in
``state.unlabeled``. Adaptation to active distillation: none beyond "labeled" meaning the
hard-labeled set plus the soft-labeled queried points; the optional robust (outlier) MIP
refinement of the paper is not used, as in most published comparisons.

Implementation: ``methods.kcenter.kcenter_greedy`` (running min-distance vector, blocked
distances, O(n·d) memory, on the harness's device).
"""
from __future__ import annotations

import numpy as np

from benchmark.registry import register_method
from benchmark.state import PoolState
from methods.base import AcquisitionMethod
from methods.kcenter import kcenter_greedy


@register_method("coreset")
class CoreSet(AcquisitionMethod):
    """k-center greedy in embedding space; centers start at labeled ∪ queried."""

    requires = frozenset({"student_embeddings", "student_embeddings_train"})

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator, *args) -> np.ndarray:
        res = kcenter_greedy(state.student_embeddings, state.student_embeddings_train, budget, rng,
                             device=state.device, what="student_embeddings")
        self.log(radius_before=res.radius_before, radius_after=res.radius_after)
        return res.positions
