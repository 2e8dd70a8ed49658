"""The query ledger: refusals, exact counts, and that a refused query changes nothing."""
import numpy as np
import pytest

from benchmark.run.teacher import OracleError, TeacherOracle, softmax


def _logits(n, seed=0):
    return (3 * np.random.default_rng(seed).normal(size=(n, 3))).astype(np.float32)


def _oracle(n=20, budget=8):
    logits = _logits(n)
    return TeacherOracle(logits, budget), softmax(logits)


def test_query_returns_soft_labels_and_counts_exactly():
    o, probs = _oracle()
    out = o.query(np.array([3, 1, 7]))
    np.testing.assert_array_equal(out, probs[[3, 1, 7]])
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-6)
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


def test_answered_logits_are_the_paid_answers_in_query_order():
    """The harness trains on logits (temperature is exact on them); only paid rows come out."""
    logits = _logits(20)
    o = TeacherOracle(logits, 8)
    assert o.answered_logits().shape == (0, 3)
    o.query([3, 1])
    o.query([7])
    np.testing.assert_array_equal(o.answered_logits(), logits[[3, 1, 7]])
    with pytest.raises(OracleError):
        o.query([1])
    assert len(o.answered_logits()) == o.n_queries == 3  # a refused query adds nothing
    o.answered_logits()[:] = 0  # a copy: the ledger's answers cannot be changed through it
    np.testing.assert_array_equal(o.answered_logits(), logits[[3, 1, 7]])


def test_returned_labels_are_copies():
    o, probs = _oracle()
    out = o.query([0])
    out[:] = 0
    assert o.query([1]).sum() == pytest.approx(1.0, abs=1e-5)


def _input_oracle(budget=8):
    calls = []

    def teacher(x):  # answers logits, like the harness's teacher
        calls.append(np.array(x, copy=True))
        return np.tile(np.log(np.array([[0.2, 0.3, 0.5]], np.float32)), (len(x), 1))

    logits = _logits(20)
    return TeacherOracle(logits, budget, answer_inputs=teacher), softmax(logits), calls


def test_query_on_new_inputs_is_answered_by_the_teacher_and_counted_once():
    o, probs, calls = _input_oracle()
    x = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    out = o.query(np.array([5, 2, 9]), inputs=x, use_inputs=np.array([True, False, True]))
    np.testing.assert_array_equal(calls[0], x[[0, 2]])  # only the mixed rows go to the teacher
    np.testing.assert_allclose(out[[0, 2]], [[0.2, 0.3, 0.5]] * 2, rtol=1e-6)
    np.testing.assert_array_equal(out[1], probs[2])
    np.testing.assert_allclose(o.answered_logits()[[0, 2]], np.log([[0.2, 0.3, 0.5]] * 2), rtol=1e-6)
    assert o.n_queries == 3 and o.n_input_queries == 2 and o.budget_left == 5
    np.testing.assert_array_equal(o.queried(), [5, 2, 9])
    with pytest.raises(OracleError, match="index 5 was already queried"):
        o.query([5], inputs=x[:1], use_inputs=np.array([True]))


@pytest.mark.parametrize("kwargs, msg", [
    ({"indices": [1, 1], "use_inputs": np.array([True, True])}, "duplicate query index 1"),
    ({"indices": [1, 2], "use_inputs": np.array([1, 0])}, "use_inputs must be a bool array"),
    ({"indices": [1, 2], "use_inputs": np.array([True, False]), "inputs": np.ones((1, 4), np.float32)},
     "inputs must have one row per query index"),
])
def test_refused_input_queries_change_nothing_and_never_ask_the_teacher(kwargs, msg):
    o, _, calls = _input_oracle()
    kwargs = {"inputs": np.ones((2, 4), np.float32), **kwargs}
    with pytest.raises(OracleError, match=msg):
        o.query(**kwargs)
    assert calls == [] and o.n_queries == 0 and len(o.unqueried()) == 20


def test_over_budget_input_query_never_asks_the_teacher():
    o, _, calls = _input_oracle(budget=1)
    with pytest.raises(OracleError, match="exceeds the budget"):
        o.query([1, 2], inputs=np.ones((2, 4), np.float32), use_inputs=np.array([True, True]))
    assert calls == [] and o.n_queries == 0


def test_input_queries_need_a_teacher_and_a_well_shaped_answer():
    o, _ = _oracle()
    with pytest.raises(OracleError, match="without a teacher model"):
        o.query([1], inputs=np.ones((1, 4), np.float32), use_inputs=np.array([True]))
    assert o.n_queries == 0
    bad = TeacherOracle(np.full((5, 3), 1 / 3, np.float32), 5, answer_inputs=lambda x: np.ones((len(x), 2)))
    with pytest.raises(OracleError, match=r"the teacher answered shape \(1, 2\) for 1 inputs; expected \(1, 3\)"):
        bad.query([0], inputs=np.ones((1, 4), np.float32), use_inputs=np.array([True]))
    assert bad.n_queries == 0 and len(bad.unqueried()) == 5
