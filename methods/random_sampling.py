"""``random``: b pool points uniformly without replacement. The reference for relative gains."""
from __future__ import annotations

import numpy as np

from benchmark.core.registry import register_method
from benchmark.run.state import PoolState
from methods.base import AcquisitionMethod


@register_method("random")
class RandomSampling(AcquisitionMethod):
    """b pool points uniformly at random without replacement."""

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator, *args) -> np.ndarray:
        return rng.choice(state.n_unlabeled, size=budget, replace=False).astype(np.int64)
