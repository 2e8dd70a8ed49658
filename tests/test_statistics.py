"""Paired tests, Holm, Friedman, the Wilcoxon-Holm post-hoc, power and the best set, each
against a case computed by hand (closed forms of the t distribution for 3 and 4 degrees of
freedom, exact signed-rank counts, the Friedman formula)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmark.reporting.statistics import (best_set, friedman, holm, min_detectable_difference, paired_test,
                                            posthoc_wilcoxon_holm, seeds_needed, sig_matrix)


def t3_two_sided_p(t: float) -> float:
    """Closed form for 3 degrees of freedom: p = 1 - (2/pi)(x/(1+x^2) + atan x), x = |t|/sqrt(3)."""
    x = abs(t) / math.sqrt(3)
    return 1 - 2 / math.pi * (x / (1 + x * x) + math.atan(x))


def t4_two_sided_p(t: float) -> float:
    """Closed form for 4 degrees of freedom: p = 1 - (3/4) u (1 - t^2 / (12 (1 + t^2/4))), u = |t|/sqrt(1+t^2/4)."""
    q = 1 + t * t / 4
    return 1 - 0.75 * abs(t) / math.sqrt(q) * (1 - t * t / (12 * q))


def test_paired_t_on_one_to_four():
    """d = 1, 2, 3, 4: mean 2.5, SD sqrt(5/3) = 1.290994, t = 2.5 / (SD/2) = 3.872983, df 3."""
    a = {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0, 4: 9.0, 5: None}
    b = {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0, 5: 1.0, 6: 2.0}  # seeds 4, 5, 6 are not pairs
    r = paired_test(a, b)
    assert r.n == 4 and r.mean_diff == 2.5
    assert r.sd_diff == pytest.approx(1.290994, abs=1e-6)
    assert r.t_p == pytest.approx(0.030466, abs=1e-6) == pytest.approx(t3_two_sided_p(3.872983), abs=1e-6)
    assert r.wilcoxon_p == pytest.approx(2 / 16)  # all 4 signs positive: 2 of the 2^4 sign patterns as extreme


def test_wilcoxon_five_positive_differences_is_the_smallest_p_five_seeds_allow():
    """5 positive differences: only all-plus and all-minus of the 2^5 sign patterns are as extreme: 2/32."""
    r = paired_test({s: 10.0 + s for s in range(5)}, {s: 0.0 for s in range(5)})
    assert r.wilcoxon_p == pytest.approx(0.0625)


def test_wilcoxon_drops_zero_differences():
    """zero_method="wilcox": the zero is dropped and 5 positive differences remain: p = 2/32 (n still
    counts the pair)."""
    r = paired_test({s: float(s) for s in range(6)}, {s: 0.0 for s in range(6)})
    assert r.n == 6 and r.wilcoxon_p == pytest.approx(0.0625)


@pytest.mark.parametrize("d,t_p,w_p", [([0.0, 0.0, 0.0], 1.0, 1.0), ([0.5, 0.5, 0.5], 0.0, None)])
def test_zero_spread(d, t_p, w_p):
    r = paired_test(dict(enumerate(d)), {s: 0.0 for s in range(len(d))})
    assert r.sd_diff == 0.0 and r.t_p == t_p
    assert w_p is None or r.wilcoxon_p == w_p


def test_fewer_than_two_pairs():
    r = paired_test({0: 1.0, 1: float("nan")}, {0: 0.0, 1: 0.0})
    assert r.n == 1 and r.mean_diff == 1.0
    assert math.isnan(r.sd_diff) and math.isnan(r.t_p) and math.isnan(r.wilcoxon_p)


def test_holm_by_hand():
    """Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04; the running maximum
    lifts the last to 0.06 (an adjusted p never falls below a smaller raw p's)."""
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.3, 0.2]), [0.4, 0.4])  # 0.2 * 2 = 0.4 lifts 0.3 * 1 to 0.4
    np.testing.assert_allclose(holm([0.6, 0.7]), [1.0, 1.0])  # 0.6 * 2 = 1.2 is capped at 1


def test_holm_nan_stays_and_does_not_count():
    """m = 2 (the NaN is not a test): 0.01 * 2 = 0.02, 0.04 * 1 = 0.04."""
    out = holm([0.01, float("nan"), 0.04])
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)
    assert holm([]).shape == (0,) and np.isnan(holm([float("nan")])).all()


TABLE = pd.DataFrame({"A": [0.9, 0.9, 0.8, 0.9], "B": [0.8, 0.7, 0.9, 0.8], "C": [0.7, 0.8, 0.7, 0.7]})


