"""How many seeds a benchmark needs: power of the paired comparison of two methods' AUC.

Two methods run on the same seeds give one AUC difference per seed; its sample SD over
the seeds is the **paired SD**. It is what the paired t-test's power depends on, and it is
usually much smaller than either method's own SD across seeds, because a seed's data
split and teacher move both methods alike. From a pilot run's paired SDs (every pair of
non-privileged methods of a task; the median and the 90th percentile over pairs) this
module gives, per task:

- the **minimum detectable difference** (MDD): the smallest true mean AUC difference that
  the two-sided paired t-test at level alpha/m detects with the given power at the task's
  current seed count, for one comparison (m = 1) and for the family of every pair of the
  task (m = k(k-1)/2; alpha/m is the Bonferroni bound of the Holm correction the leaderboard
  applies);
- the **seeds needed** to detect a given difference, for m = 1 and m = every pair, at the
  median and at the 90th-percentile paired SD.

The power is exact, from the noncentral t distribution (``benchmark.reporting.statistics``).
Reference: J. Cohen, Statistical Power Analysis for the Behavioral Sciences, 2nd ed., 1988.
"""
from __future__ import annotations

import json
import math
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.core.errors import LeaderboardError
from benchmark.reporting.compare import load_folder
from benchmark.reporting.leaderboard import check_consistent, runs_frame
from benchmark.reporting.statistics import min_detectable_difference, paired_test, seeds_needed

N_MAX = 100_000
COLUMNS = ["task", "n_seeds", "n_methods", "n_pairs", "sd_median", "sd_p90", "mdd_single", "mdd_family",
           "seeds_single", "seeds_family", "seeds_single_p90", "seeds_family_p90"]


def load_ranked_runs(folder: Path, suite: str | None = None) -> pd.DataFrame:
    """The complete, non-privileged runs under ``folder`` (a results root or one suite's folder):
    ``benchmark.reporting.leaderboard.runs_frame`` rows (columns task, method, seed, auc, ...).

    Raises ``CompareError`` for a missing folder, one without run files or of several suites
    without ``suite``, ``LeaderboardError`` when no run is complete or the runs of a task
    disagree in configuration.
    """
    records = [r for r in load_folder(folder, "results", suite) if r.complete]
    if not records:
        raise LeaderboardError(f"results folder {str(folder)!r} holds no complete runs; finish a run first "
                               f"(run the same `run` command again to resume)")
    check_consistent(records)
    runs = runs_frame(records)
    return runs[~runs["privileged"].astype(bool)].reset_index(drop=True)


