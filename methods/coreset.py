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

from benchmark.core.registry import register_method
from methods.kcenter import KCenterMethod


@register_method("coreset")
class CoreSet(KCenterMethod):
    """k-center greedy in embedding space; centers start at labeled ∪ queried."""

    requires = frozenset({"student_embeddings", "student_embeddings_train"})
    points_field = "student_embeddings"
    centers_field = "student_embeddings_train"
