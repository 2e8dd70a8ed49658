"""badge: factorized distances equal materialized ones; k-means++ seeding as in the reference."""
import numpy as np
import pytest
import torch
from scipy import stats

from benchmark.core.registry import METHODS
from benchmark.run.state import PoolState
from methods.badge import GradFactors, factorized_sq_dist, kmeanspp_factorized, residuals


def _data(n=50, c=5, d=7, seed=0):
    rng = np.random.default_rng(seed)
    z = 2 * rng.normal(size=(n, c))
    p = np.exp(z - z.max(1, keepdims=True))
    p = (p / p.sum(1, keepdims=True)).astype(np.float32)
    h = np.abs(rng.normal(size=(n, d))).astype(np.float32)  # ReLU-like features
    return p, h


def materialized(p, h):
    """Gradient embeddings (onehot(argmax p) - p) ⊗ h, (n, C·d), float64."""
    a = -p.astype(np.float64)
    a[np.arange(len(p)), p.argmax(1)] += 1
    return (a[:, :, None] * h.astype(np.float64)[:, None, :]).reshape(len(p), -1)


def reference_kmeanspp(g, budget, rng):
    """k-means++ seeding on materialized embeddings g (n, D), the rule of the module docstring."""
    n = len(g)
    j = int(np.argmax(np.linalg.norm(g, axis=1)))
    picked = [j]
    mind = ((g - g[j]) ** 2).sum(1)
    mind[j] = 0
    for _ in range(budget - 1):
        cum = np.cumsum(mind)
        u = rng.random()
        j = int(np.searchsorted(cum, u * cum[-1], side="right"))
        picked.append(j)
        mind = np.minimum(mind, ((g - g[j]) ** 2).sum(1))
        mind[j] = 0
    return picked


def test_factorized_distance_equals_materialized():
    p, h = _data()
    g = materialized(p, h)
    ht = torch.from_numpy(h)
    a = residuals(torch.from_numpy(p))
    f = GradFactors.build(a, ht)
    for j in (0, 7, 49):
        ref = ((g - g[j]) ** 2).sum(1)
        np.testing.assert_allclose(factorized_sq_dist(f, j).numpy(), ref, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(factorized_sq_dist(f.numpy_or_torch(np), j), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_matches_reference_kmeanspp_with_the_same_rng(seed):
    p, h = _data(seed=seed)
    got, _ = kmeanspp_factorized(p, h, 12, np.random.default_rng(seed))
    ref = reference_kmeanspp(materialized(p, h), 12, np.random.default_rng(seed))
    np.testing.assert_array_equal(got, ref)


def test_first_point_has_the_largest_gradient_norm():
    p, h = _data(n=200, seed=9)
    state = PoolState.from_arrays(num_classes=5, unlabeled=np.arange(200) + 100, labeled_y=np.zeros(3, int),
                                  student_probs=p, student_embeddings=h)
    idx = METHODS.get("badge")().select(state, 5, np.random.default_rng(0))
    assert idx[0] - 100 == np.argmax(np.linalg.norm(materialized(p, h), axis=1))


def test_second_point_is_d2_sampled():
    """Over many seeds, the second pick follows D(x)² / Σ D² (chi-square goodness of fit)."""
    p, h = _data(n=12, seed=4)
    g = materialized(p, h)
    first = int(np.argmax(np.linalg.norm(g, axis=1)))
    d2 = ((g - g[first]) ** 2).sum(1)
    expected = d2 / d2.sum()
    draws = 3000
    counts = np.bincount([kmeanspp_factorized(p, h, 2, np.random.default_rng(s))[0][1] for s in range(draws)],
                         minlength=12)
    assert counts[first] == 0
    keep = expected > 0
    _, pval = stats.chisquare(counts[keep], expected[keep] * draws)
    assert pval > 1e-3


def test_duplicates_fall_back_to_uniform():
    p = np.full((6, 3), 1 / 3, np.float32)
    h = np.ones((6, 2), np.float32)
    picked, _ = kmeanspp_factorized(p, h, 6, np.random.default_rng(0))
    assert sorted(picked.tolist()) == list(range(6))


@pytest.mark.parametrize("dtype, offset", [(np.float32, 300.0), (np.float64, 1e4)])
def test_features_far_from_the_origin_keep_the_reference_picks(dtype, offset):
    """Equal probabilities make every distance ‖a‖²‖h - h'‖²: with a large common offset in the
    features the plain factorized expansion cancels to noise in float32 (and float64 input
    must stay float64); the centred expansion matches the float64 reference."""
    p = np.tile(np.array([[0.5, 0.3, 0.2]], np.float32), (400, 1))
    t = np.sort(np.random.default_rng(0).random(400))
    h = (t[:, None] * np.ones(64) + offset).astype(dtype)
    got, _ = kmeanspp_factorized(p, h, 10, np.random.default_rng(0))
    np.testing.assert_array_equal(got, reference_kmeanspp(materialized(p, h), 10, np.random.default_rng(0)))
