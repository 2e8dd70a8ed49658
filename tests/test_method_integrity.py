"""A method cannot raise its own privilege, change the harness's data, or corrupt the ledger's
record; a faulty method is named with task, seed and round and never takes other runs down."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.core.config import ConfigError, MethodEntry
from benchmark.core.errors import GridError, MethodFailure
from benchmark.run.loop import RunSpec, execute_run
from benchmark.core.registry import METHODS, register_method
from benchmark.core.results import read_run, run_path
from benchmark.run.runner import Grid, build_grid, run_grid
from benchmark.run.state import LAZY_FIELDS, PoolState
from methods.base import AcquisitionMethod, MethodError
from tests.test_loop import comparable

CPU = torch.device("cpu")


@pytest.fixture
def temp_method():
    """Register classes under temporary names; removed after the test."""
    names = []

    def add(name, cls):
        register_method(name)(cls)
        names.append(name)
        return cls

    yield add
    for n in names:
        METHODS.remove(n)


class _Random(AcquisitionMethod):
    def select_positions(self, state, budget, rng, *args):
        return rng.choice(state.n_unlabeled, budget, replace=False)


def test_privilege_cannot_be_raised_at_run_time(fast_task, tmp_path, temp_method):
    seen = []

    class Climber(_Random):
        def select_positions(self, state, budget, rng, *args):
            seen.append(args)
            self.privileged = True
            type(self).privileged = True
            return super().select_positions(state, budget, rng)

    temp_method("climber", Climber)
    try:
        rec = execute_run(RunSpec("t", fast_task, MethodEntry("climber"), 0), tmp_path, CPU)
    finally:
        Climber.privileged = False
    assert rec.privileged is False
    assert len(seen) == fast_task.rounds and all(a in ((), (None,)) for a in seen)


def _vandalize(obj, depth=0, seen=None):
    """Try to overwrite every array, tensor and module reachable from ``obj``."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 4:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        try:
            obj.setflags(write=True)
            obj[...] = 0
        except (ValueError, TypeError):
            pass
        return
    if isinstance(obj, torch.Tensor):
        obj.data.zero_()
        return
    if isinstance(obj, torch.nn.Module):
        for p in obj.parameters():
            p.data.zero_()
        return
    children = obj.values() if isinstance(obj, dict) else (obj if isinstance(obj, (list, tuple)) else
                                                           getattr(obj, "__dict__", {}).values())
    for child in list(children):
        _vandalize(child, depth + 1, seen)


def test_a_method_cannot_change_the_harness_data(fast_task, tmp_path, temp_method):
    """A method that overwrites everything it can reach selects like an honest twin and gets
    exactly the honest twin's records."""

    class Vandal(_Random):
        requires = frozenset(LAZY_FIELDS)
        active = False

        def select_positions(self, state, budget, rng, *args):
            for name in self.requires:
                getattr(state, name)
            if self.active:
                _vandalize(state)
                _vandalize(object.__getattribute__(state, "_features"))
            return super().select_positions(state, budget, rng)

    temp_method("vandal", Vandal)
    honest = comparable(execute_run(RunSpec("t", fast_task, MethodEntry("vandal"), 0), tmp_path / "honest", CPU))
    Vandal.active = True
    vandal = comparable(execute_run(RunSpec("t", fast_task, MethodEntry("vandal"), 0), tmp_path / "vandal", CPU))
    assert vandal == honest


def test_method_writing_the_mixup_record_fails_clearly(fast_task, tmp_path, temp_method):
    class Forger(_Random):
        def select_positions(self, state, budget, rng, *args):
            self.diagnostics_["mixup"] = {"partners": [0] * budget, "weights": [0.5] * budget}
            return super().select_positions(state, budget, rng)

    temp_method("forger", Forger)
    with pytest.raises(MethodFailure, match=r"method 'forger' \(task digits, seed 0, round 1\): .*'mixup' is reserved"):
        execute_run(RunSpec("t", fast_task, MethodEntry("forger"), 0), tmp_path, CPU)


