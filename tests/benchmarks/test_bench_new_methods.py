"""Speed and memory of the stochastic, BALD, TypiClust and ProbCover selections (pytest-benchmark;
run with `pytest tests/benchmarks -o addopts="" --benchmark-only`). Same measurement as
`run_benchmark.py perf select` (synthetic PoolState, only the fields the method requires).

Speed is asserted as the median over rounds of the ratio to a floor timed in the same rounds,
never as an absolute time:
- power_margin, power_entropy and softmax_margin at n = 1,000,000, C = 10 / the deterministic
  rule on the same probabilities (margin or entropy): the sampling adds one noise vector, a
  logarithm and the same top-k (target within 2x);
- bald at n = 100,000, C = 10, T = 20 / entropy over the same T x n x C probabilities (entropy
  selection on a (T·n, C) state: BALD needs T + 1 entropies of n rows; target within 2x);
- typiclust at n = 50,000, d = 512, b = 1,000, 1,000 labeled / one k-means assignment pass of
  the 51,000 points to 500 centers (the unit every k-means step pays);
- probcover at n = 20,000, d = 512, b = 500, 500 labeled / its floor, the blocked pairwise
  distances between all pool points computed once per unordered pair (the δ-graph cannot be
  found with less: about three quarters of probcover's time at 50,000 points).
Extra memory (peak resident set) stays absolute: typiclust and probcover <= 500 MB.
"""
import numpy as np
import pytest
import torch

from benchmark.perf.measure import measure_select, synthetic_state, timed
from benchmark.core.registry import METHODS
from benchmark.run.state import MC_SAMPLES, PoolState

MAX_RATIO = {"power_margin": 3.0, "power_entropy": 3.0, "softmax_margin": 3.0, "bald": 3.0,
             "typiclust": 30.0, "probcover": 3.0}
FLOOR_OF = {"power_margin": "margin", "power_entropy": "entropy", "softmax_margin": "margin"}


def _select_seconds(method: str, state, budget: int, peaks: list | None = None):
    def run() -> float:
        r = measure_select(METHODS.get(method)(), state, budget)
        if peaks is not None:
            peaks.append(r["peak_mb"])
        return r["seconds"]

    return run


@pytest.mark.parametrize("method", ["power_margin", "power_entropy", "softmax_margin"])
def test_stochastic_sampling_1m(benchmark, ratio, method):
    state, _ = synthetic_state(frozenset({"student_probs"}), False, 1_000_000, 8, 10, 0)
    r = ratio(_select_seconds(method, state, 1_000), _select_seconds(FLOOR_OF[method], state, 1_000), rounds=5,
              label=f"{method} / {FLOOR_OF[method]}")
    assert r <= MAX_RATIO[method]


def test_bald_100k(benchmark, ratio):
    state, _ = synthetic_state(frozenset({"student_mc_probs"}), False, 100_000, 8, 10, 0)
    mc = state.student_mc_probs
    assert mc.shape == (MC_SAMPLES, 100_000, 10)
    flat = PoolState.from_arrays(num_classes=10, unlabeled=np.arange(mc.shape[0] * mc.shape[1]),
                                 labeled_y=np.zeros(1, np.int64), student_probs=mc.reshape(-1, 10))
    flat.student_probs  # noqa: B018  (materialise outside the measurement)
    r = ratio(_select_seconds("bald", state, 1_000), _select_seconds("entropy", flat, 1_000), rounds=3,
              label="bald / entropy on the same T x n x C probabilities")
    assert r <= MAX_RATIO["bald"]


def _assignment_pass(x: torch.Tensor, centers: torch.Tensor):
    """Floor: nearest of ``centers`` for every row of x, in blocks (one k-means step)."""
    cn = (centers * centers).sum(1)

    def run() -> None:
        for s in range(0, len(x), 4096):
            torch.addmm(cn[None, :], x[s:s + 4096], centers.T, beta=1.0, alpha=-2.0).argmin(dim=1)

    return timed(run)


def test_typiclust_50k(benchmark, ratio):
    state, _ = synthetic_state(frozenset(METHODS.get("typiclust").requires), False, 50_000, 512, 10, 1_000)
    x = torch.cat([torch.from_numpy(state.student_embeddings_train), torch.from_numpy(state.student_embeddings)])
    peaks: list[float] = []
    r = ratio(_select_seconds("typiclust", state, 1_000, peaks), _assignment_pass(x, x[:500].clone()), rounds=3,
              label="typiclust / one k-means assignment pass", warmup=False)
    benchmark.extra_info.update(peak_mb=max(peaks))
    assert r <= MAX_RATIO["typiclust"]
    assert max(peaks) <= 500.0


def _pairwise_pass(x: torch.Tensor, block: int = 2048):
    """Floor: squared distances of every unordered pair of rows of x, in (block x block) products."""
    xn = (x * x).sum(1)

    def run() -> None:
        for a in range(0, len(x), block):
            for b in range(a, len(x), block):
                torch.addmm(xn[None, b:b + block], x[a:a + block], x[b:b + block].T, beta=1.0, alpha=-2.0)

    return timed(run)


def test_probcover_20k(benchmark, ratio):
    state, _ = synthetic_state(frozenset(METHODS.get("probcover").requires), False, 20_000, 512, 10, 500)
    peaks: list[float] = []
    r = ratio(_select_seconds("probcover", state, 500, peaks),
              _pairwise_pass(torch.from_numpy(state.student_embeddings)), rounds=3,
              label="probcover / pairwise distances once per pair", warmup=False)
    benchmark.extra_info.update(peak_mb=max(peaks))
    assert r <= MAX_RATIO["probcover"]
    assert max(peaks) <= 500.0
