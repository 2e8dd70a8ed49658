"""unixkd (entropy ranking, mixup through the paid oracle) and oracle_correct_margin (privileged)."""
import dataclasses

import numpy as np
import pytest
import torch

from benchmark.core.config import ConfigError, MethodEntry
from benchmark.run.loop import RunSpec, execute_run
from benchmark.core.registry import METHODS
from benchmark.run import stacked
from benchmark.run.state import PoolState, PrivilegedView
from methods.base import MethodError
from methods.uncertainty import entropy_gain, margin_gain

CPU = torch.device("cpu")


def _state(n=200, c=5, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, c)) * 2
    p = (np.exp(z) / np.exp(z).sum(1, keepdims=True)).astype(np.float32)
    return PoolState.from_arrays(num_classes=c, unlabeled=np.arange(n) * 3, labeled_y=rng.integers(0, c, 8),
                                 student_probs=p), p


def test_unixkd_ranks_by_entropy():
    state, p = _state()
    m = METHODS.get("unixkd")()
    idx = m.select(state, 17, np.random.default_rng(0))
    ent = entropy_gain(p)
    np.testing.assert_array_equal(np.sort(idx // 3), np.sort(np.argsort(-ent)[:17]))
    assert np.all(np.diff(ent[idx // 3]) <= 0)  # most uncertain first
    assert m.mixup_ is None
    np.testing.assert_array_equal(idx, METHODS.get("entropy")().select(state, 17, np.random.default_rng(0)))


def test_unixkd_mixup_plan():
    state, p = _state()
    m = METHODS.get("unixkd")(mixup=True, mix_fraction=1 / 3, alpha=1.0)
    idx = m.select(state, 30, np.random.default_rng(0))
    plan = m.mixup_
    assert plan.partners.shape == plan.weights.shape == (30,)
    assert plan.mixed.sum() == 10 and not plan.mixed[:20].any()  # the 10 least uncertain of the 30 are mixed
    assert np.isin(plan.partners, state.unlabeled).all()
    np.testing.assert_array_equal(plan.partners[:20], idx[:20])
    assert ((plan.weights[20:] > 0) & (plan.weights[20:] < 1)).all()
    # same queried points as without mixup
    np.testing.assert_array_equal(idx, METHODS.get("unixkd")().select(state, 30, np.random.default_rng(0)))


def test_unixkd_bad_parameters():
    state, _ = _state()
    for params, msg in (({"mix_fraction": 1.5}, "mix_fraction must be a number in \\[0, 1\\], got 1.5"),
                        ({"alpha": 0}, "alpha must be a number > 0, got 0"),
                        ({"mixup": "yes"}, "mixup must be true or false, got 'yes'")):
        with pytest.raises(ConfigError, match=msg):
            METHODS.get("unixkd")(**params).select(state, 3, np.random.default_rng(0))


def test_reserved_diagnostics_key():
    state, _ = _state()
    m = METHODS.get("margin")()
    m.diagnostics_ = {}
    with pytest.raises(MethodError, match="'mixup' is reserved"):
        m.log(mixup=1)


def _mixup_task(fast_task):
    return dataclasses.replace(fast_task, queries_per_round=6)


def test_mixup_run_queries_the_teacher_on_mixed_inputs(fast_task, tmp_path, monkeypatch):
    """The teacher answers the mixed inputs (not the pool points), every query is counted once,
    the student trains on the mixed inputs, and the method never holds an unpaid answer."""
    import benchmark.run.loop as loop
    import benchmark.run.teacher as teacher_mod

    task = _mixup_task(fast_task)
    seen_inputs, answers, ledgers = [], [], []
    orig_query = teacher_mod.TeacherOracle.query

    def spy_query(self, indices, inputs=None, use_inputs=None):
        ledgers.append(self)
        out = orig_query(self, indices, inputs, use_inputs)
        if use_inputs is not None:
            seen_inputs.append(np.asarray(inputs)[use_inputs])
            answers.append(out[use_inputs])
        return out

    monkeypatch.setattr(teacher_mod.TeacherOracle, "query", spy_query)
    fitted = []
    orig_fit = stacked.fit
    monkeypatch.setattr(stacked, "fit", lambda model, ts, *a, **k: fitted.append(ts.x.clone()) or orig_fit(model, ts, *a, **k))

    selects = []
    cls = METHODS.get("unixkd")
    orig_select = cls.select

    def spy_select(self, state, budget, rng, privileged=None):
        n_before = ledgers[-1].n_queries if ledgers else 0
        out = orig_select(self, state, budget, rng, privileged)
        selects.append((state, n_before, ledgers[-1].n_queries if ledgers else 0))
        return out

    monkeypatch.setattr(cls, "select", spy_select)
    rec = execute_run(RunSpec("t", task, MethodEntry("unixkd", params={"mixup": True}), 0), tmp_path, CPU)

    from benchmark.data import load_data, make_splits
    from benchmark.run.teacher import load_teacher_model
    from benchmark.run.train import predict

    data = load_data(task.data)
    splits = make_splits(data, task.splits, 0)
    x_pool, _ = splits.xy(data, "pool")
    tmodel = load_teacher_model(task, data, splits, 0, CPU)
    q = task.queries_per_round
    assert rec.rounds[-1].n_queries == q * task.rounds == ledgers[-1].n_queries
    assert ledgers[-1].n_input_queries == 2 * task.rounds  # round(6/3) mixed per round
    for r, (rr, xs, ans) in enumerate(zip(rec.rounds[1:], seen_inputs, answers), 1):
        mix = rr.method["mixup"]
        w = np.asarray(mix["weights"], dtype=np.float32)
        keep = w > 0
        i, j = np.asarray(rr.queried)[keep], np.asarray(mix["partners"])[keep]
        expect = (1 - w[keep])[:, None, None, None] * x_pool[i] + w[keep][:, None, None, None] * x_pool[j]
        np.testing.assert_allclose(xs, expect, rtol=1e-6)
        np.testing.assert_allclose(ans, predict(tmodel, expect, CPU)[0], rtol=1e-5, atol=1e-6)
        assert not np.allclose(xs, x_pool[i])  # really mixed, not the pool points
        # the student of round r trained on exactly these mixed inputs
        train_x = fitted[r].numpy().reshape(len(fitted[r]), -1)
        for row in expect.reshape(len(expect), -1):
            assert np.isclose(train_x, row, rtol=1e-6).all(axis=1).any()
    # selection never ran while a query was unpaid, and the next state holds only paid answers
    for state, before, after in selects:
        assert before == after == (state.round - 1) * q
        assert len(state.queried_soft_labels) == len(state.queried) == before


def test_mixup_run_resumes_exactly(fast_task, tmp_path):
    from test_loop import Crash, comparable

    from benchmark.core.results import read_run, run_path

    task = _mixup_task(fast_task)
    spec = RunSpec("t", task, MethodEntry("unixkd", params={"mixup": True}), 1)
    ref = execute_run(spec, tmp_path / "ref", CPU)

    def crash(rec):
        if len(rec.rounds) == 3:
            raise Crash

    with pytest.raises(Crash):
        execute_run(spec, tmp_path / "int", CPU, on_round=crash)
    assert len(read_run(run_path(tmp_path / "int", "t", "digits", "unixkd", 1)).rounds) == 3
    assert comparable(execute_run(spec, tmp_path / "int", CPU)) == comparable(ref)


def _privileged_state(seed=0, n=100, c=4, n_correct=None):
    rng = np.random.default_rng(seed)
    state, p = _state(n=n, c=c, seed=seed)
    n_pool = n * 3
    labels = rng.integers(0, c, n_pool)
    teacher = rng.dirichlet(np.ones(c), n_pool).astype(np.float32)
    correct = np.zeros(n_pool, bool)
    correct[state.unlabeled[rng.permutation(n)[:n_correct if n_correct is not None else n // 2]]] = True
    pred = np.where(correct, labels, (labels + 1) % c)
    teacher[np.arange(n_pool), pred] += 2.0
    return state, p, PrivilegedView(labels, teacher / teacher.sum(1, keepdims=True)), correct


def test_oracle_selects_only_teacher_correct_points():
    state, p, view, correct = _privileged_state()
    m = METHODS.get("oracle_correct_margin")()
    assert m.privileged
    idx = m.select(state, 20, np.random.default_rng(0), privileged=view)
    assert correct[idx].all()
    # and among those, the smallest margins
    pos_ok = np.flatnonzero(correct[state.unlabeled])
    gain = margin_gain(p)
    np.testing.assert_array_equal(np.sort(idx // 3), np.sort(pos_ok[np.argsort(-gain[pos_ok])[:20]]))
    assert m.diagnostics_["filled_with_incorrect"] == 0


def test_oracle_fills_up_when_too_few_correct():
    state, p, view, correct = _privileged_state(n_correct=5)
    m = METHODS.get("oracle_correct_margin")()
    idx = m.select(state, 12, np.random.default_rng(0), privileged=view)
    assert correct[idx[:5]].all() and not correct[idx[5:]].any()
    assert m.diagnostics_["filled_with_incorrect"] == 7


def test_oracle_needs_the_privileged_view_and_state_has_none():
    state, _, _, _ = _privileged_state()
    with pytest.raises(MethodError, match="needs the privileged view"):
        METHODS.get("oracle_correct_margin")().select_positions(state, 3, np.random.default_rng(0))
    with pytest.raises(AttributeError):
        state.pool_labels
