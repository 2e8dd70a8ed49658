"""Student and teacher training with the distillation loss, and batched evaluation.

Loss over the labeled set L (hard labels y) and the queried set Q (teacher logits z_T),
with weight w = ``distill_weight`` and temperature tau (Hinton, Vinyals & Dean, 2015)::

    loss = (1 - w) * mean_{i in L} CE(y_i, softmax(z_i))
         + w * tau^2 * mean_{i in Q} CE(softmax(z_T,i / tau), softmax(z_i / tau))

The targets come from the teacher's logits, never from stored probabilities: a probability
rounded or clipped near 0 (float32, 1e-12) would put far too much mass on the wrong classes
once raised to the power 1/tau. When Q is empty the first term has weight 1. Each sample's
weight is folded into one vector, so a minibatch is one fused, vectorized soft cross-entropy
with no per-sample Python work; full-batch training (``batch_size: 0``) computes the loss
exactly.

Minibatches: an epoch visits every example once, in a seeded random order, in batches of
``batch_size``. A model with BatchNorm layers cannot train on a batch of one example, so
when the last batch would hold a single example it joins the previous batch instead (one
batch of ``batch_size + 1``); a training set of one example with BatchNorm is a
``ConfigError`` (``check_trainable``), raised before any training.

Fast path. The training set lives on the device as tensors; minibatches are index gathers
(no DataLoader, no workers). On CUDA: bf16 autocast, channels-last memory format for CNNs
(``Classifier.channels_last``), fused optimizers, large eval batches, and optionally
``torch.compile`` (``RUNTIME.compile``, the ``--compile`` option). uint8 image storage is
scaled to [0, 1] per batch on the device. Image augmentation (``augment: crop_flip``) is
batched on the device (``benchmark.run.augment``). On CPU, training runs at the thread count of
``benchmark.core.compute`` (1 by default) and is deterministic for a given seed and thread count.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.run.augment import crop_flip
from benchmark.core.compute import configure_threads  # noqa: F401  (re-exported: the harness's thread setting)
from benchmark.core.config import ConfigError, TrainRecipe
from benchmark.models.base import Classifier


@dataclass
class Runtime:
    """Process-wide execution options that do not change what is computed (only how fast):
    ``compile`` wraps models in ``torch.compile`` on CUDA (set by ``--compile``)."""

    compile: bool = False


RUNTIME = Runtime()


def as_input(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (0..255) -> float32 in [0, 1]; every other input unchanged."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> cuda when available, else cpu. An unavailable device is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ConfigError(f"unknown device {name!r}; valid choices: auto, cpu, cuda, cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available; use --device cpu or auto")
    return torch.device(name)


@dataclass
class TrainSet:
    """x: (N, ...) inputs; targets: (N, C) target distributions; inv_temp: (N,) 1/tau per
    sample; weight: (N,) per-sample loss weights that sum to the objective's total weight."""

    x: torch.Tensor
    targets: torch.Tensor
    inv_temp: torch.Tensor
    weight: torch.Tensor

    def __len__(self) -> int:
        return len(self.x)


def soft_targets(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(z / tau): the teacher's distribution at temperature tau, from its logits
    (n, C), computed in float64; returns (n, C) float32."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def make_train_set(x_labeled: np.ndarray, y_labeled: np.ndarray, x_queried: np.ndarray | None,
                   logits_queried: np.ndarray | None, num_classes: int, recipe: TrainRecipe,
                   device: torch.device) -> TrainSet:
    """Stack labeled (hard) and queried examples with their loss weights. ``logits_queried``
    (n_Q, C) are the teacher's logits on ``x_queried``; their targets are
    ``soft_targets(logits_queried, recipe.temperature)``."""
    n_l = len(x_labeled)
    n_q = 0 if x_queried is None else len(x_queried)
    w = recipe.distill_weight if n_q else 0.0
    tau = recipe.temperature
    onehot = np.eye(num_classes, dtype=np.float32)[y_labeled]
    xs, ts = [x_labeled], [onehot]
    weight = [np.full(n_l, (1.0 - w) / max(n_l, 1), dtype=np.float32)]
    inv_temp = [np.ones(n_l, dtype=np.float32)]
    if n_q:
        xs.append(x_queried)
        ts.append(soft_targets(logits_queried, tau))
        weight.append(np.full(n_q, w * tau * tau / n_q, dtype=np.float32))
        inv_temp.append(np.full(n_q, 1.0 / tau, dtype=np.float32))

    def t(parts: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(np.concatenate(parts))).to(device)

    return TrainSet(x=t(xs), targets=t(ts), inv_temp=t(inv_temp), weight=t(weight))


