"""Stacked training (``benchmark.run.stacked``) gives every member the weights ``fit`` gives it
alone, bit for bit, whatever the cohort; other students fall back to ``fit``."""
from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from benchmark.core.compute import run_threads
from benchmark.core.config import ModelSpec, TrainRecipe
from benchmark.models import build_model
from benchmark.run.stacked import FitJob, fit_many, stack_key
from benchmark.run.train import fit, make_train_set, new_model

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _harness_threads():
    """Train as the harness does: one thread, the numerics mode's run-time pins (oneDNN off)."""
    with run_threads(1):
        yield

C = 10
RECIPE = TrainRecipe(epochs=12, batch_size=0, optimizer="adam", lr=0.01, weight_decay=5e-4, temperature=2.0,
                     distill_weight=0.5)


def _job(b: int, spec: ModelSpec, recipe: TrainRecipe, n_lab: int = 120, n_q: int = 90, shape=(64,),
         dtype=np.float32) -> FitJob:
    rng = np.random.default_rng(100 + b)

    def x(k):
        return (rng.integers(0, 256, (k, *shape)).astype(np.uint8) if dtype == np.uint8
                else rng.normal(size=(k, *shape)).astype(dtype))

    data = make_train_set(x(n_lab), rng.integers(0, C, n_lab), x(n_q), rng.normal(size=(n_q, C)).astype(np.float32),
                          C, recipe, CPU)
    model = new_model(lambda: build_model(spec, shape, C), 1000 + b)
    return FitJob(model, data, recipe, seed=7 + 31 * b, device=CPU)


def _state(model: torch.nn.Module) -> list[torch.Tensor]:
    """The model's tensors as their bit patterns (so -0.0 and 0.0 differ)."""
    return [t.detach().clone().view(torch.int32) if t.dtype == torch.float32 else t.detach().clone()
            for t in model.state_dict().values()]


def _assert_same_as_alone(jobs: list[FitJob]) -> None:
    alone = [fit(copy.deepcopy(j.model), j.data, j.recipe, j.seed, j.device) for j in jobs]
    fit_many(jobs)
    for b, (j, ref) in enumerate(zip(jobs, alone)):
        for got, want in zip(_state(j.model), _state(ref)):
            assert torch.equal(got, want), f"member {b} differs from training alone"
        assert not j.model.training


MLP_DROPOUT = ModelSpec("mlp", {"hidden": [64, 32], "dropout": 0.2})  # the digits student's sizes, and one more layer


@pytest.mark.parametrize("size", [2, 5, 48])
def test_full_batch_mlp_with_dropout_equals_fit_alone(size):
    jobs = [_job(b, MLP_DROPOUT, RECIPE) for b in range(size)]
    assert len({stack_key(j) for j in jobs}) == 1 and stack_key(jobs[0]) is not None
    _assert_same_as_alone(jobs)


@pytest.mark.parametrize("recipe", [
    replace(RECIPE, batch_size=8, optimizer="sgd", momentum=0.9, schedule="cosine"),
    replace(RECIPE, batch_size=8, optimizer="adamw"),
])
def test_minibatches_own_order_and_other_optimizers(recipe):
    jobs = [_job(b, MLP_DROPOUT, recipe, n_lab=21, n_q=10) for b in range(4)]  # 31 rows: a last batch of 7
    _assert_same_as_alone(jobs)


def test_images_flattened_and_no_hidden_layer():
    spec = ModelSpec("mlp", {"hidden": [], "dropout": 0.3})
    jobs = [_job(b, spec, RECIPE, shape=(1, 4, 4), dtype=np.uint8) for b in range(3)]
    _assert_same_as_alone(jobs)


def test_a_member_alone_is_the_member_in_a_cohort():
    """The records of a run must not depend on who shares its batch."""
    cohort = [_job(b, MLP_DROPOUT, RECIPE) for b in range(6)]
    solo = [_job(3, MLP_DROPOUT, RECIPE)]
    fit_many(cohort)
    fit_many(solo)
    for got, want in zip(_state(cohort[3].model), _state(solo[0].model)):
        assert torch.equal(got, want)


def test_mixed_jobs_are_grouped_and_unstackable_ones_trained_alone():
    cnn = ModelSpec("small_cnn", {"channels": [4]})
    jobs = [_job(0, MLP_DROPOUT, RECIPE), _job(1, MLP_DROPOUT, RECIPE),
            _job(2, MLP_DROPOUT, RECIPE, n_q=3),  # another training-set size: its own group
            _job(3, cnn, RECIPE, shape=(1, 4, 4)), _job(4, cnn, RECIPE, shape=(1, 4, 4))]
    assert stack_key(jobs[3]) is None  # BatchNorm and convolutions: trained alone
    assert stack_key(jobs[0]) == stack_key(jobs[1]) != stack_key(jobs[2])
    _assert_same_as_alone(jobs)
    assert all(j.seconds > 0 for j in jobs)


def test_clipping_and_augmentation_are_not_stacked():
    assert stack_key(_job(0, MLP_DROPOUT, replace(RECIPE, grad_clip=1.0))) is None
    assert stack_key(_job(0, MLP_DROPOUT, replace(RECIPE, augment="crop"), shape=(1, 4, 4))) is None


def test_tiny_products_are_taken_as_fit_takes_them():
    """Products under ATen's batched-kernel threshold (rows x columns x contraction < 400)."""
    spec = ModelSpec("mlp", {"hidden": [4], "dropout": 0.1})
    recipe = replace(RECIPE, batch_size=4)
    _assert_same_as_alone([_job(b, spec, recipe, n_lab=9, n_q=6, shape=(3,)) for b in range(3)])


def test_relu_dropout_gradient_has_autograds_bits():
    """Where the ReLU's output is 0 the gradient is +0.0, also for a negative incoming gradient."""
    from benchmark.run.stacked import StackedReluDropout

    torch.manual_seed(0)
    z = torch.randn(2, 50, 8)
    noise = (torch.rand(2, 50, 8) > 0.3).float().div_(0.7)
    grad = torch.randn(2, 50, 8)
    z1 = z.clone().requires_grad_()
    (torch.relu(z1) * noise).backward(grad)
    z2 = z.clone().requires_grad_()
    out = StackedReluDropout.apply(z2, noise)
    out.backward(grad)
    assert torch.equal(out.detach().view(torch.int32), (torch.relu(z) * noise).view(torch.int32))
    assert torch.equal(z2.grad.view(torch.int32), z1.grad.view(torch.int32))
