"""RAD at scale: inclusion probabilities plus systematic sampling on 10^6 gains.

Target on 2 CPU cores: <= 0.3 s for n = 1,000,000, b = 10,000, k = 100,000. The sort is
the floor; ``test_argsort_floor`` times a bare ``np.argsort`` of the same array so the ratio
can be read off the benchmark table.
"""
import numpy as np
import pytest

from methods.rad import rad_inclusion_probabilities, systematic_sample

N, B, K = 1_000_000, 10_000, 100_000


@pytest.fixture(scope="module")
def gains():
    return np.random.default_rng(0).random(N)


def test_rad_million(benchmark, gains):
    rng = np.random.default_rng(1)

    def select():
        return systematic_sample(rad_inclusion_probabilities(gains, K, B), rng)

    out = benchmark.pedantic(select, rounds=5, iterations=1, warmup_rounds=1)
    assert len(np.unique(out)) == B
    assert benchmark.stats.stats.median <= 0.3


def test_argsort_floor(benchmark, gains):
    benchmark.pedantic(np.argsort, args=(-gains,), rounds=5, iterations=1)
