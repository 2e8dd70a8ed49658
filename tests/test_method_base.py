"""The base class refuses invalid answers from a method, whatever the method."""
import numpy as np
import pytest

from methods.base import AcquisitionMethod, MethodError


class Returns(AcquisitionMethod):
    """Answers whatever it was built with; mixes with ``partners`` when given."""

    name = "returns"

    def __init__(self, positions=None, partners=None, weights=None):
        self.positions = positions
        self.partners = partners
        self.weights = weights

    def select_positions(self, state, budget, rng, *args):
        if self.partners is not None:
            self.mix(np.asarray(self.partners), np.asarray(self.weights, dtype=float))
        return np.asarray(self.positions)


@pytest.mark.parametrize("positions,match", [
    ([0, 1], r"returned positions of shape \(2,\) .* expected \(3,\) integers"),
    ([0.0, 1.0, 2.0], r"returned positions of shape \(3,\) dtype float64"),
    ([0, 1, 10_000], r"returned positions outside \[0, "),
    ([0, -1, 2], r"returned positions outside \[0, "),
    ([0, 1, 1], "returned duplicate positions"),
])
def test_invalid_selection_is_refused(state_factory, positions, match):
    state, _ = state_factory(requires=frozenset())
    with pytest.raises(MethodError, match=f"method 'returns' {match}" if "returned" in match else match):
        Returns(positions).select(state, 3, np.random.default_rng(0))


@pytest.mark.parametrize("partners,weights,match", [
    ([0, 1], [0.5, 0.5, 0.5], r"mixed with partner positions of shape \(2,\)"),
    ([0, 1, 10_000], [0.5, 0.5, 0.5], r"mixed with partner positions outside \[0, "),
    ([0, 1, 2], [0.5, 1.5, 0.5], r"mixed with weights .* outside \[0, 0.5\]"),
    ([3, 4, 5], [0.0, 1.0, 0.2], r"mixed with weights .* outside \[0, 0.5\]"),  # the partner would dominate
    ([3, 1, 5], [0.0, 0.3, 0.2], "mixed a point with itself"),
])
def test_invalid_mixup_plan_is_refused(state_factory, partners, weights, match):
    state, _ = state_factory(requires=frozenset())
    with pytest.raises(MethodError, match=match):
        Returns([0, 1, 2], partners, weights).select(state, 3, np.random.default_rng(0))


def test_valid_answer_maps_positions_to_pool_indices(state_factory):
    state, _ = state_factory(requires=frozenset())
    m = Returns([2, 0, 1], partners=[2, 4, 5], weights=[0.0, 0.3, 0.5])  # weight 0: the partner is ignored
    idx = m.select(state, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(idx, state.unlabeled[[2, 0, 1]])
    np.testing.assert_array_equal(m.mixup_.partners, state.unlabeled[[2, 4, 5]])