def test_friedman_without_ties_matches_the_formula():
    """Ranks per block: A 1,1,2,1; B 2,3,1,2; C 3,2,3,3 -> average ranks 1.25, 2, 2.75. With N = 4,
    k = 3: 12N/(k(k+1)) [sum R_j^2 - k(k+1)^2/4] = 4 * (13.125 - 12) = 4.5; chi-square with 2 df has
    survival exp(-x/2), so p = exp(-2.25)."""
    f = friedman(TABLE)
    assert f.avg_ranks == {"A": 1.25, "B": 2.0, "C": 2.75}
    assert f.statistic == pytest.approx(4.5) and f.p_value == pytest.approx(math.exp(-2.25))
    assert (f.n_blocks, f.n_methods) == (4, 3)


def test_friedman_ties_share_the_average_rank_and_nan_rows_are_dropped():
    """Block 4 becomes A 0.9, B 0.8, C 0.8: B and C share rank 2.5. A NaN row is dropped.
    A: (1+1+2+1)/4 = 1.25; B: (2+3+1+2.5)/4 = 2.125; C: (3+2+3+2.5)/4 = 2.625."""
    t = TABLE.copy()
    t.loc[3, "C"] = 0.8
    t.loc[4] = [np.nan, 0.1, 0.2]
    f = friedman(t)
    assert f.n_blocks == 4 and f.avg_ranks == {"A": 1.25, "B": 2.125, "C": 2.625}


def test_friedman_needs_three_methods_for_a_p_value():
    f = friedman(TABLE[["A", "B"]])
    assert math.isnan(f.statistic) and math.isnan(f.p_value) and f.avg_ranks == {"A": 1.25, "B": 1.75}


def test_posthoc_wilcoxon_holm_by_hand():
    """A - B = 10, 20, 30, 40, 50 and A - C = 11, 18, 33, 36, 55 are all positive: exact p 2/32.
    B - C = 1, -2, 3, -4, 5: W- = 2 + 4 = 6; of the 32 sign patterns, 13 have a rank sum <= 6
    ({}, 1, 2, 3, 4, 5, 1+2, 1+3, 1+4, 1+5, 2+3, 2+4, 1+2+3), so p = 2 * 13/32 = 0.8125.
    Holm over 3: 0.0625 * 3 = 0.1875, 0.0625 * 2 -> 0.1875 (running maximum), 0.8125."""
    a = np.array([100.0, 200.0, 300.0, 400.0, 500.0])
    b = a - [10, 20, 30, 40, 50]
    c = b - [1, -2, 3, -4, 5]
    # named so that the order of average rank (A, B, C) is not the order of the names
    out = posthoc_wilcoxon_holm(pd.DataFrame({"m2": c, "m3": b, "m1": a}).rename(columns={"m1": "z", "m3": "a"}))
    out = out.replace({"z": "A", "a": "B", "m2": "C"})
    assert list(zip(out["method_a"], out["method_b"])) == [("A", "B"), ("A", "C"), ("B", "C")]  # by average rank
    np.testing.assert_allclose(out["wilcoxon_p"], [0.0625, 0.0625, 0.8125])
    np.testing.assert_allclose(out["p_holm"], [0.1875, 0.1875, 0.8125])
    np.testing.assert_allclose(out["mean_diff"], [30.0, 30.6, 0.6])
    assert list(out["n"]) == [5, 5, 5] and not out["significant"].any()
    m = sig_matrix(out, ["A", "B", "C"])
    assert m.loc["B", "A"] == m.loc["A", "B"] == 0.1875 and m.loc["C", "B"] == 0.8125
    assert list(np.diag(m)) == [1.0, 1.0, 1.0]


def test_min_detectable_difference_is_slightly_above_the_normal_approximation():
    """n = 20, sd 1: the normal approximation (z_0.975 + z_0.8) sd / sqrt(n) = (1.959964 + 0.841621)
    / 4.472136 = 0.626453 ignores the t tails, so the exact value is a little larger; with the t
    quantiles of 19 df from a table (2.093024 + 0.860951) / 4.472136 = 0.660526 it is close."""
    mdd = min_detectable_difference(1.0, 20)
    assert 0.626453 < mdd < 0.626453 * 1.1
    assert mdd == pytest.approx(0.660526, abs=1e-3)
    assert min_detectable_difference(2.0, 20) == pytest.approx(2 * mdd)  # linear in sd
    assert min_detectable_difference(1.0, 20, m=10) > mdd  # alpha/10 needs a larger difference


def test_min_detectable_difference_edges():
    assert math.isnan(min_detectable_difference(1.0, 1)) and math.isnan(min_detectable_difference(float("nan"), 5))
    assert min_detectable_difference(0.0, 5) == 0.0


