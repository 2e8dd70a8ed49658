"""The robustness report: AUC across teacher-noise levels and paired rad comparisons, only
when a task ran at two or more noise levels."""
import math

import pandas as pd
import pytest
from scipy import stats

from benchmark.reporting.leaderboard import build_leaderboard
from benchmark.reporting.report import write_report
from benchmark.core.results import load_records
from benchmark.reporting.robustness import build_robustness, comparisons
from records import make_record, store

T975_DF2 = 4.302652729911275  # Student's t, 97.5% quantile, 2 degrees of freedom
RAD = [0.9, 0.8, 0.85]      # final accuracy per seed; AUC of [0.5, x] is (0.5 + x) / 2
MARGIN = [0.7, 0.7, 0.8]
RANDOM = [0.6, 0.65, 0.7]
POOL_ACC = {0.1: [0.88, 0.90, 0.92], 0.3: [0.70, 0.71, 0.69]}  # the teachers' measured pool accuracy per seed


def _noisy(rates=(0.1, 0.3), kind="flip_uniform", methods=("rad", "margin", "random"), oracle=True):
    curves = {"rad": RAD, "margin": MARGIN, "random": RANDOM, "power_margin": MARGIN}
    recs = []
    for rate in rates:
        for s in range(3):
            teacher = {"pool_accuracy": POOL_ACC.get(rate, [1 - rate] * 3)[s], "test_accuracy": 0.95 - rate}
            recs += [make_record(m, s, [0.5, curves[m][s] - rate / 10], noise=(kind, rate), teacher=teacher)
                     for m in methods]
            if oracle:
                recs.append(make_record("oracle_correct_margin", s, [0.5, 0.95], noise=(kind, rate), teacher=teacher,
                                        privileged=True))
    return recs


def test_two_noise_levels_give_two_groups_and_the_robustness_files(tmp_path):
    root = store(_noisy(), tmp_path / "runs")
    files = {p.name for p in write_report(load_records(root), tmp_path / "lb", echo=False)}
    assert {"robustness.csv", "robustness_pairs.csv", "robustness.png", "robustness.svg"} <= files
    lb = pd.read_csv(tmp_path / "lb" / "leaderboard.csv")
    assert sorted(lb["task"].unique()) == ["digits@flip_uniform-0.1", "digits@flip_uniform-0.3"]
    assert set(lb.groupby("task")["rank"].apply(lambda r: tuple(sorted(r.dropna())))) == {(1.0, 2.0, 3.0)}

    rob = pd.read_csv(tmp_path / "lb" / "robustness.csv")
    assert len(rob) == 2 * 4 and set(rob["base_task"]) == {"digits"} and set(rob["kind"]) == {"flip_uniform"}
    assert list(rob["rate"].unique()) == [0.1, 0.3] and (rob["n_seeds"] == 3).all()
    row = rob[(rob["rate"] == 0.3) & (rob["method"] == "rad")].iloc[0]
    assert row["pool_error_mean"] == pytest.approx(0.30)  # 1 - mean(0.70, 0.71, 0.69)
    assert row["auc_mean"] == pytest.approx((0.5 + sum(RAD) / 3 - 0.03) / 2)
    assert row["final_accuracy_mean"] == pytest.approx(sum(RAD) / 3 - 0.03) and row["final_accuracy_ci95"] > 0
    assert rob[rob["method"] == "oracle_correct_margin"]["privileged"].all()

    pairs = pd.read_csv(tmp_path / "lb" / "robustness_pairs.csv")
    assert list(zip(pairs["rate"], pairs["method_a"], pairs["method_b"])) == [
        (0.1, "rad", "margin"), (0.1, "rad", "random"), (0.3, "rad", "margin"), (0.3, "rad", "random")]
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "## Robustness to teacher noise" in md and "### digits, flip_uniform noise: paired differences" in md
    assert "| 0.3 | 0.300 | rad - margin | 3 |" in md
    assert "| method | rate 0.1 (pool error 0.100) | rate 0.3 (pool error 0.300) |" in md
    html = (tmp_path / "lb" / "index.html").read_text()
    assert 'id="fig-robustness"' in html and "rad - random" in html


