"""The leaderboard as data: pandas tables computed only from stored run records.

Per (task, method label), over seeds, each with a 95% t confidence interval: accuracy at
each query count; the normalized area under the accuracy-vs-queries curve (``auc``, the
value ``RunRecord.summary`` stores); final accuracy; the paired gain over ``random`` (the
per-seed differences on the seeds both ran); the teacher's accuracy on the queried
points (per round, and pooled over the run: correct teacher labels / queries); and cost
(select seconds and train seconds summed over the run, teacher queries).

Rankings use the non-privileged methods only: per task, rank 1 is the highest mean AUC
(ties share the average rank); the average rank is over the distinct tasks a method ran (a
noise-free level shared by several noise kinds counts once,
``benchmark.core.noise_label.distinct_tasks``); the pairwise win rate of ``a`` over ``b``
counts the (distinct task, seed) pairs where ``a``'s AUC is higher (ties count half), and is
marked significant by the Wilcoxon signed-rank post-hoc, Holm-corrected over every pair
(``benchmark.reporting.significance``, which also gives each task's best set and
minimum detectable difference). Privileged methods (oracles that see hidden labels) are
listed but never ranked.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from benchmark.core.errors import LeaderboardError
from benchmark.core.noise_label import distinct_tasks
from benchmark.reporting.metrics import average_ranks, mean_ci, paired_differences, paired_gain, wilson_interval, win_rate
from benchmark.core.results import RunRecord
from benchmark.reporting.significance import Significance, build_significance

BASELINE = "random"
SIGNIFICANCE = 0.05


def pooled_round_metric(rec: RunRecord, field: str) -> float:
    """A per-round metric of rounds >= 1, averaged with each round weighted by its queries."""
    num, den, prev = 0.0, 0, 0
    for r in rec.rounds:
        q, prev = r.n_queries - prev, r.n_queries
        v = getattr(r, field)
        if r.round > 0 and v is not None and q > 0:
            num, den = num + float(v) * q, den + q
    return num / den if den else float("nan")


def run_row(rec: RunRecord) -> dict[str, Any]:
    """One complete run as a flat row of identity fields and per-run metrics."""
    return {
        "suite": rec.suite, "task": rec.task, "task_version": rec.task_version, "method": rec.method_label,
        "method_name": rec.method, "method_version": rec.method_version,
        "params": json.dumps(rec.params, sort_keys=True), "privileged": rec.privileged, "seed": rec.seed,
        "run_id": rec.run_id, "auc": float(rec.summary["auc"]), "final_accuracy": float(rec.summary["final_accuracy"]),
        "teacher_acc_queried": pooled_round_metric(rec, "teacher_accuracy_on_queried"),
        "mean_gain": pooled_round_metric(rec, "mean_gain"),
        "select_seconds": float(sum(r.select_seconds for r in rec.rounds)),
        "train_seconds": float(sum(r.train_seconds for r in rec.rounds)),
        "teacher_queries": int(rec.rounds[-1].n_queries) if rec.rounds else 0,
        "teacher_test_accuracy": float(rec.teacher.get("test_accuracy", float("nan"))),
        "teacher_validation_error": float(rec.teacher.get("validation_error", float("nan"))),
    }


def runs_frame(records: list[RunRecord]) -> pd.DataFrame:
    """One row per complete run, sorted by task, method and seed."""
    rows = [run_row(r) for r in records if r.complete]
    return pd.DataFrame(rows).sort_values(["task", "method", "seed"], kind="stable").reset_index(drop=True)


def rounds_frame(records: list[RunRecord]) -> pd.DataFrame:
    """One row per (run, round): identity fields, seed, round, n_queries (cumulative),
    round_queries (this round's) and per-round metrics."""
    rows = []
    for rec in records:
        prev = 0
        for r in rec.rounds:
            rows.append({"suite": rec.suite, "task": rec.task, "task_version": rec.task_version,
                         "method": rec.method_label, "method_version": rec.method_version,
                         "privileged": rec.privileged, "seed": rec.seed, "round": r.round,
                         "n_queries": r.n_queries, "round_queries": r.n_queries - prev,
                         "test_accuracy": r.test_accuracy, "teacher_accuracy_on_queried": r.teacher_accuracy_on_queried})
            prev = r.n_queries
    return pd.DataFrame(rows)


def curve_table(frame: pd.DataFrame, metric: str, level: float = 0.95) -> pd.DataFrame:
    """Long table per (task, method, round): n_queries, mean and CI half-width of ``metric``, seeds."""
    out = []
    for (task, method, rnd), g in frame.groupby(["task", "method", "round"], sort=True):
        m, h = mean_ci(g[metric].dropna().tolist(), level)
        out.append({"task": task, "task_version": int(g["task_version"].iloc[0]), "method": method,
                    "method_version": int(g["method_version"].iloc[0]), "privileged": bool(g["privileged"].iloc[0]),
                    "round": int(rnd), "n_queries": int(g["n_queries"].iloc[0]), "mean": m, "ci95": h,
                    "n_seeds": int(g[metric].notna().sum())})
    cols = ["task", "task_version", "method", "method_version", "privileged", "round", "n_queries", "mean", "ci95",
            "n_seeds"]
    return pd.DataFrame(out, columns=cols)


def proportion_curve_table(frame: pd.DataFrame, metric: str, level: float = 0.95) -> pd.DataFrame:
    """Long table per (task, method, round) of a per-round proportion ``metric`` (e.g. the
    teacher's accuracy on the round's queries), pooled over seeds: ``correct`` (metric x the
    round's queries, summed), ``queried`` (queries summed), ``accuracy = correct / queried``
    and its Wilson score interval ``ci_low``/``ci_high`` (inside [0, 1]), and the seeds."""
    f = frame[frame[metric].notna() & (frame["round_queries"] > 0)]
    f = f.assign(_correct=f[metric].astype(float) * f["round_queries"])
    out = []
    for (task, method, rnd), g in f.groupby(["task", "method", "round"], sort=True):
        k, n = float(g["_correct"].sum()), int(g["round_queries"].sum())
        lo, hi = wilson_interval(k, n, level)
        out.append({"task": task, "task_version": int(g["task_version"].iloc[0]), "method": method,
                    "method_version": int(g["method_version"].iloc[0]), "privileged": bool(g["privileged"].iloc[0]),
                    "round": int(rnd), "n_queries": int(g["n_queries"].iloc[0]), "accuracy": k / n,
                    "ci_low": float(lo), "ci_high": float(hi), "correct": k, "queried": n, "n_seeds": len(g)})
    cols = ["task", "task_version", "method", "method_version", "privileged", "round", "n_queries", "accuracy",
            "ci_low", "ci_high", "correct", "queried", "n_seeds"]
    return pd.DataFrame(out, columns=cols)


# Parts of a task's resolved configuration that document it and never change results.
DOC_FIELDS = ("card", "description")
# What every complete run of one task must share (its budget and its task), then what every
# seed of one method label must share (the method and its parameters): name -> value.
TASK_FIELDS: dict[str, Callable[[RunRecord], Any]] = {
    "rounds": lambda r: r.rounds_planned, "queries per round": lambda r: r.queries_per_round,
    "task version": lambda r: r.task_version}
METHOD_FIELDS: dict[str, Callable[[RunRecord], Any]] = {
    "method": lambda r: r.method, "method version": lambda r: r.method_version,
    "params": lambda r: json.dumps(r.params, sort_keys=True), "privileged": lambda r: r.privileged}
_ABSENT = object()


def _flat(config: Any, prefix: str = "") -> dict[str, Any]:
    """A nested dict as ``{dotted key: leaf value}``; a non-dict is one leaf."""
    if not isinstance(config, dict) or (prefix and not config):
        return {prefix.rstrip("."): config}
    out: dict[str, Any] = {}
    for k, v in config.items():
        if not prefix and k in DOC_FIELDS:
            continue
        out.update(_flat(v, f"{prefix}{k}."))
    return out


def _config_difference(a: RunRecord, b: RunRecord) -> tuple[str, Any, Any] | None:
    """The first field of the resolved task configuration where ``a`` and ``b`` differ."""
    fa, fb = _flat(a.provenance.get("task_config") or {}), _flat(b.provenance.get("task_config") or {})
    for key in sorted(set(fa) | set(fb)):
        va, vb = fa.get(key, _ABSENT), fb.get(key, _ABSENT)
        if va != vb:
            return f"task config field {key}", va, vb
    return None


def _show(v: Any) -> str:
    if v is _ABSENT:
        return "(not recorded)"
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True)


