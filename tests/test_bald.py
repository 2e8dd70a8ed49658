"""BALD with MC dropout: the score, the harness's stochastic passes, and the students' dropout."""
import numpy as np
import pytest
import torch

from benchmark.core.config import ConfigError, ModelSpec
from benchmark.models import build_model
from benchmark.core.registry import METHODS
from benchmark.run.state import MC_SAMPLES, PoolState, StudentFeatures, active_dropout, mc_dropout_probs
from methods.base import MethodError
from methods.bald import bald_scores


def _mc_state(mc: np.ndarray) -> PoolState:
    return PoolState.from_arrays(num_classes=mc.shape[2], unlabeled=np.arange(mc.shape[1]),
                                 labeled_y=np.zeros(2, np.int64), student_mc_probs=mc.astype(np.float32))


def _student_state(dropout: float, n: int = 40, seed: int = 0, mc_samples: int = MC_SAMPLES) -> PoolState:
    torch.manual_seed(seed)
    model = build_model(ModelSpec("mlp", {"hidden": [16], "dropout": dropout}), (1, 4, 4), 3)
    x = torch.from_numpy(np.random.default_rng(seed).normal(size=(n + 5, 1, 4, 4)).astype(np.float32))
    unlabeled = np.arange(5, n + 5)
    feats = StudentFeatures(model, x, unlabeled, x[:5], torch.device("cpu"), mc_samples=mc_samples)
    return PoolState(round=1, budget_left=n, num_classes=3, pool_size=n + 5, labeled=np.arange(2),
                     labeled_y=np.zeros(2, np.int64), unlabeled=unlabeled, queried=np.zeros(0, np.int64),
                     queried_soft_labels=np.zeros((0, 3), np.float32), validation_teacher_error=0.1,
                     requires=frozenset({"student_mc_probs"}), _features=feats)


def test_bald_is_zero_when_the_passes_agree():
    p = np.random.default_rng(0).dirichlet(np.ones(4), size=50)
    mc = np.repeat(p[None], 7, axis=0).astype(np.float32)
    assert np.array_equal(bald_scores(mc), np.zeros(50))


def test_bald_is_the_mutual_information():
    """Two confident passes that disagree: H(mean) = log 2, mean H = 0; agreeing uncertain passes: 0."""
    mc = np.array([[[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]],
                   [[0.0, 1.0], [0.5, 0.5], [0.7, 0.3]]], dtype=np.float32)
    h = lambda p: -sum(v * np.log(v) for v in p if v > 0)  # noqa: E731
    expected = [np.log(2), 0.0, h([0.8, 0.2]) - (h([0.9, 0.1]) + h([0.7, 0.3])) / 2]
    np.testing.assert_allclose(bald_scores(mc), expected, rtol=1e-6, atol=1e-12)


def test_bald_selects_the_largest_mutual_information():
    rng = np.random.default_rng(1)
    mc = rng.dirichlet(np.ones(5) * 0.5, size=(10, 300)).astype(np.float32)
    got = METHODS.get("bald")(mc_samples=10).select(_mc_state(mc), 12, np.random.default_rng(0))
    assert set(got.tolist()) == set(np.argsort(-bald_scores(mc))[:12].tolist())


def test_student_without_dropout_is_a_method_error():
    state = _student_state(dropout=0.0)
    assert np.array_equal(state.student_mc_probs[0], state.student_mc_probs[-1])
    with pytest.raises(MethodError, match="'bald' needs a student with active dropout"):
        METHODS.get("bald")().select(state, 3, np.random.default_rng(0))


def test_bald_is_positive_with_dropout():
    state = _student_state(dropout=0.5)
    assert (bald_scores(state.student_mc_probs) > 0).all()
    idx = METHODS.get("bald")().select(state, 5, np.random.default_rng(0))
    assert len(set(idx.tolist())) == 5 and METHODS.get("bald")().get_params() == {"mc_samples": 20}


def test_more_samples_than_computed_is_a_method_error():
    state = _mc_state(np.random.default_rng(0).dirichlet(np.ones(3), size=(4, 10)))
    with pytest.raises(MethodError, match="mc_samples=5 but the harness computed 4 stochastic passes"):
        METHODS.get("bald")(mc_samples=5).select(state, 2, np.random.default_rng(0))


@pytest.mark.parametrize("bad", [1, 0, 2.5, True, "20"])
def test_bad_mc_samples_is_a_config_error(bad):
    state = _mc_state(np.random.default_rng(0).dirichlet(np.ones(3), size=(4, 10)))
    with pytest.raises(ConfigError, match="bald: mc_samples must be an integer >= 2"):
        METHODS.get("bald")(mc_samples=bad).select(state, 2, np.random.default_rng(0))


# ----------------------------------------------------------------------------- the harness's MC passes

def _cnn(dropout: float) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelSpec("small_cnn", {"channels": [4, 8], "dropout": dropout}), (1, 8, 8), 3)


def test_mc_passes_are_reproducible_and_do_not_depend_on_their_number():
    model = _cnn(0.5)
    x = torch.randn(30, 1, 8, 8)
    a = mc_dropout_probs(model, x, None, torch.device("cpu"), 6, seed=7)
    b = mc_dropout_probs(model, x, None, torch.device("cpu"), 6, seed=7)
    c = mc_dropout_probs(model, x, None, torch.device("cpu"), 3, seed=7)
    d = mc_dropout_probs(model, x, None, torch.device("cpu"), 6, seed=8)
    assert a.shape == (6, 30, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[:3], c)
    assert not np.array_equal(a, d) and not np.array_equal(a[0], a[1])
    np.testing.assert_allclose(a.sum(axis=2), 1.0, rtol=1e-5)


