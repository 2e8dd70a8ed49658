"""Train many students of one architecture as one stacked computation, with the results of
training each alone.

``fit_many(jobs)`` trains every ``FitJob`` in place, exactly as ``fit(job.model, job.data,
job.recipe, job.seed, job.device)`` would: the same weights, bit for bit. Jobs that share an
architecture, a recipe and a training-set shape are trained together: their parameters are
stacked along a leading member axis (B, ...) and every step is one batched operation instead
of B small ones, which removes the per-operation overhead that dominates small students on a
CPU. Each member keeps its own data, initialisation, minibatch order and dropout masks.

Why the results are identical, not merely close. Every operation of ``fit`` is mirrored by a
batched operation whose slice b computes the same floating-point expression in the same
order on the CPU (checked by ``tests/test_stacked_training.py`` for cohorts of 1 to 48):

- ``nn.Linear``: ``addmm(bias, x, W^T)`` forward -> ``baddbmm``; its backward takes the
  weight gradient as ``grad^T @ x`` and the input gradient as ``grad @ W`` (autograd's
  ``mm_mat2_backward`` / ``mm_mat1_backward`` for a transposed weight), mirrored by
  ``StackedLinear`` with ``bmm``; the bias gradient is the sum over the rows.
- dropout: ``fit`` seeds the global generator with the job's seed and each ``nn.Dropout``
  draws ``bernoulli_(1 - p)`` on the activation's shape; here each member draws from its own
  generator seeded alike, in the same order, and scales by ``1 / (1 - p)`` as ATen does.
- minibatch order: each member's ``randperm`` from its own generator, as in ``fit``.
- loss: ``cross_entropy`` row by row on (B * n, C), the per-sample weights and the
  ``n / len(batch)`` factor applied per member before the members' losses are added (the
  sum's gradient is 1 for each member).
- optimizers (SGD, Adam, AdamW) and the cosine schedule are elementwise: the torch optimizer
  over the stacked tensors computes each element as it would over one member's tensor.

Supported students: a ``Classifier`` whose ``features`` is an ``nn.Sequential`` of
``Flatten``, ``Linear``, ``ReLU`` and ``Dropout`` layers (the ``mlp`` model) and whose head
is a ``Linear``, trained on the CPU with oneDNN off (the portable numerics; oneDNN would pick its own kernels
for the batched products) without gradient clipping or image augmentation. Any
other job (BatchNorm and convolutional students, text encoders, CUDA, where bf16 autocast and
fused optimizers decide the arithmetic) is trained alone by ``fit``, so ``fit_many`` is always
correct and only sometimes faster.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Hashable

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.config import TrainRecipe
from benchmark.models.base import Classifier
from benchmark.run.train import TrainSet, _optimizer, as_input, batch_bounds, check_trainable, fit


@dataclass
class FitJob:
    """One student to train: ``fit(model, data, recipe, seed, device)``. ``seconds`` is set by
    ``fit_many``: the wall time of the job's training, or its share (1/B) of a stacked one."""

    model: Classifier
    data: TrainSet
    recipe: TrainRecipe
    seed: int
    device: torch.device
    seconds: float = field(default=0.0, compare=False)

    def run_alone(self) -> None:
        t0 = time.perf_counter()
        self.model = fit(self.model, self.data, self.recipe, self.seed, self.device)
        self.seconds = time.perf_counter() - t0


# ATen computes a batched product whose matrices have fewer than this many multiply-adds
# (rows x columns x contraction) with its own loop, where ``mm`` calls the BLAS: such
# products are taken member by member with ``mm``/``addmm``, as ``fit`` takes them.
_SMALL_PRODUCT = 400


def _small(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape[1] * a.shape[2] * b.shape[2] < _SMALL_PRODUCT


def _bmm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, m, k) @ (B, k, n) -> (B, m, n), member b computed as ``a[b].mm(b[b])`` is."""
    return torch.stack([x.mm(y) for x, y in zip(a, b)]) if _small(a, b) else torch.bmm(a, b)


class StackedLinear(torch.autograd.Function):
    """``x`` (B, n, in), ``weight`` (B, out, in), ``bias`` (B, out) -> (B, n, out): member b is
    ``F.linear(x[b], weight[b], bias[b])``, forward and backward, bit for bit (module note)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        wt = weight.transpose(1, 2)
        if _small(x, wt):
            return torch.stack([torch.addmm(c, a, w) for c, a, w in zip(bias, x, wt)])
        return torch.baddbmm(bias[:, None, :], x, wt)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        x, weight = ctx.saved_tensors
        grad_x = _bmm(grad, weight) if ctx.needs_input_grad[0] else None
        return grad_x, _bmm(grad.transpose(1, 2), x), grad.sum(1)