def _field_difference(a: RunRecord, b: RunRecord, fields: dict[str, Callable[[RunRecord], Any]]
                      ) -> tuple[str, Any, Any] | None:
    for name, get in fields.items():
        if get(a) != get(b):
            return name, get(a), get(b)
    return None


def _task_difference(a: RunRecord, b: RunRecord) -> tuple[str, Any, Any] | None:
    return _field_difference(a, b, TASK_FIELDS) or _config_difference(a, b)


def _method_difference(a: RunRecord, b: RunRecord) -> tuple[str, Any, Any] | None:
    return _field_difference(a, b, METHOD_FIELDS)


def check_consistent(records: list[RunRecord]) -> None:
    """Refuse complete runs that cannot be averaged or ranked together.

    Within a task, every complete run of every method and seed must share the rounds, the
    queries per round, the task version and the resolved task configuration
    (``provenance["task_config"]``, less its documentation fields ``DOC_FIELDS``); within a
    (task, method label), every seed must share the method, its version, its parameters and
    its privilege. Incomplete runs are ignored.

    Raises ``LeaderboardError`` with one line naming two runs (``task/method/seed<k>``), the
    field that differs and both values.
    """
    first_of_task: dict[str, RunRecord] = {}
    first_of_method: dict[tuple[str, str], RunRecord] = {}
    for r in sorted((r for r in records if r.complete), key=lambda r: (r.task, r.method_label, r.seed)):
        for first, differ in ((first_of_task.setdefault(r.task, r), _task_difference),
                              (first_of_method.setdefault((r.task, r.method_label), r), _method_difference)):
            diff = differ(first, r)
            if diff is not None:
                name, va, vb = diff
                raise LeaderboardError(
                    f"runs {_run_name(first)} and {_run_name(r)} differ in {name}: {_show(va)} vs {_show(vb)}; "
                    f"the runs of a task must share one budget and configuration (keep each in its own "
                    f"results folder)")


