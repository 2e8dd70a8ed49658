"""Significance tests over seeds and tasks, multiple-comparison correction, and power.

- **Paired tests** (``paired_test``): two methods run on the same seeds give paired scores;
  the two-sided paired t-test and the Wilcoxon signed-rank test ask whether the mean (the
  median) of the per-seed differences is 0.
- **Holm correction** (``holm``; Holm 1979): a family of m tests keeps its family-wise error
  rate at alpha when the i-th smallest p-value is multiplied by m - i + 1 and a running
  maximum keeps the adjusted values in the order of the raw ones. It is uniformly more
  powerful than Bonferroni.
- **Friedman test** (``friedman``; Demšar 2006): methods are ranked within each block (a
  (task, seed) pair; 1 = best), and the test asks whether their average ranks differ more
  than chance allows.
- **Post-hoc** (``posthoc_wilcoxon_holm``): which pairs differ, by the Wilcoxon signed-rank
  test on the per-block score differences, Holm-corrected over every pair. Benavoli et al.
  2016 recommend it over the Nemenyi test on mean ranks, whose outcome for a pair depends
  on the other methods in the comparison.
- **Best set** (``best_set``): the top method and every method not significantly worse than
  it (paired t-test, Holm over the comparisons with the top).
- **Power** (``min_detectable_difference``, ``seeds_needed``): the exact power of the
  two-sided paired t-test at level alpha/m (the Bonferroni bound of a Holm family of m) from
  the noncentral t distribution.

References:
  S. Holm. A simple sequentially rejective multiple test procedure. Scandinavian Journal of
  Statistics 6(2):65-70, 1979.
  J. Demšar. Statistical comparisons of classifiers over multiple data sets. JMLR 7:1-30, 2006.
  A. Benavoli, G. Corani, F. Mangili. Should we really use post-hoc tests based on
  mean-ranks? JMLR 17(5):1-10, 2016.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests

from benchmark.reporting.metrics import paired_differences

__all__ = ["PairedTest", "paired_test", "holm", "Friedman", "friedman", "posthoc_wilcoxon_holm", "sig_matrix",
           "min_detectable_difference", "seeds_needed", "BestSet", "best_set"]

ALPHA = 0.05
POSTHOC_COLS = ["method_a", "method_b", "n", "mean_diff", "wilcoxon_p", "p_holm", "significant"]
BEST_COLS = ["method", "n", "mean_diff", "sd_diff", "t_p", "wilcoxon_p", "p_holm", "significant"]


@dataclass(frozen=True)
class PairedTest:
    """Paired comparison of ``a - b`` over ``n`` seeds: mean and sample SD (ddof=1) of the
    differences, two-sided paired t-test and Wilcoxon signed-rank p-values."""

    n: int
    mean_diff: float
    sd_diff: float
    t_p: float
    wilcoxon_p: float


def _t_p(d: np.ndarray) -> float:
    """Two-sided one-sample t-test p of ``d`` against 0 (NaN below 2 values; 1 or 0 at zero spread)."""
    if len(d) < 2:
        return float("nan")
    if np.all(d == d[0]):
        return 1.0 if d[0] == 0.0 else 0.0
    return float(stats.ttest_1samp(d, 0.0).pvalue)


def _wilcoxon_p(d: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p of ``d`` (zeros dropped; NaN below 2 values; 1 if all 0)."""
    if len(d) < 2:
        return float("nan")
    if np.all(d == 0.0):
        return 1.0
    return float(stats.wilcoxon(d, zero_method="wilcox", method="auto").pvalue)


def _summary(d: np.ndarray) -> PairedTest:
    return PairedTest(n=len(d), mean_diff=float(d.mean()) if len(d) else float("nan"),
                      sd_diff=float(d.std(ddof=1)) if len(d) >= 2 else float("nan"),
                      t_p=_t_p(d), wilcoxon_p=_wilcoxon_p(d))


