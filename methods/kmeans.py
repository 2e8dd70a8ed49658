"""Helpers shared by the embedding-space methods of Hacohen, Yehuda, Dekel and Weinshall
(``typiclust``, ``probcover``): the labeled-then-pool embedding matrix, L2-normalized as the
reference implementations normalize their self-supervised features, and scikit-learn
k-means as the reference implementation of TypiClust runs it.

k-means: ``KMeans`` for at most 50 clusters, ``MiniBatchKMeans`` (batches of 5,000) above,
as in the TypiClust reference code, started from one k-means++ seeding (Arthur &
Vassilvitskii 2007, with scikit-learn's 2 + ⌊ln k⌋ local trials per center) on all points for
``KMeans`` and on a uniform subsample of 3 x 5,000 points for ``MiniBatchKMeans`` (its
``init_size``), as scikit-learn seeds them. The seeding runs here in float32 torch
(``kmeanspp``): scikit-learn seeds float32 data by upcasting every distance block to
float64, 5 times slower at 500 clusters over 50,000 x 512 points. The seeding draws from
the run's rng; scikit-learn's own seed, for mini-batch sampling, too. scikit-learn runs
with one thread (OpenMP and BLAS): with several, its Lloyd iterations add the threads'
partial sums in the order the threads finish, so the result would depend on the core count
and on scheduling, and on a busy machine its small matrix products wait for descheduled
BLAS threads (measured: 26 s with two BLAS threads against 4 s with one, for the
mini-batch fit above).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from benchmark.run.state import PoolState
from methods.distances import CHUNK_ELEMENTS, as_tensor, check_finite, resolve, sq_norms

MINIBATCH_ABOVE = 50  # clusters; MiniBatchKMeans above this, as the TypiClust reference does
MINIBATCH_SIZE = 5000


def train_then_pool(state: PoolState, normalize: bool) -> tuple[torch.Tensor, int]:
    """(x, m): the embeddings of labeled ∪ queried (``student_embeddings_train``, m rows) then
    of the unqueried pool (``student_embeddings``, n rows) as one (m + n, d) float32 tensor on
    the state's device, each row scaled to unit norm when ``normalize`` (zero rows stay 0),
    then shifted by the mean row. Distances and k-means do not change under the shift; the
    norm expansion of squared distances (``methods.distances``) then works near the origin and
    loses no digits to cancellation when the embeddings sit far from it."""
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
    x -= _mean_row(x)
    return x, int(train.shape[0])


def _mean_row(x: torch.Tensor) -> torch.Tensor:
    """The mean row (d,) of x (N, d), accumulated in float64 over row chunks, in x's dtype."""
    total = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
    rows = max(1, CHUNK_ELEMENTS // max(x.shape[1], 1))
    for s in range(0, x.shape[0], rows):
        total += x[s:s + rows].sum(dim=0, dtype=torch.float64)
    return (total / max(x.shape[0], 1)).to(x.dtype)


def kmeanspp(x: torch.Tensor, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (greedy variant, 2 + ⌊ln k⌋ candidates per center): k distinct-draw
    row indices (k,) int64 of x (N, d), N >= k >= 1."""
    n = x.shape[0]
    trials = 2 + int(np.log(k))
    xn = sq_norms(x)
    picks = np.empty(k, dtype=np.int64)
    picks[0] = rng.integers(n)
    closest = (xn + xn[picks[0]] - 2.0 * (x @ x[picks[0]])).clamp_(min=0).double()
    for c in range(1, k):
        cum = torch.cumsum(closest, 0).cpu().numpy()
        if cum[-1] <= 0:  # every point sits on a center: any further row will do
            picks[c:] = rng.choice(np.setdiff1d(np.arange(n), picks[:c]), size=k - c, replace=False)
            break
        cand = np.minimum(np.searchsorted(cum, rng.random(trials) * cum[-1], side="right"), n - 1)
        ct = torch.as_tensor(cand, device=x.device)
        d = torch.addmm(xn[None, ct], x, x[ct].T, beta=1.0, alpha=-2.0)
        d += xn[:, None]
        new = torch.minimum(closest[:, None], d.clamp_(min=0).double())
        best = int(torch.argmin(new.sum(dim=0)))
        picks[c] = cand[best]
        closest = new[:, best].contiguous()
    return picks


def kmeans_labels(x: torch.Tensor, k: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster of every row of x (N, d) among k (1 <= k <= N) by k-means (module note):
    (N,) int64 in [0, k); a cluster may be empty."""
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k-means needs 1 <= k <= {n} clusters, got {k}")
    seed = seed_from(rng)
    with threadpool_limits(limits=1):
        if k <= MINIBATCH_ABOVE:
            init = x[torch.as_tensor(kmeanspp(x, k, rng), device=x.device)]
            km = KMeans(n_clusters=k, init=init.cpu().numpy(), n_init=1, random_state=seed)
        else:
            sub = torch.as_tensor(np.sort(rng.choice(n, size=min(n, 3 * MINIBATCH_SIZE), replace=False)),
                                  device=x.device)
            init = x[sub][torch.as_tensor(kmeanspp(x[sub], k, rng), device=x.device)]
            km = MiniBatchKMeans(n_clusters=k, init=init.cpu().numpy(), batch_size=MINIBATCH_SIZE, n_init=1,
                                 random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # fewer distinct points than clusters
            labels = km.fit(x.cpu().numpy()).labels_
    return labels.astype(np.int64)


def seed_from(rng: np.random.Generator) -> int:
    """A scikit-learn ``random_state`` drawn from the run's rng."""
    return int(rng.integers(2**31 - 1))
