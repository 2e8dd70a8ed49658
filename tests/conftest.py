"""Shared fixtures: an isolated cache, a fast digits task, and synthetic PoolStates."""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# The test models are tiny: one intra-op thread is as fast as several and, unlike several,
# does not collapse when other processes compete for the cores (OpenMP spin-waiting).
torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Every test session gets its own cache root, so no test reads a stale user cache."""
    old = os.environ.get("AKD_BENCH_CACHE")
    os.environ["AKD_BENCH_CACHE"] = str(tmp_path_factory.mktemp("akd-cache"))
    yield
    if old is None:
        os.environ.pop("AKD_BENCH_CACHE", None)
    else:
        os.environ["AKD_BENCH_CACHE"] = old


@pytest.fixture
def fast_task():
    """The digits task with short training and 3 rounds of 5 queries: a full run in ~1 s."""
    from benchmark.config import load_task

    t = load_task("digits")
    return dataclasses.replace(
        t, rounds=3, queries_per_round=5,
        train=dataclasses.replace(t.train, epochs=30),
        teacher=dataclasses.replace(t.teacher, train=dataclasses.replace(t.teacher.train, epochs=60)))


def make_state(n_pool: int = 60, n_labeled: int = 10, n_queried: int = 6, num_classes: int = 4, seed: int = 0,
               requires=frozenset({"student_probs", "student_embeddings", "student_probs_train",
                                   "student_embeddings_train", "pool_inputs", "initial_pool_embeddings"}),
               round: int = 1):
    """A PoolState over synthetic 1x4x4 inputs with a real (untrained, seeded) MLP student.

    Returns (state, hidden) where hidden holds what the method must never see:
    pool labels (n_pool,) and teacher probs (n_pool, C)."""
    from benchmark.config import ModelSpec
    from benchmark.models import build_model
    from benchmark.state import PoolState, StudentFeatures

    rng = np.random.default_rng(seed)
    x_pool = rng.normal(size=(n_pool, 1, 4, 4)).astype(np.float32)
    x_lab = rng.normal(size=(n_labeled, 1, 4, 4)).astype(np.float32)
    y_lab = rng.integers(0, num_classes, n_labeled)
    pool_labels = rng.integers(0, num_classes, n_pool)
    logits = rng.normal(size=(n_pool, num_classes)) * 3
    teacher = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    queried = rng.choice(n_pool, n_queried, replace=False)
    unlabeled = np.setdiff1d(np.arange(n_pool), queried)
    torch.manual_seed(seed)
    student = build_model(ModelSpec("mlp", {"hidden": [8]}), (1, 4, 4), num_classes)
    initial = build_model(ModelSpec("mlp", {"hidden": [8]}), (1, 4, 4), num_classes)  # the round-0 student
    x_train = np.concatenate([x_lab, x_pool[queried]])
    state = PoolState(
        round=round, budget_left=len(unlabeled), num_classes=num_classes, pool_size=n_pool,
        labeled=np.arange(n_labeled), labeled_y=y_lab, unlabeled=unlabeled, queried=queried,
        queried_soft_labels=teacher[queried].astype(np.float32), validation_teacher_error=0.2,
        requires=frozenset(requires),
        _features=StudentFeatures(student, torch.from_numpy(x_pool), unlabeled, torch.from_numpy(x_train),
                                  torch.device("cpu"), initial_model=initial))
    return state, {"pool_labels": pool_labels, "teacher_probs": teacher.astype(np.float32)}


@pytest.fixture
def state_factory():
    return make_state
