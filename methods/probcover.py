"""``probcover``: greedy maximum coverage of δ-balls in embedding space (Yehuda et al., NeurIPS 2022).

Reference: O. Yehuda, A. Dekel, G. Hacohen and D. Weinshall, "Active Learning Through a
Covering Lens", NeurIPS 2022 (ProbCover, their section 4 and Algorithm 1), and its reference
implementation (github.com/avihu111/TypiClust, ``deep-al/pycls/al/prob_cover.py``).

Rule. The points are labeled ∪ queried (``student_embeddings_train``) and the unqueried pool
(``student_embeddings``), L2-normalized (``normalize``, as the reference normalizes its
features). A point x covers every point x' with ‖x - x'‖ < δ, and itself.
1. δ: a number, or ``auto`` (default), the paper's rule: the largest δ whose ball purity
   π(δ) = P(every point of B_δ(x) has x's pseudo-label) is at least ``alpha`` = 0.95, with
   pseudo-labels from k-means (``methods.kmeans``) into ``purity_clusters`` clusters (null:
   the number of classes, as in the paper) over all points. With d_o(x) the distance from x
   to the nearest point of another pseudo-label, π(δ) = P(d_o(x) >= δ), so the largest such
   δ is an order statistic of d_o, found exactly, without a grid. d_o is computed for a
   uniform sample of ``purity_sample`` points (2,000; all points when there are fewer)
   against all points; the sample estimates π(δ) with a standard error of 0.005 at
   π = 0.95.
2. Pool points covered by a labeled or queried point are removed first.
3. Repeat b times: select the pool point whose ball covers the most uncovered pool points
   (ties uniformly at random, as the paper randomizes), and mark them covered. Once nothing
   uncovered remains (every pool point is covered), the rest of the batch is drawn
   uniformly at random from the unselected pool points; the reference implementation would
   keep taking the lowest index.

Cost. The δ-graph between pool points and uncovered pool points is built in blocks of at
most ``CHUNK_ELEMENTS`` distances (never an n x n matrix) and stored as sparse edge lists,
memory O(E) for E edges (8 bytes each, plus the sorted copies: about 24·E bytes). Distances
are symmetric, so each pair of uncovered points is computed once. A δ that links more than
``max_edges`` pairs (default 5·10⁷) is an error naming δ rather than a memory exhaustion.
Each greedy step is O(n) plus the in-edges of the points it covers, O(E) over the run.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from benchmark.core.config import ConfigError
from benchmark.core.registry import register_method
from benchmark.run.state import PoolState
from methods.base import AcquisitionMethod, MethodError
from methods.distances import CHUNK_ELEMENTS, min_sq_dist, sq_norms
from methods.kmeans import kmeans_labels, train_then_pool

_BLOCK = 2048  # rows and columns of one distance block: 2048² ≈ CHUNK_ELEMENTS


def purity_delta(x: torch.Tensor, labels: np.ndarray, alpha: float, sample: np.ndarray) -> float:
    """The largest δ with ball purity >= alpha over the points ``sample`` of x (N, d) with
    pseudo-labels (N,): the ⌈alpha·S⌉-th largest distance from a sample point to its nearest
    point of another label (inf when every point has one label)."""
    xn = sq_norms(x)
    lab = torch.as_tensor(labels, device=x.device)
    rows = max(1, CHUNK_ELEMENTS // max(len(x), 1))
    d_other = np.empty(len(sample), dtype=np.float64)
    for a in range(0, len(sample), rows):
        r = torch.as_tensor(sample[a:a + rows], device=x.device)
        d = torch.addmm(xn[None, :], x[r], x.T, beta=1.0, alpha=-2.0)
        d.masked_fill_(lab[r, None] == lab[None, :], float("inf"))
        d_other[a:a + len(r)] = (d.min(dim=1).values + xn[r]).clamp_(min=0).sqrt_().double().cpu().numpy()
    d_other.sort()
    return float(d_other[len(d_other) - math.ceil(alpha * len(d_other))])


class _EdgeList:
    """Edges (src, dst) collected block by block, with the ``max_edges`` guard."""

    def __init__(self, delta: float, max_edges: int) -> None:
        self.delta, self.max_edges = delta, max_edges
        self.src: list[np.ndarray] = []
        self.dst: list[np.ndarray] = []
        self.total = 0

    def add(self, src: np.ndarray, dst: np.ndarray) -> None:
        self.src.append(src)
        self.dst.append(dst)
        self.total += len(src)
        if self.total > self.max_edges:
            raise MethodError(f"method 'probcover': delta={self.delta:.6g} links more than max_edges="
                              f"{self.max_edges} pairs; lower delta or raise max_edges")

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        empty = np.zeros(0, np.int32)
        return (np.concatenate(self.src).astype(np.int32) if self.src else empty,
                np.concatenate(self.dst).astype(np.int32) if self.dst else empty)


def _near_pairs(xa: torch.Tensor, na: torch.Tensor, xb: torch.Tensor, nb: torch.Tensor, d2: float,
                diagonal: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (i, j) into the row blocks xa (r, d), xb (c, d) (squared norms na, nb) of the
    pairs with squared distance below d2; ``diagonal``: xa is xb, its pairs (i, i) are left out.
    One matrix product and one row-minimum pass; only rows with a pair are compared in full."""
    block = torch.addmm(nb[None, :], xa, xb.T, beta=1.0, alpha=-2.0)  # ‖x_j‖² - 2 x_i·x_j
    if diagonal:
        block.diagonal().fill_(float("inf"))
    thr = d2 - na
    rows = torch.nonzero(block.amin(dim=1) < thr).flatten()
    if not len(rows):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    i, j = np.nonzero((block[rows] < thr[rows, None]).cpu().numpy())
    return rows.cpu().numpy()[i], j


