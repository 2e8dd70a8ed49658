"""Helpers shared by the embedding-space methods of Hacohen, Yehuda, Dekel and Weinshall
(``typiclust``, ``probcover``): the labeled-then-pool embedding matrix, L2-normalized as the
reference implementations normalize their self-supervised features, and scikit-learn
k-means as the reference implementation of TypiClust runs it.

k-means: ``KMeans`` for at most 50 clusters, ``MiniBatchKMeans`` (batches of 5,000) above,
as in the TypiClust reference code; k-means++ initialization, one initialization
(scikit-learn's default for k-means++), the seed drawn from the run's rng. The fit runs with
one OpenMP thread: with several, scikit-learn's Lloyd iterations add the threads' partial
sums in the order the threads finish, so the result would depend on the core count and on
scheduling.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from benchmark.state import PoolState
from methods.distances import as_tensor, check_finite, resolve, sq_norms

MINIBATCH_ABOVE = 50  # clusters; MiniBatchKMeans above this, as the TypiClust reference does
MINIBATCH_SIZE = 5000


def train_then_pool(state: PoolState, normalize: bool) -> tuple[torch.Tensor, int]:
    """(x, m): the embeddings of labeled ∪ queried (``student_embeddings_train``, m rows) then
    of the unqueried pool (``student_embeddings``, n rows) as one (m + n, d) float32 tensor on
    the state's device, each row scaled to unit norm when ``normalize`` (zero rows stay 0)."""
    dev = resolve(state.device)
    pool = as_tensor(state.student_embeddings, dev)
    train = as_tensor(state.student_embeddings_train, dev)
    if train.shape[0] and (train.ndim != 2 or train.shape[1] != pool.shape[1]):
        raise ValueError(f"student_embeddings_train has shape {tuple(train.shape)}; expected (m, {pool.shape[1]})")
    x = torch.cat([train.reshape(-1, pool.shape[1]), pool])
    norms = sq_norms(x)
    check_finite(norms, "student embeddings")
    if normalize:
        x /= norms.sqrt().clamp_(min=1e-12)[:, None]
    return x, int(train.shape[0])


def kmeans_labels(x: np.ndarray | torch.Tensor, k: int, seed: int) -> np.ndarray:
    """Cluster of every row of x (N, d) among k (1 <= k <= N) by k-means (module note):
    (N,) int64 in [0, k); a cluster may be empty."""
    a = x.cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if not 1 <= k <= len(a):
        raise ValueError(f"k-means needs 1 <= k <= {len(a)} clusters, got {k}")
    if k <= MINIBATCH_ABOVE:
        km = KMeans(n_clusters=k, n_init=1, random_state=seed)
    else:
        km = MiniBatchKMeans(n_clusters=k, batch_size=MINIBATCH_SIZE, n_init=1, random_state=seed)
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="openmp"):
        warnings.simplefilter("ignore", ConvergenceWarning)  # fewer distinct points than clusters
        labels = km.fit(a).labels_
    return labels.astype(np.int64)


def seed_from(rng: np.random.Generator) -> int:
    """A scikit-learn ``random_state`` drawn from the run's rng."""
    return int(rng.integers(2**31 - 1))
