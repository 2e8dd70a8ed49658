"""The query ledger: refusals, exact counts, and that a refused query changes nothing."""
import numpy as np
import pytest

from benchmark.teacher import OracleError, TeacherOracle


def _oracle(n=20, budget=8):
    probs = np.random.default_rng(0).dirichlet(np.ones(3), n).astype(np.float32)
    return TeacherOracle(probs, budget), probs


def test_query_returns_soft_labels_and_counts_exactly():
    o, probs = _oracle()
    out = o.query(np.array([3, 1, 7]))
    np.testing.assert_array_equal(out, probs[[3, 1, 7]])
    assert o.n_queries == 3 and o.budget_left == 5
    o.query([0, 2])
    assert o.n_queries == 5
    np.testing.assert_array_equal(o.queried(), [3, 1, 7, 0, 2])
    assert set(o.unqueried()) == set(range(20)) - {0, 1, 2, 3, 7}


def test_duplicate_within_a_query_raises_and_changes_nothing():
    o, _ = _oracle()
    with pytest.raises(OracleError, match="duplicate query index 4"):
        o.query([4, 5, 4])
    assert o.n_queries == 0 and len(o.unqueried()) == 20


def test_requery_raises():
    o, _ = _oracle()
    o.query([4])
    with pytest.raises(OracleError, match="index 4 was already queried"):
        o.query([9, 4])
    assert o.n_queries == 1


def test_out_of_pool_raises():
    o, _ = _oracle()
    for bad in ([20], [-1]):
        with pytest.raises(OracleError, match="outside the pool"):
            o.query(bad)
    assert o.n_queries == 0


def test_over_budget_raises():
    o, _ = _oracle(budget=4)
    o.query([0, 1, 2])
    with pytest.raises(OracleError, match="exceeds the budget: 3 of 4"):
        o.query([3, 4])
    assert o.n_queries == 3
    o.query([3])
    assert o.budget_left == 0


def test_non_integer_indices_raise():
    o, _ = _oracle()
    with pytest.raises(OracleError, match="1-D integer array"):
        o.query(np.array([1.0, 2.0]))
    with pytest.raises(OracleError, match="1-D integer array"):
        o.query(np.array([[1, 2]]))


def test_returned_labels_are_copies():
    o, probs = _oracle()
    out = o.query([0])
    out[:] = 0
    assert o.query([1]).sum() == pytest.approx(1.0, abs=1e-5)
