"""cluster_margin: average-linkage clusters, m·b lowest margins, round robin smallest cluster first."""
import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

import methods.distances as distances
from benchmark.core.config import ConfigError
from benchmark.core.registry import METHODS
from benchmark.run.state import PoolState
from methods.cluster_margin import average_linkage_clusters, condensed_distances, round_robin
from methods.distances import as_tensor
from methods.uncertainty import margin_gain


def passes_of(picked_clusters: np.ndarray) -> list[list[int]]:
    """Split a pick sequence into passes: a pass ends when a cluster would repeat."""
    passes, cur = [], []
    for c in picked_clusters.tolist():
        if c in cur:
            passes.append(cur)
            cur = []
        cur.append(c)
    return passes + [cur]


def test_round_robin_one_per_cluster_per_pass_smallest_first():
    sizes = {7: 1, 3: 2, 9: 3, 1: 5, 4: 8}
    clusters = np.repeat(list(sizes), list(sizes.values()))
    clusters = clusters[np.random.default_rng(0).permutation(len(clusters))]
    for budget in (3, 5, 9, 12, 19):
        pos = round_robin(clusters, budget, np.random.default_rng(budget))
        assert len(np.unique(pos)) == budget
        picked = clusters[pos]
        expected_order = sorted(sizes, key=sizes.get)  # 7, 3, 9, 1, 4
        remaining = dict(sizes)
        for pas in passes_of(picked):
            alive = [c for c in expected_order if remaining[c] > 0]
            assert pas == alive[:len(pas)], (budget, pas, alive)
            for c in pas:
                remaining[c] -= 1


def test_round_robin_random_member_and_tie_order():
    clusters = np.array([0, 0, 0, 1, 1, 1])
    firsts = {tuple(clusters[round_robin(clusters, 2, np.random.default_rng(s))]) for s in range(40)}
    assert firsts == {(0, 1), (1, 0)}  # equal sizes: either order
    members = {int(round_robin(clusters, 1, np.random.default_rng(s))[0]) for s in range(60)}
    assert members == set(range(6))


def test_condensed_distances_match_scipy(monkeypatch):
    x = np.random.default_rng(0).normal(size=(37, 5)).astype(np.float32)
    monkeypatch.setattr(distances, "CHUNK_ELEMENTS", 100)  # several row blocks
    np.testing.assert_allclose(condensed_distances(as_tensor(x, "cpu")), pdist(x.astype(np.float64)),
                               rtol=1e-5, atol=1e-4)


def test_small_pool_is_exact_average_linkage():
    x = np.random.default_rng(1).normal(size=(120, 4)).astype(np.float32)
    ref = fcluster(linkage(pdist(x.astype(np.float64)), method="average"), t=6, criterion="maxclust")
    got = average_linkage_clusters(x, n_clusters=6)
    # same partition (labels may be renumbered)
    assert len(set(zip(got.tolist(), ref.tolist()))) == len(np.unique(ref)) == len(np.unique(got))


def test_distance_threshold_cut():
    x = np.concatenate([np.zeros((5, 2)), np.full((5, 2), 10.0), np.full((3, 2), 30.0)]).astype(np.float32)
    x += np.random.default_rng(2).normal(scale=0.1, size=x.shape).astype(np.float32)
    labels = average_linkage_clusters(x, distance_threshold=2.0)
    assert len(np.unique(labels)) == 3
    assert len(np.unique(labels[:5])) == len(np.unique(labels[5:10])) == len(np.unique(labels[10:])) == 1


def test_large_pool_subsample_then_nearest_centroid():
    rng = np.random.default_rng(3)
    centers = rng.normal(scale=20, size=(4, 8))
    truth = rng.integers(0, 4, 3000)
    x = (centers[truth] + rng.normal(size=(3000, 8))).astype(np.float32)
    labels = average_linkage_clusters(x, n_clusters=4, max_points=300)
    # well-separated blobs: the partition is recovered exactly, every point assigned
    assert len(set(zip(labels.tolist(), truth.tolist()))) == 4
    # deterministic: a pure function of the data
    np.testing.assert_array_equal(labels, average_linkage_clusters(x.copy(), n_clusters=4, max_points=300))


def _state(n_pool=400, seed=0, c=4):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n_pool, c)) * 2
    probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    queried = rng.choice(n_pool, 30, replace=False)
    unl = np.setdiff1d(np.arange(n_pool), queried)
    emb = rng.normal(size=(n_pool, 6)).astype(np.float32)
    return PoolState.from_arrays(num_classes=c, unlabeled=unl, queried=queried, pool_size=n_pool,
                                 labeled_y=rng.integers(0, c, 10), student_probs=probs[unl].astype(np.float32),
                                 initial_pool_embeddings=emb)


def test_selects_from_the_lowest_margin_candidates_and_round_robins():
    state = _state()
    method = METHODS.get("cluster_margin")(m=3, n_clusters=12)
    b = 20
    idx = method.select(state, b, np.random.default_rng(0))
    pos = np.searchsorted(state.unlabeled, idx)
    margin = 1 - margin_gain(state.student_probs)
    cutoff = np.sort(margin)[3 * b - 1]
    assert (margin[pos] <= cutoff).all()
    clusters = method.clusters(state)
    cand = np.argsort(margin)[:3 * b]
    cand_clusters = clusters[state.unlabeled[cand]]
    sizes = {int(c): int((cand_clusters == c).sum()) for c in np.unique(cand_clusters)}
    first_pass = passes_of(clusters[idx])[0]
    assert len(first_pass) == min(b, len(sizes))
    assert [sizes[c] for c in first_pass] == sorted(sizes[c] for c in first_pass)
    assert method.diagnostics_["candidates"] == 3 * b


def test_m_one_is_margin_sampling():
    state = _state(seed=1)
    idx = METHODS.get("cluster_margin")(m=1).select(state, 15, np.random.default_rng(0))
    ref = METHODS.get("margin")().select(state, 15, np.random.default_rng(0))
    assert set(idx.tolist()) == set(ref.tolist())


def test_clusters_are_computed_once_per_run(monkeypatch):
    import methods.cluster_margin as cm

    calls = []
    orig = cm.average_linkage_clusters
    monkeypatch.setattr(cm, "average_linkage_clusters", lambda *a, **k: calls.append(1) or orig(*a, **k))
    method = METHODS.get("cluster_margin")()
    for r in range(3):
        method.select(_state(seed=0), 5, np.random.default_rng(r))
    assert len(calls) == 1
    method.select(_state(n_pool=300, seed=5), 5, np.random.default_rng(0))  # another run's pool
    assert len(calls) == 2


@pytest.mark.parametrize("params, msg", [
    ({"m": 0.5}, "m must be a number >= 1, got 0.5"),
    ({"n_clusters": 0}, "n_clusters must be an integer >= 1 or null, got 0"),
    ({"n_clusters": 3, "distance_threshold": 1.0}, "not both"),
    ({"distance_threshold": -1}, "distance_threshold must be a number > 0 or null, got -1"),
    ({"max_cluster_points": 1}, "max_cluster_points must be an integer >= 2, got 1"),
])
def test_bad_parameters(params, msg):
    with pytest.raises(ConfigError, match=msg):
        METHODS.get("cluster_margin")(**params).select(_state(), 5, np.random.default_rng(0))
