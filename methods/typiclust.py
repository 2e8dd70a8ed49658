"""``typiclust``: the most typical point of the largest uncovered clusters (Hacohen et al., ICML 2022).

Reference: G. Hacohen, A. Dekel and D. Weinshall, "Active Learning on a Budget: Opposite
Strategies Suit High and Low Budgets", ICML 2022 (TypiClust, their section 3 and
Algorithm 1), and its reference implementation (github.com/avihu111/TypiClust,
``deep-al/pycls/al/typiclust.py``).

Rule. The points are labeled ∪ queried (m points, ``student_embeddings_train``) and the
unqueried pool (n points, ``student_embeddings``), L2-normalized (``normalize``, as the
reference normalizes its self-supervised features).
1. Cluster all m + n points with k-means into K = min(m + b, ``max_clusters``) clusters
   (``max_clusters`` = 500 as in the reference code, which caps K for large budgets; null
   removes the cap; K <= m + n). k-means as in ``methods.kmeans``.
2. Repeat b times: among the clusters that still hold an unselected pool point, take the one
   with the fewest labeled, queried or already selected points, the largest first (ties: the
   lowest cluster id); clusters of at most ``min_cluster_size`` (5) points come only after
   every larger one is exhausted, as the reference drops them. From it select the most
   typical unselected pool point. Typicality (the paper's definition) is
   1 / (mean Euclidean distance to the point's k nearest neighbours among the other points
   of its cluster, labeled ones included), k = min(``k_neighbors`` = 20, cluster size - 1);
   ties go to the lowest pool position.
While uncovered clusters remain (always, for b <= K - m, which holds when K = m + b) this is
the paper's rule: the most typical point of each of the largest uncovered clusters. When they
run out (K capped), step 2 keeps taking points from the least covered, largest clusters,
as the reference implementation does by cycling through its clusters sorted by (labeled
count, -size); the difference is that here a selected point counts as covering its cluster
at once. The reference code differs in two details kept out of this rule: its typicality
uses squared distances (faiss IndexFlatL2) with k = min(20, |cluster| // 2), and computes it
among the cluster's unlabeled points only.

Cost: one k-means fit (``methods.kmeans``) on the (m + n, d) matrix; typicality once per
visited cluster, a blocked s x s distance computation for a cluster of s points (never
more than ``CHUNK_ELEMENTS`` distances at once, so never an n x n matrix); O(K) per pick.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from benchmark.core.config import ConfigError
from benchmark.core.registry import register_method
from benchmark.run.state import PoolState
from methods.base import AcquisitionMethod
from methods.distances import CHUNK_ELEMENTS, pairwise_sq_dist_block
from methods.kmeans import kmeans_labels, train_then_pool


def mean_knn_distance(points: torch.Tensor, rows: np.ndarray, k: int) -> np.ndarray:
    """Mean Euclidean distance from each of ``points[rows]`` to its k nearest other rows of
    ``points`` (s, d): (len(rows),) float64. Blocked over rows, at most ``CHUNK_ELEMENTS``
    distances at once; k = 0 gives zeros."""
    s = points.shape[0]
    out = np.zeros(len(rows), dtype=np.float64)
    if k == 0 or not len(rows):
        return out
    step = max(1, CHUNK_ELEMENTS // max(s, 1))
    for a in range(0, len(rows), step):
        r = torch.as_tensor(rows[a:a + step], device=points.device)
        d = pairwise_sq_dist_block(points[r], points)
        d[torch.arange(len(r), device=d.device), r] = float("inf")  # not its own neighbour
        nearest = torch.topk(d, k, dim=1, largest=False).values.sqrt_()
        out[a:a + len(r)] = nearest.double().mean(dim=1).cpu().numpy()
    return out


class _Clusters:
    """Cluster bookkeeping for the greedy loop: members by cluster, counts, and each visited
    cluster's pool points ranked by typicality."""

    def __init__(self, x: torch.Tensor, labels: np.ndarray, m: int, k: int, k_neighbors: int,
                 min_cluster_size: int) -> None:
        self.x, self.m, self.k_neighbors = x, m, k_neighbors
        self.order = np.argsort(labels, kind="stable")  # members of each cluster, ascending
        self.size = np.bincount(labels, minlength=k)
        self.starts = np.concatenate([[0], np.cumsum(self.size)])
        self.covered = np.bincount(labels[:m], minlength=k)  # labeled, queried and selected points
        self.left = self.size - self.covered  # unselected pool points
        self.small = self.size <= min_cluster_size
        self._ranked: dict[int, tuple[np.ndarray, int]] = {}

    def next_cluster(self) -> int:
        """The eligible cluster first by (small, covered, -size, id)."""
        key = (self.small.astype(np.int64) << 62) | (self.covered.astype(np.int64) << 31) \
            | (np.int64(2**31 - 1) - self.size)
        key[self.left == 0] = np.iinfo(np.int64).max
        return int(np.argmin(key))

    def take(self, c: int) -> int:
        """The most typical unselected pool point of cluster c, as a position into the pool."""
        if c not in self._ranked:
            members = self.order[self.starts[c]:self.starts[c + 1]]
            cand = np.flatnonzero(members >= self.m)
            k = min(self.k_neighbors, len(members) - 1)
            dist = mean_knn_distance(self.x[torch.as_tensor(members, device=self.x.device)], cand, k)
            ranked = members[cand[np.argsort(dist, kind="stable")]] - self.m
            self._ranked[c] = (ranked, 0)
        ranked, i = self._ranked[c]
        self._ranked[c] = (ranked, i + 1)
        self.covered[c] += 1
        self.left[c] -= 1
        return int(ranked[i])


