"""Deterministic seeds derived from named parts, e.g. (seed, task, method, round).

Every source of randomness in a run gets its own generator from ``derive_seed``, so a
result depends only on the seed and the names, never on the order in which work ran.
"""
from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(*parts: object) -> int:
    """A 63-bit integer from the sha256 of the parts' string forms."""
    blob = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") >> 1


def derive_rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(*parts))