def delta_graph(x: torch.Tensor, uncovered: np.ndarray, covered: np.ndarray, delta: float,
                max_edges: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges (src, dst), int32 positions into x's rows, with dst uncovered and ‖x_src - x_dst‖ < δ,
    src ≠ dst. Sources are ``uncovered`` and ``covered`` rows. Symmetric pairs of uncovered
    rows are computed once (upper block triangle) and emitted both ways."""
    if len(uncovered) == len(x) and np.array_equal(uncovered, np.arange(len(x))):
        xu, xc = x, x[:0]  # nothing covered: the rows themselves
    else:  # contiguous copies, so that every block below is a slice
        xu, xc = x[torch.as_tensor(uncovered, device=x.device)], x[torch.as_tensor(covered, device=x.device)]
    nu, nc = sq_norms(xu), sq_norms(xc)
    d2 = delta * delta
    edges = _EdgeList(delta, max_edges)
    for a in range(0, len(xu), _BLOCK):
        xa, na = xu[a:a + _BLOCK], nu[a:a + _BLOCK]
        for b in range(a, len(xu), _BLOCK):
            i, j = _near_pairs(xa, na, xu[b:b + _BLOCK], nu[b:b + _BLOCK], d2, diagonal=a == b)
            if a == b:
                edges.add(uncovered[a + i], uncovered[b + j])
            elif len(i):
                edges.add(np.concatenate([uncovered[a + i], uncovered[b + j]]),
                          np.concatenate([uncovered[b + j], uncovered[a + i]]))
    for a in range(0, len(xc), _BLOCK):
        xa, na = xc[a:a + _BLOCK], nc[a:a + _BLOCK]
        for b in range(0, len(xu), _BLOCK):
            i, j = _near_pairs(xa, na, xu[b:b + _BLOCK], nu[b:b + _BLOCK], d2)
            if len(i):
                edges.add(covered[a + i], uncovered[b + j])
    return edges.arrays()


def _csr(keys: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Adjacency lists: indptr (n + 1,) and the ``values`` sorted by ``keys``."""
    order = np.argsort(keys, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=n))])
    return indptr, values[order]


