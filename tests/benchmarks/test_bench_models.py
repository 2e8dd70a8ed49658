"""Training throughput (samples/s) of every registered model on CPU, through the harness's
own ``fit`` (pytest-benchmark; run with `pytest tests/benchmarks --benchmark-only`).

Measured with one intra-op thread, so that a machine shared with other jobs does not turn
thread synchronisation into the bottleneck. The floors are modest (several times below an
idle core); ``run_benchmark.py perf train`` prints the full table with every core.
"""
import dataclasses

import pytest
import torch

from benchmark.perf_train import default_cases, measure

CPU = torch.device("cpu")
# model: (samples/s floor on one shared core, examples per measurement)
TARGET = {"mlp": (2000, 4096), "small_cnn": (100, 512), "resnet20": (40, 256), "resnet56": (12, 128),
          "mobilenetv2": (8, 128), "embedding_bag": (2000, 4096), "tiny_transformer": (60, 512),
          "hf_classifier": (2, 32), "frozen_encoder": (2000, 256)}
CASES = {c.name: c for c in default_cases()}


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_every_registered_model_is_measured():
    from benchmark.registry import MODELS

    aliases = {"resnet_cifar"}  # the same network as resnet20/resnet56
    assert set(MODELS.names()) - aliases == set(CASES) == set(TARGET)


@pytest.mark.parametrize("name", sorted(TARGET))
def test_training_throughput(benchmark, name):
    floor, n = TARGET[name]
    case = dataclasses.replace(CASES[name], n=n, epochs=1 if name != "frozen_encoder" else 5)
    result = benchmark.pedantic(measure, args=(case, CPU), rounds=1, iterations=1)
    benchmark.extra_info.update(samples_per_s=result["samples_per_s"], batch_size=case.batch_size)
    print(f"{name}: {result['samples_per_s']:.0f} samples/s")
    assert result["samples_per_s"] >= floor