@register_method("typiclust")
class TypiClust(AcquisitionMethod):
    """Most typical point of each of the largest uncovered k-means clusters."""

    requires = frozenset({"student_embeddings", "student_embeddings_train"})

    def __init__(self, max_clusters: int | None = 500, k_neighbors: int = 20, min_cluster_size: int = 5,
                 normalize: bool = True) -> None:
        self.max_clusters = max_clusters
        self.k_neighbors = k_neighbors
        self.min_cluster_size = min_cluster_size
        self.normalize = normalize

    def validate_params(self) -> None:
        def is_int(v: Any, low: int) -> bool:
            return not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= low

        if self.max_clusters is not None and not is_int(self.max_clusters, 1):
            raise ConfigError(f"typiclust: max_clusters must be an integer >= 1 or null, got {self.max_clusters!r}")
        if not is_int(self.k_neighbors, 1):
            raise ConfigError(f"typiclust: k_neighbors must be an integer >= 1, got {self.k_neighbors!r}")
        if not is_int(self.min_cluster_size, 0):
            raise ConfigError(f"typiclust: min_cluster_size must be an integer >= 0, got {self.min_cluster_size!r}")
        if not isinstance(self.normalize, bool):
            raise ConfigError(f"typiclust: normalize must be true or false, got {self.normalize!r}")

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator, *args: Any) -> np.ndarray:
        self.validate_params()
        x, m = train_then_pool(state, self.normalize)
        k = min(m + budget, len(x) if self.max_clusters is None else self.max_clusters, len(x))
        labels = kmeans_labels(x, k, rng)
        clusters = _Clusters(x, labels, m, k, self.k_neighbors, self.min_cluster_size)
        uncovered_before = int(((clusters.covered == 0) & (clusters.size > 0)).sum())
        picks = np.empty(budget, dtype=np.int64)
        from_uncovered = 0
        for t in range(budget):
            c = clusters.next_cluster()
            from_uncovered += int(clusters.covered[c] == 0)
            picks[t] = clusters.take(c)
        self.log(n_clusters=k, uncovered_clusters=uncovered_before, picks_from_uncovered=from_uncovered)
        return picks