def test_paired_differences_by_hand():
    rob = build_robustness(build_leaderboard(_noisy(methods=("rad", "margin", "random", "power_margin"))))
    p = rob.pairs[rob.pairs["rate"] == 0.1].set_index("method_b")
    assert list(p.index) == ["margin", "power_margin", "random"]
    d = [(a - b) / 2 for a, b in zip(RAD, MARGIN)]  # AUC differences per seed: 0.1, 0.05, 0.025
    mean = sum(d) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 2)
    r = p.loc["margin"]
    assert r["n_pairs"] == 3 and r["auc_diff_mean"] == pytest.approx(0.175 / 3)
    assert r["auc_diff_ci95"] == pytest.approx(T975_DF2 * sd / math.sqrt(3))
    auc_rad, auc_margin = [(0.5 + x - 0.01) / 2 for x in RAD], [(0.5 + x - 0.01) / 2 for x in MARGIN]
    assert r["auc_p_value"] == pytest.approx(stats.ttest_rel(auc_rad, auc_margin).pvalue)
    assert r["final_accuracy_diff_mean"] == pytest.approx(0.35 / 3)
    assert r["final_accuracy_p_value"] == pytest.approx(stats.ttest_rel(RAD, MARGIN).pvalue)
    assert p.loc["random", "final_accuracy_diff_mean"] == pytest.approx((0.3 + 0.15 + 0.15) / 3)


def test_a_single_level_gives_no_robustness_files(tmp_path):
    one = _noisy(rates=(0.2,)) + [make_record(m, s, [0.5, 0.7], task="fashion") for m in ("rad", "margin")
                                  for s in range(3)]
    other_kind = _noisy(rates=(0.2,), kind="flip_class", oracle=False)
    for recs in (one, one + other_kind):
        files = {p.name for p in write_report(recs, tmp_path, echo=False)}
        assert not any(name.startswith("robustness") for name in files)
        assert "Robustness" not in (tmp_path / "leaderboard.md").read_text()
        assert build_robustness(build_leaderboard(recs)) is None


def test_the_noise_free_task_is_rate_zero():
    clean = [make_record(m, s, [0.5, 0.8], teacher={"pool_accuracy": 0.95}) for m in ("rad", "random")
             for s in range(2)]
    rob = build_robustness(build_leaderboard(clean + _noisy(rates=(0.2,), oracle=False)))
    assert list(zip(rob.levels["task"], rob.levels["rate"])) == [("digits", 0.0), ("digits@flip_uniform-0.2", 0.2)]
    assert rob.levels["pool_error_mean"].tolist() == pytest.approx([0.05, 0.2])
    assert rob.x_axis("digits", "flip_uniform")[1].startswith("teacher error on the pool")


def test_comparisons_use_method_names_in_a_fixed_order():
    runs = pd.DataFrame({"method": ["random", "rad", "margin[k=2]", "entropy", "rad[alpha=1]", "power_margin"],
                         "method_name": ["random", "rad", "margin", "entropy", "rad", "power_margin"]})
    assert comparisons(runs) == [(a, b) for a in ("rad", "rad[alpha=1]")
                                 for b in ("margin[k=2]", "power_margin", "random")]
    assert comparisons(runs[runs["method_name"] != "rad"]) == []


def test_a_kind_that_ran_rate_zero_does_not_also_take_the_noise_free_task():
    clean = [make_record(m, s, [0.5, 0.8], teacher={"pool_accuracy": 0.95}) for m in ("rad", "margin", "random")
             for s in range(3)]
    rob = build_robustness(build_leaderboard(clean + _noisy(rates=(0.0, 0.3), oracle=False)))
    assert list(zip(rob.levels["task"], rob.levels["rate"])) == [("digits@flip_uniform-0", 0.0),
                                                                 ("digits@flip_uniform-0.3", 0.3)]