def _gather(indptr: np.ndarray, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenated adjacency lists of ``rows``."""
    starts, ends = indptr[rows], indptr[rows + 1]
    lens = ends - starts
    if not lens.sum():
        return values[:0]
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    return values[offsets + np.arange(lens.sum())]


def greedy_cover(n: int, uncovered: np.ndarray, src: np.ndarray, dst: np.ndarray, budget: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Greedy max coverage over n points: ``uncovered`` (u,) positions, edges src -> dst (dst
    uncovered, src ≠ dst; every point also covers itself). Returns (budget,) positions in pick
    order and how many picks were greedy (the rest are uniform among the unselected)."""
    is_unc = np.zeros(n, dtype=bool)
    is_unc[uncovered] = True
    out_ptr, out_dst = _csr(src, dst, n)
    in_ptr, in_src = _csr(dst, src, n)
    degree = np.diff(out_ptr) + is_unc  # uncovered points each covers (itself included)
    picks = np.empty(budget, dtype=np.int64)
    chosen = np.zeros(n, dtype=bool)
    for t in range(budget):
        top = degree.max()
        if top == 0:
            rest = rng.choice(np.flatnonzero(~chosen), size=budget - t, replace=False)
            picks[t:] = rest
            return picks, t
        ties = np.flatnonzero(degree == top)
        p = int(ties[rng.integers(len(ties))]) if len(ties) > 1 else int(ties[0])
        picks[t] = p
        chosen[p] = True
        reach = _gather(out_ptr, out_dst, np.array([p]))
        new = np.concatenate([reach[is_unc[reach]], [p] if is_unc[p] else []]).astype(np.int64)
        is_unc[new] = False
        # every source of a newly covered point covers one uncovered point fewer; so does the point itself
        degree -= np.bincount(_gather(in_ptr, in_src, new), minlength=n)
        degree[new] -= 1
    return picks, budget


@register_method("probcover")
class ProbCover(AcquisitionMethod):
    """Greedy max coverage of δ-balls, δ by the purity rule unless given."""

    requires = frozenset({"student_embeddings", "student_embeddings_train"})

    def __init__(self, delta: float | str = "auto", alpha: float = 0.95, purity_clusters: int | None = None,
                 purity_sample: int = 2000, normalize: bool = True, max_edges: int = 50_000_000) -> None:
        self.delta = delta
        self.alpha = alpha
        self.purity_clusters = purity_clusters
        self.purity_sample = purity_sample
        self.normalize = normalize
        self.max_edges = max_edges

    def validate_params(self) -> None:
        def num(v: Any) -> bool:
            return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)

        def is_int(v: Any, low: int) -> bool:
            return not isinstance(v, bool) and isinstance(v, (int, np.integer)) and v >= low

        if self.delta != "auto" and not (num(self.delta) and self.delta >= 0):
            raise ConfigError(f"probcover: delta must be 'auto' or a number >= 0, got {self.delta!r}")
        if not (num(self.alpha) and 0 < self.alpha <= 1):
            raise ConfigError(f"probcover: alpha must be a number in (0, 1], got {self.alpha!r}")
        if self.purity_clusters is not None and not is_int(self.purity_clusters, 2):
            raise ConfigError(f"probcover: purity_clusters must be an integer >= 2 or null, "
                              f"got {self.purity_clusters!r}")
        if not is_int(self.purity_sample, 1):
            raise ConfigError(f"probcover: purity_sample must be an integer >= 1, got {self.purity_sample!r}")
        if not isinstance(self.normalize, bool):
            raise ConfigError(f"probcover: normalize must be true or false, got {self.normalize!r}")
        if not is_int(self.max_edges, 1):
            raise ConfigError(f"probcover: max_edges must be an integer >= 1, got {self.max_edges!r}")

    def choose_delta(self, x: torch.Tensor, num_classes: int, rng: np.random.Generator) -> float:
        """δ (see the module docstring): the given number, or the purity rule's."""
        if self.delta != "auto":
            return float(self.delta)
        k = min(self.purity_clusters or num_classes, len(x))
        labels = kmeans_labels(x, k, rng)
        if len(np.unique(labels)) < 2:
            raise MethodError("method 'probcover': the k-means pseudo-labels form one cluster, so every delta "
                              "is pure; give delta as a number")
        sample = np.sort(rng.choice(len(x), size=min(self.purity_sample, len(x)), replace=False))
        return purity_delta(x, labels, self.alpha, sample)

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator, *args: Any) -> np.ndarray:
        self.validate_params()
        x, m = train_then_pool(state, self.normalize)
        delta = self.choose_delta(x, state.num_classes, rng)
        pool = x[m:]
        n = len(pool)
        if m:
            near, _ = min_sq_dist(pool, x[:m])
            is_cov = (near < delta * delta).cpu().numpy()
        else:
            is_cov = np.zeros(n, dtype=bool)
        uncovered, covered = np.flatnonzero(~is_cov), np.flatnonzero(is_cov)
        src, dst = delta_graph(pool, uncovered, covered, delta, self.max_edges)
        picks, greedy = greedy_cover(n, uncovered, src, dst, budget, rng)
        self.log(delta=delta, edges=int(len(src)), covered_before=float(is_cov.mean()) if n else 1.0,
                 greedy_picks=greedy)
        return picks
