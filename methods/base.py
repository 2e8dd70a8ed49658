"""The ``AcquisitionMethod`` interface every method implements.

A method's constructor only stores its hyper-parameters (scikit-learn style). ``select``
validates the budget, calls the method's ``select_positions`` (or, for score-based methods,
``score`` plus the shared seeded top-k), checks the answer, and maps positions in
``state.unlabeled`` to pool indices. Diagnostics a method records with ``self.log(...)``
land in the RoundRecord's ``method`` section.

A method may ask for mixed queries with ``self.mix(partners, weights)`` inside
``select_positions`` (``unixkd``'s mixup option). ``select`` then also sets ``mixup_``, a
``MixupPlan``: the harness queries the teacher on the inputs
``(1 - w_j) x[i_j] + w_j x[partner_j]`` instead of on the pool points ``i_j``, counts each as
one query, and trains on those inputs with the teacher's answers. The method never sees
those answers before they are paid for: it only names indices, partners and weights.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from benchmark.core.errors import BudgetError, MethodError
from benchmark.run.state import PoolState
from methods.topk import top_k


def check_budget(budget: Any, n_unlabeled: int) -> int:
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget <= 0:
        raise BudgetError(f"budget must be a positive integer, got {budget!r}")
    if budget > n_unlabeled:
        raise BudgetError(f"budget {budget} exceeds the {n_unlabeled} unqueried pool points")
    return int(budget)


# The largest mixing weight: the point the ledger charges (x_i) is always the input's dominant
# component, so a mixed query never answers for another pool point in its place.
MAX_MIX_WEIGHT = 0.5


@dataclass(frozen=True)
class MixupPlan:
    """Mixed queries of one round, aligned with the selected pool indices i (b,):
    ``partners`` (b,) int64 pool indices and ``weights`` (b,) float64 in [0, ``MAX_MIX_WEIGHT``].
    Query j is the input (1 - weights[j]) * x[i_j] + weights[j] * x[partners[j]]; weight 0 is a
    plain query. A mixed query is one teacher query on a new input; the ledger charges it to
    i_j, the input's dominant component, and the partner stays unqueried."""

    partners: np.ndarray
    weights: np.ndarray

    @property
    def mixed(self) -> np.ndarray:
        """(b,) bool: which queries are mixed inputs rather than pool points."""
        return self.weights > 0


class AcquisitionMethod:
    """Base class. Subclasses set ``requires`` (PoolState lazy fields they read) and implement
    ``select_positions(state, budget, rng) -> (budget,) positions into state.unlabeled``."""

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    requires: ClassVar[frozenset[str]] = frozenset()
    privileged: ClassVar[bool] = False

    def __init__(self) -> None:
        pass

    @classmethod
    def param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self.param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def validate_params(self) -> None:
        """Raise ``ConfigError`` on an invalid hyper-parameter; called before a run starts."""

    def log(self, **diagnostics: Any) -> None:
        """Record per-round diagnostics (JSON-serialisable values). The key ``mixup`` is reserved
        for the harness's record of mixed queries."""
        if "mixup" in diagnostics:
            raise MethodError(f"method {self.name!r}: the diagnostics key 'mixup' is reserved; use self.mix(...)")
        self.diagnostics_.update(diagnostics)

    def mix(self, partners: np.ndarray, weights: np.ndarray) -> None:
        """Ask for mixed queries this round. ``partners`` (b,) are positions into
        ``state.unlabeled`` (other than the point itself) and ``weights`` (b,) in [0, 0.5], both aligned with the positions
        ``select_positions`` returns (see ``MixupPlan``)."""
        self._mix = (np.asarray(partners), np.asarray(weights, dtype=np.float64))

    def _check_positions(self, pos: np.ndarray, budget: int, n: int, what: str) -> None:
        """``pos`` must be (budget,) integers in [0, n); else a ``MethodError`` naming the method."""
        if pos.shape != (budget,) or (pos.size and not np.issubdtype(pos.dtype, np.integer)):
            raise MethodError(f"method {self.name!r} {what} of shape {pos.shape} dtype {pos.dtype}; "
                              f"expected ({budget},) integers")
        if pos.size and (pos.min() < 0 or pos.max() >= n):
            raise MethodError(f"method {self.name!r} {what} outside [0, {n})")

    def _check_inputs(self, state: PoolState) -> None:
        """Every float field the method requires must be finite: a diverged student's NaN
        probabilities give one clear ``MethodError`` for every method, before any rule sees them."""
        for name in sorted(self.requires):
            a = getattr(state, name)
            if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
                bad = int((~np.isfinite(a.reshape(len(a), -1))).any(axis=1).sum())
                raise MethodError(f"method {self.name!r}: PoolState field {name!r} has non-finite values (NaN or "
                                  f"inf) in {bad} of {len(a)} rows; the student diverged or its inputs are not finite")

    def _mixup_plan(self, state: PoolState, budget: int, positions: np.ndarray) -> MixupPlan | None:
        if self._mix is None:
            return None
        partners, weights = self._mix
        self._check_positions(partners, budget, state.n_unlabeled, "mixed with partner positions")
        if weights.shape != (budget,) or not np.all((weights >= 0) & (weights <= MAX_MIX_WEIGHT)):
            raise MethodError(f"method {self.name!r} mixed with weights of shape {weights.shape} outside "
                              f"[0, {MAX_MIX_WEIGHT}]; expected ({budget},) values in [0, {MAX_MIX_WEIGHT}] (the "
                              f"queried point must dominate the input the teacher answers)")
        if np.any((weights > 0) & (partners == positions)):
            raise MethodError(f"method {self.name!r} mixed a point with itself; a partner must be another point")
        return MixupPlan(state.unlabeled[partners].astype(np.int64), weights.copy())

    def select(self, state: PoolState, budget: int, rng: np.random.Generator, privileged: Any = None) -> np.ndarray:
        """(budget,) distinct pool indices from ``state.unlabeled``. ``privileged`` carries hidden
        information and is passed only to methods with ``privileged = True``."""
        budget = check_budget(budget, state.n_unlabeled)
        self.diagnostics_: dict[str, Any] = {}
        self._mix: tuple[np.ndarray, np.ndarray] | None = None
        self.mixup_: MixupPlan | None = None
        self._check_inputs(state)
        if self.privileged:
            pos = self.select_positions(state, budget, rng, privileged)
        else:
            pos = self.select_positions(state, budget, rng)
        pos = np.asarray(pos)
        self._check_positions(pos, budget, state.n_unlabeled, "returned positions")
        if len(np.unique(pos)) != budget:
            raise MethodError(f"method {self.name!r} returned duplicate positions")
        self.mixup_ = self._mixup_plan(state, budget, pos)
        return state.unlabeled[pos].astype(np.int64)

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator, *args: Any) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement select_positions or score")


class ScoreMethod(AcquisitionMethod):
    """A method defined by a per-point informativeness ``score(state) -> (n,)``; higher is
    better. Selection is the shared seeded top-k with random tie-breaking."""

    def score(self, state: PoolState) -> np.ndarray:
        raise NotImplementedError

    def select_positions(self, state: PoolState, budget: int, rng: np.random.Generator, *args: Any) -> np.ndarray:
        s = np.asarray(self.score(state), dtype=np.float64)
        if s.shape != (state.n_unlabeled,):
            raise MethodError(f"method {self.name!r} scored shape {s.shape}; expected ({state.n_unlabeled},)")
        if np.isnan(s).any():
            raise MethodError(f"method {self.name!r} produced NaN scores")
        return top_k(s, budget, rng)
