"""ProbCover (Yehuda et al., NeurIPS 2022): greedy maximum coverage of δ-balls."""
import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

import methods.probcover as probcover
from benchmark.core.config import ConfigError
from benchmark.core.registry import METHODS
from benchmark.run.state import PoolState
from methods.base import MethodError
from methods.probcover import delta_graph, greedy_cover, purity_delta



def _state(pool: np.ndarray, train: np.ndarray, num_classes: int = 3) -> PoolState:
    return PoolState.from_arrays(num_classes=num_classes, unlabeled=np.arange(len(pool)),
                                 labeled_y=np.zeros(len(train), np.int64), student_embeddings=pool.astype(np.float32),
                                 student_embeddings_train=train.astype(np.float32))


def _points(n=120, dim=3, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, dim)).astype(np.float32)


def test_every_greedy_pick_covers_the_most_uncovered_points():
    """The defining property, checked against a dense brute force: at each step the selected
    point's ball (strict radius δ, and the point itself) holds the most uncovered pool points."""
    pool, train = _points(150, seed=1), _points(6, seed=2)
    delta = 0.25
    method = METHODS.get("probcover")(delta=delta, normalize=False)
    got = method.select(_state(pool, train), 12, np.random.default_rng(0))
    near = cdist(pool, pool) < delta
    np.fill_diagonal(near, True)
    uncovered = ~(cdist(pool, train) < delta).any(axis=1)
    for p in got[:method.diagnostics_["greedy_picks"]]:
        gains = (near & uncovered[None, :]).sum(axis=1)
        assert gains[p] == gains.max() > 0
        uncovered &= ~near[p]
    assert method.diagnostics_["greedy_picks"] == 12 and method.diagnostics_["delta"] == delta


def test_points_covered_by_labeled_points_are_removed_first():
    """Two tight groups of 30 and 20 points; a labeled point sits in the 30-group: the first pick
    covers the 20-group, although the 30-group's balls hold more points."""
    rng = np.random.default_rng(0)
    big, small = rng.normal(size=(30, 2)) * 0.01, 5 + rng.normal(size=(20, 2)) * 0.01
    pool = np.concatenate([big, small])
    method = METHODS.get("probcover")(delta=0.5, normalize=False)
    got = method.select(_state(pool, big[:1]), 1, np.random.default_rng(0))
    assert got[0] >= 30 and method.diagnostics_["covered_before"] == pytest.approx(30 / 50)


def test_when_everything_is_covered_the_rest_is_random():
    pool = _points(40, seed=3)
    picks = []
    for seed in range(8):
        method = METHODS.get("probcover")(delta=10.0, normalize=False)
        got = method.select(_state(pool, pool[:0]), 5, np.random.default_rng(seed))
        assert method.diagnostics_["greedy_picks"] == 1 and len(set(got.tolist())) == 5
        picks.append(tuple(sorted(got[1:].tolist())))
    assert len(set(picks)) == 8


def test_delta_graph_is_blocked_symmetric_and_exact(monkeypatch):
    monkeypatch.setattr(probcover, "_BLOCK", 7)  # many blocks, diagonal and off-diagonal
    x = _points(60, seed=4)
    covered = np.array([3, 10, 11, 40, 59])
    uncovered = np.setdiff1d(np.arange(60), covered)
    src, dst = delta_graph(torch.from_numpy(x), uncovered, covered, 0.3, max_edges=10_000)
    d = cdist(x, x)
    want = {(i, j) for i in range(60) for j in uncovered if i != j and d[i, j] < 0.3}
    got = list(zip(src.tolist(), dst.tolist()))
    assert len(got) == len(set(got)) and set(got) == want
    # nothing covered, and a subset of the rows uncovered with no covered sources
    for unc, cov in ((np.arange(60), np.zeros(0, np.int64)), (uncovered, np.zeros(0, np.int64))):
        src, dst = delta_graph(torch.from_numpy(x), unc, cov, 0.3, max_edges=10_000)
        want = {(i, j) for i in unc for j in unc if i != j and d[i, j] < 0.3}
        assert set(zip(src.tolist(), dst.tolist())) == want and len(src) == len(want)


def test_max_edges_is_a_clear_error():
    x = _points(50, seed=5)
    with pytest.raises(MethodError, match=r"delta=2 links more than max_edges=100 pairs"):
        METHODS.get("probcover")(delta=2.0, normalize=False, max_edges=100).select(
            _state(x, x[:0]), 3, np.random.default_rng(0))


def test_greedy_cover_counts_sources_outside_the_uncovered_set():
    """A covered point (0) can still be selected when its ball holds the most uncovered points."""
    src = np.array([0, 0, 0, 1], np.int32)
    dst = np.array([2, 3, 4, 2], np.int32)
    picks, greedy = greedy_cover(5, np.array([1, 2, 3, 4]), src, dst, 2, np.random.default_rng(0))
    assert picks[0] == 0 and picks[1] == 1 and greedy == 2


def test_auto_delta_is_the_largest_with_purity_at_least_alpha():
    """With the sample = every point, δ is exact (to float32 rounding): purity(δ - ε) >= alpha >
    purity(δ + ε), where purity is the fraction of points whose open δ-ball holds only their own
    pseudo-label."""
    rng = np.random.default_rng(6)
    x = np.concatenate([rng.normal(size=(60, 4)), 3 + rng.normal(size=(60, 4))]).astype(np.float32)
    labels = (x[:, 0] > 1.5).astype(np.int64)
    delta = purity_delta(torch.from_numpy(x), labels, 0.9, np.arange(len(x)))
    d = cdist(x, x)

    def purity(r):
        return np.mean([not ((d[i] < r) & (labels != labels[i])).any() for i in range(len(x))])

    assert purity(delta * (1 - 1e-5)) >= 0.9 > purity(delta * (1 + 1e-5))


def test_auto_delta_uses_the_number_of_classes_by_default():
    x = _points(80, seed=7)
    method = METHODS.get("probcover")()
    method.select(_state(x[10:], x[:10], num_classes=4), 3, np.random.default_rng(0))
    auto = method.diagnostics_["delta"]
    assert 0 < auto < 2  # unit vectors: distances are at most 2
    again = METHODS.get("probcover")(purity_clusters=4)
    again.select(_state(x[10:], x[:10], num_classes=9), 3, np.random.default_rng(0))
    assert again.diagnostics_["delta"] == auto


@pytest.mark.parametrize("params,match", [({"delta": -1}, "delta must be 'auto' or a number >= 0"),
                                          ({"delta": "big"}, "delta must be 'auto' or a number >= 0"),
                                          ({"alpha": 0}, r"alpha must be a number in \(0, 1\]"),
                                          ({"purity_clusters": 1}, "purity_clusters must be an integer >= 2 or null"),
                                          ({"purity_sample": 0}, "purity_sample must be an integer >= 1"),
                                          ({"normalize": 1}, "normalize must be true or false"),
                                          ({"max_edges": 0}, "max_edges must be an integer >= 1")])
def test_bad_parameters_are_config_errors(params, match):
    x = _points(20)
    with pytest.raises(ConfigError, match=f"probcover: {match}"):
        METHODS.get("probcover")(**params).select(_state(x, x[:2]), 2, np.random.default_rng(0))
