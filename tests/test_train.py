"""The distillation loss and training behave as documented."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark.core.config import ModelSpec, TrainRecipe
from benchmark.models import build_model
from benchmark.run import stacked
from benchmark.run.train import fit, make_train_set, predict, soft_targets

CPU = torch.device("cpu")


def test_soft_targets_match_softmax_of_scaled_logits():
    logits = np.array([[2.0, 1.0, -1.0]])
    np.testing.assert_allclose(soft_targets(logits, 2.0), torch.softmax(torch.tensor(logits) / 2, 1).numpy(), rtol=1e-6)


def test_temperature_acts_on_logits_not_on_clipped_probabilities():
    """logits [0, -40 x 9] at tau = 4: the wrong classes get 9 e^-10 / (1 + 9 e^-10) = 4.1e-4 of
    the mass; tempering float32 probabilities clipped at 1e-12 would give 8.9e-3."""
    logits = np.array([[0.0] + [-40.0] * 9], np.float32)
    ts = make_train_set(np.zeros((1, 2), np.float32), np.array([0]), np.zeros((1, 2), np.float32), logits, 10,
                        TrainRecipe(temperature=4.0), CPU)
    wrong = float(ts.targets[1, 1:].sum())
    assert wrong == pytest.approx(9 * np.exp(-10) / (1 + 9 * np.exp(-10)), rel=1e-5)
    assert wrong == pytest.approx(4.1e-4, rel=0.01)


def test_weights_implement_the_documented_objective():
    rng = np.random.default_rng(0)
    x_l, y_l = rng.normal(size=(4, 3)).astype(np.float32), np.array([0, 1, 2, 1])
    x_q = rng.normal(size=(6, 3)).astype(np.float32)
    teacher_logits = (3 * rng.normal(size=(6, 3))).astype(np.float32)
    r = TrainRecipe(temperature=2.0, distill_weight=0.3)
    ts = make_train_set(x_l, y_l, x_q, teacher_logits, 3, r, CPU)
    z = torch.tensor(rng.normal(size=(10, 3)), dtype=torch.float32)
    got = (F.cross_entropy(z * ts.inv_temp[:, None], ts.targets, reduction="none") * ts.weight).sum()
    hard = F.cross_entropy(z[:4], torch.tensor(y_l))
    t = torch.softmax(torch.tensor(teacher_logits) / 2.0, 1)
    softce = -(t * torch.log_softmax(z[4:] / 2.0, 1)).sum(1).mean()
    assert got.item() == pytest.approx((0.7 * hard + 0.3 * 4.0 * softce).item(), rel=1e-5)


def test_no_queries_means_pure_cross_entropy():
    ts = make_train_set(np.zeros((5, 2), np.float32), np.arange(5) % 2, None, None, 2, TrainRecipe(distill_weight=0.9),
                        torch.device("cpu"))
    assert ts.weight.sum().item() == pytest.approx(1.0)


@pytest.mark.parametrize("batch_size", [0, 16])
def test_fit_learns_a_separable_problem_deterministically(batch_size):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 1, 2, 2)).astype(np.float32)
    y = (x.reshape(64, -1).sum(1) > 0).astype(np.int64)
    r = TrainRecipe(epochs=60, batch_size=batch_size, lr=0.05)

    def run():
        torch.manual_seed(0)
        m = build_model(ModelSpec("mlp", {"hidden": [16]}), (1, 2, 2), 2)
        fit(m, make_train_set(x, y, None, None, 2, r, torch.device("cpu")), r, 5, torch.device("cpu"))
        return predict(m, x, torch.device("cpu"), embeddings=True)

    (p1, e1), (p2, _) = run(), run()
    assert (p1.argmax(1) == y).mean() > 0.95
    np.testing.assert_array_equal(p1, p2)
    assert e1.shape == (64, 16)


@pytest.mark.parametrize("name,shape", [("mlp", (1, 8, 8)), ("small_cnn", (1, 8, 8)), ("small_cnn", (3, 32, 32))])
def test_models_embed_and_classify(name, shape):
    m = build_model(ModelSpec(name), shape, 7)
    x = torch.zeros((2, *shape))
    assert m(x).shape == (2, 7) and m.embed(x).ndim == 2


def test_unknown_model_parameter():
    from benchmark.core.config import ConfigError

    with pytest.raises(ConfigError, match="model 'mlp': unknown parameter 'depth'"):
        build_model(ModelSpec("mlp", {"depth": 3}), (4,), 2)


class _TinyBN(torch.nn.Module):
    """A BatchNorm model that records the size of every training batch it sees."""

    def __init__(self):
        super().__init__()
        self.lin, self.bn, self.head = torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)
        self.sizes = []

    def forward(self, x):
        if self.training:
            self.sizes.append(len(x))
        return self.head(self.bn(self.lin(x)))


@pytest.mark.parametrize("n, batch_size, expect", [(25, 12, [12, 13]), (3, 2, [3]), (2, 0, [2]), (26, 12, [12, 12, 2])])
def test_batchnorm_never_trains_on_a_batch_of_one(n, batch_size, expect):
    """A one-example tail joins the previous batch: every example is used once per epoch."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(n, 3)).astype(np.float32), np.arange(n) % 2
    m, r = _TinyBN(), TrainRecipe(epochs=2, batch_size=batch_size, schedule="cosine")
    fit(m, make_train_set(x, y, None, None, 2, r, CPU), r, 0, CPU)
    assert m.sizes == expect * 2