def _nan_state(n=40, c=4, d=6):
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(c), n).astype(np.float32)
    probs[3] = np.nan
    emb = rng.normal(size=(n, d)).astype(np.float32)
    return PoolState.from_arrays(
        num_classes=c, unlabeled=np.arange(n), labeled_y=np.arange(8) % c, pool_size=n,
        student_probs=probs, student_embeddings=emb, student_probs_train=np.full((8, c), 1 / c, np.float32),
        student_embeddings_train=rng.normal(size=(8, d)).astype(np.float32),
        pool_inputs=rng.normal(size=(n, 1, 2, 3)).astype(np.float32), initial_pool_embeddings=emb)


@pytest.mark.parametrize("name", [n for n in METHODS.names() if METHODS.get(n).requires & {"student_probs"}])
def test_non_finite_student_outputs_give_one_clear_error_for_every_method(name):
    cls = METHODS.get(name)
    state = _nan_state()
    view = None
    if cls.privileged:
        from benchmark.run.state import PrivilegedView

        view = PrivilegedView(np.zeros(40, np.int64), np.full((40, 4), 0.25, np.float32))
    with pytest.raises(MethodError, match=rf"method '{name}': PoolState field 'student_probs' has non-finite "
                                          r"values \(NaN or inf\) in 1 of 40 rows"):
        cls().select(state, 5, np.random.default_rng(0), privileged=view)


class _Boom(_Random):
    def select_positions(self, state, budget, rng, *args):
        if state.round == 2:
            raise ZeroDivisionError("the rule divided by zero")
        return super().select_positions(state, budget, rng)


def test_a_failing_method_is_named_and_the_other_runs_go_on(fast_task, tmp_path, temp_method):
    temp_method("boom", _Boom)
    runs = [RunSpec("t", fast_task, MethodEntry(m), 0) for m in ("boom", "random")]
    with pytest.raises(GridError) as e:
        run_grid(Grid("t", runs), tmp_path, device="cpu", progress=False)
    assert e.value.failures == ["method 'boom' (task digits, seed 0, round 2): ZeroDivisionError: the rule "
                                "divided by zero"]
    assert read_run(run_path(tmp_path, "t", "digits", "random", 0)).complete
    kept = read_run(run_path(tmp_path, "t", "digits", "boom", 0))
    assert [r.round for r in kept.rounds] == [0, 1] and not kept.complete  # kept for a resume


def test_method_parameters_of_the_whole_grid_are_checked_before_the_first_run(tmp_path):
    """The second method's bad parameter stops the grid before the first method's runs start."""
    p = tmp_path / "bad-params.yaml"
    p.write_text("name: bad-params\nversion: 1\ndescription: the second method has a bad parameter\n"
                 "tasks: [digits]\nmethods: [random, {name: margin, params: {nope: 1}}]\nseeds: [0]\n")
    with pytest.raises(ConfigError, match="method 'margin': unknown parameter 'nope'"):
        build_grid(suite=str(p))


def test_fresh_keeps_the_complete_run_until_its_replacement_is_complete(fast_task, tmp_path):
    spec = RunSpec("t", fast_task, MethodEntry("random"), 0)
    path = run_path(tmp_path, "t", "digits", "random", 0)
    run_grid(Grid("t", [spec]), tmp_path, device="cpu", progress=False)
    original = path.read_bytes()

    class Killed(Exception):
        pass

    import benchmark.run.runner as runner

    def killed_after_round_1(*args, on_round=None, **kw):
        def stop(rec):
            on_round(rec)
            if len(rec.rounds) == 2:
                raise Killed
        return execute_run(*args, on_round=stop, **kw)

    for _ in range(2):  # two --fresh runs, both killed after round 1
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(runner, "execute_run", killed_after_round_1)
            with pytest.raises(Killed):
                run_grid(Grid("t", [spec]), tmp_path, device="cpu", fresh=True, progress=False)
        assert path.with_name(path.name + ".bak").read_bytes() == original
    run_grid(Grid("t", [spec]), tmp_path, device="cpu", fresh=True, progress=False)
    assert read_run(path).complete and path.with_name(path.name + ".bak").read_bytes() == original
