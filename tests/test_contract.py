"""The contract every registered acquisition method must meet (one template, every method)."""
import dataclasses

import numpy as np
import pytest

import benchmark.models
from benchmark.core.registry import METHODS
from benchmark.run.state import PrivilegedView
from methods.base import BudgetError


def _privileged(method, hidden):
    return PrivilegedView(hidden["pool_labels"], hidden["teacher_probs"]) if method.privileged else None


def _select(method, state, hidden, budget, seed=0):
    return method.select(state, budget, np.random.default_rng(seed), privileged=_privileged(method, hidden))


ALL = METHODS.names()


def test_every_builtin_method_is_covered():
    assert {"random", "margin", "entropy", "least_confidence"} <= set(ALL)


@pytest.fixture(params=ALL)
def method(request):
    cls = METHODS.get(request.param)
    return cls()


@pytest.fixture
def state_factory(state_factory, method, monkeypatch):
    """The shared synthetic states; a method that needs MC dropout passes (``student_mc_probs``)
    gets a student with dropout 0.5, since the shared student has none."""
    if "student_mc_probs" in method.requires:
        build = benchmark.models.build_model

        def with_dropout(spec, *args, **kwargs):
            return build(dataclasses.replace(spec, params={**spec.params, "dropout": 0.5}), *args, **kwargs)

        monkeypatch.setattr(benchmark.models, "build_model", with_dropout)
    return state_factory


def test_constructor_only_stores_parameters(method):
    params = method.get_params()
    clone = type(method)(**params)
    assert clone.get_params() == params
    assert not hasattr(method, "diagnostics_")


@pytest.mark.parametrize("budget", [1, 7])
def test_exact_distinct_budget_from_unlabeled(method, state_factory, budget):
    state, hidden = state_factory(requires=method.requires)
    idx = _select(method, state, hidden, budget)
    assert idx.dtype == np.int64 and idx.shape == (budget,)
    assert len(np.unique(idx)) == budget
    assert np.isin(idx, state.unlabeled).all()
    assert not np.isin(idx, state.queried).any()


def test_deterministic_per_seed(method, state_factory):
    a_state, hidden = state_factory(requires=method.requires)
    b_state, _ = state_factory(requires=method.requires)
    a = _select(method, a_state, hidden, 9, seed=3)
    b = _select(type(method)(**method.get_params()), b_state, hidden, 9, seed=3)
    np.testing.assert_array_equal(a, b)


def test_does_not_mutate_state(method, state_factory):
    state, hidden = state_factory(requires=method.requires)
    before = {k: np.array(getattr(state, k), copy=True)
              for k in ("labeled", "labeled_y", "unlabeled", "queried", "queried_soft_labels", *method.requires)}
    scalars = (state.round, state.budget_left, state.num_classes, state.validation_teacher_error)
    _select(method, state, hidden, 5)
    for k, v in before.items():
        np.testing.assert_array_equal(getattr(state, k), v)
    assert scalars == (state.round, state.budget_left, state.num_classes, state.validation_teacher_error)


def test_budget_equal_to_pool(method, state_factory):
    state, hidden = state_factory(requires=method.requires)
    idx = _select(method, state, hidden, state.n_unlabeled)
    assert sorted(idx.tolist()) == sorted(state.unlabeled.tolist())


@pytest.mark.parametrize("bad", [0, -1])
def test_non_positive_budget_raises(method, state_factory, bad):
    state, hidden = state_factory(requires=method.requires)
    with pytest.raises(BudgetError, match=f"budget must be a positive integer, got {bad}"):
        _select(method, state, hidden, bad)


def test_budget_over_pool_raises(method, state_factory):
    state, hidden = state_factory(requires=method.requires)
    n = state.n_unlabeled
    with pytest.raises(BudgetError, match=f"budget {n + 1} exceeds the {n} unqueried pool points"):
        _select(method, state, hidden, n + 1)


def test_only_declared_fields_are_read(method, state_factory):
    """A method that reads a lazy field it did not declare fails here (StateAccessError)."""
    state, hidden = state_factory(requires=method.requires)
    _select(method, state, hidden, 3)


# Whole runs through the harness for the randomized and low-budget rules, whose selections
# depend on more than a sort (Gumbel noise, k-means, a coverage graph).
WHOLE_RUN = ["power_margin", "power_entropy", "softmax_margin", "typiclust", "probcover"]


@pytest.mark.parametrize("name", WHOLE_RUN)
def test_whole_run_is_deterministic(fast_task, tmp_path, name):
    import torch

    from benchmark.core.config import MethodEntry
    from benchmark.run.loop import RunSpec, execute_run
    from tests.test_loop import comparable

    spec = RunSpec("t", fast_task, MethodEntry(name), 0)
    a = execute_run(spec, tmp_path / "a", torch.device("cpu"))
    b = execute_run(spec, tmp_path / "b", torch.device("cpu"))
    assert a.complete and comparable(a) == comparable(b)
    queried = [i for r in a.rounds for i in r.queried]
    assert len(queried) == len(set(queried)) == fast_task.rounds * fast_task.queries_per_round
