"""Speed of the harness's hot paths (pytest-benchmark; run with `pytest tests/benchmarks --benchmark-only`).

Targets on 2 CPU cores: the shared top-k on 10^6 scores <= 0.1 s; one digits student round
(150 full-batch epochs on 70 examples) <= 0.5 s.
"""
import dataclasses

import numpy as np
import pytest
import torch

from benchmark.config import load_task
from benchmark.models import build_model
from benchmark.train import fit, make_train_set
from methods.topk import top_k


def _median(benchmark):
    return benchmark.stats.stats.median


def test_top_k_million(benchmark):
    scores = np.random.default_rng(0).random(1_000_000)
    benchmark(top_k, scores, 10_000, np.random.default_rng(1))
    assert _median(benchmark) <= 0.1


def test_digits_student_round(benchmark):
    task = load_task("digits")
    rng = np.random.default_rng(0)
    x = rng.random((70, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 10, 20)
    soft = rng.dirichlet(np.ones(10), 50).astype(np.float32)
    ts = make_train_set(x[:20], y, x[20:], soft, 10, task.train, torch.device("cpu"))

    def one_round():
        m = build_model(task.student, (1, 8, 8), 10)
        fit(m, ts, task.train, 0, torch.device("cpu"))

    benchmark.pedantic(one_round, rounds=5, iterations=1)
    assert _median(benchmark) <= 0.5
