"""coreset and pcoreset: k-center greedy against a brute-force O(n²) reference."""
import numpy as np
import pytest
import torch

import methods.distances as distances
from benchmark.core.registry import METHODS
from benchmark.run.state import PoolState
from methods.kcenter import kcenter_greedy


def brute_force_kcenter(x: np.ndarray, centers: np.ndarray, budget: int) -> list[int]:
    """Farthest-first traversal with the full distance matrix, in float64."""
    allp = np.concatenate([x, centers]).astype(np.float64)
    d = np.sqrt(((allp[:, None, :] - allp[None, :, :]) ** 2).sum(-1))  # (n+m, n+m)
    n = len(x)
    mind = d[:n, n:].min(axis=1) if len(centers) else np.full(n, np.inf)
    picked = []
    for _ in range(budget):
        j = int(np.argmax(np.where(np.isin(np.arange(n), picked), -np.inf, mind)))
        picked.append(j)
        mind = np.minimum(mind, d[:n, j])
    return picked


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


def _states(n=300, m=40, d=16, c=6, seed=0):
    rng = np.random.default_rng(seed)
    emb, emb_tr = rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(m, d)).astype(np.float32)
    probs, probs_tr = _softmax(2 * rng.normal(size=(n, c))), _softmax(2 * rng.normal(size=(m, c)))
    common = dict(num_classes=c, unlabeled=np.arange(n) * 2 + 1, labeled_y=rng.integers(0, c, m))
    return (PoolState.from_arrays(**common, student_embeddings=emb, student_embeddings_train=emb_tr),
            PoolState.from_arrays(**common, student_probs=probs, student_probs_train=probs_tr),
            (emb, emb_tr), (probs, probs_tr))


@pytest.mark.parametrize("seed", [0, 1])
def test_coreset_equals_brute_force(seed):
    s_emb, _, (emb, emb_tr), _ = _states(seed=seed)
    got = METHODS.get("coreset")().select(s_emb, 30, np.random.default_rng(0))
    ref = brute_force_kcenter(emb, emb_tr, 30)
    np.testing.assert_array_equal(got, s_emb.unlabeled[ref])


@pytest.mark.parametrize("seed", [0, 1])
def test_pcoreset_equals_brute_force(seed):
    _, s_p, _, (probs, probs_tr) = _states(seed=seed)
    got = METHODS.get("pcoreset")().select(s_p, 30, np.random.default_rng(0))
    ref = brute_force_kcenter(probs, probs_tr, 30)
    np.testing.assert_array_equal(got, s_p.unlabeled[ref])


def test_farthest_point_property_at_every_step():
    s_emb, _, (emb, emb_tr), _ = _states(seed=3)
    pos = np.searchsorted(s_emb.unlabeled, METHODS.get("coreset")().select(s_emb, 25, np.random.default_rng(0)))
    centers = emb_tr.astype(np.float64)
    for j in pos:
        dist = np.sqrt(((emb[:, None, :].astype(np.float64) - centers[None]) ** 2).sum(-1)).min(1)
        assert dist[j] == pytest.approx(dist.max(), rel=1e-5)
        centers = np.concatenate([centers, emb[j:j + 1]])


def test_blocked_distances_do_not_change_the_answer(monkeypatch):
    _, _, (emb, emb_tr), _ = _states(seed=4)
    full = kcenter_greedy(emb, emb_tr, 20, np.random.default_rng(0)).positions
    monkeypatch.setattr(distances, "CHUNK_ELEMENTS", 37)  # many tiny row and column blocks
    np.testing.assert_array_equal(kcenter_greedy(emb, emb_tr, 20, np.random.default_rng(0)).positions, full)


