"""rad_true_k: RAD with the true number of teacher mistakes (privileged ablation); rad itself
has no way to read that number."""
import numpy as np
import pytest
import torch

from benchmark.core.config import ConfigError, MethodEntry
from benchmark.core.registry import METHODS
from benchmark.run.loop import RunSpec, execute_run, instantiate_method
from benchmark.run.state import PoolState, PrivilegedView
from methods.base import MethodError
from methods.rad import RAD, rad_inclusion_probabilities
from methods.rad_true_k import RADTrueK, teacher_mistakes
from methods.uncertainty import margin_gain


def tiny_state(n_pool=12, queried=(0, 1), wrong=(0, 3, 5, 6, 10), val_err=0.5, seed=0):
    """A pool of ``n_pool`` points, ``queried`` already paid for, and a teacher whose top class
    is wrong exactly on ``wrong`` (some of them queried). Returns (state, view)."""
    rng = np.random.default_rng(seed)
    c = 3
    labels = rng.integers(0, c, n_pool)
    pred = labels.copy()
    pred[list(wrong)] = (labels[list(wrong)] + 1) % c
    teacher = np.full((n_pool, c), 0.1)
    teacher[np.arange(n_pool), pred] = 0.8
    unlabeled = np.setdiff1d(np.arange(n_pool), queried)
    probs = rng.dirichlet(np.ones(c), len(unlabeled)).astype(np.float32)
    state = PoolState.from_arrays(num_classes=c, unlabeled=unlabeled, queried=np.array(queried), pool_size=n_pool,
                                  labeled_y=np.arange(4) % c, validation_teacher_error=val_err,
                                  student_probs=probs)
    return state, PrivilegedView(labels, teacher)


def test_k_is_the_number_of_unqueried_points_the_teacher_gets_wrong():
    state, view = tiny_state()  # wrong on 0, 3, 5, 6, 10; 0 is queried: 4 unqueried mistakes
    assert teacher_mistakes(state, view) == 4
    m = RADTrueK()
    idx = m.select(state, 3, np.random.default_rng(0), privileged=view)
    assert len(set(idx.tolist())) == 3 and np.isin(idx, state.unlabeled).all()
    d = m.diagnostics_
    assert d["k_used"] == 4 and d["teacher_mistakes_unqueried"] == 4
    assert d["k_validation"] == round(0.5 * 10)  # what rad would use: the validation estimate
    assert RADTrueK(k_scale=0.5).adversary_budget(state, view) == 2
    assert RADTrueK(k_scale=10).adversary_budget(state, view) == state.n_unlabeled - 1


def test_the_draw_uses_the_true_k():
    """The same selection as RAD with k fixed at the true count, and a different one from
    rad's validation estimate."""
    state, view = tiny_state(val_err=0.0)
    a = RADTrueK().select(state, 4, np.random.default_rng(3), privileged=view)
    b = RAD(k_mode="fixed", k=4).select(state, 4, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    g = margin_gain(np.asarray(state.student_probs))
    assert not np.allclose(rad_inclusion_probabilities(g, 4, 4), rad_inclusion_probabilities(g, 0, 4))


def test_registered_privileged_and_refuses_to_run_without_the_view():
    assert METHODS.get("rad_true_k") is RADTrueK and RADTrueK.privileged and not RAD.privileged
    state, _ = tiny_state()
    with pytest.raises(MethodError, match="method 'rad_true_k' needs the privileged view .* got NoneType"):
        RADTrueK().select_positions(state, 3, np.random.default_rng(0))


def test_rad_has_no_true_count_option_and_never_receives_the_view():
    with pytest.raises(ConfigError, match="method 'rad': k_mode 'true_count' is not one of validation, fixed, "
                                          "fraction$"):
        instantiate_method(MethodEntry("rad", params={"k_mode": "true_count"}))
    state, view = tiny_state(val_err=0.0)
    m = RAD()
    m.select(state, 3, np.random.default_rng(0), privileged=view)  # the base class drops the view
    assert m.diagnostics_["k_used"] == 0


@pytest.mark.parametrize("params,match", [
    ({"k_mode": "fixed"}, "unknown parameter 'k_mode'"),
    ({"sampler": "x"}, "method 'rad_true_k': sampler 'x' is not one of systematic, deprnd$"),
    ({"k_scale": -1}, "method 'rad_true_k': k_scale must be a number >= 0"),
])
def test_parameters(params, match):
    with pytest.raises(ConfigError, match=match):
        instantiate_method(MethodEntry("rad_true_k", params=params))
    assert RADTrueK().get_params() == {"gain": "margin", "k_scale": 1.0}


def test_whole_run_counts_the_mistakes_left_in_the_pool(fast_task, tmp_path):
    """Through the harness: the record is privileged; in round 1 the count is the teacher's
    mistakes on the whole pool, and each round it falls by the mistakes bought the round before."""
    rec = execute_run(RunSpec("t", fast_task, MethodEntry("rad_true_k", params={"sampler": "deprnd"}), 0),
                      tmp_path, torch.device("cpu"))
    assert rec.complete and rec.privileged
    n_pool, q = 1077, fast_task.queries_per_round
    mistakes = round((1 - rec.teacher["pool_accuracy"]) * n_pool)
    for r in rec.rounds[1:]:
        assert r.method["teacher_mistakes_unqueried"] == mistakes == r.method["k_used"]
        mistakes -= round((1 - r.teacher_accuracy_on_queried) * q)