def test_mc_passes_keep_batch_norm_in_eval_and_the_global_generator_untouched():
    model = _cnn(0.0)
    x = torch.randn(30, 1, 8, 8)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    bn.running_mean += 0.3  # eval-mode BatchNorm uses these; train mode would use batch statistics
    stats = (bn.running_mean.clone(), bn.running_var.clone())
    rng_state = torch.get_rng_state()
    mc = mc_dropout_probs(model, x, None, torch.device("cpu"), 4, seed=1)
    assert torch.equal(torch.get_rng_state(), rng_state)
    assert torch.equal(bn.running_mean, stats[0]) and torch.equal(bn.running_var, stats[1])
    assert not model.training and not any(m.training for m in model.modules())
    with torch.no_grad():
        expected = torch.softmax(model.eval()(x), dim=1).numpy()
    for t in range(4):  # without dropout every pass is the deterministic eval-mode prediction
        np.testing.assert_allclose(mc[t], expected, rtol=1e-5, atol=1e-6)


def test_mc_passes_follow_the_index_and_the_harness_seed():
    """``StudentFeatures`` computes the passes on ``x[unlabeled]``; two states over the same pool
    and student give the same passes (the seed is a digest of the unlabeled indices and the
    student's weights), another student draws other masks."""
    a = _student_state(0.5, mc_samples=4).student_mc_probs
    b = _student_state(0.5, mc_samples=4).student_mc_probs
    assert a.shape == (4, 40, 3)
    np.testing.assert_array_equal(a, b)
    model = build_model(ModelSpec("mlp", {"hidden": [16], "dropout": 0.5}), (1, 4, 4), 3)
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(45, 1, 4, 4)).astype(np.float32))
    masks = []
    for shift in (0.0, 1e-3):  # the same function up to a tiny bias shift: only the seed differs
        with torch.no_grad():
            model.head.bias += shift
        feats = StudentFeatures(model, x, np.arange(5, 45), x[:5], torch.device("cpu"), mc_samples=4)
        masks.append(feats.compute({"student_mc_probs"})["student_mc_probs"])
    assert np.abs(masks[0] - masks[1]).max() > 1e-2


# ----------------------------------------------------------------------------- students' dropout option

TEXT = {"vocab_size": 50}
STUDENTS = [("mlp", {"hidden": [8]}, (1, 8, 8)), ("mlp", {"hidden": []}, (1, 8, 8)),
            ("small_cnn", {"channels": [4]}, (1, 8, 8)), ("resnet_cifar", {"depth": 8, "width": 4}, (3, 8, 8)),
            ("resnet20", {"width": 4}, (3, 8, 8)), ("resnet56", {"width": 4}, (3, 8, 8)),
            ("mobilenetv2", {"width_mult": 0.25, "last_channels": 16}, (3, 8, 8)),
            ("embedding_bag", {**TEXT, "dim": 8}, (6,)), ("embedding_bag", {**TEXT, "dim": 8, "hidden": [8]}, (6,)),
            ("tiny_transformer", {**TEXT, "dim": 8, "heads": 2, "ff": 16}, (6,))]


@pytest.mark.parametrize("name,params,shape", STUDENTS, ids=[f"{s[0]}-{i}" for i, s in enumerate(STUDENTS)])
def test_students_have_a_dropout_option_that_makes_the_passes_differ(name, params, shape):
    default = build_model(ModelSpec(name, params), shape, 3)
    assert active_dropout(default) == [] or name == "tiny_transformer"  # 0 by default (0.1 for the transformer)
    model = build_model(ModelSpec(name, {**params, "dropout": 0.5}), shape, 3)
    assert active_dropout(model)
    x = torch.randint(0, 50, (12, *shape)) if name in ("embedding_bag", "tiny_transformer") else torch.randn(12, *shape)
    mc = mc_dropout_probs(model, x, None, torch.device("cpu"), 3, seed=0)
    assert not np.array_equal(mc[0], mc[1])


# ----------------------------------------------------------------------------- inside the harness

def _run(task, method, out):
    from benchmark.core.config import MethodEntry
    from benchmark.run.loop import RunSpec, execute_run

    return execute_run(RunSpec("t", task, MethodEntry(method), 0), out, torch.device("cpu"))


def test_whole_run_with_a_dropout_student_is_reproducible(fast_task, tmp_path):
    import dataclasses

    from tests.test_loop import comparable

    task = dataclasses.replace(fast_task, student=ModelSpec("mlp", {"hidden": [64], "dropout": 0.3}))
    a, b = _run(task, "bald", tmp_path / "a"), _run(task, "bald", tmp_path / "b")
    assert a.complete and comparable(a) == comparable(b)
    assert all(r.method["mean_bald"] > 0 for r in a.rounds[1:])


def test_whole_run_without_dropout_names_the_method_and_the_fix(fast_task, tmp_path):
    import dataclasses

    from benchmark.core.errors import MethodFailure

    task = dataclasses.replace(fast_task, student=ModelSpec("mlp", {"hidden": [64]}))
    with pytest.raises(MethodFailure, match=r"method 'bald' .*needs a student with active dropout.*`dropout`"):
        _run(task, "bald", tmp_path)


def test_the_harness_computes_as_many_passes_as_the_method_asks(fast_task, tmp_path):
    import dataclasses

    from benchmark.run.loop import RunSpec, execute_run
    from benchmark.core.config import MethodEntry

    task = dataclasses.replace(fast_task, rounds=1, student=ModelSpec("mlp", {"hidden": [64], "dropout": 0.3}))
    rec = execute_run(RunSpec("t", task, MethodEntry("bald", params={"mc_samples": MC_SAMPLES + 10}), 0), tmp_path,
                      torch.device("cpu"))
    assert rec.complete and rec.rounds[1].method["mean_bald"] > 0
