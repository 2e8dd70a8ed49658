"""Seeded, optionally class-balanced splits: test, validation, teacher, labeled, pool.

The test split comes from the source's own test set when it has one, else from train.
The others are drawn from train in the order validation, teacher, labeled, pool, each
from what is left. Class balance: each class gets ``m // C`` points, the remainder goes to
randomly chosen classes, and a class with too few points gives its share to the others.
Same data, spec and seed -> identical splits. Splits see only the class indices 0..C-1, so
labels spelled differently (e.g. {1, 2} and {0, 1}) give the same splits.

A labeled set of one point, or of a single class, is allowed but warned about once per
dataset and split spec (one line on stderr): round 0 then trains on almost nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.core.config import SplitSpec, stable_hash
from benchmark.data.base import DataError, LoadedData, warn_once


@dataclass(frozen=True)
class Splits:
    """Index arrays (int64). ``test`` indexes ``x_test`` when ``test_from_test_split``."""

    labeled: np.ndarray
    validation: np.ndarray
    pool: np.ndarray
    test: np.ndarray
    teacher: np.ndarray
    test_from_test_split: bool

    def xy(self, data: LoadedData, name: str) -> tuple[np.ndarray, np.ndarray]:
        idx = getattr(self, name)
        if name == "test" and self.test_from_test_split:
            return data.x_test[idx], data.y_test[idx]
        return data.x[idx], data.y[idx]

    def fingerprint(self) -> str:
        return stable_hash({k: getattr(self, k).tolist() for k in ("labeled", "validation", "pool", "test", "teacher")})


def _quotas(available: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """Per-class counts summing to m, as equal as availability allows. available: (C,)."""
    C = len(available)
    q = np.zeros(C, dtype=np.int64)
    remaining = m
    active = [c for c in np.argsort(available, kind="stable")]
    while active and remaining > 0:
        share = remaining // len(active)
        if share == 0:
            break
        c = active[0]
        if available[c] - q[c] <= share:  # the scarcest class is exhausted first
            remaining -= available[c] - q[c]
            q[c] = available[c]
            active.pop(0)
        else:
            for c in active:
                q[c] += share
            remaining -= share * len(active)
    spare = [c for c in rng.permutation(C) if q[c] < available[c]]
    for c in spare[:remaining]:
        q[c] += 1
    return q


def take(y: np.ndarray, available: np.ndarray, m: int, num_classes: int,
         rng: np.random.Generator, balanced: bool, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Choose m indices from ``available``; returns (chosen sorted, rest sorted)."""
    if m > len(available):
        raise DataError(f"split {name!r} needs {m} points but only {len(available)} remain; reduce the split sizes")
    if not balanced:
        perm = rng.permutation(available)
        return np.sort(perm[:m]), np.sort(perm[m:])
    by_class = [rng.permutation(available[y[available] == c]) for c in range(num_classes)]
    q = _quotas(np.array([len(b) for b in by_class]), m, rng)
    chosen = np.concatenate([b[:k] for b, k in zip(by_class, q)]).astype(np.int64)
    rest = np.setdiff1d(available, chosen, assume_unique=True)
    return np.sort(chosen), rest


def make_splits(data: LoadedData, spec: SplitSpec, seed: int) -> Splits:
    rng = np.random.default_rng([seed, 0x5E1175])
    C, bal = data.num_classes, spec.class_balanced
    train_avail = np.arange(len(data.y), dtype=np.int64)
    if data.x_test is not None:
        test, _ = take(data.y_test, np.arange(len(data.y_test), dtype=np.int64), spec.test, C, rng, bal, "test")
        from_test = True
    else:
        test, train_avail = take(data.y, train_avail, spec.test, C, rng, bal, "test")
        from_test = False
    validation, train_avail = take(data.y, train_avail, spec.validation, C, rng, bal, "validation")
    teacher, train_avail = take(data.y, train_avail, spec.teacher, C, rng, bal, "teacher")
    labeled, train_avail = take(data.y, train_avail, spec.labeled, C, rng, bal, "labeled")
    if spec.pool is None:
        pool = train_avail
        if len(pool) == 0:
            raise DataError("split 'pool' is empty: no points remain after the other splits")
    else:
        pool, _ = take(data.y, train_avail, spec.pool, C, rng, bal, "pool")
    _warn_tiny_labeled(data, spec, data.y[labeled], seed)
    return Splits(labeled=labeled, validation=validation, pool=pool, test=test, teacher=teacher,
                  test_from_test_split=from_test)


def _warn_tiny_labeled(data: LoadedData, spec: SplitSpec, y_labeled: np.ndarray, seed: int) -> None:
    """Warn (once per data fingerprint and split spec, so once per task) when the labeled set
    has a single point or a single class."""
    key = ("tiny-labeled", data.fingerprint, spec)
    classes = np.unique(y_labeled)
    if len(y_labeled) == 1:
        warn_once(f"the labeled set holds a single point (splits.labeled: 1) of class "
                  f"{data.label_names[int(y_labeled[0])]!r}: round 0 trains the student on one example", key)
    elif len(classes) == 1:
        held = f"{data.num_classes} classes" if data.num_classes > 1 else "a single class: check the label column"
        warn_once(f"the labeled set of seed {seed} holds only class {data.label_names[int(classes[0])]!r} "
                  f"({len(y_labeled)} points; the data has {held}): round 0 trains the student on one class", key)
