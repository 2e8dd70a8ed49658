"""Metric functions against values computed by hand."""
import math

import numpy as np
import pytest
from scipy import stats

from benchmark.reporting.metrics import (average_ranks, mean_ci, normalized_auc, paired_differences, paired_gain,
                               paired_ttest, welch_tolerance, wilson_interval, win_rate)

T975_DF2 = 4.302652729911275  # Student's t, 97.5% quantile, 2 degrees of freedom (printed tables)
T975_DF3 = 3.182446305284263


def test_normalized_auc_by_hand():
    # trapezoids: (0.5+0.7)/2*10 + (0.7+0.9)/2*10 = 14 over a query range of 20
    assert normalized_auc(np.array([0, 10, 20]), np.array([0.5, 0.7, 0.9])) == pytest.approx(0.7)
    # uneven spacing: (0.4+0.6)/2*5 + (0.6+1.0)/2*15 = 2.5 + 12 = 14.5 over 20
    assert normalized_auc(np.array([0, 5, 20]), np.array([0.4, 0.6, 1.0])) == pytest.approx(14.5 / 20)
    # a flat curve has AUC equal to its level; a single point falls back to its accuracy
    assert normalized_auc(np.array([0, 10, 30]), np.array([0.8, 0.8, 0.8])) == pytest.approx(0.8)
    assert normalized_auc(np.array([0]), np.array([0.6])) == pytest.approx(0.6)


def test_mean_ci_by_hand():
    m, h = mean_ci([0.7, 0.8, 0.9])  # sd 0.1
    assert m == pytest.approx(0.8)
    assert h == pytest.approx(T975_DF2 * 0.1 / math.sqrt(3))
    m, h = mean_ci([1.0, 2.0, 3.0, 6.0])  # mean 3, sd sqrt(14/3)
    assert (m, h) == pytest.approx((3.0, T975_DF3 * math.sqrt(14 / 3) / 2))
    assert mean_ci([0.5, None, float("nan")])[0] == 0.5 and math.isnan(mean_ci([0.5])[1])
    assert all(math.isnan(x) for x in mean_ci([]))
    assert mean_ci([0.3, 0.3, 0.3]) == (pytest.approx(0.3), 0.0)


def test_wilson_interval_known_values_and_bounds():
    # Newcombe (1998), Statistics in Medicine 17:857, example 81/263: 0.2553 to 0.3662
    lo, hi = wilson_interval(81, 263)
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.2553, 0.3662)
    for k, n in [(0, 10), (10, 10), (1, 3), (8, 15), (3, 5)]:
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high))
    # always inside [0, 1], never empty at 0 or 1, narrower at a lower level
    lo, hi = wilson_interval(np.array([0, 0.5, 2, 15, 15]), np.array([15, 1, 3, 15, 16]))
    assert (lo >= 0).all() and (hi <= 1).all() and (lo < hi).all() and lo[0] == 0.0 and hi[3] == 1.0
    assert wilson_interval(8, 10, level=0.5)[1] < wilson_interval(8, 10)[1]
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    with pytest.raises(ValueError, match="confidence level"):
        wilson_interval(1, 2, level=1.0)


def test_paired_gain_uses_only_common_seeds():
    a = {0: 0.80, 1: 0.90, 2: 0.70, 3: 0.50}
    b = {0: 0.70, 1: 0.85, 2: 0.72, 4: 0.99}
    seeds, d = paired_differences(a, b)
    assert seeds == [0, 1, 2] and d == pytest.approx([0.10, 0.05, -0.02])
    m, h, n = paired_gain(a, b)
    # mean 0.13/3; deviations 0.0567, 0.0067, -0.0633 -> sd^2 = 0.00723333.../2
    sd = math.sqrt(((0.1 - 0.13 / 3) ** 2 + (0.05 - 0.13 / 3) ** 2 + (-0.02 - 0.13 / 3) ** 2) / 2)
    assert n == 3 and m == pytest.approx(0.13 / 3) and h == pytest.approx(T975_DF2 * sd / math.sqrt(3))
    assert paired_gain(a, a)[:2] == (0.0, 0.0)


def test_win_rate_and_paired_test_by_hand():
    w = win_rate([0.1, 0.0, -0.2, 0.3])
    assert (w.n, w.wins, w.ties, w.losses) == (4, 2, 1, 1)
    assert w.rate == pytest.approx((2 + 0.5) / 4) and w.mean_diff == pytest.approx(0.05)
    # deviations from the mean 0.05: 0.05, -0.05, -0.25, 0.25 -> sd = sqrt(0.13 / 3); t with 3 df
    t = 0.05 / (math.sqrt(0.13 / 3) / 2)
    assert w.p_value == pytest.approx(2 * stats.t.sf(t, 3))
    assert w.p_value == pytest.approx(stats.ttest_rel([0.1, 0.0, -0.2, 0.3], [0, 0, 0, 0]).pvalue)
    assert paired_ttest([0.0, 0.0]) == 1.0 and paired_ttest([0.1, 0.1]) == 0.0 and math.isnan(paired_ttest([0.1]))
    assert math.isnan(win_rate([]).rate)


def test_average_ranks_share_ties():
    assert average_ranks({"a": 0.9, "b": 0.8, "c": 0.8, "d": 0.7}) == {"a": 1.0, "b": 2.5, "c": 2.5, "d": 4.0}
    assert average_ranks({}) == {}


def test_welch_tolerance_by_hand_and_against_scipy():
    r, f = [0.80, 0.82, 0.84], [0.85, 0.86, 0.90]
    vr, vf = 0.0004 / 3, 0.0007 / 3  # sample variances / n
    se = math.sqrt(vr + vf)
    df = (vr + vf) ** 2 / (vr ** 2 / 2 + vf ** 2 / 2)
    t = welch_tolerance(r, f, level=0.95, floor=0.0)
    assert t.diff == pytest.approx(0.82 - 0.87) and t.se == pytest.approx(se) and t.df == pytest.approx(df)
    assert t.tol == pytest.approx(stats.t.ppf(0.975, df) * se)
    ci = stats.ttest_ind(r, f, equal_var=False).confidence_interval(0.95)
    assert t.tol == pytest.approx((ci.high - ci.low) / 2)
    # the floor applies when the spread is small or absent
    assert welch_tolerance([0.8, 0.8], [0.8, 0.8], floor=0.005).tol == 0.005
    assert welch_tolerance([0.8], [0.81], floor=0.01).tol == 0.01
    assert welch_tolerance(r, f, level=0.99, floor=0.0).tol > t.tol
    with pytest.raises(ValueError):
        welch_tolerance([], [0.5])
