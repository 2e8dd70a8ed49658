"""``cluster_margin``: margin sampling diversified by clusters (Citovsky et al., NeurIPS 2021).

Reference: G. Citovsky, G. DeSalvo, C. Gentile, L. Karydas, A. Rajagopalan, A. Rostamizadeh
and S. Kumar, "Batch Active Learning at Scale", NeurIPS 2021, Algorithm 1.

Rule.
- Once per run: cluster the embeddings of the whole pool with hierarchical agglomerative
  clustering, average linkage, Euclidean distance. The embeddings are those of the model
  trained on the initial labeled set, as in the paper: here the round-0 student
  (``initial_pool_embeddings``). The dendrogram is cut into ``n_clusters`` clusters
  (default ⌈√N⌉ for a pool of N points) or, if ``distance_threshold`` is given, at that
  average-linkage distance (the paper's ε). A pool larger than ``max_cluster_points``
  (default 5,000) is clustered on a uniform subsample of that size; every other point joins
  the cluster with the nearest centroid (mean of the cluster's subsample members).
- Each round: take the k_m = ⌈m·b⌉ unqueried points with the smallest student margin
  p_(1) - p_(2) (default m = 10; ties broken at random), group them by cluster, and sort
  the groups by their size within those k_m points, smallest first (ties in random order).
  Then pass over the groups in that order, taking one uniformly random not-yet-taken point
  from each group per pass, skipping exhausted groups, until b points are taken.

Adaptation to active distillation: none to the rule. Resume safety: the clustering is a
pure function of the round-0 embeddings. The subsample is drawn with a generator seeded by
a digest of those embeddings, and the round-0 student is rebuilt deterministically by the
harness, so a run resumed at any round uses the same clusters as an uninterrupted run.

Cost: the subsample's pairwise distances (s(s-1)/2 float64 for s = ``max_cluster_points``,
100 MB at the default, which scipy copies once: about 330 MB peak in all) and scipy's O(s²)
average linkage (NN-chain), once per run; the rest is assigned by a blocked nearest-centroid
search, O(N·d) memory. About 2 s for N = 50,000, d = 512 on 2 CPU cores. Each round is
O(k_m log k_m) after the O(n) margin top-k.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import torch
from scipy.cluster.hierarchy import fcluster, linkage

from benchmark.core.config import ConfigError
from benchmark.core.registry import register_method
from benchmark.run.state import PoolState
from methods.base import AcquisitionMethod
from methods.distances import (CHUNK_ELEMENTS, as_tensor, check_finite, min_sq_dist, pairwise_sq_dist_block, resolve,
                               sq_norms)
from methods.topk import top_k
from methods.uncertainty import margin_gain


def condensed_distances(x: torch.Tensor) -> np.ndarray:
    """Euclidean distances of the rows of x (s, d) in scipy's condensed order: (s(s-1)/2,) float64.
    Computed in row blocks; the full (s, s) matrix is never held."""
    s = x.shape[0]
    out = np.empty(s * (s - 1) // 2, dtype=np.float64)
    rows = max(1, CHUNK_ELEMENTS // max(s, 1))
    pos = 0
    for r0 in range(0, s, rows):
        r1 = min(s, r0 + rows)
        block = pairwise_sq_dist_block(x[r0:r1], x).double().sqrt_().cpu().numpy()
        mask = np.arange(s)[None, :] > np.arange(r0, r1)[:, None]  # upper triangle, row-major
        vals = block[mask]
        out[pos:pos + len(vals)] = vals
        pos += len(vals)
    return out


def average_linkage_clusters(emb, n_clusters: int | None = None, distance_threshold: float | None = None,
                             max_points: int = 5000, device: str = "cpu") -> np.ndarray:
    """Cluster labels (N,) int64 in [0, K) for embeddings (N, d), average-linkage HAC as in the
    module docstring. Deterministic: the subsample's generator is seeded by the data's digest."""
    dev = resolve(device)
    x = as_tensor(emb, dev)
    check_finite(sq_norms(x), "initial_pool_embeddings")
    n = x.shape[0]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    if n > max_points:
        raw = np.ascontiguousarray(emb if isinstance(emb, np.ndarray) else x.cpu().numpy())
        digest = hashlib.blake2b(memoryview(raw).cast("B"), digest_size=8).digest()
        sub_rng = np.random.default_rng(int.from_bytes(digest, "little"))
        sample = np.sort(sub_rng.choice(n, size=max_points, replace=False))
    else:
        sample = np.arange(n)
    xs = x[torch.from_numpy(sample).to(dev)]
    z = linkage(condensed_distances(xs), method="average")
    if distance_threshold is not None:
        lab = fcluster(z, t=distance_threshold, criterion="distance")
    else:
        k = n_clusters if n_clusters is not None else math.ceil(math.sqrt(n))
        lab = fcluster(z, t=min(k, len(sample)), criterion="maxclust")
    _, lab = np.unique(lab, return_inverse=True)  # 0..K-1
    labels = np.empty(n, dtype=np.int64)
    labels[sample] = lab
    if len(sample) < n:
        k = int(lab.max()) + 1
        lab_t = torch.from_numpy(lab).to(dev)
        sums = torch.zeros(k, x.shape[1], dtype=torch.float64, device=dev).index_add_(0, lab_t, xs.double())
        counts = torch.bincount(lab_t, minlength=k).double()
        centroids = (sums / counts[:, None]).float()
        rest = np.setdiff1d(np.arange(n), sample)
        _, nearest = min_sq_dist(x[torch.from_numpy(rest).to(dev)], centroids)
        labels[rest] = nearest.cpu().numpy()
    return labels


def round_robin(clusters: np.ndarray, budget: int, rng: np.random.Generator) -> np.ndarray:
    """Positions into ``clusters`` (k,) picked by Cluster-Margin's round robin: groups visited
    smallest first (random order among equal sizes), one random member per group per pass.
    Returns (budget,) positions in pick order."""
    k = len(clusters)
    uniq, inv, counts = np.unique(clusters, return_inverse=True, return_counts=True)
    group_rank = np.empty(len(uniq), dtype=np.int64)
    group_rank[np.lexsort((rng.permutation(len(uniq)), counts))] = np.arange(len(uniq))
    member_key = rng.permutation(k)  # random order inside each group
    by_group = np.lexsort((member_key, inv))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pass_no = np.empty(k, dtype=np.int64)
    pass_no[by_group] = np.arange(k) - np.repeat(starts, counts)
    order = np.lexsort((group_rank[inv], pass_no))
    return order[:budget].astype(np.int64)


@register_method("cluster_margin")
class ClusterMargin(AcquisitionMethod):
    """Lowest-margin candidates, round-robin over average-linkage clusters (smallest first)."""

    requires = frozenset({"student_probs", "initial_pool_embeddings"})

    def __init__(self, m: float = 10.0, n_clusters: int | None = None, distance_threshold: float | None = None,
                 max_cluster_points: int = 5000) -> None:
        self.m = m
        self.n_clusters = n_clusters
        self.distance_threshold = distance_threshold
        self.max_cluster_points = max_cluster_points

    def validate_params(self) -> None:
        if isinstance(self.m, bool) or not isinstance(self.m, (int, float)) or not self.m >= 1:
            raise ConfigError(f"cluster_margin: m must be a number >= 1, got {self.m!r}")
        if self.n_clusters is not None and self.distance_threshold is not None:
            raise ConfigError("cluster_margin: give n_clusters or distance_threshold, not both")
        if self.n_clusters is not None and (isinstance(self.n_clusters, bool) or not isinstance(self.n_clusters, int)
                                            or self.n_clusters < 1):
            raise ConfigError(f"cluster_margin: n_clusters must be an integer >= 1 or null, got {self.n_clusters!r}")
        if self.distance_threshold is not None and (isinstance(self.distance_threshold, bool) or not isinstance(
                self.distance_threshold, (int, float)) or not self.distance_threshold > 0):
            raise ConfigError(f"cluster_margin: distance_threshold must be a number > 0 or null, "
                              f"got {self.distance_threshold!r}")
        if isinstance(self.max_cluster_points, bool) or not isinstance(self.max_cluster_points, int) \
                or self.max_cluster_points < 2:
            raise ConfigError(f"cluster_margin: max_cluster_points must be an integer >= 2, "
                              f"got {self.max_cluster_points!r}")

    def clusters(self, state: PoolState) -> np.ndarray:
        """(pool_size,) cluster of every pool point; computed once per run and kept."""
        key = (state.pool_size, len(state.labeled_y), hashlib.blake2b(state.labeled_y.tobytes()).hexdigest())
        cached = getattr(self, "_clusters", None)
        if cached is None or cached[0] != key:
            emb = state.initial_pool_embeddings
            if emb.shape[0] != state.pool_size:
                raise ValueError(f"initial_pool_embeddings has {emb.shape[0]} rows; expected pool_size "
                                 f"{state.pool_size}")
            labels = average_linkage_clusters(emb, self.n_clusters, self.distance_threshold,
                                              self.max_cluster_points, device=state.device)
            cached = (key, labels)
            self._clusters = cached
        return cached[1]

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator, *args) -> np.ndarray:
        self.validate_params()
        clusters = self.clusters(state)
        n = state.n_unlabeled
        k_m = min(n, math.ceil(self.m * budget))
        cand = top_k(margin_gain(state.student_probs), k_m, rng)  # the k_m smallest margins
        picks = round_robin(clusters[state.unlabeled[cand]], budget, rng)
        self.log(n_clusters=int(clusters.max()) + 1, candidates=k_m,
                 candidate_clusters=int(len(np.unique(clusters[state.unlabeled[cand]]))))
        return cand[picks]