class StackedReluDropout(torch.autograd.Function):
    """``relu(z) * noise`` for ``z`` (B, n, d) and a dropout ``noise`` (0 or 1/(1 - p)) of the
    same shape: ``nn.ReLU`` then ``nn.Dropout``, with autograd's gradient bit for bit (for finite
    gradients) at a fraction of the cost of ATen's portable ``threshold_backward`` kernel.

    Autograd computes ``g * noise``, then ``threshold_backward``: +0.0 where the ReLU's output is
    0, else ``g * noise`` (a -0.0 included). Here: ``g * kept + zero`` with ``kept = noise * mask``
    and ``zero = (0.5 - mask) * 0.0`` (mask 1 where the output is positive): where it is, ``kept``
    is ``noise`` and ``zero`` is -0.0, which leaves every value as it is; elsewhere ``g * 0`` is
    +-0.0 and adding ``zero`` = +0.0 makes it +0.0."""

    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        a = F.relu(z)
        mask = (a > 0).to(a.dtype)
        ctx.save_for_backward(noise * mask, (0.5 - mask).mul_(0.0))
        return a * noise

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        kept, zero = ctx.saved_tensors
        return (grad * kept).add_(zero), None


def _layers(model: nn.Module) -> list[nn.Module] | None:
    """The layers ``fit`` runs, in order (features then head), or None when ``model`` is not a
    student this module stacks."""
    if type(model).forward is not Classifier.forward or not isinstance(model, Classifier):
        return None
    feats, head = model.features, model.head
    if not isinstance(feats, nn.Sequential) or type(head) is not nn.Linear:
        return None
    layers = [*feats, head]
    for layer in layers:
        if type(layer) is nn.Linear:
            if layer.bias is None:
                return None
        elif type(layer) is nn.Dropout:
            if not 0.0 <= layer.p < 1.0:
                return None
        elif type(layer) is nn.Flatten:
            if layer.start_dim != 1 or layer.end_dim != -1:
                return None
        elif type(layer) is not nn.ReLU:
            return None
    return layers


def stack_key(job: FitJob) -> Hashable | None:
    """What jobs must share to be trained together (architecture with every parameter's shape,
    recipe, training-set shapes and dtypes), or None when the job must be trained alone."""
    recipe, device = job.recipe, job.device
    if device.type != "cpu" or torch.backends.mkldnn.enabled or recipe.grad_clip > 0 or (recipe.augment != "none" and job.data.x.ndim == 4):
        return None
    layers = _layers(job.model)
    if layers is None or any(not p.requires_grad for p in job.model.parameters()):
        return None
    arch = tuple((type(m).__name__, getattr(m, "p", None), tuple(tuple(p.shape) for p in m.parameters()))
                 for m in layers)
    d = job.data
    shapes = tuple((tuple(t.shape), t.dtype) for t in (d.x, d.targets, d.inv_temp, d.weight))
    return arch, recipe, shapes


def fit_many(jobs: list[FitJob]) -> None:
    """Train every job's model in place, with the result ``fit`` gives it alone; jobs with the
    same ``stack_key`` are trained as one stacked computation. Sets each job's ``seconds``.
    Raises what ``fit`` raises (``ConfigError`` for a model that cannot train on its set)."""
    groups: dict[Hashable, list[FitJob]] = defaultdict(list)
    for job in jobs:
        key = stack_key(job)
        if key is None:
            job.run_alone()
        else:
            groups[key].append(job)
    for group in groups.values():
        if len(group) == 1:
            group[0].run_alone()
        else:
            t0 = time.perf_counter()
            _fit_stacked(group)
            share = (time.perf_counter() - t0) / len(group)
            for job in group:
                job.seconds = share