def _run_name(r: RunRecord) -> str:
    return f"{r.task}/{r.method_label}/seed{r.seed}"


@dataclass
class Leaderboard:
    """Every table of one suite's leaderboard; see the module docstring for definitions."""

    suite: str
    level: float
    records: list[RunRecord]
    runs: pd.DataFrame
    summary: pd.DataFrame
    curves: pd.DataFrame
    teacher_curves: pd.DataFrame
    ranks: pd.DataFrame
    win_rates: pd.DataFrame
    significance: Significance
    skipped: list[str]

    @property
    def tasks(self) -> list[str]:
        return sorted(self.summary["task"].unique())

    @property
    def methods(self) -> list[str]:
        """Every method label, sorted: the colour order of every plot."""
        return sorted(self.summary["method"].unique())

    @property
    def ranked_tasks(self) -> list[str]:
        """The tasks of the rank table: the distinct tasks (``distinct_tasks``)."""
        return [c[len("rank_"):] for c in self.ranks.columns if c.startswith("rank_")]

    @property
    def ranked_methods(self) -> list[str]:
        return list(self.ranks["method"])


def _seed_map(g: pd.DataFrame, col: str) -> dict[int, float]:
    return {int(s): float(v) for s, v in zip(g["seed"], g[col])}


def summary_table(runs: pd.DataFrame, level: float = 0.95, baseline: str = BASELINE) -> pd.DataFrame:
    """One row per (task, method): seeds, metrics with CIs, gains over the baseline, rank."""
    rows = []
    for (task, method), g in runs.groupby(["task", "method"], sort=True):
        first = g.iloc[0]
        base = runs[(runs["task"] == task) & (runs["method"] == baseline)]
        row: dict[str, Any] = {
            "task": task, "task_version": int(first["task_version"]), "method": method,
            "method_name": first["method_name"], "method_version": int(first["method_version"]),
            "params": first["params"], "privileged": bool(first["privileged"]), "n_seeds": len(g),
            "seeds": ",".join(str(s) for s in sorted(g["seed"])), "rank": float("nan")}
        for col in ("auc", "final_accuracy", "teacher_acc_queried", "select_seconds", "train_seconds",
                    "teacher_queries", "teacher_test_accuracy", "teacher_validation_error"):
            row[f"{col}_mean"], row[f"{col}_ci95"] = mean_ci(g[col].tolist(), level)
        n_pairs = 0
        for col in ("auc", "final_accuracy"):
            if len(base):
                m, h, n_pairs = paired_gain(_seed_map(g, col), _seed_map(base, col), level)
            else:
                m, h = float("nan"), float("nan")
            row[f"gain_{col}_mean"], row[f"gain_{col}_ci95"] = m, h
        row["gain_n_seeds"] = n_pairs
        rows.append(row)
    table = pd.DataFrame(rows)
    for task, g in table[~table["privileged"]].groupby("task", sort=True):
        ranks = average_ranks(dict(zip(g["method"], g["auc_mean"])))
        for i in g.index:
            table.loc[i, "rank"] = ranks[table.loc[i, "method"]]
    order = table.assign(_p=table["privileged"].astype(int), _r=table["rank"].fillna(np.inf))
    order = order.sort_values(["task", "_p", "_r", "method"], kind="stable")
    return order.drop(columns=["_p", "_r"]).reset_index(drop=True)