def _optimizer(model: torch.nn.Module, recipe: TrainRecipe, device: torch.device) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    fused = {"fused": True} if device.type == "cuda" else {}
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum,
                               weight_decay=recipe.weight_decay, nesterov=recipe.momentum > 0, **fused)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay, **fused)
    return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay, **fused)


def _memory_format(model: torch.nn.Module, device: torch.device) -> torch.memory_format | None:
    return torch.channels_last if device.type == "cuda" and getattr(model, "channels_last", False) else None


def _compiled(model: torch.nn.Module, device: torch.device):
    """The callable used for the forward pass: ``torch.compile`` on CUDA when asked."""
    if RUNTIME.compile and device.type == "cuda":
        return torch.compile(model)
    return model


def _autocast(device: torch.device) -> contextlib.AbstractContextManager:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def has_train_batchnorm(model: torch.nn.Module) -> bool:
    """Whether ``model`` has a BatchNorm layer in training mode once put in training mode (this
    puts it there, as training does); such a layer needs more than one example per batch."""
    model.train()
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training for m in model.modules())


def check_trainable(model: torch.nn.Module, n: int, what: str = "the training set") -> None:
    """Raise ``ConfigError`` when ``model`` cannot train on ``n`` examples: BatchNorm in training
    mode needs at least 2 (every other case is handled by ``batch_bounds``), and no model trains
    on 0."""
    if n < 1:
        raise ConfigError(f"{what} has no examples; a model needs at least 1 to train on")
    if n == 1 and has_train_batchnorm(model):
        raise ConfigError(f"{what} has 1 example, but model {type(model).__name__} has BatchNorm layers, which "
                          f"need at least 2 examples per batch; use at least 2 examples")


def batch_bounds(n: int, batch_size: int, batchnorm: bool) -> list[tuple[int, int]]:
    """[start, end) of each minibatch of an epoch over ``n`` examples (``batch_size`` <= 0:
    one full batch). With ``batchnorm``, a last batch of one example joins the previous one,
    so every example is still used once per epoch and no batch has a single example."""
    bs = n if batch_size <= 0 else min(batch_size, n)
    starts = list(range(0, n, bs))
    if batchnorm and len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    return [(s, e) for s, e in zip(starts, starts[1:] + [n])]


