"""The teacher: trained once per (task, seed, teacher spec), its outputs cached on disk,
and the ``TeacherOracle``, the query ledger that releases soft labels only when paid for.

The teacher's weights are cached next to its outputs, so that a method that queries new
inputs built from pool points (mixup) can be answered by the same teacher
(``load_teacher_model``); the ledger counts those queries like any other.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

from torch import nn

import numpy as np
import torch

from benchmark.core import paths
from benchmark.core.compute import compute_identity
from benchmark.run.noise import FLIP_KINDS, OUTPUT_KINDS, n_affected, noisy_labels, output_swaps
from benchmark.core.config import TaskConfig, spec_dict, stable_hash
from benchmark.data.base import LoadedData
from benchmark.data.splits import Splits
from benchmark.core.errors import OracleError
from benchmark.models import build_model
from benchmark.core.seeding import derive_seed
from benchmark.run.train import accuracy, fit, make_train_set, new_model, predict


def frozen_array(a: np.ndarray) -> np.ndarray:
    """A read-only copy backed by immutable bytes, so ``setflags(write=True)`` cannot undo it.
    An array that already is one is returned as it is (no second copy)."""
    if isinstance(a, np.ndarray) and a.flags.c_contiguous and not a.flags.writeable:
        root = a
        while isinstance(root, np.ndarray):
            root = root.base
        if isinstance(root, bytes):
            return a
    a = np.ascontiguousarray(a)
    return np.frombuffer(a.tobytes(), dtype=a.dtype).reshape(a.shape)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities (n, C) float32 from logits (n, C), computed in float64."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


class TeacherOracle:
    """Holds the teacher's logits on the pool; answers ``query(indices)`` only.

    ``budget`` is the total number of queries allowed in the run. Every answered index is
    counted; a refused query changes nothing. ``query`` returns the teacher's probabilities
    (temperature 1), what acquisition methods see; ``answered_logits`` returns the logits of
    the answers paid for so far, which the harness trains on (temperature is exact on
    logits). ``answer_inputs`` (optional) runs the teacher on new inputs, (k, ...) -> (k, C)
    logits; it is used only for queries on inputs built from the queried pool points (see
    ``query``).
    """

    def __init__(self, pool_logits: np.ndarray, budget: int,
                 answer_inputs: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        if budget < 0:
            raise OracleError(f"budget must be >= 0, got {budget}")
        self.__logits = frozen_array(np.asarray(pool_logits, dtype=np.float32))
        self.__queried = np.zeros(len(pool_logits), dtype=bool)
        self.__order: list[np.ndarray] = []
        self.__answers: list[np.ndarray] = []
        self.__count = 0
        self.__input_count = 0
        self.__answer = answer_inputs
        self.budget = int(budget)

    @property
    def pool_size(self) -> int:
        return len(self.__queried)

    @property
    def n_queries(self) -> int:
        """Teacher queries answered so far."""
        return self.__count

    @property
    def n_input_queries(self) -> int:
        """How many of the answered queries were on new inputs rather than pool points."""
        return self.__input_count

    @property
    def budget_left(self) -> int:
        return self.budget - self.__count

    def queried(self) -> np.ndarray:
        """(n_queries,) pool indices in the order they were queried."""
        return np.concatenate(self.__order) if self.__order else np.zeros(0, dtype=np.int64)

    def unqueried(self) -> np.ndarray:
        return np.flatnonzero(~self.__queried)

    def answered_logits(self) -> np.ndarray:
        """(n_queries, C) float32: the teacher's logits of every answer paid for, in query order
        (rows match ``queried()``; a row answered on a new input holds that input's logits)."""
        if not self.__answers:
            return np.zeros((0, self.__logits.shape[1]), dtype=np.float32)
        return np.concatenate(self.__answers)

    def set_answers(self, pool_logits: np.ndarray) -> None:
        """Answer later queries from ``pool_logits`` (n_pool, C): the harness's hook for a teacher
        whose errors move between rounds (``flip_adaptive``). Answers already paid for keep the
        values they were given. Raises ``OracleError`` for a shape other than the pool's."""
        new = np.asarray(pool_logits, dtype=np.float32)
        if new.shape != self.__logits.shape:
            raise OracleError(f"answers must have the pool's shape {self.__logits.shape}, got {new.shape}")
        self.__logits = frozen_array(new)

    def query(self, indices: np.ndarray | list[int], inputs: np.ndarray | None = None,
              use_inputs: np.ndarray | None = None) -> np.ndarray:
        """Pay for and return the teacher's probabilities (b, C) float32 on pool ``indices`` (b,);
        their logits join ``answered_logits``.

        With ``inputs`` (b, ...) and ``use_inputs`` (b,) bool, each row where ``use_inputs`` is
        True is answered by running the teacher on ``inputs[row]`` (an input built from that pool
        point, e.g. a mixup) instead of on the pool point. Either way every index is consumed
        and counted once; the checks below run before the teacher is asked anything."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise OracleError(f"query indices must be a 1-D integer array, got dtype {idx.dtype} shape {idx.shape}")
        idx = idx.astype(np.int64)
        bad = idx[(idx < 0) | (idx >= self.pool_size)]
        if bad.size:
            raise OracleError(f"query index {int(bad[0])} is outside the pool [0, {self.pool_size})")
        uniq, counts = np.unique(idx, return_counts=True)
        if (counts > 1).any():
            raise OracleError(f"duplicate query index {int(uniq[counts > 1][0])} in one query")
        again = idx[self.__queried[idx]]
        if again.size:
            raise OracleError(f"query index {int(again[0])} was already queried; it is not in the unqueried pool")
        if self.__count + len(idx) > self.budget:
            raise OracleError(f"query of {len(idx)} points exceeds the budget: {self.__count} of "
                              f"{self.budget} queries already used")
        out = self.__logits[idx].copy()
        n_new = 0
        if use_inputs is not None:
            mask = np.asarray(use_inputs)
            if mask.shape != idx.shape or mask.dtype != bool:
                raise OracleError(f"use_inputs must be a bool array of shape {idx.shape}, got dtype {mask.dtype} "
                                  f"shape {mask.shape}")
            n_new = int(mask.sum())
            if n_new:
                if self.__answer is None:
                    raise OracleError("this oracle cannot answer new inputs: it was built without a teacher model")
                if inputs is None or len(inputs) != len(idx):
                    raise OracleError(f"inputs must have one row per query index ({len(idx)}), got "
                                      f"{None if inputs is None else len(inputs)}")
                ans = np.asarray(self.__answer(np.asarray(inputs)[mask]), dtype=np.float32)
                if ans.shape != (n_new, out.shape[1]):
                    raise OracleError(f"the teacher answered shape {ans.shape} for {n_new} inputs; "
                                      f"expected ({n_new}, {out.shape[1]})")
                out[mask] = ans
        self.__queried[idx] = True
        self.__order.append(idx.copy())
        self.__answers.append(frozen_array(out))
        self.__count += len(idx)
        self.__input_count += n_new
        return softmax(out)


@dataclass(frozen=True)
class TeacherOutputs:
    """The teacher's logits (float32) on pool (n_pool, C), validation and test, and the
    probabilities derived from them (``*_probs``, float32)."""

    pool_logits: np.ndarray
    validation_logits: np.ndarray
    test_logits: np.ndarray
    key: str

    @cached_property
    def pool_probs(self) -> np.ndarray:
        return softmax(self.pool_logits)

    @cached_property
    def validation_probs(self) -> np.ndarray:
        return softmax(self.validation_logits)

    @cached_property
    def test_probs(self) -> np.ndarray:
        return softmax(self.test_logits)

    def validation_error(self, y_val: np.ndarray) -> float:
        return 1.0 - accuracy(self.validation_probs, y_val)


def teacher_key(task: TaskConfig, data: LoadedData, splits: Splits, seed: int, device: torch.device) -> str:
    """Content hash of everything that changes the teacher's outputs: its spec, the data and
    splits, the seed, and the compute setting (device type, CPU threads, precision, torch
    version; ``benchmark.core.compute.compute_identity``), so that a teacher trained in one
    setting is never served to a run in another."""
    return stable_hash({"teacher": spec_dict(_trained_spec(task)), "data": data.fingerprint,
                        "splits": splits.fingerprint(), "seed": seed, "compute": compute_identity(device), "format": 3})


def _trained_spec(task: TaskConfig) -> Any:
    """The teacher spec that determines training: noise on the outputs (the flip kinds, the
    student-gain ones included) is applied after training, so every flip level shares one
    trained teacher and the cache holds its clean outputs only; label noise (``train_labels``)
    changes the training itself."""
    noise = task.teacher.noise
    if noise is not None and noise.kind in FLIP_KINDS:
        return dataclasses.replace(task.teacher, noise=None)
    return task.teacher


def _teacher_paths(task: TaskConfig, key: str):
    stem = paths.cache_dir("teachers") / f"{task.name}-{key}"
    return stem.with_suffix(".npz"), stem.with_suffix(".pt")


def _train_teacher(task: TaskConfig, data: LoadedData, splits: Splits, seed: int, device: torch.device,
                   log: Callable[[str], None]) -> nn.Module:
    """Train the teacher (deterministic on CPU for a given seed) and cache its weights."""
    spec = task.teacher
    model = new_model(lambda: build_model(spec.model, data.input_shape, data.num_classes, data.meta),
                      derive_seed(seed, task.name, "teacher-init"))
    if spec.train_on == "none":  # a pretrained teacher is used as loaded; its weights need no cache
        log(f"using teacher {spec.model.name} as loaded (pretrained, not trained here)")
        return model
    split = "labeled" if spec.train_on == "labeled" else "teacher"
    x, y = splits.xy(data, split)
    if spec.noise is not None and spec.noise.kind == "train_labels":
        y = noisy_labels(y, data.num_classes, spec.noise.rate, seed, task.name)
        log(f"teacher training labels: {n_affected(len(y), spec.noise.rate)} of {len(y)} flipped (train_labels)")
    log(f"training teacher {spec.model.name} on {len(y)} {split} examples")
    fit(model, make_train_set(x, y, None, None, data.num_classes, spec.train, device), spec.train,
        derive_seed(seed, task.name, "teacher-train"), device)
    _, pt = _teacher_paths(task, teacher_key(task, data, splits, seed, device))
    tmp = pt.with_name(f"{pt.stem}.{os.getpid()}.tmp.pt")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    tmp.replace(pt)
    return model


def get_teacher(task: TaskConfig, data: LoadedData, splits: Splits, seed: int, device: torch.device,
                log: Callable[[str], None] = lambda s: None) -> TeacherOutputs:
    """The teacher's outputs with the task's teacher noise applied (``benchmark.run.noise``) on
    every split, before anything is queried: from the cache or trained here. The student-gain
    kinds (``flip_informative``, ``flip_adaptive``) are returned clean: the run loop places
    them (``benchmark.run.gain_noise``)."""
    return with_output_noise(_trained_outputs(task, data, splits, seed, device, log), task, seed)


def with_output_noise(outputs: TeacherOutputs, task: TaskConfig, seed: int) -> TeacherOutputs:
    """``outputs`` under the task's flip noise (the same swaps on logits and probabilities);
    unchanged without noise, for ``train_labels``, for the student-gain kinds and at rate 0."""
    noise = task.teacher.noise
    if noise is None or noise.kind not in OUTPUT_KINDS:
        return outputs
    noisy = {}
    for split in ("pool", "validation", "test"):
        logits = getattr(outputs, f"{split}_logits")
        noisy[split] = output_swaps(softmax(logits), noise.kind, noise.rate, seed, task.name, split).apply(logits)
    return TeacherOutputs(noisy["pool"], noisy["validation"], noisy["test"], outputs.key)


def _trained_outputs(task: TaskConfig, data: LoadedData, splits: Splits, seed: int, device: torch.device,
                     log: Callable[[str], None]) -> TeacherOutputs:
    """Load the cached teacher outputs (logits), or train the teacher and cache them (atomically)."""
    key = teacher_key(task, data, splits, seed, device)
    path, _ = _teacher_paths(task, key)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return TeacherOutputs(z["pool"], z["validation"], z["test"], key)
        except Exception:  # a damaged cache entry is retrained, never trusted
            pass
    model = _train_teacher(task, data, splits, seed, device, log)
    outs = {name: predict(model, splits.xy(data, name)[0], device, logits=True)[0]
            for name in ("pool", "validation", "test")}
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **outs)
    tmp.replace(path)
    return TeacherOutputs(outs["pool"], outs["validation"], outs["test"], key)


def load_teacher_model(task: TaskConfig, data: LoadedData, splits: Splits, seed: int, device: torch.device,
                       log: Callable[[str], None] = lambda s: None) -> nn.Module:
    """The teacher model itself (eval mode, on ``device``): from its cached weights, or trained
    again exactly as ``get_teacher`` trains it when the weights are not cached."""
    _, pt = _teacher_paths(task, teacher_key(task, data, splits, seed, device))
    if pt.exists():
        try:
            model = build_model(task.teacher.model, data.input_shape, data.num_classes, data.meta)
            model.load_state_dict(torch.load(pt, map_location="cpu", weights_only=True))
            return model.to(device).eval()
        except Exception:  # damaged or stale weights are retrained, never trusted
            pass
    return _train_teacher(task, data, splits, seed, device, log).to(device).eval()