def test_no_initial_centers_starts_at_a_random_point():
    _, _, (emb, _), _ = _states(seed=5)
    a = kcenter_greedy(emb, emb[:0], 10, np.random.default_rng(1)).positions
    b = kcenter_greedy(emb, emb[:0], 10, np.random.default_rng(2)).positions
    assert a[0] == np.random.default_rng(1).integers(len(emb))
    np.testing.assert_array_equal(a[1:], np.array(brute_force_kcenter(emb, emb[a[0]:a[0] + 1], 10))[:9])
    assert a[0] != b[0]


def test_radius_shrinks_and_is_logged():
    s_emb, _, _, _ = _states(seed=6)
    m = METHODS.get("coreset")()
    m.select(s_emb, 20, np.random.default_rng(0))
    assert m.diagnostics_["radius_after"] < m.diagnostics_["radius_before"]


def test_nan_embeddings_raise():
    emb = np.zeros((10, 3), np.float32)
    emb[4, 1] = np.nan
    with pytest.raises(ValueError, match="student_embeddings contains NaN"):
        kcenter_greedy(emb, emb[:2] * 0, 2, np.random.default_rng(0), what="student_embeddings")


def test_tensor_inputs_and_duplicates():
    """Tensors are accepted; with every point a duplicate, selection is still b distinct points."""
    x = torch.zeros(12, 4)
    res = kcenter_greedy(x, x[:3], 12, np.random.default_rng(0))
    assert sorted(res.positions.tolist()) == list(range(12))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    _, _, (emb, emb_tr), _ = _states(n=2000, seed=7)
    cpu = kcenter_greedy(emb, emb_tr, 50, np.random.default_rng(0), device="cpu").positions
    gpu = kcenter_greedy(emb, emb_tr, 50, np.random.default_rng(0), device="cuda").positions
    assert cpu[0] == gpu[0]
    assert len(np.intersect1d(cpu, gpu)) >= 45  # float summation order may flip a near-tie


def _offset_segment(dtype, offset: float, n=400, d=512, seed=0):
    """n points at random positions along the diagonal of the unit cube in d dimensions, every
    coordinate shifted by ``offset``; the first point is the initial center."""
    t = np.sort(np.random.default_rng(seed).random(n))
    x = (t[:, None] * np.ones(d) + offset).astype(dtype)
    return x, x[:1]


def test_a_large_common_offset_does_not_change_the_picks():
    """float32 points far from the origin: the norm expansion works on mean-centred copies."""
    x, c = _offset_segment(np.float32, 300.0)
    got = kcenter_greedy(x, c, 10, np.random.default_rng(0)).positions
    np.testing.assert_array_equal(got, brute_force_kcenter(x, c, 10))
    assert got[0] == 399  # the far end of the segment first


def test_float64_input_is_kept_in_float64():
    """An offset float32 cannot even represent (1e4 + 1e-3 steps) is exact in float64."""
    x, c = _offset_segment(np.float64, 1e4, n=100, d=8)
    got = kcenter_greedy(x, c, 10, np.random.default_rng(0)).positions
    np.testing.assert_array_equal(got, brute_force_kcenter(x, c, 10))
    s = PoolState.from_arrays(num_classes=2, unlabeled=np.arange(len(x)), labeled_y=np.zeros(1, np.int64),
                              student_embeddings=x, student_embeddings_train=c)
    np.testing.assert_array_equal(METHODS.get("coreset")().select(s, 10, np.random.default_rng(0)), got)


def test_min_sq_dist_and_blocks_are_exact_far_from_the_origin():
    x, _ = _offset_segment(np.float32, 300.0, n=50, d=64)
    xt = torch.from_numpy(x)
    ref = ((x[:, None, :].astype(np.float64) - x[None, ::7].astype(np.float64)) ** 2).sum(-1)
    np.testing.assert_allclose(distances.pairwise_sq_dist_block(xt, xt[::7]).numpy(), ref, rtol=1e-3, atol=1e-3)
    best, arg = distances.min_sq_dist(xt, xt[::7])
    np.testing.assert_allclose(best.numpy(), ref.min(1), rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(arg.numpy(), ref.argmin(1))