def test_seeds_needed_by_hand_and_round_trip():
    """Effect size 0.01/0.02 = 0.5: the classic paired-t table value is 34 pairs (two-sided 0.05,
    power 0.8; normal approximation ((1.96 + 0.84)/0.5)^2 = 31.4 plus the t correction)."""
    assert seeds_needed(0.02, 0.01) == 34
    mdd = min_detectable_difference(1.0, 20)
    assert seeds_needed(1.0, mdd * 1.0001) == 20 and seeds_needed(1.0, mdd * 0.9999) == 21
    assert seeds_needed(0.0, 0.01) == 2
    assert seeds_needed(0.02, 0.01, m=45) > seeds_needed(0.02, 0.01)


@pytest.mark.parametrize("kwargs,message", [
    ({"difference": 0.0}, "difference to detect must be > 0"), ({"difference": -0.01}, "must be > 0"),
    ({"sd": -1.0}, "sd must be >= 0"), ({"alpha": 1.0}, "alpha must be in (0, 1)"),
    ({"power": 0.0}, "power must be in (0, 1)"), ({"m": 0}, "integer >= 1"),
    ({"sd": 1.0, "difference": 1e-4}, "more than n_max=100000 seeds")])
def test_seeds_needed_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        seeds_needed(**{"sd": 0.02, "difference": 0.01, **kwargs})


def test_best_set_excludes_only_the_clearly_worse_method():
    """Top A (mean 82). B - A = -1, 1, -1, 1, -0.5: mean -0.1, SD sqrt(4.2/4) = 1.024695, t = -0.218218.
    C - A = -5, -6, -5, -6, -5.5: mean -5.5, SD 0.5, t = -5.5 / (0.5/sqrt(5)) = -24.596748.
    Holm over 2: C's p doubles (far below 0.05), B's stays at its raw p (the larger one)."""
    a = {s: 80.0 + s for s in range(5)}
    b = {s: a[s] + d for s, d in enumerate([-1, 1, -1, 1, -0.5])}
    c = {s: a[s] + d for s, d in enumerate([-5, -6, -5, -6, -5.5])}
    r = best_set({"C": c, "B": b, "A": a})
    assert r.top == "A" and r.members == ["A", "B"]
    comp = r.comparisons.set_index("method")
    assert list(comp.index) == ["B", "C"]
    assert comp.loc["B", "sd_diff"] == pytest.approx(1.024695, abs=1e-6)
    assert comp.loc["B", "t_p"] == pytest.approx(t4_two_sided_p(0.218218), abs=1e-6)
    assert comp.loc["C", "t_p"] == pytest.approx(t4_two_sided_p(24.596748), rel=1e-4)
    assert comp.loc["C", "p_holm"] == pytest.approx(2 * t4_two_sided_p(24.596748), rel=1e-4)
    assert comp.loc["B", "p_holm"] == pytest.approx(comp.loc["B", "t_p"])
    assert list(comp["significant"]) == [False, True]


def test_best_set_keeps_methods_that_only_the_uncorrected_test_would_drop():
    """B - A and C - A are -1, -2, -3, -4 in two orders: raw p 0.030466 < 0.05 each, but Holm over
    the 2 comparisons gives 2 * 0.030466 = 0.060933 > 0.05, so both stay in the best set."""
    a = {s: 10.0 for s in range(4)}
    b = {s: 10.0 - d for s, d in enumerate([1, 2, 3, 4])}
    c = {s: 10.0 - d for s, d in enumerate([2, 1, 4, 3])}
    r = best_set({"A": a, "B": b, "C": c})
    assert r.members == ["A", "B", "C"]
    assert (r.comparisons["t_p"] < 0.05).all()
    np.testing.assert_allclose(r.comparisons["p_holm"], [0.060933, 0.060933], atol=1e-6)
    assert r.mdd == pytest.approx(min_detectable_difference(1.290994, 4, m=2), rel=1e-5)
    assert r.mdd > min_detectable_difference(1.290994, 4, m=1)


def test_best_set_only_drops_methods_that_are_worse():
    """B beats the top on every shared seed (B - A = 1, 1.1, 1, 1.2: p far below 0.05) but has the lower
    mean because A alone ran seed 4: a significant difference in B's favour keeps B in the set."""
    a = {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0, 4: 100.0}
    b = {0: 2.0, 1: 3.1, 2: 4.0, 3: 5.2}
    r = best_set({"A": a, "B": b})
    assert r.top == "A" and r.members == ["A", "B"]
    assert r.comparisons["p_holm"].iloc[0] < 0.01 and not r.comparisons["significant"].iloc[0]


def test_best_set_of_one_method():
    r = best_set({"A": {0: 0.5, 1: 0.6}})
    assert r.top == "A" and r.members == ["A"] and r.comparisons.empty and math.isnan(r.mdd)
