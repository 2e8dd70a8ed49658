"""TypiClust (Hacohen et al., ICML 2022): the most typical point of the largest uncovered clusters."""
import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

import methods.typiclust as typiclust
from benchmark.core.config import ConfigError
from benchmark.core.registry import METHODS
from benchmark.run.state import PoolState
from methods.kmeans import kmeans_labels
from methods.typiclust import mean_knn_distance



def _blobs(sizes, dim=6, seed=0, spread=0.3):
    """Well-separated Gaussian blobs of the given sizes: points (N, dim) and blob ids (N,)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(len(sizes), dim)) * 20
    x = np.concatenate([c + spread * rng.normal(size=(s, dim)) for c, s in zip(centers, sizes)])
    return x.astype(np.float32), np.repeat(np.arange(len(sizes)), sizes)


def _state(pool: np.ndarray, train: np.ndarray) -> PoolState:
    return PoolState.from_arrays(num_classes=3, unlabeled=np.arange(len(pool)), labeled_y=np.zeros(len(train), np.int64),
                                 student_embeddings=pool, student_embeddings_train=train)


def _most_typical(x: np.ndarray, members: np.ndarray, candidates: np.ndarray, k: int = 20) -> int:
    """Brute force: the candidate with the smallest mean distance to its k nearest other members."""
    d = cdist(x[candidates], x[members])
    d[d == 0] = np.inf  # itself
    kk = min(k, len(members) - 1)
    mean = np.sort(d, axis=1)[:, :kk].mean(axis=1)
    return int(candidates[np.argmin(mean)])


def test_picks_the_most_typical_point_of_the_largest_uncovered_clusters():
    """Blobs of 60, 50, 40, 30, 25 points; one labeled point in the 60- and the 40-blob; b = 3:
    K = 2 + 3 = 5 clusters (the blobs); the picks are the most typical points of the 50-, 30-
    and 25-blobs, in that order."""
    x, blob = _blobs([60, 50, 40, 30, 25])
    train_idx = np.array([0, 110])  # one point of blob 0 and one of blob 2
    pool_idx = np.setdiff1d(np.arange(len(x)), train_idx)
    state = _state(x[pool_idx], x[train_idx])
    method = METHODS.get("typiclust")(normalize=False)
    got = method.select(state, 3, np.random.default_rng(0))
    want = [_most_typical(x, np.flatnonzero(blob == b), np.setdiff1d(np.flatnonzero(blob == b), train_idx))
            for b in (1, 3, 4)]
    assert pool_idx[got].tolist() == want
    assert method.diagnostics_ == {"n_clusters": 5, "uncovered_clusters": 3, "picks_from_uncovered": 3}


def test_typicality_counts_labeled_neighbours():
    """K capped at 2 (blobs of 40 and 30), 2 labeled points in the 40-blob, b = 3: the picks go to
    the 30-blob twice (fewest covered), then to the 40-blob (tie at 2 covered, larger first). Its
    typicality uses every point of the cluster as a neighbour, labeled ones included."""
    x, blob = _blobs([40, 30], seed=3)
    train_idx = np.array([0, 1])
    pool_idx = np.setdiff1d(np.arange(len(x)), train_idx)
    state = _state(x[pool_idx], x[train_idx])
    got = pool_idx[METHODS.get("typiclust")(normalize=False, max_clusters=2).select(state, 3, np.random.default_rng(0))]
    assert blob[got].tolist() == [1, 1, 0]
    members0 = np.flatnonzero(blob == 0)
    assert got[2] == _most_typical(x, members0, np.setdiff1d(members0, train_idx))


def test_capped_clusters_are_revisited_fewest_covered_largest_first():
    """K capped at 2 (blobs of 50 and 30, nothing labeled), b = 5: picks alternate between the
    clusters by (covered count, -size): 50, 30, 50, 30, 50."""
    x, blob = _blobs([50, 30], seed=1)
    state = _state(x, x[:0])
    got = METHODS.get("typiclust")(normalize=False, max_clusters=2).select(state, 5, np.random.default_rng(0))
    assert blob[got].tolist() == [0, 1, 0, 1, 0]
    # within a cluster, the points come in order of typicality
    members = np.flatnonzero(blob == 0)
    d = np.sort(np.where(np.eye(50) > 0, np.inf, cdist(x[members], x[members])), axis=1)[:, :20].mean(axis=1)
    assert got[[0, 2, 4]].tolist() == members[np.argsort(d, kind="stable")[:3]].tolist()


def test_small_clusters_come_after_every_larger_one():
    """A far 4-point blob is its own cluster; it is uncovered, but at most min_cluster_size (5)
    points: the pick goes to the larger uncovered blob first, and to it only when nothing else is left."""
    x, blob = _blobs([30, 20, 4], seed=2)
    train_idx = np.array([0])
    pool_idx = np.setdiff1d(np.arange(len(x)), train_idx)
    state = _state(x[pool_idx], x[train_idx])
    got = METHODS.get("typiclust")(normalize=False, max_clusters=3).select(state, 2, np.random.default_rng(0))
    assert blob[pool_idx[got]].tolist() == [1, 0]
    got = METHODS.get("typiclust")(normalize=False, max_clusters=3, min_cluster_size=3).select(
        state, 2, np.random.default_rng(0))
    assert blob[pool_idx[got]].tolist() == [1, 2]


def test_mean_knn_distance_is_blocked_and_exact(monkeypatch):
    monkeypatch.setattr(typiclust, "CHUNK_ELEMENTS", 50)  # blocks of 1 row over 40 points
    x = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
    rows = np.array([0, 3, 7, 39])
    got = mean_knn_distance(torch.from_numpy(x), rows, 6)
    d = cdist(x[rows], x)
    d[np.arange(4), rows] = np.inf
    np.testing.assert_allclose(got, np.sort(d, axis=1)[:, :6].mean(axis=1), rtol=1e-4)
    assert np.array_equal(mean_knn_distance(torch.from_numpy(x), rows, 0), np.zeros(4))


def test_kmeans_is_deterministic_per_rng_and_recovers_blobs():
    x, blob = _blobs([30, 20, 10], seed=4)
    a = kmeans_labels(torch.from_numpy(x), 3, np.random.default_rng(5))
    b = kmeans_labels(torch.from_numpy(x), 3, np.random.default_rng(5))
    assert np.array_equal(a, b)
    assert len({(i, j) for i, j in zip(a, blob)}) == 3  # one cluster per blob
    many = kmeans_labels(torch.from_numpy(np.repeat(x, 2, axis=0)), 60, np.random.default_rng(0))  # MiniBatchKMeans
    assert many.shape == (120,) and many.max() < 60


@pytest.mark.parametrize("params,match", [({"max_clusters": 0}, "max_clusters must be an integer >= 1 or null"),
                                          ({"k_neighbors": 0}, "k_neighbors must be an integer >= 1"),
                                          ({"min_cluster_size": -1}, "min_cluster_size must be an integer >= 0"),
                                          ({"normalize": "yes"}, "normalize must be true or false")])
def test_bad_parameters_are_config_errors(params, match):
    x, _ = _blobs([10, 10])
    with pytest.raises(ConfigError, match=f"typiclust: {match}"):
        METHODS.get("typiclust")(**params).select(_state(x, x[:2]), 2, np.random.default_rng(0))
