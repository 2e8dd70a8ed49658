"""Which differences a leaderboard's records can tell apart: corrected tests over seeds.

Two families of comparisons, each with its own correction (``benchmark.reporting.statistics``):

- **Per task**, over seeds: every pair of ranked (non-privileged) methods is compared by the
  paired t-test and the Wilcoxon signed-rank test on per-seed AUC; the t-test p-values are
  Holm-corrected over the task's m(m-1)/2 pairs (``pairwise``). The **best set** of a task
  is its top method (highest mean AUC) and every method not significantly worse than it:
  paired t-test, Holm-corrected over the m-1 comparisons with the top (``best``). Next to
  it, the **minimum detectable difference**: the smallest true AUC difference that family's
  test detects with 80% power at its seed count, from the median observed paired SD.
- **Across blocks**: a block is one (task, seed) of the *distinct* tasks (a noise-free level
  shared by several noise kinds counts once, ``benchmark.core.noise_label.distinct_tasks``)
  where every ranked method finished. Methods are ranked within each block (1 = highest
  AUC), the Friedman test asks whether any differ, and the Wilcoxon signed-rank post-hoc
  with Holm over all pairs says which (``posthoc``); the critical-difference diagram
  (``benchmark.reporting.plots``) draws those average ranks and joins the methods it
  cannot separate (Demšar 2006; Benavoli et al. 2016 for Wilcoxon-Holm over Nemenyi).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmark.core.noise_label import distinct_tasks
from benchmark.reporting.statistics import Friedman, best_set, friedman, holm, paired_test, posthoc_wilcoxon_holm

ALPHA = 0.05
POWER = 0.8

PAIR_COLS = ["task", "method_a", "method_b", "n", "mean_diff", "sd_diff", "t_p", "wilcoxon_p", "p_holm", "significant"]
POSTHOC_COLS = ["method_a", "method_b", "n", "mean_diff", "wilcoxon_p", "p_holm", "significant"]
BEST_COLS = ["task", "n_seeds", "top", "best_set", "n_comparisons", "median_paired_sd", "mdd"]


@dataclass(frozen=True)
class Significance:
    """``pairwise`` (``pairwise.csv``): one row per (task, pair of ranked methods); ``best``
    (``best_set.csv``): one row per task; ``friedman`` and ``posthoc`` over the blocks (None
    and empty with fewer than two blocks or two ranked methods; the Friedman p-value is NaN
    with fewer than three); ``blocks``: their scores,
    one row per (task, seed), one column per method."""

    pairwise: pd.DataFrame
    best: pd.DataFrame
    friedman: Friedman | None
    posthoc: pd.DataFrame
    blocks: pd.DataFrame


def _per_seed(runs: pd.DataFrame) -> dict[str, dict[int, float]]:
    return {m: {int(s): float(v) for s, v in zip(g["seed"], g["auc"])} for m, g in runs.groupby("method", sort=True)}


def _pairwise(task: str, scores: dict[str, dict[int, float]]) -> list[dict]:
    methods = sorted(scores)
    rows = []
    for i, a in enumerate(methods):
        for b in methods[i + 1:]:
            t = paired_test(scores[a], scores[b])
            rows.append({"task": task, "method_a": a, "method_b": b, "n": t.n, "mean_diff": t.mean_diff,
                         "sd_diff": t.sd_diff, "t_p": t.t_p, "wilcoxon_p": t.wilcoxon_p})
    adjusted = holm([r["t_p"] for r in rows])
    for r, p in zip(rows, adjusted):
        r.update(p_holm=float(p), significant=bool(p < ALPHA))
    return rows


def _best(task: str, scores: dict[str, dict[int, float]]) -> dict:
    b = best_set(scores, ALPHA)
    sd = float(np.median(b.comparisons["sd_diff"])) if len(b.comparisons) else float("nan")
    return {"task": task, "n_seeds": max(len(v) for v in scores.values()), "top": b.top,
            "best_set": ", ".join(b.members), "n_comparisons": len(b.comparisons), "median_paired_sd": sd,
            "mdd": b.mdd}


def block_scores(ranked_runs: pd.DataFrame) -> pd.DataFrame:
    """AUC per block (rows ``(task, seed)`` of the distinct tasks, sorted) and method (columns,
    sorted); only blocks where every method finished."""
    runs = ranked_runs[ranked_runs["task"].isin(distinct_tasks(ranked_runs["task"]))]
    wide = runs.pivot_table(index=["task", "seed"], columns="method", values="auc", aggfunc="first")
    return wide.dropna().sort_index().sort_index(axis=1)


def build_significance(ranked_runs: pd.DataFrame) -> Significance:
    """Every corrected comparison of the non-privileged runs ``ranked_runs`` (``Leaderboard.runs``
    rows with columns task, method, seed, auc)."""
    pairs, best = [], []
    for task, g in ranked_runs.groupby("task", sort=True):
        scores = _per_seed(g)
        pairs += _pairwise(task, scores)
        best.append(_best(task, scores))
    blocks = block_scores(ranked_runs)
    enough = blocks.shape[0] >= 2 and blocks.shape[1] >= 2
    return Significance(pairwise=pd.DataFrame(pairs, columns=PAIR_COLS), best=pd.DataFrame(best, columns=BEST_COLS),
                        friedman=friedman(blocks) if enough else None,
                        posthoc=posthoc_wilcoxon_holm(blocks) if enough else pd.DataFrame(columns=POSTHOC_COLS),
                        blocks=blocks)
