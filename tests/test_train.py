"""The distillation loss and training behave as documented."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark.config import ModelSpec, TrainRecipe
from benchmark.models import build_model
from benchmark.train import fit, make_train_set, predict, tempered


def test_tempered_matches_softmax_of_scaled_logits():
    logits = np.array([[2.0, 1.0, -1.0]])
    p = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(tempered(p, 2.0), torch.softmax(torch.tensor(logits) / 2, 1).numpy(), rtol=1e-5)


def test_weights_implement_the_documented_objective():
    rng = np.random.default_rng(0)
    x_l, y_l = rng.normal(size=(4, 3)).astype(np.float32), np.array([0, 1, 2, 1])
    x_q = rng.normal(size=(6, 3)).astype(np.float32)
    soft = rng.dirichlet(np.ones(3), 6).astype(np.float32)
    r = TrainRecipe(temperature=2.0, distill_weight=0.3)
    ts = make_train_set(x_l, y_l, x_q, soft, 3, r, torch.device("cpu"))
    z = torch.tensor(rng.normal(size=(10, 3)), dtype=torch.float32)
    got = (F.cross_entropy(z * ts.inv_temp[:, None], ts.targets, reduction="none") * ts.weight).sum()
    hard = F.cross_entropy(z[:4], torch.tensor(y_l))
    t = torch.softmax(torch.log(torch.tensor(soft)) / 2.0, 1)
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
    from benchmark.config import ConfigError

    with pytest.raises(ConfigError, match="model 'mlp': unknown parameter 'depth'"):
        build_model(ModelSpec("mlp", {"depth": 3}), (4,), 2)
