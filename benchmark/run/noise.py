"""Controlled teacher error: ``teacher.noise: {kind, rate}`` in a task spec.

Real teachers err in different ways; each kind models one, at rate r in [0, 1):

- ``flip_uniform``: a random fraction r of the points get a wrong top class with the
  teacher's confidence kept: the probabilities of the top class and of a uniformly drawn
  other class are swapped. Confident mistakes anywhere (a miscalibrated teacher).
- ``flip_hard``: the same swap on the fraction r of points where the teacher's own margin
  p(1) - p(2) is smallest: mistakes concentrated on the hard, informative points that
  uncertainty sampling seeks, the worst case that robust selection is built for.
- ``flip_pairs``: class-conditional confusions: on a random fraction r of the points, the
  top class c is swapped with a fixed other class pi(c) (a seeded derangement of the
  classes), the structured errors of real teachers (a 3 read as an 8, a shirt as a T-shirt).
- ``flip_informative``: the same swap on the fraction r of points where the round-0 student
  (trained on the labeled set before any query) has the highest gain, the informativeness
  RAD uses by default (one minus the student's margin), fixed for the whole run: the
  teacher's mistakes sit where the student would learn most, the placement RAD's adversary
  chooses in its game.
- ``flip_adaptive``: the game's adversary itself: before each round's selection, the teacher
  is wrong on the fraction r of the unqueried pool with the highest gain for the current
  student; a point's answer can change between rounds until it is bought, never after.
- ``train_labels``: symmetric label noise at rate r in the teacher's own training labels
  (each flipped label moves to a uniformly drawn other class), so its mistakes arise from
  training, as when a teacher learns from a noisy crowd.

The flip kinds act on the trained teacher's outputs, on every split it answers (pool,
validation, test), so the validation error that RAD's adversary budget uses sees the same
process as the pool. A swap is one transposition of two columns per affected row, applied
alike to logits and probabilities, so temperature scaling stays exact. Everything is
deterministic per (seed, task, kind, rate, split); rate 0 is bitwise the noiseless teacher.

The student-gain kinds (``STUDENT_KINDS``) need the student, so the run loop places them
(``benchmark.run.gain_noise``) with the pure functions here (``gain_swaps``): on the pool and
the validation split by the gain of the student that selects next (flip_informative: the
round-0 student, once), on the test split by the round-0 student's gain, for both. A point
flipped by these kinds always gets the same swap (its top class with one fixed other class,
``other_classes``), whatever the round or the rate, so the levels of flip_informative are
nested: the points flipped at rate 0.1 are flipped, alike, at rate 0.2. ``flip_adaptive``'s
placement after round 1 also depends on the run's earlier selections, through its student.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.core.noise_label import KINDS  # noqa: F401  (the kinds, defined where the CLI can read them cheaply)
from benchmark.core.seeding import derive_rng

OUTPUT_KINDS = frozenset({"flip_uniform", "flip_hard", "flip_pairs"})
"""Flip kinds applied to the teacher's outputs once, when they are loaded (``output_swaps``)."""
STUDENT_KINDS = frozenset({"flip_informative", "flip_adaptive"})
"""Flip kinds placed by the student's gain, in the run loop (``gain_swaps``)."""
FLIP_KINDS = OUTPUT_KINDS | STUDENT_KINDS
"""Every kind that acts on a trained teacher's answers (so one trained teacher serves every level)."""


@dataclass(frozen=True)
class Swaps:
    """Which rows (m,) get which column pair ``(a, b)`` (m,) each swapped."""

    rows: np.ndarray
    a: np.ndarray
    b: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """A copy of ``x`` (n, C) with the columns a and b of each listed row swapped."""
        out = np.array(x, copy=True)
        out[self.rows, self.a], out[self.rows, self.b] = x[self.rows, self.b], x[self.rows, self.a]
        return out


def n_affected(n: int, rate: float) -> int:
    """round(rate * n): the number of points a kind changes."""
    return int(np.floor(rate * n + 0.5))


