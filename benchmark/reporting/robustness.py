"""Robustness to teacher noise: how each method's AUC falls as the teacher gets worse.

Runs of one task at several controlled teacher-noise levels carry the task labels
``<task>@<kind>-<rate>`` (``benchmark.core.noise_label``), so every leaderboard table keeps the
levels apart. This module puts them side by side. A **group** is one (base task, noise
kind) with two or more levels among the records; the noise-free task (its plain label),
when present, joins as rate 0 every group of its base task that has no rate-0 level of its own. Nothing is computed for a
suite without such a group.

Per level, the x value is the teacher's **measured** error on the pool
(``1 - teacher["pool_accuracy"]`` from the run headers, mean over seeds: one teacher per
seed) rather than the nominal rate, since what a method faces is the realised error. Per
(level, method): AUC and final accuracy, mean and t-CI over seeds (the leaderboard's
values). Paired comparisons at each level: every ``rad`` label against ``margin``,
``power_margin`` and ``random`` (those present), differences paired by seed with their
mean, t-CI, SD, two-sided paired t-test and Wilcoxon signed-rank p-values, and the t-test
p-value Holm-corrected over the family of every comparison in the section (per metric). A
noise-free level shown in several groups is one comparison of that family, not one per group.
Per group, the minimum AUC difference that family's test detects with 80% power at the
median seed count and paired SD (``benchmark.reporting.statistics``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmark.reporting.leaderboard import Leaderboard
from benchmark.reporting.metrics import mean_ci, paired_differences
from benchmark.reporting.statistics import holm, min_detectable_difference, paired_test
from benchmark.core.noise_label import parse_task_label
from benchmark.reporting.tables import DASH, fmt, fmt_ci, markdown

FOCUS = "rad"
COMPARATORS = ("margin", "power_margin", "random")

LEVEL_COLS = ["base_task", "kind", "rate", "task", "pool_error_mean", "pool_error_ci95", "n_teachers"]
TABLE_COLS = ["base_task", "kind", "rate", "task", "pool_error_mean", "method", "method_version", "privileged",
              "n_seeds", "auc_mean", "auc_ci95", "final_accuracy_mean", "final_accuracy_ci95"]
PAIR_COLS = ["base_task", "kind", "rate", "task", "pool_error_mean", "method_a", "method_b", "n_pairs",
             "auc_diff_mean", "auc_diff_ci95", "auc_diff_sd", "auc_p_value", "auc_wilcoxon_p", "auc_p_holm",
             "final_accuracy_diff_mean", "final_accuracy_diff_ci95", "final_accuracy_diff_sd",
             "final_accuracy_p_value", "final_accuracy_wilcoxon_p", "final_accuracy_p_holm"]


@dataclass(frozen=True)
class Robustness:
    """``levels``: one row per (group, level); ``table`` (``robustness.csv``): one row per
    (group, level, method); ``pairs`` (``robustness_pairs.csv``): one row per (group, level,
    comparison). Rows are sorted by base task, kind, rate and label."""

    levels: pd.DataFrame
    table: pd.DataFrame
    pairs: pd.DataFrame

    @property
    def groups(self) -> list[tuple[str, str]]:
        """The (base task, kind) groups, sorted."""
        return sorted(set(zip(self.levels["base_task"], self.levels["kind"])))

    def x_axis(self, base: str, kind: str) -> tuple[np.ndarray, str]:
        """The group's x values per level (``levels`` order) and their axis label: the measured
        pool error when every level recorded it, else the nominal rate."""
        g = self.levels[(self.levels["base_task"] == base) & (self.levels["kind"] == kind)]
        err = g["pool_error_mean"].to_numpy(float)
        if np.isfinite(err).all():
            return err, "teacher error on the pool (measured, mean over seeds)"
        return g["rate"].to_numpy(float), f"nominal {kind} rate (pool error not recorded)"


def _levels(lb: Leaderboard) -> pd.DataFrame:
    """Every level of every group, with the measured pool error of its teachers."""
    parsed = {t: parse_task_label(t) for t in lb.tasks}
    kinds: dict[str, set[str]] = {}
    explicit_zero: set[tuple[str, str]] = set()  # (base, kind) that ran rate 0 as a noise level
    for base, kind, rate in parsed.values():
        if kind is not None:
            kinds.setdefault(base, set()).add(kind)
            if rate == 0.0:
                explicit_zero.add((base, kind))
    errors: dict[str, dict[int, float]] = {}
    for r in lb.records:
        errors.setdefault(r.task, {}).setdefault(r.seed, 1.0 - float(r.teacher.get("pool_accuracy", math.nan)))
    rows = []
    for task, (base, kind, rate) in parsed.items():
        # the plain task stands in for rate 0 only of the kinds that did not run rate 0 themselves
        for k in ([kind] if kind is not None else sorted(k for k in kinds.get(base, ())
                                                       if (base, k) not in explicit_zero)):
            m, h = mean_ci(errors[task].values())
            rows.append({"base_task": base, "kind": k, "rate": 0.0 if rate is None else rate, "task": task,
                         "pool_error_mean": m, "pool_error_ci95": h, "n_teachers": len(errors[task])})
    levels = pd.DataFrame(rows, columns=LEVEL_COLS)
    n = levels.groupby(["base_task", "kind"])["task"].transform("nunique")
    levels = levels[n >= 2] if len(levels) else levels
    return levels.sort_values(["base_task", "kind", "rate", "task"], kind="stable").reset_index(drop=True)


def _table(lb: Leaderboard, levels: pd.DataFrame) -> pd.DataFrame:
    cols = ["task", "method", "method_version", "privileged", "n_seeds", "auc_mean", "auc_ci95",
            "final_accuracy_mean", "final_accuracy_ci95"]
    t = levels.drop(columns=["pool_error_ci95", "n_teachers"]).merge(lb.summary[cols], on="task", how="inner")
    t = t.sort_values(["base_task", "kind", "rate", "task", "method"], kind="stable").reset_index(drop=True)
    return t[TABLE_COLS]


def comparisons(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """``(a, b)`` label pairs compared at a level: each ``rad`` label against each label of
    ``margin``, ``power_margin`` and ``random`` among ``runs`` (one task's runs)."""
    names = dict(zip(runs["method"], runs["method_name"]))
    focus = sorted(m for m, n in names.items() if n == FOCUS)
    others = sorted((m for m, n in names.items() if n in COMPARATORS), key=lambda m: (COMPARATORS.index(names[m]), m))
    return [(a, b) for a in focus for b in others]


def _pair_row(runs: pd.DataFrame, a: str, b: str, level: float) -> dict[str, Any]:
    """Paired differences ``a - b`` of AUC and final accuracy over the seeds both ran."""
    row: dict[str, Any] = {"method_a": a, "method_b": b}
    for col in ("auc", "final_accuracy"):
        sa, sb = ({int(s): float(v) for s, v in zip(g["seed"], g[col])}
                  for g in (runs[runs["method"] == a], runs[runs["method"] == b]))
        _, d = paired_differences(sa, sb)
        m, h = mean_ci(d.tolist(), level)
        t = paired_test(sa, sb)
        row.update({"n_pairs": t.n, f"{col}_diff_mean": m, f"{col}_diff_ci95": h, f"{col}_diff_sd": t.sd_diff,
                    f"{col}_p_value": t.t_p, f"{col}_wilcoxon_p": t.wilcoxon_p})
    return row


def _holm_family(pairs: pd.DataFrame) -> pd.DataFrame:
    """Holm over every distinct comparison of the section, per metric: a noise-free level that
    stands as rate 0 in several groups is one member of the family (its rows share the value)."""
    key = [(b, "noise-free" if r == 0.0 else t, a, c)
           for b, r, t, a, c in zip(pairs["base_task"], pairs["rate"], pairs["task"], pairs["method_a"], pairs["method_b"])]
    index: dict[tuple, int] = {}
    first = [index.setdefault(k, i) for i, k in enumerate(key)]
    distinct = sorted(index.values())
    for col in ("auc", "final_accuracy"):
        adjusted = dict(zip(distinct, holm(pairs[f"{col}_p_value"].to_numpy(float)[distinct])))
        pairs[f"{col}_p_holm"] = [float(adjusted[i]) for i in first]
    return pairs


def _pairs(lb: Leaderboard, levels: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for lv in levels.itertuples(index=False):
        runs = lb.runs[lb.runs["task"] == lv.task]
        for a, b in comparisons(runs):
            rows.append({"base_task": lv.base_task, "kind": lv.kind, "rate": lv.rate, "task": lv.task,
                         "pool_error_mean": lv.pool_error_mean, **_pair_row(runs, a, b, lb.level)})
    pairs = pd.DataFrame(rows, columns=PAIR_COLS)
    return _holm_family(pairs) if len(pairs) else pairs


def family_size(pairs: pd.DataFrame) -> int:
    """The number of distinct comparisons in the section's Holm family."""
    return len({(b, "noise-free" if r == 0.0 else t, a, c) for b, r, t, a, c in
                zip(pairs["base_task"], pairs["rate"], pairs["task"], pairs["method_a"], pairs["method_b"])})


def group_mdd(rob: "Robustness", base: str, kind: str) -> float:
    """The group's minimum detectable AUC difference: 80% power, two-sided paired t at
    0.05 / family size, at the median seed count and median paired SD of its comparisons."""
    g = _group(rob.pairs, base, kind)
    if g.empty:
        return float("nan")
    return min_detectable_difference(float(np.median(g["auc_diff_sd"])), int(np.median(g["n_pairs"])),
                                     m=family_size(rob.pairs))


def build_robustness(lb: Leaderboard) -> Robustness | None:
    """The robustness tables of a leaderboard, or None when no (base task, kind) has two levels."""
    levels = _levels(lb)
    if levels.empty:
        return None
    return Robustness(levels=levels, table=_table(lb, levels), pairs=_pairs(lb, levels))


# ----------------------------------------------------------------------------- text tables

def fmt_p(p: float) -> str:
    """A p-value with 3 decimals, ``<0.001`` below that; a dash when undefined."""
    if p != p:
        return DASH
    return "<0.001" if p < 0.001 else fmt(p, 3)


def _group(df: pd.DataFrame, base: str, kind: str) -> pd.DataFrame:
    return df[(df["base_task"] == base) & (df["kind"] == kind)]


def _level_name(rate: float, err: float) -> str:
    return f"rate {rate:g} (pool error {fmt(err)})"


PAIR_HEADER = ["rate", "teacher pool error", "comparison", "pairs", "AUC difference", "p (AUC)", "Holm p (AUC)",
               "Wilcoxon p (AUC)", "final acc. difference", "p (final)", "Holm p (final)"]


def pair_rows(rob: Robustness, base: str, kind: str) -> list[list[str]]:
    """The paired comparisons of one group, one row per (level, comparison)."""
    return [[f"{r.rate:g}", fmt(r.pool_error_mean), f"{r.method_a} - {r.method_b}", str(r.n_pairs),
             fmt_ci(r.auc_diff_mean, r.auc_diff_ci95, signed=True), fmt_p(r.auc_p_value), fmt_p(r.auc_p_holm),
             fmt_p(r.auc_wilcoxon_p), fmt_ci(r.final_accuracy_diff_mean, r.final_accuracy_diff_ci95, signed=True),
             fmt_p(r.final_accuracy_p_value), fmt_p(r.final_accuracy_p_holm)]
            for r in _group(rob.pairs, base, kind).itertuples(index=False)]


def auc_header(rob: Robustness, base: str, kind: str) -> list[str]:
    g = _group(rob.levels, base, kind)
    return ["method", *[_level_name(r, e) for r, e in zip(g["rate"], g["pool_error_mean"])]]


def auc_rows(rob: Robustness, base: str, kind: str) -> list[list[str]]:
    """AUC (mean ± CI) of each method (rows, by mean AUC over the levels, privileged last) at
    each level (columns) of one group."""
    g = _group(rob.table, base, kind)
    tasks = list(_group(rob.levels, base, kind)["task"])
    cells = {(t, m): fmt_ci(a, h) for t, m, a, h in zip(g["task"], g["method"], g["auc_mean"], g["auc_ci95"])}
    priv = dict(zip(g["method"], g["privileged"]))
    mean_auc = g.groupby("method")["auc_mean"].mean()
    order = sorted(priv, key=lambda m: (bool(priv[m]), -mean_auc[m], m))
    return [[m + (" (privileged)" if priv[m] else ""), *[cells.get((t, m), DASH) for t in tasks]] for m in order]


INTRO = ("Runs of one task at several teacher-noise levels (task labels `<task>@<kind>-<rate>`; the noise-free "
         "task counts as rate 0). Pool error: the teacher's measured error on the pool after noise, mean over "
         "seeds. Differences are paired by seed: mean ± {ci} t-CI, the two-sided paired t-test p-value, the same "
         "p-value Holm-corrected over the {m} distinct comparisons of this section (a noise-free level shown in "
         "several groups counts once) and the Wilcoxon signed-rank p-value. Only Holm p < 0.05 is a significant "
         "difference.")


def mdd_note(rob: "Robustness", base: str, kind: str) -> str:
    """One sentence: the smallest AUC difference the group's comparisons can detect."""
    return (f"Minimum detectable AUC difference at 80% power (two-sided paired t at α = 0.05/{family_size(rob.pairs)}, "
            f"median paired SD and seed count of these comparisons): {fmt(group_mdd(rob, base, kind))}.")


def markdown_section(rob: Robustness, level: float) -> list[str]:
    """The robustness part of ``leaderboard.md`` as a list of Markdown blocks."""
    parts = ["## Robustness to teacher noise", INTRO.format(ci=f"{level:.0%}", m=family_size(rob.pairs))]
    for base, kind in rob.groups:
        head = auc_header(rob, base, kind)
        parts += [f"### {base}, {kind} noise: AUC at each level", markdown(head, auc_rows(rob, base, kind),
                                                                          "l" + "r" * (len(head) - 1))]
        rows = pair_rows(rob, base, kind)
        parts += [f"### {base}, {kind} noise: paired differences",
                  (mdd_note(rob, base, kind) + "\n\n" + markdown(PAIR_HEADER, rows, "rrlr" + "r" * 7)) if rows else
                  "No rad runs with margin, power_margin or random to compare at these levels."]
    return parts
