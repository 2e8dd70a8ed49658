"""Stacked training (the lockstep executor's) against training each student alone, as a ratio
timed in the same rounds (pytest-benchmark; run with
`pytest tests/benchmarks -o addopts="" --benchmark-only`).

Subject: 32 students of the digits task's size (64 inputs, a 64-wide hidden layer with
dropout 0.1, 10 classes, 45 examples, full batch, Adam) trained by ``fit_many``; floor: the
same 32 trained one after another by ``fit``. Measured on 2 cores with a regeneration job
beside it: 0.19-0.25 (4-5x faster). The bound, 0.5, fails if stacking stops paying; the
weights are checked equal, so a fast wrong answer fails too.
"""
import copy
import time

import numpy as np
import torch

from benchmark.core.compute import run_threads
from benchmark.core.config import ModelSpec, TrainRecipe
from benchmark.models import build_model
from benchmark.run.stacked import FitJob, fit_many
from benchmark.run.train import fit, make_train_set, new_model

CPU = torch.device("cpu")
MAX_RATIO = 0.5
RECIPE = TrainRecipe(epochs=50, batch_size=0, optimizer="adam", lr=0.01, weight_decay=5e-4)
SPEC = ModelSpec("mlp", {"hidden": [64], "dropout": 0.1})


def _jobs(k: int = 32) -> list[FitJob]:
    rng = np.random.default_rng(0)
    jobs = []
    for b in range(k):
        data = make_train_set(rng.normal(size=(20, 64)).astype(np.float32), rng.integers(0, 10, 20),
                              rng.normal(size=(25, 64)).astype(np.float32), rng.normal(size=(25, 10)).astype(np.float32),
                              10, RECIPE, CPU)
        jobs.append(FitJob(new_model(lambda: build_model(SPEC, (64,), 10), b), data, RECIPE, b, CPU))
    return jobs


def test_stacked_training_is_cheaper_than_one_by_one(benchmark, ratio):
    template = _jobs()
    last: dict[str, list[FitJob]] = {}

    def stacked() -> float:
        jobs = [FitJob(copy.deepcopy(j.model), j.data, j.recipe, j.seed, j.device) for j in template]
        t0 = time.perf_counter()
        fit_many(jobs)
        last["stacked"] = jobs
        return time.perf_counter() - t0

    def alone() -> float:
        models = [copy.deepcopy(j.model) for j in template]
        t0 = time.perf_counter()
        last["alone"] = [fit(m, j.data, j.recipe, j.seed, j.device) for m, j in zip(models, template)]
        return time.perf_counter() - t0

    with run_threads(1):
        r = ratio(stacked, alone, rounds=3, label="stacked / one by one (32 digits-size students)")
        for job, model in zip(last["stacked"], last["alone"]):
            assert all(torch.equal(a, b) for a, b in zip(job.model.state_dict().values(), model.state_dict().values()))
    assert r <= MAX_RATIO