def paired_test(a: Mapping[int, float | None], b: Mapping[int, float | None]) -> PairedTest:
    """Paired t-test and Wilcoxon signed-rank test of ``a - b`` over the seeds (keys) present and
    finite in both.

    ``a``, ``b``: ``{seed: score}``. ``sd_diff``, ``t_p`` and ``wilcoxon_p`` are NaN with fewer
    than 2 pairs; ``t_p`` is 1 when every difference is 0 and 0 when they are all equal but
    not 0; ``wilcoxon_p`` is 1 when every difference is 0. Uses ``scipy.stats.ttest_1samp``
    and ``scipy.stats.wilcoxon`` (``zero_method="wilcox"``, exact for small samples without ties).
    """
    _, d = paired_differences(a, b)
    return _summary(d)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (Holm 1979), shape ``(len(p_values),)``, in the input order.

    NaN entries stay NaN and do not count in the family size m. Uses
    ``statsmodels.stats.multitest.multipletests(method="holm")``.
    """
    p = np.asarray(p_values, dtype=float).reshape(-1)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


@dataclass(frozen=True)
class Friedman:
    """Friedman chi-square ``statistic`` and ``p_value`` over ``n_blocks`` blocks of
    ``n_methods`` methods; ``avg_ranks``: each method's mean rank (1 = best)."""

    statistic: float
    p_value: float
    n_blocks: int
    n_methods: int
    avg_ranks: dict[str, float]


def _complete_blocks(scores: pd.DataFrame) -> pd.DataFrame:
    return scores.dropna(axis=0, how="any").astype(float)


def _avg_ranks(scores: pd.DataFrame) -> dict[str, float]:
    """Mean over rows of the within-row rank of each column (1 = highest; ties share the average)."""
    if scores.empty:
        return {str(c): float("nan") for c in scores.columns}
    ranks = stats.rankdata(-scores.to_numpy(), method="average", axis=1)
    return {str(c): float(r) for c, r in zip(scores.columns, ranks.mean(axis=0))}


def friedman(scores: pd.DataFrame) -> Friedman:
    """Friedman test (Demšar 2006) of ``scores``: rows = blocks (e.g. (task, seed)), columns =
    methods, higher is better; rows holding a NaN are dropped.

    ``statistic`` and ``p_value`` come from ``scipy.stats.friedmanchisquare`` (tie-corrected)
    and are NaN with fewer than 3 methods or 2 blocks; when every block is one full tie they
    are 0 and 1. ``avg_ranks`` is always given (NaN without blocks).
    """
    s = _complete_blocks(scores)
    n, k = s.shape
    stat = p = float("nan")
    x = s.to_numpy()
    if k >= 3 and n >= 2:
        if np.all(x == x[:, :1]):
            stat, p = 0.0, 1.0
        else:
            res = stats.friedmanchisquare(*x.T)
            stat, p = float(res.statistic), float(res.pvalue)
    return Friedman(statistic=stat, p_value=p, n_blocks=n, n_methods=k, avg_ranks=_avg_ranks(s))


