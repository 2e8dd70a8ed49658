"""A method must not reach pool labels or unqueried teacher outputs through PoolState."""
import gc
import types

import numpy as np
import pytest
import torch

from benchmark.run.state import LAZY_FIELDS, StateAccessError


def _reachable(root, max_objects=200_000):
    """Every object reachable from ``root`` through references, except modules, classes and
    functions' globals (shared code, not per-run data)."""
    seen, stack, out = set(), [root], []
    while stack and len(seen) < max_objects:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType)):
            continue
        seen.add(id(obj))
        out.append(obj)
        stack.extend(gc.get_referents(obj))
    return out


def test_no_pool_labels_or_unqueried_teacher_outputs_reachable(state_factory):
    state, hidden = state_factory()
    for f in LAZY_FIELDS:
        getattr(state, f)  # materialise every lazy field first
    labels, teacher = hidden["pool_labels"], hidden["teacher_probs"]
    unq_teacher = teacher[state.unlabeled]
    for obj in _reachable(state):
        if isinstance(obj, torch.Tensor):
            obj = obj.detach().numpy()
        if isinstance(obj, np.ndarray) and obj.size:
            assert obj is not labels and obj is not teacher
            if obj.shape == labels.shape and obj.dtype.kind in "iu":
                assert not np.array_equal(obj, labels), "pool labels reachable from PoolState"
            if obj.shape == teacher.shape:
                assert not np.allclose(obj, teacher), "teacher outputs on the whole pool reachable"
            if obj.shape == unq_teacher.shape:
                assert not np.allclose(obj, unq_teacher), "unqueried teacher outputs reachable"


def test_reachability_check_can_fail(state_factory):
    """The walk above does find a label array when one is planted in a private field."""
    state, hidden = state_factory()
    object.__setattr__(state, "_planted", hidden["pool_labels"])
    assert any(o is hidden["pool_labels"] for o in _reachable(state))


def test_no_label_like_attributes(state_factory):
    state, _ = state_factory()
    for name in ("pool_labels", "pool_y", "y_pool", "labels", "teacher_probs", "teacher_pool_probs", "_oracle"):
        with pytest.raises(AttributeError):
            getattr(state, name)


def test_arrays_are_read_only_and_cannot_be_unlocked(state_factory):
    state, _ = state_factory()
    for name in ("labeled", "labeled_y", "unlabeled", "queried", "queried_soft_labels", *LAZY_FIELDS):
        arr = getattr(state, name)
        with pytest.raises(ValueError):
            arr[...] = 0
        with pytest.raises(ValueError):
            arr.setflags(write=True)
        base = arr
        while isinstance(base, np.ndarray) and base.base is not None:
            base = base.base
        assert not isinstance(base, (bytearray, np.ndarray)) or not base.flags.writeable


def test_state_is_frozen(state_factory):
    state, _ = state_factory()
    with pytest.raises(Exception):
        state.unlabeled = np.arange(3)
    with pytest.raises(Exception):
        state.round = 5


def test_lazy_fields_need_requires(state_factory):
    state, _ = state_factory(requires=frozenset())
    with pytest.raises(StateAccessError, match="add it to the method's `requires`"):
        state.student_probs


def test_lazy_fields_computed_once_and_only_when_read(state_factory, monkeypatch):
    state, _ = state_factory(requires=frozenset({"student_probs"}))
    feats = object.__getattribute__(state, "_features")
    calls = []
    orig = feats.compute
    monkeypatch.setattr(feats, "compute", lambda names: calls.append(set(names)) or orig(names))
    assert calls == []
    p1 = state.student_probs
    p2 = state.student_probs
    assert p1 is p2 and calls == [{"student_probs"}]
    assert p1.shape == (state.n_unlabeled, state.num_classes)
    np.testing.assert_allclose(p1.sum(1), 1.0, atol=1e-5)
