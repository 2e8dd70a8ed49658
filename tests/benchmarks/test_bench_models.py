"""Training cost of every registered model on CPU, through the harness's own ``fit``
(pytest-benchmark; run with `pytest tests/benchmarks -o addopts="" --benchmark-only`).

The cost is seconds per training sample divided by the time of a fixed floor timed in the
same rounds: one 512 x 512 x 512 float32 matrix product in plain torch (``gemm_floor``). So
the bound is in "matrix products per sample", whatever the machine's speed or load; each
``MAX_COST`` is several times the figure measured on 2 cores with two busy loops beside it,
and a 10x slowdown of a model or of ``fit`` exceeds it. Measured with one intra-op thread, so
that a machine shared with other jobs does not turn thread synchronisation into the
bottleneck; ``run_benchmark.py perf train`` prints samples/s with every core.
"""
import dataclasses

import pytest
import torch

from benchmark.perf.measure import timed
from benchmark.perf.training import default_cases, measure

CPU = torch.device("cpu")
# model: (largest median cost in 512^3 matrix products per sample, examples per measurement)
MAX_COST = {"mlp": (0.1, 4096), "small_cnn": (1.0, 512), "resnet20": (4.0, 256), "resnet56": (10.0, 128),
            "mobilenetv2": (20.0, 128), "embedding_bag": (0.05, 4096), "tiny_transformer": (2.0, 512),
            "hf_classifier": (100.0, 32), "frozen_encoder": (0.015, 256)}
CASES = {c.name: c for c in default_cases()}


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def gemm_floor(repeats: int = 20):
    """Floor: mean seconds of one 512 x 512 x 512 float32 product (about 0.27 GFLOP)."""
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    return timed(lambda: torch.mm(a, b), repeats=repeats)


def test_every_registered_model_is_measured():
    from benchmark.core.registry import MODELS

    aliases = {"resnet_cifar"}  # the same network as resnet20/resnet56
    assert set(MODELS.names()) - aliases == set(CASES) == set(MAX_COST)


@pytest.mark.parametrize("name", sorted(MAX_COST))
def test_training_cost(benchmark, ratio, name):
    bound, n = MAX_COST[name]
    case = dataclasses.replace(CASES[name], n=n, epochs=1 if name != "frozen_encoder" else 5)
    results = []

    def seconds_per_sample() -> float:
        results.append(measure(case, CPU))  # one untimed warm-up epoch inside
        return results[-1]["seconds"] / (case.n * case.epochs)

    cost = ratio(seconds_per_sample, gemm_floor(), rounds=3, label=f"{name}: matrix products per sample",
                 warmup=False)
    benchmark.extra_info.update(samples_per_s=results[-1]["samples_per_s"], batch_size=case.batch_size)
    assert cost <= bound
