"""The seeded top-k shared by every score-based method, with uniformly random tie-breaking."""
from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of the k largest ``scores`` (n,); ties at the k-th value broken uniformly at
    random with ``rng``. O(n) by partition. Returns (k,) int64 positions, highest score first."""
    n = len(scores)
    if not 0 <= k <= n:
        raise ValueError(f"k={k} must be in [0, {n}]")
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    kth = np.partition(scores, n - k)[n - k]
    above = np.flatnonzero(scores > kth)
    ties = np.flatnonzero(scores == kth)
    chosen_ties = rng.choice(ties, size=k - len(above), replace=False) if k > len(above) else ties[:0]
    picked = np.concatenate([above, chosen_ties]).astype(np.int64)
    return picked[np.argsort(-scores[picked], kind="stable")]
