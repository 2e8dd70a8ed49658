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
============================  ===============  ===========================================

Every array is a read-only copy backed by immutable bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from benchmark.teacher import frozen_array
from benchmark.train import predict

LAZY_FIELDS = ("student_probs", "student_embeddings", "student_probs_train", "student_embeddings_train",
               "pool_inputs")


class StateAccessError(AttributeError):
    """A lazy field was read that the method did not list in ``requires``."""


class StudentFeatures:
    """Computes the lazy fields from the current student and the unlabeled/train inputs only."""

    def __init__(self, model: torch.nn.Module, x_pool: Any, unlabeled: np.ndarray, x_train: Any,
                 device: torch.device) -> None:
        self._model = model
        self._x_pool = x_pool
        self._unlabeled = unlabeled
        self._x_train = x_train
        self._device = device

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
        return out


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
    _features: StudentFeatures | None = field(default=None, repr=False)

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
            wanted = set(self.requires) - set(cache)
            cache.update({k: frozen_array(v) for k, v in feats.compute(wanted).items()})
        return cache[name]

    @property
    def n_unlabeled(self) -> int:
        return len(self.unlabeled)


@dataclass(frozen=True, eq=False)
class PrivilegedView:
    """Hidden information for ``privileged = True`` methods only (analysis oracles, never
    ranked): pool labels (n_pool,) and the teacher's probabilities on the whole pool (n_pool, C)."""

    pool_labels: np.ndarray
    teacher_pool_probs: np.ndarray