def paired_sds(task_runs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Paired SD of AUC differences and number of paired seeds, one entry per unordered pair of
    methods in ``task_runs`` (one task's rows; columns method, seed, auc), shape ``(pairs,)`` each."""
    auc = {m: dict(zip(g["seed"].astype(int), g["auc"].astype(float))) for m, g in task_runs.groupby("method")}
    tests = [paired_test(auc[a], auc[b]) for a, b in combinations(sorted(auc), 2)]
    return np.array([t.sd_diff for t in tests], dtype=float), np.array([t.n for t in tests], dtype=int)


def needed(sd: float, difference: float, alpha: float, power: float, m: int) -> int | None:
    """``seeds_needed``, or None when ``sd`` is NaN or more than ``N_MAX`` seeds are needed."""
    if not math.isfinite(sd):
        return None
    try:
        return seeds_needed(sd, difference, alpha=alpha, power=power, m=m, n_max=N_MAX)
    except ValueError:
        return None


def task_row(task: str, task_runs: pd.DataFrame, difference: float, alpha: float, power: float) -> dict:
    """One row of ``power_table`` for one task."""
    sds, ns = paired_sds(task_runs)
    k = int(task_runs["method"].nunique())
    m = max(len(sds), 1)
    ok = sds[np.isfinite(sds)]
    med = float(np.median(ok)) if len(ok) else float("nan")
    p90 = float(np.percentile(ok, 90)) if len(ok) else float("nan")
    n = int(np.median(ns)) if len(ns) else int(task_runs["seed"].nunique())
    return {"task": task, "n_seeds": n, "n_methods": k, "n_pairs": len(sds), "sd_median": med, "sd_p90": p90,
            "mdd_single": min_detectable_difference(med, n, alpha=alpha, power=power, m=1),
            "mdd_family": min_detectable_difference(med, n, alpha=alpha, power=power, m=m),
            "seeds_single": needed(med, difference, alpha, power, 1),
            "seeds_family": needed(med, difference, alpha, power, m),
            "seeds_single_p90": needed(p90, difference, alpha, power, 1),
            "seeds_family_p90": needed(p90, difference, alpha, power, m)}


def power_table(runs: pd.DataFrame, difference: float, alpha: float = 0.05, power: float = 0.8) -> list[dict]:
    """Per task (one dict per task, sorted; keys ``COLUMNS``) of ``runs`` (``load_ranked_runs``): paired seeds
    ``n_seeds`` (median over pairs), methods, pairs m = k(k-1)/2, median and 90th-percentile
    paired SD of AUC (AUC units), MDD at ``n_seeds`` for m = 1 and m = pairs (AUC units), and
    seeds needed to detect ``difference`` (AUC units) for m = 1 and m = pairs at the median and
    the 90th-percentile SD (None: no SD, fewer than 2 seeds, or more than ``N_MAX`` seeds).
    """
    return [task_row(str(t), g, difference, alpha, power) for t, g in runs.groupby("task", sort=True)]


def _num(x: float | int | None, digits: int = 4) -> str:
    if x is None:
        return f">{N_MAX}"
    if isinstance(x, float) and not math.isfinite(x):
        return "-"
    return str(x) if isinstance(x, (int, np.integer)) else f"{x:.{digits}f}"


def _seeds_cell(table_row: dict, key: str) -> str:
    cells = [table_row[key], table_row[f"{key}_p90"]]
    return " / ".join("-" if (c is None and not math.isfinite(table_row[sd])) else _num(c)
                      for c, sd in zip(cells, ["sd_median", "sd_p90"]))


def format_markdown(table: list[dict], difference: float, alpha: float, power: float) -> str:
    """``power_table`` as a Markdown table with a heading line saying what the numbers are."""
    lines = [f"Paired two-sided t-test at alpha {alpha:g}/m, power {power:g}; seeds needed to detect an AUC "
             f"difference of {difference:g} at the median / 90th-percentile paired SD.", "",
             "| task | seeds | methods | pairs m | paired SD median | paired SD p90 | MDD m=1 | MDD m=pairs "
             "| seeds needed m=1 | seeds needed m=pairs |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in table:
        lines.append(f"| {r['task']} | {r['n_seeds']} | {r['n_methods']} | {r['n_pairs']} | {_num(r['sd_median'])} "
                     f"| {_num(r['sd_p90'])} | {_num(r['mdd_single'])} | {_num(r['mdd_family'])} "
                     f"| {_seeds_cell(r, 'seeds_single')} | {_seeds_cell(r, 'seeds_family')} |")
    return "\n".join(lines)


def _clean(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


def to_json(table: list[dict], difference: float, alpha: float, power: float) -> str:
    """One JSON line: the settings and ``tasks``, one object per row of ``table`` (NaN as null)."""
    tasks = [{k: _clean(v) for k, v in row.items()} for row in table]
    return json.dumps({"difference": difference, "alpha": alpha, "power": power, "tasks": tasks}, sort_keys=True)


def arithmetic(sd: float, difference: float, comparisons: int = 1, alpha: float = 0.05,
               power: float = 0.8) -> dict:
    """Seeds needed (``seeds_needed``; None above ``N_MAX``) to detect ``difference`` with paired SD
    ``sd`` (same units) by the two-sided paired t-test at level ``alpha / comparisons``."""
    return {"sd": sd, "difference": difference, "comparisons": comparisons, "alpha": alpha, "power": power,
            "seeds_needed": needed(sd, difference, alpha, power, comparisons)}
