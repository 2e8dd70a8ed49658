"""Leaderboard tables from records: values by hand, ranks, win rates, privileged methods apart."""
import math

import pytest

from benchmark.reporting.leaderboard import LeaderboardError, build_leaderboard, pooled_round_metric
from records import make_record


def _board():
    # AUC of [0.5, x] over queries 0..5 is (0.5 + x) / 2
    recs = [make_record("margin", s, [0.5, x]) for s, x in enumerate([0.9, 0.8, 0.7])]
    recs += [make_record("random", s, [0.5, x]) for s, x in enumerate([0.7, 0.7, 0.7])]
    recs += [make_record("entropy", s, [0.5, x]) for s, x in enumerate([0.8, 0.9, 0.8])]
    # a privileged oracle with the best AUC: listed, never ranked
    recs += [make_record("oracle_correct_margin", s, [0.5, 0.99], privileged=True) for s in range(3)]
    return build_leaderboard(recs)


def test_summary_values_by_hand():
    lb = _board()
    row = lb.summary.set_index("method").loc["margin"]
    assert row["n_seeds"] == 3 and row["seeds"] == "0,1,2" and row["task_version"] == 1 and row["method_version"] == 1
    assert row["auc_mean"] == pytest.approx((0.5 + 0.8) / 2)
    assert row["final_accuracy_mean"] == pytest.approx(0.8)
    # paired AUC gains over random per seed: (0.9-0.7)/2, (0.8-0.7)/2, (0.7-0.7)/2 -> mean 0.05, sd 0.05
    assert row["gain_auc_mean"] == pytest.approx(0.05)
    assert row["gain_auc_ci95"] == pytest.approx(4.302652729911275 * 0.05 / math.sqrt(3))
    assert row["gain_final_accuracy_mean"] == pytest.approx(0.1) and row["gain_n_seeds"] == 3
    assert row["teacher_acc_queried_mean"] == pytest.approx(0.8) and row["teacher_queries_mean"] == 5
    assert row["train_seconds_mean"] == pytest.approx(1.0) and row["select_seconds_mean"] == pytest.approx(0.01)
    rnd = lb.summary.set_index("method").loc["random"]
    assert rnd["gain_auc_mean"] == 0.0 and rnd["gain_auc_ci95"] == 0.0


def test_privileged_rows_are_shown_but_never_ranked():
    lb = _board()
    s = lb.summary.set_index("method")
    assert "oracle_correct_margin" in s.index and s.loc["oracle_correct_margin", "privileged"]
    assert math.isnan(s.loc["oracle_correct_margin", "rank"])
    # ranks among the rest by mean AUC: entropy 0.6667, margin 0.65, random 0.6
    assert s.loc["entropy", "rank"] == 1 and s.loc["margin", "rank"] == 2 and s.loc["random", "rank"] == 3
    assert list(lb.ranks["method"]) == ["entropy", "margin", "random"]
    assert "oracle_correct_margin" not in set(lb.win_rates["method_a"]) | set(lb.win_rates["method_b"])
    # privileged rows come last in the table
    assert list(lb.summary["method"]) == ["entropy", "margin", "random", "oracle_correct_margin"]


def test_average_rank_and_win_rates_across_tasks():
    recs = []
    for s in range(3):
        recs += [make_record("margin", s, [0.5, 0.9], task="a"), make_record("random", s, [0.5, 0.7], task="a")]
        recs += [make_record("margin", s, [0.5, 0.6 + 0.1 * (s == 2)], task="b"),
                 make_record("random", s, [0.5, 0.7], task="b")]
    lb = build_leaderboard(recs)
    ranks = lb.ranks.set_index("method")
    assert ranks.loc["margin", "rank_a"] == 1 and ranks.loc["margin", "rank_b"] == 2
    assert ranks.loc["margin", "avg_rank"] == 1.5 and ranks.loc["random", "avg_rank"] == 1.5
    w = lb.win_rates.set_index(["method_a", "method_b"]).loc[("margin", "random")]
    # pairs: task a wins on 3 seeds; task b loses on seeds 0, 1 and ties on seed 2
    assert (w["n_pairs"], w["wins"], w["ties"], w["losses"]) == (6, 3, 1, 2)
    assert w["win_rate"] == pytest.approx(3.5 / 6)
    back = lb.win_rates.set_index(["method_a", "method_b"]).loc[("random", "margin")]
    assert back["win_rate"] == pytest.approx(2.5 / 6) and back["p_holm"] == pytest.approx(w["p_holm"])


def test_pooled_teacher_accuracy_weights_rounds_by_queries():
    rec = make_record("margin", 0, [0.5, 0.6, 0.7], tq=[1.0, 0.5])
    assert pooled_round_metric(rec, "teacher_accuracy_on_queried") == pytest.approx(0.75)


def test_bad_records_are_refused():
    with pytest.raises(LeaderboardError, match="no complete runs"):
        rec = make_record("margin", 0, [0.5, 0.6])
        rec.summary = None
        build_leaderboard([rec])
    mixed = [make_record("margin", 0, [0.5, 0.6]), make_record("margin", 1, [0.5, 0.6], method_version=2)]
    with pytest.raises(LeaderboardError, match="margin/seed0 and digits/margin/seed1 differ in method version: 1 vs 2"):
        build_leaderboard(mixed)
    with pytest.raises(LeaderboardError, match="several suites"):
        build_leaderboard([make_record("margin", 0, [0.5, 0.6]), make_record("random", 0, [0.5, 0.6], suite="t")])