def posthoc_wilcoxon_holm(scores: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Wilcoxon signed-rank test of every pair of methods over the blocks, Holm-corrected over
    all m(m-1)/2 pairs (Benavoli et al. 2016).

    ``scores`` as for ``friedman`` (rows with a NaN dropped). One row per unordered pair,
    ``method_a`` before ``method_b`` in the order of average rank (ties by name); columns
    ``POSTHOC_COLS``: ``mean_diff`` is ``a - b``, ``significant`` is ``p_holm < alpha``.
    """
    s = _complete_blocks(scores)
    ranks = _avg_ranks(s)
    order = sorted(ranks, key=lambda c: (ranks[c], c))
    cols = {str(c): c for c in s.columns}
    rows = []
    for a, b in combinations(order, 2):
        t = _summary(s[cols[a]].to_numpy() - s[cols[b]].to_numpy())
        rows.append({"method_a": a, "method_b": b, "n": t.n, "mean_diff": t.mean_diff, "wilcoxon_p": t.wilcoxon_p})
    out = pd.DataFrame(rows, columns=POSTHOC_COLS[:5])
    out["p_holm"] = holm(out["wilcoxon_p"].to_numpy())
    out["significant"] = out["p_holm"] < alpha
    return out


def sig_matrix(pairs: pd.DataFrame, methods: list[str], col: str = "p_holm") -> pd.DataFrame:
    """Symmetric ``len(methods) x len(methods)`` DataFrame of ``pairs[col]`` (rows of
    ``posthoc_wilcoxon_holm``), 1.0 on the diagonal, NaN for a pair not in ``pairs``: the input
    of ``scikit_posthocs.critical_difference_diagram``."""
    m = pd.DataFrame(np.nan, index=list(methods), columns=list(methods))
    for a, b, v in zip(pairs["method_a"], pairs["method_b"], pairs[col]):
        if a in m.index and b in m.index:
            m.loc[a, b] = m.loc[b, a] = float(v)
    for x in methods:
        m.loc[x, x] = 1.0
    return m


def _check_levels(alpha: float, power: float, m: int) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power}")
    if int(m) != m or m < 1:
        raise ValueError(f"the number of comparisons m must be an integer >= 1, got {m}")


def _power(ncp: float, n: int, level: float) -> float:
    """Power of the two-sided one-sample t-test at ``level`` with ``n`` values and noncentrality
    ``ncp``: P(T > c) + P(T < -c), the lower tail as ``sf(c)`` at ``-ncp`` (``nct.cdf`` far in the
    tail can be NaN)."""
    df = n - 1
    crit = stats.t.isf(level / 2, df)
    return float(stats.nct.sf(crit, df, ncp) + stats.nct.sf(crit, df, -ncp))


def _ncp_needed(n: int, level: float, power: float) -> float:
    """The noncentrality at which the test reaches ``power`` (0 if it does so at no effect)."""
    if _power(0.0, n, level) >= power:
        return 0.0
    hi = 1.0
    while _power(hi, n, level) < power:
        hi *= 2.0
    return float(optimize.brentq(lambda c: _power(c, n, level) - power, 0.0, hi, xtol=1e-10))


def min_detectable_difference(sd: float, n: int, alpha: float = ALPHA, power: float = 0.8, m: int = 1) -> float:
    """Smallest true mean difference that a two-sided paired t-test at level ``alpha / m`` detects
    with probability ``power`` from ``n`` pairs whose differences have SD ``sd`` (same unit as sd).

    Exact: solves the noncentral t power (``scipy.stats.nct``) for the noncentrality with
    ``scipy.optimize.brentq``; ``m`` is the Bonferroni bound of a Holm family of m tests.
    NaN when ``n < 2`` or ``sd`` is NaN; 0 when ``sd == 0``. Raises ``ValueError`` for
    ``sd < 0`` or alpha, power, m out of range. Reference: Cohen, Statistical Power Analysis
    for the Behavioral Sciences, 2nd ed., 1988, ch. 2.
    """
    _check_levels(alpha, power, m)
    if sd is None or math.isnan(sd) or n < 2:
        return float("nan")
    if sd < 0:
        raise ValueError(f"sd must be >= 0, got {sd}")
    if sd == 0:
        return 0.0
    return _ncp_needed(int(n), alpha / m, power) * sd / math.sqrt(n)


def seeds_needed(sd: float, difference: float, alpha: float = ALPHA, power: float = 0.8, m: int = 1,
                 n_max: int = 100_000) -> int:
    """Smallest number of paired seeds ``n >= 2`` at which the two-sided paired t-test at level
    ``alpha / m`` detects a true mean difference ``difference`` with probability ``power``,
    when the per-seed differences have SD ``sd`` (same unit as ``difference``).

    Exact power from the noncentral t (as ``min_detectable_difference``), found by doubling
    then bisection over n. Raises ``ValueError`` for ``difference <= 0``, ``sd < 0`` or NaN,
    alpha or power outside (0, 1), ``m < 1``, or when more than ``n_max`` seeds are needed.
    """
    _check_levels(alpha, power, m)
    if not difference > 0:
        raise ValueError(f"the difference to detect must be > 0, got {difference}")
    if not sd >= 0:
        raise ValueError(f"sd must be >= 0, got {sd}")

    def reaches(n: int) -> bool:
        return sd == 0 or _power(difference * math.sqrt(n) / sd, n, alpha / m) >= power

    lo, hi = 1, 2  # reaches(lo) is False by convention (n = 1 has no test)
    while not reaches(hi):
        if hi >= n_max:
            raise ValueError(f"more than n_max={n_max} seeds are needed to detect a difference of {difference} "
                             f"with paired SD {sd}")
        lo, hi = hi, min(2 * hi, n_max)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if reaches(mid) else (mid, hi)
    return hi


@dataclass(frozen=True)
class BestSet:
    """``top``: highest mean score; ``members``: ``top`` and every method not significantly
    worse than it, by mean score; ``comparisons``: one row per other method (``BEST_COLS``,
    ``mean_diff`` = method - top); ``mdd``: the family's minimum detectable difference."""

    top: str
    members: list[str]
    comparisons: pd.DataFrame
    mdd: float


def _mean_order(per_seed: Mapping[str, Mapping[int, float]]) -> list[str]:
    """Methods by mean finite score, highest first (ties by name)."""
    def mean(v: Mapping[int, float]) -> float:
        x = np.asarray([float(s) for s in v.values() if s is not None], dtype=float)
        x = x[np.isfinite(x)]
        return float(x.mean()) if len(x) else -np.inf
    return sorted(per_seed, key=lambda k: (-mean(per_seed[k]), k))


def best_set(per_seed: Mapping[str, Mapping[int, float]], alpha: float = ALPHA) -> BestSet:
    """The top method (highest mean score) and every method not significantly worse than it.

    ``per_seed``: ``{method: {seed: score}}``, higher is better. Each other method is compared
    with the top by the paired t-test over their shared seeds; the p-values are Holm-corrected
    over those m - 1 comparisons, and a method is significantly worse when ``p_holm < alpha``
    and its mean difference is negative. ``mdd`` is ``min_detectable_difference`` at the median
    ``sd_diff`` and the median ``n`` of the comparisons with m = their number (NaN with one
    method). Raises ``ValueError`` for no methods. Reference: Holm 1979.
    """
    if not per_seed:
        raise ValueError("best_set needs at least one method")
    order = _mean_order(per_seed)
    top = order[0]
    rows = [{"method": k, **vars(paired_test(per_seed[k], per_seed[top]))} for k in order[1:]]
    comp = pd.DataFrame(rows, columns=BEST_COLS[:6])
    comp["p_holm"] = holm(comp["t_p"].to_numpy())
    comp["significant"] = (comp["p_holm"] < alpha) & (comp["mean_diff"] < 0)
    worse = set(comp.loc[comp["significant"], "method"])
    members = [k for k in order if k not in worse]
    return BestSet(top=top, members=members, comparisons=comp, mdd=_family_mdd(comp, alpha))


def _family_mdd(comp: pd.DataFrame, alpha: float) -> float:
    """``min_detectable_difference`` at the comparisons' median SD and median n (NaN if none)."""
    sd = comp["sd_diff"].to_numpy(dtype=float)
    if len(comp) == 0 or not np.isfinite(sd).any():
        return float("nan")
    return min_detectable_difference(float(np.nanmedian(sd)), int(np.median(comp["n"])), alpha=alpha, m=len(comp))