def test_models_without_batchnorm_keep_the_plain_batches():
    x, y = np.zeros((25, 3), np.float32), np.arange(25) % 2
    m, r = _TinyBN(), TrainRecipe(epochs=1, batch_size=12)
    m.bn = torch.nn.Identity()
    fit(m, make_train_set(x, y, None, None, 2, r, CPU), r, 0, CPU)
    assert m.sizes == [12, 12, 1]


def test_one_example_with_batchnorm_is_a_config_error():
    from benchmark.core.config import ConfigError

    r = TrainRecipe(epochs=1)
    with pytest.raises(ConfigError, match="1 example, but model _TinyBN has BatchNorm layers"):
        fit(_TinyBN(), make_train_set(np.zeros((1, 3), np.float32), np.array([0]), None, None, 2, r, CPU), r, 0, CPU)


def _bn_digits_task(fast_task, labeled):
    """digits with a MobileNetV2 student in batches of 12: round 1 trains on 20 + 5 = 25 points."""
    import dataclasses

    from benchmark.core.config import ModelSpec

    return dataclasses.replace(
        fast_task, rounds=1, student=ModelSpec("mobilenetv2", {"width_mult": 0.25, "last_channels": 32}),
        splits=dataclasses.replace(fast_task.splits, labeled=labeled),
        train=dataclasses.replace(fast_task.train, epochs=1, batch_size=12))


def test_a_run_whose_last_batch_would_hold_one_example_completes(fast_task, tmp_path):
    from benchmark.core.config import MethodEntry
    from benchmark.run.loop import RunSpec, execute_run

    rec = execute_run(RunSpec("t", _bn_digits_task(fast_task, 20), MethodEntry("random"), 0), tmp_path, CPU)
    assert rec.complete and rec.rounds[-1].n_queries == 5


def test_a_labeled_set_of_one_with_batchnorm_fails_before_the_teacher_is_trained(fast_task, tmp_path, monkeypatch):
    import benchmark.run.loop as loop
    from benchmark.core.config import ConfigError, MethodEntry

    monkeypatch.setattr(loop, "get_teacher", lambda *a, **k: pytest.fail("the teacher was trained"))
    with pytest.raises(ConfigError, match="the labeled set has 1 example, but model .* has BatchNorm layers"):
        loop.execute_run(loop.RunSpec("t", _bn_digits_task(fast_task, 1), MethodEntry("random"), 0), tmp_path, CPU)


def test_the_harness_trains_on_the_teachers_logits(fast_task, tmp_path, monkeypatch):
    """A confident teacher (logits [0, -40 x 9]) at tau = 4: the paid points' training targets
    put 4.1e-4 on the wrong classes."""
    import dataclasses

    import benchmark.run.loop as loop
    from benchmark.core.config import MethodEntry
    from benchmark.data import load_data, make_splits
    from benchmark.run.teacher import TeacherOutputs

    task = dataclasses.replace(fast_task, rounds=1, train=dataclasses.replace(fast_task.train, temperature=4.0,
                                                                              epochs=1))
    data = load_data(task.data)
    splits = make_splits(data, task.splits, 0)

    def confident(n):
        z = np.full((n, 10), -40.0, np.float32)
        z[:, 0] = 0.0
        return z

    monkeypatch.setattr(loop, "get_teacher", lambda *a, **k: TeacherOutputs(
        confident(len(splits.pool)), confident(len(splits.validation)), confident(len(splits.test)), "k"))
    sets = []
    orig_fit = stacked.fit
    monkeypatch.setattr(stacked, "fit", lambda model, ts, *a, **k: sets.append(ts) or orig_fit(model, ts, *a, **k))
    loop.execute_run(loop.RunSpec("t", task, MethodEntry("random"), 0), tmp_path, CPU)
    paid = sets[-1].targets[len(splits.labeled):].numpy()
    assert paid.shape == (5, 10)
    np.testing.assert_allclose(paid[:, 1:].sum(1), 9 * np.exp(-10) / (1 + 9 * np.exp(-10)), rtol=1e-4)