def fit(model: Classifier, data: TrainSet, recipe: TrainRecipe, seed: int, device: torch.device) -> Classifier:
    """Train ``model`` in place on ``data``; deterministic on CPU for a given seed. Raises
    ``ConfigError`` for a model that cannot train on ``len(data)`` examples (``check_trainable``)."""
    n = len(data)
    check_trainable(model, n)
    mf = _memory_format(model, device)
    model.to(device).train()
    if mf is not None:
        model.to(memory_format=mf)
    forward = _compiled(model, device)
    bounds = batch_bounds(n, recipe.batch_size, has_train_batchnorm(model))
    total = recipe.epochs * len(bounds)
    opt = _optimizer(model, recipe, device)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total) if recipe.schedule == "cosine" else None
    gen = torch.Generator(device="cpu").manual_seed(seed)
    augment = recipe.augment != "none" and data.x.ndim == 4
    aug_gen = torch.Generator(device=device).manual_seed(seed + 1) if augment else None
    params = [p for p in model.parameters() if p.requires_grad]
    with _fork_rng(device, seed):
        for _ in range(recipe.epochs):
            order = torch.randperm(n, generator=gen).to(device) if len(bounds) > 1 else None
            for start, end in bounds:
                if order is None:
                    x, t, it, w = data.x, data.targets, data.inv_temp, data.weight
                else:
                    idx = order[start:end]
                    x, t, it, w = data.x[idx], data.targets[idx], data.inv_temp[idx], data.weight[idx]
                x = as_input(x)
                if augment:
                    x = crop_flip(x, recipe.crop_padding, aug_gen, flip=recipe.augment == "crop_flip")
                if mf is not None:
                    x = x.contiguous(memory_format=mf)
                with _autocast(device):
                    logits = forward(x)
                per_sample = F.cross_entropy(logits.float() * it[:, None], t, reduction="none")
                loss = (per_sample * w).sum() * (n / len(x))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if recipe.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params, recipe.grad_clip)
                opt.step()
                if sched is not None:
                    sched.step()
    model.eval()
    return model


@contextlib.contextmanager
def _fork_rng(device: torch.device, seed: int):
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def new_model(build, seed: int) -> Classifier:
    """Build a model with weights initialised from ``seed`` without touching global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def eval_on(model: Classifier, device: torch.device) -> torch.memory_format | None:
    """Put ``model`` in eval mode on ``device`` (channels-last where it helps); returns the
    memory format its inputs should take (None: as they are)."""
    model.eval().to(device)
    mf = _memory_format(model, device)
    if mf is not None:
        model.to(memory_format=mf)
    return mf


def device_batches(x: np.ndarray | torch.Tensor, index: np.ndarray | None, batch: int, device: torch.device,
                   mf: torch.memory_format | None) -> Iterator[tuple[int, torch.Tensor]]:
    """``(start, batch)`` over ``x`` (or ``x[index]``, gathered batch by batch), as model inputs
    on ``device``: uint8 scaled to [0, 1], in memory format ``mf``."""
    n = len(x) if index is None else len(index)
    for s in range(0, n, batch):
        xb = x[s:s + batch] if index is None else x[index[s:s + batch]]
        xb = as_input(torch.as_tensor(xb).to(device, non_blocking=True))
        yield s, (xb.contiguous(memory_format=mf) if mf is not None else xb)


@torch.no_grad()
def predict(model: Classifier, x: np.ndarray | torch.Tensor, device: torch.device, batch_size: int | None = None,
            embeddings: bool = False, index: np.ndarray | None = None,
            logits: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """One batched no-grad pass over ``x`` (or ``x[index]``, gathered batch by batch).
    Returns probs (N, C) float32 (with ``logits``: the logits (N, C) float32 instead) and, if
    asked, embeddings (N, d) float32. The batch size is the smaller of ``batch_size`` and the
    model's ``eval_batch_size`` (x4 on CUDA)."""
    mf = eval_on(model, device)
    cap = getattr(model, "eval_batch_size", batch_size) * (4 if device.type == "cuda" else 1)
    batch_size = max(1, min(batch_size or cap, cap))
    probs, embs = [], []
    for _, xb in device_batches(x, index, batch_size, device, mf):
        with _autocast(device):
            h = model.embed(xb)
            z = model.head(h).float()
        probs.append((z if logits else torch.softmax(z, dim=1)).cpu())
        if embeddings:
            embs.append(h.float().cpu())
    num_classes = model.head.out_features if hasattr(model.head, "out_features") else None
    p = torch.cat(probs).numpy() if probs else np.zeros((0, num_classes or 0), np.float32)
    e = (torch.cat(embs).numpy() if embs else None) if embeddings else None
    return p, e


def accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    return float((probs.argmax(axis=1) == y).mean()) if len(y) else float("nan")


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)).mean()) if len(y) else float("nan")
