"""Speed and memory of selection at pool scale (pytest-benchmark; run with
`pytest tests/benchmarks -o addopts="" --benchmark-only`). Same measurement as
`run_benchmark.py perf select` (synthetic PoolState, only the fields the method requires).

Targets on 2 CPU cores:
- coreset, n = 50,000, d = 512, b = 1,000, 1,000 initial centers: <= 15 s, extra memory
  <= 300 MB; the greedy loop is memory-bound, so the ratio of its time to reading the
  (n, d) matrix once per step is recorded as ``bandwidth_ratio`` in extra_info;
- badge, n = 20,000, C = 100, d = 512, b = 1,000: <= 15 s, <= 500 MB;
- cluster_margin's clustering of a 50,000-point pool, d = 512: <= 60 s;
- score methods on n = 1,000,000, C = 10 (``SCORE_METHODS``): <= 1 s each.
"""
import time

import numpy as np
import pytest

from benchmark.perf import PeakMemory, measure_select, synthetic_state
from benchmark.registry import METHODS
from methods.cluster_margin import average_linkage_clusters

SCORE_METHODS = ["margin", "entropy", "rad"]


def _median(benchmark):
    return benchmark.stats.stats.median


def _bench_select(benchmark, method, n, dim, classes, budget, initial, rounds=1):
    cls = METHODS.get(method)
    state, view = synthetic_state(frozenset(cls.requires), cls.privileged, n, dim, classes, initial)
    results = []
    benchmark.pedantic(lambda: results.append(measure_select(cls(), state, budget, privileged=view)),
                       rounds=rounds, iterations=1)
    peak = max(r["peak_mb"] for r in results)
    benchmark.extra_info.update(method=method, n=n, dim=dim, classes=classes, budget=budget, peak_mb=peak)
    return state, peak


def _read_seconds(x: np.ndarray, repeats: int = 20) -> float:
    """Median time to stream the whole matrix once (column sums): the per-step bandwidth floor."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.add.reduce(x, axis=0)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def test_coreset_50k(benchmark):
    state, peak = _bench_select(benchmark, "coreset", 50_000, 512, 10, 1_000, 1_000)
    floor = _read_seconds(state.student_embeddings) * 1_000
    ratio = _median(benchmark) / floor
    benchmark.extra_info.update(bandwidth_floor_seconds=floor, bandwidth_ratio=ratio)
    print(f"\ncoreset: {_median(benchmark):.2f} s, floor {floor:.2f} s, ratio {ratio:.2f}, peak {peak:.0f} MB")
    assert _median(benchmark) <= 15.0
    assert peak <= 300.0


def test_badge_20k(benchmark):
    _, peak = _bench_select(benchmark, "badge", 20_000, 512, 100, 1_000, 0)
    print(f"\nbadge: {_median(benchmark):.2f} s, peak {peak:.0f} MB")
    assert _median(benchmark) <= 15.0
    assert peak <= 500.0


def test_cluster_margin_clustering_50k(benchmark):
    emb = np.random.default_rng(0).standard_normal((50_000, 512), dtype=np.float32)
    peaks = []

    def cluster():
        with PeakMemory() as mem:
            labels = average_linkage_clusters(emb)
        peaks.append(mem.extra_mb)
        return labels

    labels = benchmark.pedantic(cluster, rounds=1, iterations=1)
    benchmark.extra_info.update(peak_mb=max(peaks), n_clusters=int(labels.max()) + 1)
    print(f"\ncluster_margin clustering: {_median(benchmark):.2f} s, peak {max(peaks):.0f} MB")
    assert labels.shape == (50_000,)
    assert _median(benchmark) <= 60.0


@pytest.mark.parametrize("method", SCORE_METHODS)
def test_score_method_million(benchmark, method):
    _bench_select(benchmark, method, 1_000_000, 1, 10, 10_000, 0, rounds=3)
    assert _median(benchmark) <= 1.0
