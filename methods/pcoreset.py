"""``pcoreset``: probabilistic coreset, k-center greedy in the student's output (probability) space.

Reference: the k-center greedy rule of Sener & Savarese, "Active Learning for Convolutional
Neural Networks: A Core-Set Approach", ICLR 2018, applied to the student's predicted class
distributions instead of its features: the output-space coreset used as a baseline for
active distillation.

Rule: let p(x) ∈ Δ^{C-1} be the student's class probabilities. The initial centers are
p(L ∪ Q) (``student_probs_train``). Repeat b times: query the unqueried point u maximizing
min_c ‖p(u) - p(c)‖₂ over the current centers, then add it to the centers. Ties go to the
lowest position in ``state.unlabeled``. Points whose predicted distribution is far from
every labeled or queried one are covered first, so the queries spread over the regions of
the simplex (confident per class, and the uncertain regions between classes) that the
training set does not yet represent.

Implementation: ``methods.kcenter.kcenter_greedy``, shared with ``coreset``.
"""
from __future__ import annotations

from benchmark.core.registry import register_method
from methods.kcenter import KCenterMethod


@register_method("pcoreset")
class ProbabilisticCoreSet(KCenterMethod):
    """k-center greedy on student probabilities; centers start at labeled ∪ queried."""

    requires = frozenset({"student_probs", "student_probs_train"})
    points_field = "student_probs"
    centers_field = "student_probs_train"
