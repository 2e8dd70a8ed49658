"""Corrected comparisons in the leaderboard: the best set and its resolution, Holm over a
task's pairs, blocks across tasks with the critical-difference diagram, and a noise-free
level shared by several noise kinds counted once."""
import numpy as np
import pandas as pd
import pytest

from benchmark.core.noise_label import distinct_tasks
from benchmark.core.results import load_records
from benchmark.reporting.leaderboard import build_leaderboard
from benchmark.reporting.report import write_report
from benchmark.reporting.robustness import build_robustness, family_size
from records import make_record, store

# per-seed final accuracy (AUC of [0.5, x] is (0.5 + x) / 2): top and near tie, one clearly worse
TOP = [0.90, 0.86, 0.88, 0.91, 0.87, 0.89, 0.92, 0.85, 0.88, 0.90]
NEAR = [0.89, 0.87, 0.88, 0.89, 0.88, 0.88, 0.91, 0.86, 0.87, 0.89]
WORSE = [0.80, 0.78, 0.79, 0.82, 0.77, 0.80, 0.83, 0.76, 0.79, 0.81]


def _curves(task="digits", noise=None, seeds=range(10), shift=0.0):
    recs = []
    for m, acc in (("margin", TOP), ("entropy", NEAR), ("random", WORSE)):
        recs += [make_record(m, s, [0.5, acc[s] - shift], task=task, noise=noise) for s in seeds]
    return recs


def test_distinct_tasks_keeps_one_label_per_noise_free_level():
    assert distinct_tasks(["d@flip_uniform-0", "d@flip_hard-0", "d@flip_hard-0.2", "e"]) == [
        "d@flip_hard-0", "d@flip_hard-0.2", "e"]
    assert distinct_tasks(["d", "d@flip_uniform-0", "d@flip_hard-0", "d@flip_uniform-0.1"]) == [
        "d", "d@flip_uniform-0.1"]
    assert distinct_tasks(["a@flip_hard-0", "b@flip_hard-0"]) == ["a@flip_hard-0", "b@flip_hard-0"]


def test_best_set_holds_the_methods_not_significantly_worse_than_the_top():
    sig = build_leaderboard(_curves()).significance
    best = sig.best.set_index("task").loc["digits"]
    assert best["top"] == "margin" and best["best_set"] == "margin, entropy" and best["n_comparisons"] == 2
    assert best["n_seeds"] == 10 and 0 < best["mdd"] < 0.05
    pairs = sig.pairwise.set_index(["method_a", "method_b"])
    assert len(pairs) == 3 and pairs.loc[("margin", "random"), "significant"]
    assert not pairs.loc[("entropy", "margin"), "significant"]
    # Holm over the task's three pairs: the smallest p is multiplied by 3
    ps = sorted(pairs["t_p"])
    assert pairs["p_holm"].min() == pytest.approx(min(1.0, 3 * ps[0]))


def test_noise_free_level_counts_once_in_ranks_win_rates_and_blocks():
    recs = _curves(noise=("flip_uniform", 0.0)) + _curves(noise=("flip_hard", 0.0))
    recs += _curves(noise=("flip_uniform", 0.2), shift=0.05) + _curves(noise=("flip_hard", 0.2), shift=0.1)
    lb = build_leaderboard(recs)
    assert len(lb.tasks) == 4
    assert lb.ranked_tasks == ["digits@flip_hard-0", "digits@flip_hard-0.2", "digits@flip_uniform-0.2"]
    assert (lb.ranks["n_tasks"] == 3).all()
    w = lb.win_rates.set_index(["method_a", "method_b"]).loc[("margin", "random")]
    assert w["n_pairs"] == 30 and w["wins"] == 30
    assert lb.significance.blocks.shape == (30, 3) and lb.significance.friedman.n_blocks == 30


def test_robustness_holm_family_counts_the_noise_free_level_once(tmp_path):
    recs = []
    for kind in ("flip_uniform", "flip_hard"):
        for rate in (0.0, 0.2):
            for s in range(4):
                recs += [make_record(m, s, [0.5, v + 0.01 * ((s * 7 + len(m) + int(rate * 10) + len(kind)) % 5)
                                            - rate / 4],
                                     noise=(kind, rate), teacher={"pool_accuracy": 1 - rate})
                         for m, v in (("rad", 0.85), ("margin", 0.84), ("random", 0.80))]
    rob = build_robustness(build_leaderboard(recs))
    pairs = rob.pairs
    assert len(pairs) == 8 and family_size(pairs) == 6  # rate 0: 2 comparisons once; rate 0.2: 2 per kind
    zero = pairs[pairs["rate"] == 0.0]
    for _, g in zero.groupby(["method_a", "method_b"]):
        assert g["auc_p_holm"].nunique() == 1
    # Holm by hand over the 6 distinct p-values
    distinct = pairs[(pairs["rate"] > 0) | (pairs["kind"] == "flip_hard")]
    p = distinct["auc_p_value"].to_numpy()
    order = np.argsort(p)
    expected, running = np.empty(len(p)), 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (len(p) - i) * p[j]))
        expected[j] = running
    assert distinct["auc_p_holm"].to_numpy() == pytest.approx(expected)


def test_report_writes_the_cd_diagram_pairwise_tables_and_best_set(tmp_path):
    root = store(_curves("a") + _curves("b", shift=0.02), tmp_path / "runs")
    files = {p.name for p in write_report(load_records(root), tmp_path / "lb", echo=False)}
    assert {"cd_diagram.png", "cd_diagram.svg", "pairwise.csv", "best_set.csv", "posthoc.csv"} <= files
    assert (tmp_path / "lb" / "cd_diagram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "## Best methods and what the seeds can resolve" in md
    assert "| a | 10 | margin | margin, entropy | 2 |" in md
    assert "Friedman test: χ² = " in md and "Blocks: 20 (task, seed) pairs" in md
    post = pd.read_csv(tmp_path / "lb" / "posthoc.csv")
    assert len(post) == 3 and set(post.columns) >= {"wilcoxon_p", "p_holm", "significant"}
    win = pd.read_csv(tmp_path / "lb" / "win_rates.csv").set_index(["method_a", "method_b"])
    assert bool(win.loc[("margin", "random"), "significant"])
    assert "cd_diagram" in (tmp_path / "lb" / "index.html").read_text()


def test_no_cd_diagram_with_two_methods(tmp_path):
    recs = [r for r in _curves() if r.method != "entropy"]
    files = {p.name for p in write_report(recs, tmp_path / "lb", echo=False)}
    assert "cd_diagram.png" not in files and "pairwise.csv" in files