def rank_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per non-privileged method: its rank on every distinct task, the average rank and the task count."""
    ranked = summary[~summary["privileged"]]
    ranked = ranked[ranked["task"].isin(distinct_tasks(ranked["task"]))]
    tasks = sorted(ranked["task"].unique())
    rows = []
    for method, g in ranked.groupby("method", sort=True):
        per = dict(zip(g["task"], g["rank"]))
        rows.append({"method": method, "method_version": int(g["method_version"].iloc[0]),
                     **{f"rank_{t}": per.get(t, float("nan")) for t in tasks},
                     "avg_rank": float(np.mean(list(per.values()))), "n_tasks": len(per),
                     "n_seeds": int(g["n_seeds"].min())})
    cols = ["method", "method_version", *[f"rank_{t}" for t in tasks], "avg_rank", "n_tasks", "n_seeds"]
    table = pd.DataFrame(rows, columns=cols)
    return table.sort_values(["avg_rank", "method"], kind="stable").reset_index(drop=True)


def win_rate_table(runs: pd.DataFrame, methods: list[str], posthoc: pd.DataFrame) -> pd.DataFrame:
    """Long table over ordered pairs (a, b) of ranked methods: paired AUC comparisons over
    (distinct task, seed), win rate of a over b, mean difference, and from ``posthoc`` (the
    Wilcoxon-Holm post-hoc over the blocks) the Wilcoxon p-value and its Holm-corrected value."""
    runs = runs[runs["task"].isin(distinct_tasks(runs["task"]))]
    p = {}
    for r in posthoc.itertuples(index=False):
        p[(r.method_a, r.method_b)] = p[(r.method_b, r.method_a)] = (float(r.wilcoxon_p), float(r.p_holm))
    auc = {m: {(t, int(s)): float(v) for t, s, v in zip(g["task"], g["seed"], g["auc"])}
           for m, g in runs.groupby("method", sort=True)}
    versions = {m: int(v) for m, v in zip(runs["method"], runs["method_version"])}
    rows = []
    for a in methods:
        for b in methods:
            if a == b:
                continue
            _, d = paired_differences(auc[a], auc[b])
            w = win_rate(d)
            wp, ph = p.get((a, b), (float("nan"), float("nan")))
            rows.append({"method_a": a, "method_a_version": versions[a], "method_b": b,
                         "method_b_version": versions[b], "n_pairs": w.n, "wins": w.wins, "ties": w.ties,
                         "losses": w.losses, "win_rate": w.rate, "mean_auc_diff": w.mean_diff,
                         "wilcoxon_p": wp, "p_holm": ph, "significant": bool(ph < SIGNIFICANCE)})
    cols = ["method_a", "method_a_version", "method_b", "method_b_version", "n_pairs", "wins", "ties", "losses",
            "win_rate", "mean_auc_diff", "wilcoxon_p", "p_holm", "significant"]
    return pd.DataFrame(rows, columns=cols)


def build_leaderboard(records: list[RunRecord], level: float = 0.95, baseline: str = BASELINE) -> Leaderboard:
    """Every table of the leaderboard for the complete runs among ``records`` (one suite)."""
    complete = sorted((r for r in records if r.complete), key=lambda r: (r.task, r.method_label, r.seed))
    skipped = sorted(f"{r.task}/{r.method_label}/seed{r.seed}" for r in records if not r.complete)
    if not complete:
        raise LeaderboardError("no complete runs to report")
    suites = sorted({r.suite for r in complete})
    if len(suites) > 1:
        raise LeaderboardError(f"records of several suites {suites}: a leaderboard covers one suite")
    check_consistent(complete)
    runs = runs_frame(complete)
    summary = summary_table(runs, level, baseline)
    frame = rounds_frame(complete)
    ranks = rank_table(summary)
    ranked = list(ranks["method"])
    sig = build_significance(runs[runs["method"].isin(ranked)])
    return Leaderboard(
        suite=str(runs["suite"].iloc[0]), level=level, records=complete, runs=runs, summary=summary,
        curves=curve_table(frame, "test_accuracy", level),
        teacher_curves=proportion_curve_table(frame[frame["round"] > 0], "teacher_accuracy_on_queried", level),
        ranks=ranks, win_rates=win_rate_table(runs[runs["method"].isin(ranked)], ranked, sig.posthoc),
        significance=sig, skipped=skipped)


def provenance_summary(records: list[RunRecord]) -> dict[str, Any]:
    """What produced the records, grouped with run counts: code version (git SHA and dirty
    flag), devices, Python and platform, package versions, teachers, method parameters and
    each task's resolved configuration. Keys and lists are sorted, so it is deterministic."""

    def count(values: list[str]) -> list[tuple[str, int]]:
        return sorted((v, values.count(v)) for v in set(values))

    prov = [r.provenance for r in records]
    code = count([f"{p.get('git_sha') or 'unknown'}{' (dirty)' if p.get('git_dirty') else ''}" for p in prov])
    packages: dict[str, list[tuple[str, int]]] = {}
    for name in sorted({k for p in prov for k in (p.get("packages") or {})}):
        packages[name] = count([str((p.get("packages") or {}).get(name)) for p in prov])
    configs: dict[str, list[tuple[str, list[int]]]] = {}
    for task in sorted({r.task for r in records}):
        by_cfg: dict[str, list[int]] = {}
        for r in records:
            if r.task == task:
                cfg = json.dumps(r.provenance.get("task_config"), sort_keys=True, indent=2)
                by_cfg.setdefault(cfg, []).append(r.seed)
        configs[task] = sorted((c, sorted(set(s))) for c, s in by_cfg.items())
    teachers = sorted({(r.task, r.seed, json.dumps(r.teacher, sort_keys=True)) for r in records})
    params = sorted({(r.method_label, r.method, r.method_version, json.dumps(r.params, sort_keys=True))
                     for r in records})
    runs = sorted((r.task, r.method_label, r.seed, r.run_id, str(r.provenance.get("git_sha") or "unknown")[:12],
                   bool(r.provenance.get("git_dirty")), str(r.provenance.get("device")),
                   float(r.summary["wall_seconds"]) if r.summary else float("nan")) for r in records)
    return {
        "code": code,
        "device": count([str(p.get("device")) for p in prov]),
        "python": count([f"Python {p.get('python')} on {p.get('platform')}" for p in prov]),
        "packages": packages,
        "task_configs": configs,
        "teachers": [(t, s, json.loads(j)) for t, s, j in teachers],
        "methods": [(label, name, v, json.loads(j)) for label, name, v, j in params],
        "runs": runs,
        "wall_seconds": float(sum(r[-1] for r in runs if r[-1] == r[-1])),
    }
