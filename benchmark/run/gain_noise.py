"""Teacher noise placed by the student's gain: ``flip_informative`` and ``flip_adaptive``.

RAD (Baykal et al., *Robust Active Distillation*, ICLR 2023) plays a game against an
adversary that puts the teacher's mistakes on the points most informative to the student.
These two kinds make the benchmark's teacher that adversary:

- ``flip_informative``: the ``n_affected(n, r)`` pool points with the highest gain for the
  round-0 student (trained on the labeled set before any query) get a confident wrong top
  class (the swap of ``benchmark.run.noise``), fixed for the whole run.
- ``flip_adaptive``: before the selection of every round, the ``n_affected(|U|, r)`` points of
  the unqueried pool U with the highest gain for the current student (the one the method is
  about to select with) are answered wrong, the others right; the first round's placement is
  ``flip_informative``'s. An answer once paid for is kept as it was given.

Gain. The informativeness RAD uses by default (``methods.rad``, ``gain: margin``):
``g = max(1 - (p_(1) - p_(2)), 1e-12)`` of the student's probabilities, computed by the same
call that gives a method its ``student_probs`` (bitwise the values RAD sees); ties are
broken at random, seeded by (seed, task, split, round).

Splits. The validation split gets the same process as the pool (the same share of its points,
chosen by the same student's gain on them; per round for ``flip_adaptive``), so the teacher
validation error that RAD's adversary budget uses tracks the pool's. The teacher's test
outputs are flipped once, by the round-0 student's gain; they enter only the diagnostics
(the teacher's test accuracy in the run header and the student's ``teacher_agreement``). The
student's test accuracy is measured against the true test labels and is never affected.

Integrity. The placement is computed by the harness, from the student and the hidden teacher
outputs, inside the oracle's answers: a method receives neither the flipped points nor any
answer before it pays, and the query count is unchanged. Note that the rule is public and
is a function of what a method sees (the student's probabilities): a method written to
avoid the top-gain share would evade it, as it would evade RAD's worst case; these kinds
measure robustness to the game's worst-case placement, not to a hidden process.
"""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch

from benchmark.core.config import NoiseSpec
from benchmark.run.noise import STUDENT_KINDS, Swaps, gain_swaps, n_affected, other_classes
from benchmark.run.teacher import TeacherOutputs
from benchmark.run.train import predict
from methods.rad import GAIN_FLOOR, RAD
from methods.uncertainty import GAINS

SPLITS = ("pool", "validation", "test")
RAD_GAIN: str = inspect.signature(RAD).parameters["gain"].default
"""The gain RAD uses by default, the one the adversary places mistakes by."""


def rad_gain(probs: np.ndarray) -> np.ndarray:
    """RAD's default gain of each point: (n, C) student probabilities -> (n,) float64 in
    [1e-12, 1] (``methods.rad``: ``max(GAINS[gain](p), GAIN_FLOOR)``)."""
    return np.maximum(GAINS[RAD_GAIN](np.asarray(probs)), GAIN_FLOOR)


class GainNoise:
    """The teacher's answers under a student-gain kind, placed round by round by the run loop.

    ``clean`` is the trained teacher's outputs without noise; ``current`` the outputs as the
    teacher answers now (logits (n, C) per split), and ``pool_flipped`` (n_pool,) bool the pool
    points whose current answer is flipped. Raises ``ValueError`` for a kind that is not a
    student-gain kind."""

    def __init__(self, noise: NoiseSpec, clean: TeacherOutputs, num_classes: int, seed: int, task: str) -> None:
        if noise.kind not in STUDENT_KINDS:
            raise ValueError(f"noise kind {noise.kind!r} is not placed by the student; expected one of "
                             f"{', '.join(sorted(STUDENT_KINDS))}")
        self.kind, self.rate, self.seed, self.task = noise.kind, float(noise.rate), seed, task
        self.clean = clean
        self.top = {s: getattr(clean, f"{s}_probs").argmax(axis=1) for s in SPLITS}
        self.other = {s: other_classes(self.top[s], num_classes, seed, task, s) for s in SPLITS}
        self.current = clean
        self.pool_flipped = np.zeros(len(clean.pool_logits), dtype=bool)

    @property
    def adaptive(self) -> bool:
        """True when the placement follows the current student every round (``flip_adaptive``)."""
        return self.kind == "flip_adaptive"

    def place(self, round: int, student: torch.nn.Module, inputs: dict[str, Any], unqueried: np.ndarray,
              device: torch.device) -> TeacherOutputs:
        """Place the mistakes that answer round ``round``'s queries, by ``student``'s gain, and
        return the teacher's outputs then (also kept as ``current``).

        ``inputs`` holds each split's inputs (the pool's may be a tensor on ``device``);
        ``unqueried`` (k,) the pool points not yet bought. Round 1 places the pool, validation
        and test splits; a later round (``flip_adaptive``) the pool and validation splits."""
        logits = {s: getattr(self.current, f"{s}_logits") for s in SPLITS}
        for split in SPLITS if round == 1 else SPLITS[:2]:
            rows = np.asarray(unqueried, dtype=np.int64) if split == "pool" else np.arange(len(self.top[split]))
            swaps = self._swaps(split, rows, round, student, inputs[split], device)
            logits[split] = swaps.apply(getattr(self.clean, f"{split}_logits"))
            if split == "pool":
                self.pool_flipped = np.zeros_like(self.pool_flipped)
                self.pool_flipped[swaps.rows] = True
        self.current = TeacherOutputs(logits["pool"], logits["validation"], logits["test"], self.clean.key)
        return self.current

    def _swaps(self, split: str, rows: np.ndarray, round: int, student: torch.nn.Module, x: Any,
               device: torch.device) -> Swaps:
        if n_affected(len(rows), self.rate) == 0:  # rate 0: no student pass, the clean answers
            empty = np.zeros(0, np.int64)
            return Swaps(empty, empty, empty)
        probs, _ = predict(student, x, device, index=rows if split == "pool" else None)
        return gain_swaps(self.top[split], self.other[split], rad_gain(probs), rows, self.rate, self.seed,
                          self.task, split, round)

    def replayed(self, flipped: np.ndarray) -> np.ndarray:
        """The pool logits (n_pool, C) with exactly the pool points ``flipped`` (m,) flipped: the
        answers a recorded round gave, for replaying its queries on resume."""
        rows = np.sort(np.asarray(flipped, dtype=np.int64))
        top, other = self.top["pool"], self.other["pool"]
        return Swaps(rows, top[rows], other[rows]).apply(self.clean.pool_logits)
