"""``bald``: Bayesian Active Learning by Disagreement with MC dropout.

References: N. Houlsby, F. Huszár, Z. Ghahramani and M. Lengyel, "Bayesian Active Learning
for Classification and Preference Learning", arXiv:1112.5745, 2011 (the BALD score);
Y. Gal, R. Islam and Z. Ghahramani, "Deep Bayesian Active Learning with Image Data", ICML
2017 (its estimate with T stochastic forward passes of a network with dropout).

Rule. With p_t (n, C), t = 1..T, the student's probabilities on the unqueried pool under T
independent dropout masks (``student_mc_probs``), the score of point i is the mutual
information between its label and the weights,

    BALD_i = H[ (1/T) sum_t p_t(x_i) ] - (1/T) sum_t H[ p_t(x_i) ],   H[p] = -sum_c p_c log p_c,

and the b largest scores are queried (the shared top-k, ties at random). BALD >= 0, and it is
0 exactly when the T passes agree. ``mc_samples`` (T, default 20) uses the first T of the
passes the harness computed (``benchmark.run.state``: pass t does not depend on how many passes
there are, so this is exactly a T-pass estimate).

Adaptation to active distillation: none; the student plays the Bayesian model. The student
needs active dropout (a dropout layer with p > 0): every vision and text student has a
``dropout`` parameter (README, Models). On a student without it the passes are identical and
the method raises ``MethodError`` rather than fall back silently to random tie-breaking.

Cost: O(T·n·C) in row blocks of float64 (exact 0 for identical passes); memory one block.
"""
from __future__ import annotations

import numpy as np

from benchmark.core.config import ConfigError
from benchmark.core.registry import register_method
from benchmark.run.state import MC_SAMPLES, PoolState
from methods.base import MethodError, ScoreMethod

_BLOCK_ELEMENTS = 1 << 20  # float64 entries of one (T, rows, C) block: 8 MB


def _entropy(p: np.ndarray) -> np.ndarray:
    """-sum over the last axis of p log p (0 log 0 = 0); p float64 (..., C) -> (...)."""
    return -(p * np.log(np.maximum(p, 1e-300))).sum(axis=-1)


def bald_scores(mc_probs: np.ndarray) -> np.ndarray:
    """BALD mutual information (n,) float64 from MC probabilities (T, n, C): the entropy of the
    mean prediction minus the mean entropy of the T predictions; clipped at 0 (rounding)."""
    t, n, c = mc_probs.shape
    out = np.empty(n, dtype=np.float64)
    rows = max(1, _BLOCK_ELEMENTS // max(t * c, 1))
    for s in range(0, n, rows):
        p = mc_probs[:, s:s + rows].astype(np.float64)
        out[s:s + rows] = (_entropy(p.mean(axis=0))[None] - _entropy(p)).mean(axis=0)  # exact 0 for equal passes
    return np.maximum(out, 0.0, out=out)


def passes_identical(mc_probs: np.ndarray) -> bool:
    """True when every pass of (T, n, C) equals the first (a student without active dropout)."""
    return all(np.array_equal(mc_probs[t], mc_probs[0]) for t in range(1, len(mc_probs)))


@register_method("bald")
class BALD(ScoreMethod):
    """The b largest mutual informations between label and weights under MC dropout."""

    requires = frozenset({"student_mc_probs"})

    def __init__(self, mc_samples: int = MC_SAMPLES) -> None:
        self.mc_samples = mc_samples

    def validate_params(self) -> None:
        t = self.mc_samples
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 2:
            raise ConfigError(f"bald: mc_samples must be an integer >= 2, got {t!r}")

    def _mc_probs(self, state: PoolState) -> np.ndarray:
        self.validate_params()
        mc = state.student_mc_probs
        if mc.ndim != 3 or mc.shape[1] != state.n_unlabeled:
            raise MethodError(f"method 'bald': student_mc_probs has shape {mc.shape}; expected "
                              f"(T, {state.n_unlabeled}, C)")
        if len(mc) < self.mc_samples:
            raise MethodError(f"method 'bald': mc_samples={self.mc_samples} but the harness computed "
                              f"{len(mc)} stochastic passes")
        mc = mc[:self.mc_samples]
        if passes_identical(mc):
            raise MethodError(f"method 'bald' needs a student with active dropout: its {len(mc)} stochastic "
                              f"passes are identical (no dropout layer with p > 0); set the student's "
                              f"`dropout` parameter above 0 in the task spec")
        return mc

    def score(self, state: PoolState) -> np.ndarray:
        s = bald_scores(self._mc_probs(state))
        self.log(mean_bald=float(s.mean()) if len(s) else 0.0)
        return s
