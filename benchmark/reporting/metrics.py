"""Summary statistics over seeds: t confidence intervals, Wilson intervals of proportions,
paired gains, paired tests, win rates, ranks, and the Welch tolerance that ``compare`` uses.

Every function is pure (numbers in, numbers out). Missing values (``None``/NaN) are
dropped where a function takes a flat list; paired functions take ``{seed: value}``
mappings and use only the seeds present (and finite) in both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
from scipy import stats

from benchmark.core.results import normalized_auc

__all__ = ["mean_ci", "wilson_interval", "normalized_auc", "paired_differences", "paired_gain", "paired_ttest",
           "win_rate", "average_ranks", "welch_tolerance", "WinRate", "Tolerance"]


def _finite(values: Iterable[float | None]) -> np.ndarray:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    return v[np.isfinite(v)]


def t_quantile(level: float, df: float) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    return float(stats.t.ppf(0.5 + level / 2, df))


def mean_ci(values: Iterable[float | None], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the two-sided t confidence interval over the values.

    NaN mean for no values; NaN half-width for one value (no spread to estimate).
    """
    v = _finite(values)
    if len(v) == 0:
        return float("nan"), float("nan")
    if len(v) == 1:
        return float(v[0]), float("nan")
    half = t_quantile(level, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return float(v.mean()), float(half)


def wilson_interval(successes: float | np.ndarray, trials: float | np.ndarray,
                    level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval ``(low, high)`` of a proportion ``successes / trials``.

    Unlike a t interval over a few seeds, it always lies in [0, 1] and is never empty at 0
    or 1. ``successes`` and ``trials`` are counts (scalars or arrays of one shape; a pooled
    count may be fractional); with ``z`` the two-sided normal quantile of ``level``:
    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``. NaN where ``trials`` is 0.
    Equals ``scipy.stats.binomtest(k, n).proportion_ci(level, "wilson")`` for integers.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    k, n = np.asarray(successes, dtype=float), np.asarray(trials, dtype=float)
    z = float(stats.norm.ppf(0.5 + level / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        center = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(np.clip(p * (1 - p), 0.0, None) / n + z * z / (4 * n * n)) / denom
    low = np.where(n > 0, np.clip(center - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(center + half, 0.0, 1.0), np.nan)
    return low[()], high[()]  # numpy floats for scalar counts


def paired_differences(a: Mapping[int, float | None], b: Mapping[int, float | None]) -> tuple[list[int], np.ndarray]:
    """Seeds present and finite in both, sorted, and the differences ``a[s] - b[s]``."""
    seeds = sorted(s for s in set(a) & set(b)
                   if a[s] is not None and b[s] is not None and math.isfinite(a[s]) and math.isfinite(b[s]))
    return seeds, np.asarray([float(a[s]) - float(b[s]) for s in seeds], dtype=float)


def paired_gain(a: Mapping[int, float | None], b: Mapping[int, float | None],
                level: float = 0.95) -> tuple[float, float, int]:
    """Mean and t-CI half-width of the per-seed differences ``a - b``, and the number of pairs."""
    _, d = paired_differences(a, b)
    m, h = mean_ci(d.tolist(), level)
    return m, h, len(d)


def paired_ttest(d: Sequence[float] | np.ndarray) -> float:
    """Two-sided p-value of the paired t-test that the mean difference is 0.

    NaN with fewer than two pairs. With zero spread, 1 when every difference is 0 and 0
    otherwise (the t statistic is infinite).
    """
    d = np.asarray(d, dtype=float)
    if len(d) < 2:
        return float("nan")
    sd = d.std(ddof=1)
    if sd == 0.0:
        return 1.0 if np.all(d == 0.0) else 0.0
    t = d.mean() / (sd / math.sqrt(len(d)))
    return float(2.0 * stats.t.sf(abs(t), len(d) - 1))


@dataclass(frozen=True)
class WinRate:
    """How often ``a`` beat ``b`` over paired observations; ``p_value`` of the paired t-test."""

    n: int
    wins: int
    ties: int
    losses: int
    mean_diff: float
    p_value: float

    @property
    def rate(self) -> float:
        """(wins + ties / 2) / n; NaN without pairs."""
        return (self.wins + 0.5 * self.ties) / self.n if self.n else float("nan")


def win_rate(d: Sequence[float] | np.ndarray) -> WinRate:
    """Wins, ties and losses of paired differences ``a - b`` (exact ties count half)."""
    d = np.asarray(d, dtype=float)
    mean = float(d.mean()) if len(d) else float("nan")
    return WinRate(n=len(d), wins=int((d > 0).sum()), ties=int((d == 0).sum()), losses=int((d < 0).sum()),
                   mean_diff=mean, p_value=paired_ttest(d))


def average_ranks(scores: Mapping[str, float]) -> dict[str, float]:
    """Rank 1 for the highest score; tied scores share the average of their ranks."""
    names = sorted(scores)
    if not names:
        return {}
    ranks = stats.rankdata([-float(scores[n]) for n in names], method="average")
    return {n: float(r) for n, r in zip(names, ranks)}


@dataclass(frozen=True)
class Tolerance:
    """``diff = mean(results) - mean(reference)``; a change is significant when |diff| > tol."""

    diff: float
    tol: float
    se: float
    df: float


def welch_tolerance(results: Sequence[float], reference: Sequence[float], level: float = 0.95,
                    floor: float = 0.005) -> Tolerance:
    """Tolerance on the difference of two means from the spread across seeds.

    ``se = sqrt(s_r^2/n_r + s_f^2/n_f)`` (sample standard deviations; a group of one seed
    contributes no spread), Welch-Satterthwaite degrees of freedom, and
    ``tol = max(floor, t_{(1+level)/2, df} * se)``: the half-width of the Welch t-interval
    on the difference, never below ``floor`` (the bound for bit-identical or zero-spread runs).
    """
    r, f = _finite(results), _finite(reference)
    if len(r) == 0 or len(f) == 0:
        raise ValueError("welch_tolerance needs at least one value on each side")
    diff = float(r.mean() - f.mean())
    parts = [(x.var(ddof=1) / len(x), len(x) - 1) for x in (r, f) if len(x) > 1]
    se2 = sum(p for p, _ in parts)
    if se2 <= 0.0:
        return Tolerance(diff=diff, tol=floor, se=0.0, df=float("nan"))
    df = se2 ** 2 / sum(p ** 2 / k for p, k in parts if p > 0)
    se = math.sqrt(se2)
    return Tolerance(diff=diff, tol=max(floor, t_quantile(level, df) * se), se=se, df=float(df))
