"""Teacher noise placed by the student's gain: ``flip_informative`` flips the round-0 student's
top-gain points, ``flip_adaptive`` the current student's every round; rate 0 is the noiseless
teacher, the placement is reproducible, resumable and hidden from the method until it pays."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import yaml

from benchmark.core.config import MethodEntry, NoiseSpec, load_suite
from benchmark.core.results import read_run, run_path
from benchmark.core.registry import METHODS, register_method
from benchmark.data import load_data, make_splits
from benchmark.models import build_model
from benchmark.run.gain_noise import RAD_GAIN, GainNoise, rad_gain
from benchmark.run.loop import RunSpec, execute_run
from benchmark.run.noise import n_affected
from benchmark.run.runner import build_grid
from benchmark.run.teacher import get_teacher, teacher_key
from benchmark.run.train import new_model, predict
from methods.base import AcquisitionMethod
from methods.rad import GAIN_FLOOR, RAD
from methods.uncertainty import margin_gain
from tests.test_loop import comparable
from tests.tinytask import images, labels, run_args, run_cli, write_parquet, write_task

CPU = torch.device("cpu")
KINDS = ("flip_informative", "flip_adaptive")


class _Spy(AcquisitionMethod):
    """Random selection that keeps, per round, what it was given (and, when privileged, the
    teacher's current answers on the whole pool)."""

    requires = frozenset({"student_probs", "student_embeddings"})
    seen: list = []

    def select_positions(self, state, budget, rng, *args):
        type(self).seen.append({"round": state.round, "unlabeled": np.array(state.unlabeled),
                                "queried": np.array(state.queried), "soft": np.array(state.queried_soft_labels),
                                "probs": np.array(state.student_probs), "emb": np.array(state.student_embeddings),
                                "val_err": state.validation_teacher_error, "args": args,
                                "teacher": None if not args or args[0] is None
                                else np.array(args[0].teacher_pool_probs)})
        return rng.choice(state.n_unlabeled, budget, replace=False)


class _PrivSpy(_Spy):
    privileged = True


@pytest.fixture(scope="module")
def spies():
    register_method("noise_spy")(_Spy)
    register_method("noise_spy_privileged")(_PrivSpy)
    yield
    METHODS.remove("noise_spy")
    METHODS.remove("noise_spy_privileged")


def _task(fast_task, noise, rounds=3):
    return fast_task.with_noise(noise).with_rounds(rounds)


def _spy_run(task, tmp_path, privileged=True, seed=0, **kw):
    cls = _PrivSpy if privileged else _Spy
    cls.seen = []
    rec = execute_run(RunSpec("t", task, MethodEntry("noise_spy_privileged" if privileged else "noise_spy"), seed),
                      tmp_path, CPU, **kw)
    return rec, list(cls.seen)


def _clean(task, seed=0):
    t = task.with_noise(None)
    data = load_data(t.data)
    splits = make_splits(data, t.splits, seed)
    return get_teacher(t, data, splits, seed, CPU), data, splits


def _top_gain(probs, m):
    """The m highest-gain rows of ``probs``, checked free of ties at the boundary."""
    g = margin_gain(probs)
    order = np.argsort(-g, kind="stable")
    assert m == 0 or m == len(g) or g[order[m - 1]] > g[order[m]], "a tie at the boundary: the set is not unique"
    return set(order[:m].tolist())


def _flipped(teacher_now, clean_probs):
    return set(np.flatnonzero((teacher_now != clean_probs).any(axis=1)).tolist())


def test_the_adversary_gain_is_the_one_rad_uses_by_default():
    p = np.random.default_rng(0).dirichlet(np.ones(5), 50).astype(np.float32)
    assert RAD().gain == RAD_GAIN == "margin"
    np.testing.assert_array_equal(rad_gain(p), np.maximum(margin_gain(p), GAIN_FLOOR))


def test_flip_informative_flips_exactly_the_round0_students_top_gain_points(fast_task, tmp_path, spies):
    task = _task(fast_task, NoiseSpec("flip_informative", 0.2))
    rec, seen = _spy_run(task, tmp_path)
    clean = _clean(task)[0].pool_probs
    first = seen[0]  # round 1 selects with the round-0 student over the whole pool
    assert len(first["unlabeled"]) == len(clean)
    fixed = _flipped(first["teacher"], clean)
    m = n_affected(len(clean), 0.2)
    assert len(fixed) == m and fixed == {int(first["unlabeled"][i]) for i in _top_gain(first["probs"], m)}
    for s, r in zip(seen, rec.rounds[1:]):  # fixed for the whole run; the audit names the flipped purchases
        now = set(s["unlabeled"].tolist())
        assert _flipped(s["teacher"], clean) & now == fixed & now
        assert set(r.teacher_noise["flipped_queried"]) == fixed & set(r.queried)
        assert r.teacher_noise["flipped_unqueried"] == len(fixed & now)
    assert rec.teacher["noise"] == {"kind": "flip_informative", "rate": 0.2}


def test_flip_adaptive_flips_the_current_students_top_gain_points_and_keeps_bought_answers(fast_task, tmp_path,
                                                                                          spies):
    task = _task(fast_task, NoiseSpec("flip_adaptive", 0.2))
    rec, seen = _spy_run(task, tmp_path)
    clean = _clean(task)[0].pool_probs
    sets = []
    for s, r in zip(seen, rec.rounds[1:]):
        u = s["unlabeled"]
        m = n_affected(len(u), 0.2)
        flipped = _flipped(s["teacher"], clean) & set(u.tolist())
        assert flipped == {int(u[i]) for i in _top_gain(s["probs"], m)}  # overlap 1.0 with the top-gain share
        assert set(r.teacher_noise["flipped_queried"]) == flipped & set(r.queried)
        assert r.teacher_noise["validation_error"] == s["val_err"]
        sets.append(flipped)
    assert sets[1] != sets[0] - set(rec.rounds[1].queried)  # the adversary moved with the student
    for s, later in zip(seen, seen[1:]):  # an answer once bought does not change
        bought = later["queried"][-task.queries_per_round:]
        np.testing.assert_array_equal(later["soft"][-task.queries_per_round:], s["teacher"][bought])


def test_gain_noise_places_validation_and_test_by_the_same_students_gain(fast_task):
    clean, data, splits = _clean(fast_task)
    student = new_model(lambda: build_model(fast_task.student, data.input_shape, data.num_classes, data.meta), 7)
    x = {s: splits.xy(data, s)[0] for s in ("pool", "validation", "test")}
    gn = GainNoise(NoiseSpec("flip_adaptive", 0.3), clean, data.num_classes, 0, fast_task.name)
    first = gn.place(1, student, x, np.arange(len(x["pool"])), CPU)
    for split in ("pool", "validation", "test"):
        p = predict(student, x[split], CPU)[0]
        got = _flipped(getattr(first, f"{split}_probs"), getattr(clean, f"{split}_probs"))
        assert got == _top_gain(p, n_affected(len(p), 0.3))
    later = new_model(lambda: build_model(fast_task.student, data.input_shape, data.num_classes, data.meta), 8)
    u = np.arange(0, len(x["pool"]), 2)
    second = gn.place(2, later, x, u, CPU)
    p = predict(later, x["pool"], CPU, index=u)[0]
    assert _flipped(second.pool_probs, clean.pool_probs) == {int(u[i]) for i in _top_gain(p, n_affected(len(u), 0.3))}
    assert second.test_logits.tobytes() == first.test_logits.tobytes()  # the test split stays as placed first
    assert _flipped(second.validation_probs, clean.validation_probs) == _top_gain(
        predict(later, x["validation"], CPU)[0], n_affected(len(x["validation"]), 0.3))


@pytest.mark.parametrize("kind", KINDS)
def test_rate_0_is_bitwise_the_noiseless_teacher(fast_task, tmp_path, spies, kind):
    base, seen_base = _spy_run(_task(fast_task, None, 2), tmp_path / "none")
    zero, seen_zero = _spy_run(_task(fast_task, NoiseSpec(kind, 0.0), 2), tmp_path / kind)
    for a, b in zip(seen_base, seen_zero):
        assert a["teacher"].tobytes() == b["teacher"].tobytes() and a["soft"].tobytes() == b["soft"].tobytes()
        assert a["val_err"] == b["val_err"]
    a, b = comparable(base), comparable(zero)
    assert b["teacher"].pop("noise") == {"kind": kind, "rate": 0.0} and a["teacher"] == b["teacher"]
    for ra, rb in zip(a["rounds"], b["rounds"]):
        audit = rb.pop("teacher_noise")
        assert audit is None or audit["flipped_queried"] == [] and audit["flipped_unqueried"] == 0
        assert ra.pop("teacher_noise") is None and ra == rb


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_records_other_seed_other_placement_and_resume_is_exact(fast_task, tmp_path, kind):
    task = _task(fast_task, NoiseSpec(kind, 0.3), rounds=4)
    spec = RunSpec("t", task, MethodEntry("margin"), 0)  # buys top-gain points, so flipped answers
    a = execute_run(spec, tmp_path / "a", CPU)
    b = execute_run(spec, tmp_path / "b", CPU)
    assert comparable(a) == comparable(b)
    other = execute_run(RunSpec("t", task, MethodEntry("margin"), 1), tmp_path / "c", CPU)
    assert [r.teacher_noise for r in other.rounds] != [r.teacher_noise for r in a.rounds]

    class Killed(Exception):
        pass

    def stop_after_round_2(rec):
        if len(rec.rounds) == 3:
            raise Killed

    with pytest.raises(Killed):
        execute_run(spec, tmp_path / "d", CPU, on_round=stop_after_round_2)
    assert a.rounds[2].teacher_noise["flipped_queried"]  # flipped answers to replay
    assert any(r.teacher_noise["flipped_queried"] for r in a.rounds[3:])  # and to buy after the resume
    assert comparable(execute_run(spec, tmp_path / "d", CPU)) == comparable(a)


def test_a_method_sees_the_same_state_with_and_without_the_noise_before_it_pays(fast_task, tmp_path, spies):
    """Round 1's state for a non-privileged method is the same whatever the placement (only the
    teacher validation error, a number every practitioner has, may differ), and it gets no
    privileged view."""
    states = {}
    for noise in (None, NoiseSpec("flip_informative", 0.3), NoiseSpec("flip_adaptive", 0.3)):
        _, seen = _spy_run(_task(fast_task, noise, 1), tmp_path / str(noise), privileged=False)
        states[noise] = seen[0]
    ref = states[None]
    for noise, s in states.items():
        assert s["args"] == () and s["teacher"] is None
        for key in ("unlabeled", "queried", "soft", "probs", "emb"):
            assert s[key].tobytes() == ref[key].tobytes(), (noise, key)


def test_student_kinds_share_the_clean_cached_teacher(fast_task):
    clean, data, splits = _clean(fast_task)
    for kind in KINDS:
        t = fast_task.with_noise(NoiseSpec(kind, 0.4))
        assert teacher_key(t, data, splits, 0, CPU) == teacher_key(fast_task, data, splits, 0, CPU)
        assert get_teacher(t, data, splits, 0, CPU).pool_logits.tobytes() == clean.pool_logits.tobytes()


def test_command_line_and_suite_run_the_student_kinds(tmp_path, capsys):
    y = labels(40, [0, 1])
    task = write_task(tmp_path, "tiny", {"data_files": str(write_parquet(tmp_path / "d.parquet", images(y), y))})
    rc, _, err = run_cli([*run_args(task, tmp_path / "out", methods="rad"), "--teacher-noise", "0.2",
                          "--noise-kind", "flip_adaptive"], capsys)
    assert rc == 0, err
    rec = read_run(run_path(tmp_path / "out", "adhoc", "tiny@flip_adaptive-0.2", "rad", 0))
    assert rec.complete and rec.teacher["noise"] == {"kind": "flip_adaptive", "rate": 0.2}
    assert all(set(r.teacher_noise) == {"flipped_queried", "flipped_unqueried", "validation_error"}
               for r in rec.rounds[1:])
    suite = tmp_path / "student-noise.yaml"
    suite.write_text(yaml.safe_dump({"name": "student-noise", "version": 1, "tasks": ["digits"], "methods": ["rad"],
                                     "teacher_noise": {"kind": list(KINDS), "rates": [0, 0.2]}}))
    assert load_suite(str(suite)).teacher_noise.kinds == list(KINDS)
    assert [r.task.label for r in build_grid(suite=str(suite), seeds=[0]).runs] == [
        "digits@flip_informative-0", "digits@flip_informative-0.2", "digits@flip_adaptive-0",
        "digits@flip_adaptive-0.2"]