class _Stack:
    """The members' parameters stacked along a new leading axis, one leaf tensor per
    parameter of the architecture, and the batched forward pass over ``layers``."""

    def __init__(self, models: list[Classifier]) -> None:
        self.layers = _layers(models[0])
        per_member = [_layers(m) for m in models]
        self.params: list[torch.Tensor] = []
        self.slots: list[tuple[int, str]] = []  # (layer index, parameter name) of each stacked tensor
        for i, layer in enumerate(self.layers):
            for name, _ in layer.named_parameters(recurse=False):
                stacked = torch.stack([getattr(layers[i], name).detach() for layers in per_member])
                self.params.append(stacked.requires_grad_())
                self.slots.append((i, name))
        self.by_layer = {i: self.params[k] for k, (i, name) in enumerate(self.slots) if name == "weight"}
        self.bias_by_layer = {i: self.params[k] for k, (i, name) in enumerate(self.slots) if name == "bias"}

    def forward(self, x: torch.Tensor, dropout_gens: list[torch.Generator]) -> torch.Tensor:
        """``x`` (B, n, ...) -> logits (B, n, C); dropout masks drawn member by member."""
        h, layers, i = x, self.layers, 0
        while i < len(layers):
            layer = layers[i]
            if type(layer) is nn.Flatten:
                h = h.reshape(h.shape[0], h.shape[1], -1)
            elif type(layer) is nn.Linear:
                h = StackedLinear.apply(h, self.by_layer[i], self.bias_by_layer[i])
            elif type(layer) is nn.ReLU:
                after = layers[i + 1] if i + 1 < len(layers) else None
                if type(after) is nn.Dropout and after.p > 0:
                    h = StackedReluDropout.apply(h, _dropout_noise(h, after.p, dropout_gens))
                    i += 1
                else:
                    h = F.relu(h)
            elif layer.p > 0:  # nn.Dropout
                h = h * _dropout_noise(h, layer.p, dropout_gens)
            i += 1
        return h

    def write_back(self, models: list[Classifier]) -> None:
        """Copy member b's trained parameters into ``models[b]`` and put it in eval mode."""
        with torch.no_grad():
            for b, model in enumerate(models):
                layers = _layers(model)
                for (i, name), stacked in zip(self.slots, self.params):
                    getattr(layers[i], name).copy_(stacked[b])
                model.eval()


def _dropout_noise(h: torch.Tensor, p: float, gens: list[torch.Generator]) -> torch.Tensor:
    """Each member's dropout noise for ``h`` (B, n, d), as ATen's CPU dropout makes it from the
    member's generator: ``bernoulli_(1 - p)``, then divided by ``1 - p``."""
    q = 1.0 - p
    return torch.stack([torch.empty(h.shape[1:], dtype=h.dtype).bernoulli_(q, generator=g) for g in gens]).div_(q)


def _fit_stacked(jobs: list[FitJob]) -> None:
    """``fit`` for B >= 2 jobs sharing a ``stack_key``, as one stacked computation."""
    recipe, device = jobs[0].recipe, jobs[0].device
    models = [j.model for j in jobs]
    n = len(jobs[0].data)
    for m in models:
        check_trainable(m, n)
        m.to(device).train()
    stack = _Stack(models)
    bounds = batch_bounds(n, recipe.batch_size, False)
    opt = _optimizer(_ParamHolder(stack.params), recipe, device)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, recipe.epochs * len(bounds)) \
        if recipe.schedule == "cosine" else None
    order_gens = [torch.Generator(device="cpu").manual_seed(j.seed) for j in jobs]
    dropout_gens = [torch.Generator(device="cpu").manual_seed(j.seed) for j in jobs]
    X, T, IT, W = (torch.stack([getattr(j.data, f) for j in jobs]) for f in ("x", "targets", "inv_temp", "weight"))
    members = torch.arange(len(jobs))[:, None]
    for _ in range(recipe.epochs):
        order = torch.stack([torch.randperm(n, generator=g) for g in order_gens]) if len(bounds) > 1 else None
        for start, end in bounds:
            if order is None:
                x, t, it, w = X, T, IT, W
            else:
                idx = order[:, start:end]
                x, t, it, w = X[members, idx], T[members, idx], IT[members, idx], W[members, idx]
            logits = stack.forward(as_input(x), dropout_gens)
            b, m, c = logits.shape
            per_sample = F.cross_entropy((logits.float() * it[:, :, None]).reshape(b * m, c), t.reshape(b * m, c),
                                         reduction="none").reshape(b, m)
            loss = ((per_sample * w).sum(1) * (n / m)).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
    stack.write_back(models)


class _ParamHolder(nn.Module):
    """The stacked tensors as the parameters of a module, for ``train._optimizer``."""

    def __init__(self, params: list[torch.Tensor]) -> None:
        super().__init__()
        self._params = params

    def parameters(self, recurse: bool = True):  # noqa: D102  (the stacked leaves, in order)
        return iter(self._params)