def _other_class(top: np.ndarray, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly drawn class different from each ``top`` (m,)."""
    draw = rng.integers(0, num_classes - 1, size=len(top))
    return draw + (draw >= top)


def pair_map(num_classes: int, seed: int, task: str) -> np.ndarray:
    """pi (C,): a seeded derangement of the classes (pi[c] != c), the fixed confusions."""
    rng = derive_rng(seed, task, "teacher-noise", "pairs")
    while True:
        perm = rng.permutation(num_classes)
        if num_classes < 2 or not np.any(perm == np.arange(num_classes)):
            return perm


def output_swaps(probs: np.ndarray, kind: str, rate: float, seed: int, task: str, split: str) -> Swaps:
    """The swaps that a flip kind at ``rate`` makes on one split's teacher probabilities (n, C)."""
    n, c = probs.shape
    m = n_affected(n, rate)
    rng = derive_rng(seed, task, "teacher-noise", kind, repr(float(rate)), split)
    if m == 0 or c < 2:
        empty = np.zeros(0, np.int64)
        return Swaps(empty, empty, empty)
    top = probs.argmax(axis=1)
    if kind == "flip_hard":
        srt = np.sort(probs, axis=1)
        margin = srt[:, -1] - srt[:, -2]
        rows = np.lexsort((rng.random(n), margin))[:m]  # smallest margins, ties at random
    else:
        rows = rng.choice(n, m, replace=False)
    rows = np.sort(rows)
    if kind == "flip_pairs":
        other = pair_map(c, seed, task)[top[rows]]
    else:
        other = _other_class(top[rows], c, rng)
    return Swaps(rows, top[rows], other)


def noisy_labels(y: np.ndarray, num_classes: int, rate: float, seed: int, task: str) -> np.ndarray:
    """``train_labels``: a copy of ``y`` with round(rate * n) labels moved to another class."""
    rng = derive_rng(seed, task, "teacher-noise", "train_labels", repr(float(rate)))
    y = np.array(y, copy=True)
    rows = rng.choice(len(y), n_affected(len(y), rate), replace=False)
    y[rows] = _other_class(y[rows], num_classes, rng)
    return y


def flip_new_answers(probs: np.ndarray, kind: str, rate: float, num_classes: int, seed: int, task: str,
                     rng_key: str) -> np.ndarray:
    """The teacher's answers on new inputs (mixed queries), each flipped with probability
    ``rate`` like the kind flips a pool point (``flip_hard`` as ``flip_uniform``: hardness is
    defined relative to a split, not for one input)."""
    rng = derive_rng(seed, task, "teacher-noise", kind, repr(float(rate)), rng_key)
    rows = np.flatnonzero(rng.random(len(probs)) < rate)
    top = probs.argmax(axis=1)[rows]
    other = pair_map(num_classes, seed, task)[top] if kind == "flip_pairs" else _other_class(top, num_classes, rng)
    return Swaps(rows, top, other).apply(probs)


def top_gain_rows(gains: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """The positions (m,) of the m largest ``gains`` (n,), ties broken at random by ``rng``, sorted."""
    g = np.asarray(gains, dtype=np.float64)
    return np.sort(np.lexsort((rng.random(len(g)), -g))[:m])


def other_classes(top: np.ndarray, num_classes: int, seed: int, task: str, split: str) -> np.ndarray:
    """(n,) the class each point of ``split`` is answered as when a student-gain kind flips it:
    a uniformly drawn class other than its top class ``top`` (n,), fixed per (seed, task, split)."""
    top = np.asarray(top)
    if num_classes < 2:
        return top.copy()
    rng = derive_rng(seed, task, "teacher-noise", "student-gain", split, "other")
    return _other_class(top, num_classes, rng)


def gain_swaps(top: np.ndarray, other: np.ndarray, gains: np.ndarray, candidates: np.ndarray, rate: float,
               seed: int, task: str, split: str, round: int) -> Swaps:
    """The swaps of a student-gain kind on one split whose teacher top classes are ``top`` (n,).

    Of the ``candidates`` (k,) rows of the split (the unqueried pool, or every row), the
    ``n_affected(k, rate)`` with the largest ``gains`` (k,) are flipped: their top class is
    swapped with ``other`` (n,), from ``other_classes``. Ties are broken at random, seeded by
    (seed, task, split, round): ``round`` is the round whose queries the answers serve. No
    swap at rate 0; with one class the swap changes nothing. Raises ``ValueError`` when
    ``gains`` and ``candidates`` differ in length."""
    candidates = np.asarray(candidates, dtype=np.int64)
    if len(gains) != len(candidates):
        raise ValueError(f"gains has {len(gains)} entries for {len(candidates)} candidates")
    m = n_affected(len(candidates), rate)
    if m == 0:
        empty = np.zeros(0, np.int64)
        return Swaps(empty, empty, empty)
    rng = derive_rng(seed, task, "teacher-noise", "student-gain", split, int(round))
    rows = candidates[top_gain_rows(gains, m, rng)]
    return Swaps(rows, np.asarray(top)[rows], np.asarray(other)[rows])
