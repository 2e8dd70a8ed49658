"""Teacher noise in a run: applied to every split the teacher answers, before anything is
queried; rate 0 is the noiseless teacher; the trained teacher is shared by the flip levels."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.core.config import MethodEntry, NoiseSpec
from benchmark.data import load_data, make_splits
from benchmark.run.loop import RunSpec, execute_run
from benchmark.run.noise import n_affected
from benchmark.core.registry import METHODS, register_method
from benchmark.run.teacher import get_teacher, teacher_key
from methods.base import AcquisitionMethod

CPU = torch.device("cpu")


def _teacher(task, noise, seed=0):
    t = task.with_noise(noise)
    data = load_data(t.data)
    splits = make_splits(data, t.splits, seed)
    return get_teacher(t, data, splits, seed, CPU), data, splits


@pytest.mark.parametrize("kind", ["flip_uniform", "flip_hard", "flip_pairs"])
def test_flip_kinds_act_on_every_split_and_rate_0_is_the_noiseless_teacher(fast_task, kind):
    clean, _, _ = _teacher(fast_task, None)
    zero, _, _ = _teacher(fast_task, NoiseSpec(kind, 0.0))
    for split in ("pool", "validation", "test"):
        assert getattr(zero, f"{split}_logits").tobytes() == getattr(clean, f"{split}_logits").tobytes()
    noisy, _, _ = _teacher(fast_task, NoiseSpec(kind, 0.25))
    for split in ("pool", "validation", "test"):
        a, b = getattr(clean, f"{split}_probs"), getattr(noisy, f"{split}_probs")
        moved = (a.argmax(1) != b.argmax(1)).sum()
        assert abs(moved - 0.25 * len(a)) <= 1
        np.testing.assert_allclose(b.max(1), a.max(1), rtol=1e-6)  # confidence kept


def test_flip_levels_share_one_trained_teacher_and_label_noise_does_not(fast_task):
    data = load_data(fast_task.data)
    splits = make_splits(data, fast_task.splits, 0)
    keys = {teacher_key(fast_task.with_noise(n), data, splits, 0, CPU)
            for n in (None, NoiseSpec("flip_uniform", 0.3), NoiseSpec("flip_hard", 0.1))}
    assert len(keys) == 1
    assert teacher_key(fast_task.with_noise(NoiseSpec("train_labels", 0.3)), data, splits, 0, CPU) not in keys


def test_train_labels_noise_makes_a_worse_teacher(fast_task):
    clean, data, splits = _teacher(fast_task, None)
    noisy, _, _ = _teacher(fast_task, NoiseSpec("train_labels", 0.5))
    _, y_val = splits.xy(data, "validation")
    assert noisy.validation_error(y_val) > clean.validation_error(y_val)
    assert n_affected(100, 0.5) == 50


def test_the_validation_error_a_method_sees_rises_with_the_rate(fast_task, tmp_path):
    seen = {}

    @register_method("records_validation_error")
    class Spy(AcquisitionMethod):
        def select_positions(self, state, budget, rng, *args):
            seen.setdefault(rate, state.validation_teacher_error)
            return rng.choice(state.n_unlabeled, budget, replace=False)

    pool_err = {}
    try:
        for rate in (0.0, 0.2, 0.4):
            task = fast_task.with_noise(NoiseSpec("flip_uniform", rate)).with_rounds(1)
            rec = execute_run(RunSpec("t", task, MethodEntry("records_validation_error"), 0), tmp_path, CPU)
            pool_err[rate] = 1 - rec.teacher["pool_accuracy"]
            assert rec.teacher["noise"] == {"kind": "flip_uniform", "rate": rate}
            assert rec.task == task.label and rec.task.startswith("digits@flip_uniform-")
    finally:
        METHODS.remove("records_validation_error")
    assert seen[0.0] < seen[0.2] < seen[0.4]
    assert pool_err[0.0] < pool_err[0.2] < pool_err[0.4]


def test_compare_treats_a_missing_noise_level_as_missing():
    from benchmark.reporting.compare import compare_records
    from tests.records import make_record

    ref = [make_record("margin", s, [0.5, 0.6], task=t) for t in ("digits@flip_uniform-0", "digits@flip_uniform-0.2")
           for s in (0, 1)]
    res = [r for r in ref if r.task == "digits@flip_uniform-0"]
    comp = compare_records(res, ref)
    status = {g.task: g.status for g in comp.groups}
    assert status == {"digits@flip_uniform-0": "ok", "digits@flip_uniform-0.2": "missing"} and comp.failed
