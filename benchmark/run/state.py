"""``PoolState``: the read-only view of one round that an acquisition method receives.

It holds what a practitioner would have: the labeled set with its labels, the indices of
the unqueried pool, the teacher's soft labels on the points already paid for, and the
teacher's error estimated on the validation split. It never holds pool labels or the
teacher's outputs on unqueried points. Student outputs are computed lazily, once, and only
when the method lists them in ``requires``:

============================  ===============  ===========================================
field                         shape            meaning
============================  ===============  ===========================================
``student_probs``             (n, C)           student probabilities on ``unlabeled``
``student_embeddings``        (n, d)           penultimate features on ``unlabeled``
``student_probs_train``       (n_L + n_Q, C)   probabilities on labeled, then queried
``student_embeddings_train``  (n_L + n_Q, d)   features on labeled, then queried
``pool_inputs``               (n, ...)         raw inputs of ``unlabeled``
``initial_pool_embeddings``   (pool_size, d)   features of the round-0 student (trained on the
                                               labeled set alone) on every pool point, indexed
                                               by pool index; the same in every round
``student_mc_probs``          (T, n, C)        probabilities on ``unlabeled`` from T stochastic
                                               forward passes with dropout active (MC dropout,
                                               Gal & Ghahramani 2016), float32
============================  ===============  ===========================================

Every array is a read-only copy backed by immutable bytes. The per-round student outputs
are computed together in one pass when the first of them is read; ``initial_pool_embeddings``
is computed only when it is itself read (methods that need it once per run cache what they
derive from it). ``device`` names where the harness computes ("cpu", "cuda", "cuda:N"), so
selection kernels can run there too.

``student_mc_probs``: T = ``mc_samples`` (``MC_SAMPLES`` = 20 unless the harness asks for
more) passes in one batched no-grad sweep over the pool. Dropout modules (every
``nn.Dropout``-like layer, and attention and Transformer layers, whose train mode only turns
their dropout on) run in train mode; everything else, BatchNorm included, in eval mode, so
the passes differ only by their dropout masks. When the student's ``features`` is an
``nn.Sequential``, the layers before the first one holding active dropout are deterministic
and run once per batch; only the rest runs T times. Pass t of a batch draws its masks from
the global torch generator seeded with ``derive_seed(mc_seed, t, first row)``, inside
``torch.random.fork_rng`` (the training generator is untouched). ``mc_seed`` defaults to a
digest of the unlabeled indices and of the student's weights, so a run (and a resumed run) is
reproducible while different seeds draw different masks, and pass t does not depend on T: the
first k of T passes are exactly a k-pass computation. A student without
active dropout gives T identical passes. Memory: 4·T·n·C bytes.

``PoolState.from_arrays`` builds a state from precomputed arrays, without a student (for
tests and ``run_benchmark.py perf select``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmark.core.seeding import derive_seed
from benchmark.run.teacher import frozen_array
from benchmark.run.train import _autocast, device_batches, eval_on, predict

LAZY_FIELDS = ("student_probs", "student_embeddings", "student_probs_train", "student_embeddings_train",
               "pool_inputs", "initial_pool_embeddings", "student_mc_probs")
MC_SAMPLES = 20  # stochastic passes of ``student_mc_probs`` unless the harness asks for another number
# Modules whose train mode changes nothing but dropout: switched on for the MC passes.
_STOCHASTIC = (nn.modules.dropout._DropoutNd, nn.MultiheadAttention, nn.TransformerEncoderLayer,
               nn.TransformerDecoderLayer)
# Fields computed only when read themselves, not together with the per-round outputs.
_ON_READ_FIELDS = frozenset({"initial_pool_embeddings"})


class StateAccessError(AttributeError):
    """A lazy field was read that the method did not list in ``requires``."""


def active_dropout(model: nn.Module) -> list[nn.Module]:
    """The dropout layers of ``model`` with a drop probability above 0."""
    return [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0]


def _mc_split(model: nn.Module) -> tuple[nn.Module, nn.Module]:
    """(deterministic prefix, stochastic rest) of ``model``: the features' layers before the
    first one holding active dropout, then the remaining layers and the head."""
    feats = getattr(model, "features", None)
    if not isinstance(feats, nn.Sequential):
        return nn.Identity(), model
    cut = next((i for i, layer in enumerate(feats) if active_dropout(layer)), len(feats))
    return feats[:cut], nn.Sequential(*feats[cut:], model.head)


@torch.no_grad()
def mc_dropout_probs(model: nn.Module, x: Any, index: np.ndarray | None, device: torch.device, samples: int,
                     seed: int) -> np.ndarray:
    """Probabilities (samples, N, C) float32 of ``samples`` stochastic passes over ``x`` (or
    ``x[index]``) with dropout active and everything else in eval mode (see the module note)."""
    mf = eval_on(model, device)
    for m in model.modules():
        if isinstance(m, _STOCHASTIC):
            m.train()
    prefix, rest = _mc_split(model)
    n = len(x) if index is None else len(index)
    batch = max(1, getattr(model, "eval_batch_size", 8192) * (4 if device.type == "cuda" else 1))
    out: np.ndarray | None = None
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            for s, xb in device_batches(x, index, batch, device, mf):
                with _autocast(device):
                    h = prefix(xb)
                for t in range(samples):
                    torch.manual_seed(derive_seed(seed, t, s))
                    with _autocast(device):
                        p = torch.softmax(rest(h).float(), dim=1).cpu().numpy()
                    if out is None:
                        out = np.empty((samples, n, p.shape[1]), dtype=np.float32)
                    out[t, s:s + len(p)] = p
    finally:
        model.eval()
    if out is None:
        num_classes = getattr(model.head, "out_features", 0)
        out = np.zeros((samples, 0, num_classes), dtype=np.float32)
    return out


class StudentFeatures:
    """Computes the lazy fields from the current student and the unlabeled/train inputs only.
    ``mc_samples`` and ``mc_seed`` set ``student_mc_probs`` (module note); ``mc_seed`` None
    derives the seed from the unlabeled indices and the student's weights."""

    def __init__(self, model: torch.nn.Module, x_pool: Any, unlabeled: np.ndarray, x_train: Any,
                 device: torch.device, initial_model: torch.nn.Module | None = None, mc_samples: int = MC_SAMPLES,
                 mc_seed: int | None = None) -> None:
        self._model = model
        self._x_pool = x_pool
        self._unlabeled = unlabeled
        self._x_train = x_train
        self._device = device
        self._initial_model = initial_model
        self._mc_samples = mc_samples
        self._mc_seed = mc_seed

    def _mc_seed_value(self) -> int:
        """``mc_seed``, or a digest of the unlabeled indices and the student's parameters and
        buffers: the same for a resumed run (training is deterministic), different across seeds."""
        if self._mc_seed is not None:
            return int(self._mc_seed)
        digest = hashlib.blake2b(np.ascontiguousarray(self._unlabeled, dtype=np.int64).tobytes(), digest_size=8)
        for t in self._model.state_dict().values():
            digest.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        return derive_seed("student_mc_probs", digest.hexdigest())

    def compute(self, names: set[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for suffix, x, index in (("", self._x_pool, self._unlabeled), ("_train", self._x_train, None)):
            want_p, want_e = f"student_probs{suffix}" in names, f"student_embeddings{suffix}" in names
            if want_p or want_e:
                p, e = predict(self._model, x, self._device, embeddings=want_e, index=index)
                if want_p:
                    out[f"student_probs{suffix}"] = p
                if want_e:
                    out[f"student_embeddings{suffix}"] = e
        if "pool_inputs" in names:
            x = self._x_pool[self._unlabeled]
            out["pool_inputs"] = x.cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        if "initial_pool_embeddings" in names:
            if self._initial_model is None:
                raise StateAccessError("PoolState field 'initial_pool_embeddings' has no round-0 student to "
                                       "compute it from")
            out["initial_pool_embeddings"] = predict(self._initial_model, self._x_pool, self._device,
                                                     embeddings=True)[1]
        if "student_mc_probs" in names:
            out["student_mc_probs"] = mc_dropout_probs(self._model, self._x_pool, self._unlabeled, self._device,
                                                       self._mc_samples, self._mc_seed_value())
        return out


class PrecomputedFeatures:
    """Serves lazy fields from given arrays (``PoolState.from_arrays``); no student involved."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self._arrays = arrays

    def compute(self, names: set[str]) -> dict[str, np.ndarray]:
        missing = sorted(set(names) - set(self._arrays))
        if missing:
            raise StateAccessError(f"PoolState field {missing[0]!r} was not given to PoolState.from_arrays; "
                                   f"given: {sorted(self._arrays)}")
        return {k: self._arrays[k] for k in names}


@dataclass(frozen=True, eq=False)
class PoolState:
    """One round's view. Indices in ``unlabeled``/``queried`` are pool indices in [0, pool_size);
    ``labeled`` are positions in the labeled set. ``requires`` names the lazy fields allowed."""

    round: int
    budget_left: int
    num_classes: int
    pool_size: int
    labeled: np.ndarray
    labeled_y: np.ndarray
    unlabeled: np.ndarray
    queried: np.ndarray
    queried_soft_labels: np.ndarray
    validation_teacher_error: float
    requires: frozenset[str] = frozenset()
    _features: StudentFeatures | PrecomputedFeatures | None = field(default=None, repr=False)
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("labeled", "labeled_y", "unlabeled", "queried", "queried_soft_labels"):
            object.__setattr__(self, name, frozen_array(getattr(self, name)))
        unknown = sorted(set(self.requires) - set(LAZY_FIELDS))
        if unknown:
            raise ValueError(f"unknown PoolState field {unknown[0]!r} in requires; valid: {list(LAZY_FIELDS)}")
        object.__setattr__(self, "_cache", {})

    def __getattr__(self, name: str) -> Any:
        if name not in LAZY_FIELDS:
            raise AttributeError(f"PoolState has no field {name!r}")
        if name not in self.requires:
            raise StateAccessError(
                f"PoolState field {name!r} is not available: add it to the method's `requires` "
                f"(currently {sorted(self.requires)})")
        cache = object.__getattribute__(self, "_cache")
        if name not in cache:
            feats = object.__getattribute__(self, "_features")
            if feats is None:
                raise StateAccessError(f"PoolState field {name!r} has no student to compute it from")
            wanted = {name} if name in _ON_READ_FIELDS else set(self.requires) - set(cache) - _ON_READ_FIELDS
            cache.update({k: frozen_array(v) for k, v in feats.compute(wanted).items()})
        return cache[name]

    @property
    def n_unlabeled(self) -> int:
        return len(self.unlabeled)

    @classmethod
    def from_arrays(cls, *, num_classes: int, unlabeled: np.ndarray, labeled_y: np.ndarray,
                    pool_size: int | None = None, queried: np.ndarray | None = None,
                    queried_soft_labels: np.ndarray | None = None, validation_teacher_error: float = 0.0,
                    round: int = 1, budget_left: int | None = None, device: str = "cpu",
                    **arrays: np.ndarray) -> "PoolState":
        """A state whose lazy fields are the given ``arrays`` (keyword = field name, shapes as in
        the table above); ``requires`` is the set of fields given. No student is involved."""
        unknown = sorted(set(arrays) - set(LAZY_FIELDS))
        if unknown:
            raise ValueError(f"unknown PoolState field {unknown[0]!r}; valid: {list(LAZY_FIELDS)}")
        unlabeled = np.asarray(unlabeled, dtype=np.int64)
        queried = np.zeros(0, np.int64) if queried is None else np.asarray(queried, dtype=np.int64)
        if queried_soft_labels is None:
            queried_soft_labels = np.zeros((len(queried), num_classes), np.float32)
        if pool_size is None:
            pool_size = int(max(unlabeled.max(initial=-1), queried.max(initial=-1)) + 1)
        state = cls(round=round, budget_left=len(unlabeled) if budget_left is None else budget_left,
                    num_classes=num_classes, pool_size=pool_size, labeled=np.arange(len(labeled_y)),
                    labeled_y=labeled_y, unlabeled=unlabeled, queried=queried,
                    queried_soft_labels=queried_soft_labels, validation_teacher_error=validation_teacher_error,
                    requires=frozenset(arrays), device=device,
                    _features=PrecomputedFeatures({k: frozen_array(v) for k, v in arrays.items()}))
        return state


@dataclass(frozen=True, eq=False)
class PrivilegedView:
    """Hidden information for ``privileged = True`` methods only (analysis oracles, never
    ranked): pool labels (n_pool,) and the teacher's probabilities on the whole pool (n_pool, C)."""

    pool_labels: np.ndarray
    teacher_pool_probs: np.ndarray
