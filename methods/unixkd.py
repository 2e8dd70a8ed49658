"""``unixkd``: uncertainty-ranked querying, optionally with mixup (UNIXKD, Xu, Liu & Loy, 2020).

Reference: G. Xu, Z. Liu and C. C. Loy, "Computation-Efficient Knowledge Distillation via
Uncertainty-Aware Mixup", arXiv:2012.09413 (2020), and the authors' CIFAR-100 code
(``student_v0.py``: strategy 3 = entropy, batch 64, k = 48 teacher queries per batch of
which b = 32 are plain and 16 mixed, mixing weight λ ~ Beta(1, 1)).

The original works per minibatch during distillation: rank the batch by student entropy,
keep the k most uncertain, send the top b of them to the teacher as they are and mix the
other k - b with random partners from the batch, x̃ = (1 - λ) x + λ x_partner, so that the
teacher is queried on only k of every 64 examples.

Pool-based adaptation (what this method does each round, budget b):
- Rank the unqueried points by student entropy -Σ_c p_c log p_c and take the b most
  uncertain (ties at random). Without mixup (the default) these are the queries: this is
  UNIXKD's uncertainty-aware sampling as a pool-based acquisition rule.
- With ``mixup=True``: the ⌊mix_fraction·b + ½⌋ least uncertain of those b (the reference's
  ranks b..k-1 of its k queries, mix_fraction = 16/48 = 1/3 by default) become mixed
  queries. Each gets a partner drawn uniformly from the other unqueried points (the reference
  draws partners by a random permutation of the batch) and its own weight min(λ, 1 - λ),
  λ ~ Beta(α, α), α = ``alpha`` = 1 (the reference draws one λ per batch; per query is its
  natural pool analogue). Folding λ into [0, ½] keeps the queried point the dominant
  component of the input the teacher answers, the harness's rule for mixed queries: with
  λ near 1 the teacher would answer for the partner, a pool point nobody paid for. The harness queries the teacher on x̃ = (1 - λ) x + λ x_partner, counts one
  query per mixed input, marks x as queried (its own soft label is never bought), and the
  student trains on x̃ with the teacher's soft label, as in the reference with its default
  hard-label weight 0. The method itself never sees a teacher output it has not paid for:
  it only names the points, partners and weights (``AcquisitionMethod.mix``).
"""
from __future__ import annotations

import numpy as np

from benchmark.core.config import ConfigError
from benchmark.core.registry import register_method
from benchmark.run.state import PoolState
from methods.base import AcquisitionMethod
from methods.topk import top_k
from methods.uncertainty import entropy_gain


@register_method("unixkd")
class UnixKD(AcquisitionMethod):
    """The b highest-entropy points; with ``mixup`` the least uncertain share of them is mixed."""

    version = 2
    requires = frozenset({"student_probs"})

    def __init__(self, mixup: bool = False, mix_fraction: float = 1 / 3, alpha: float = 1.0) -> None:
        self.mixup = mixup
        self.mix_fraction = mix_fraction
        self.alpha = alpha

    def validate_params(self) -> None:
        if not isinstance(self.mixup, bool):
            raise ConfigError(f"unixkd: mixup must be true or false, got {self.mixup!r}")
        if isinstance(self.mix_fraction, bool) or not isinstance(self.mix_fraction, (int, float)) \
                or not 0 <= self.mix_fraction <= 1:
            raise ConfigError(f"unixkd: mix_fraction must be a number in [0, 1], got {self.mix_fraction!r}")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not self.alpha > 0:
            raise ConfigError(f"unixkd: alpha must be a number > 0, got {self.alpha!r}")

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator, *args) -> np.ndarray:
        self.validate_params()
        ent = entropy_gain(state.student_probs)
        pos = top_k(ent, budget, rng)  # most uncertain first
        self.log(mean_entropy=float(ent[pos].mean()))
        if self.mixup:
            n_mix = int(np.floor(self.mix_fraction * budget + 0.5))
            weights = np.zeros(budget)
            partners = pos.copy()  # weight 0: a plain query (the partner is ignored)
            if n_mix:
                mixed = pos[budget - n_mix:]
                # a uniform partner among the other unqueried points: draw from n - 1 and skip the point
                other = rng.integers(0, state.n_unlabeled - 1, size=n_mix)
                partners[budget - n_mix:] = other + (other >= mixed)
                lam = rng.beta(self.alpha, self.alpha, size=n_mix)
                weights[budget - n_mix:] = np.minimum(lam, 1.0 - lam)
            self.mix(partners, weights)
            self.log(n_mixed=int((weights > 0).sum()))
        return pos
