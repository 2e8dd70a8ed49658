"""Text renderings of leaderboard tables: fixed-precision cells, Markdown and LaTeX.

Every cell is formatted here with a fixed number of decimals, so the same records always
give the same bytes.
"""
from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

from benchmark.reporting.leaderboard import Leaderboard

DASH = "—"


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt(x: float | None, digits: int = 3, signed: bool = False) -> str:
    """A number with fixed decimals (``+`` sign when ``signed``); a dash when missing; never ``-0.000``."""
    if _missing(x):
        return DASH
    x = float(x)
    if round(x, digits) == 0:
        x = 0.0
    return f"{x:+.{digits}f}" if signed and x != 0 else f"{x:.{digits}f}"


def fmt_ci(m: float | None, h: float | None, digits: int = 3, signed: bool = False) -> str:
    """``mean ± half-width``, or the mean alone when the interval is undefined (one seed)."""
    if _missing(m):
        return DASH
    return fmt(m, digits, signed) if _missing(h) else f"{fmt(m, digits, signed)} ± {fmt(h, digits)}"


def fmt_interval(m: float | None, low: float | None, high: float | None, digits: int = 3) -> str:
    """``estimate [low, high]`` (an asymmetric interval, e.g. Wilson's); the estimate alone without one."""
    if _missing(m):
        return DASH
    if _missing(low) or _missing(high):
        return fmt(m, digits)
    return f"{fmt(m, digits)} [{fmt(low, digits)}, {fmt(high, digits)}]"


def fmt_rank(r: float | None) -> str:
    return DASH if _missing(r) else (f"{r:.0f}" if float(r).is_integer() else f"{r:.1f}")


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """A GitHub Markdown table; ``align`` is one of ``l``/``r`` per column (default: all right)."""
    align = align or "r" * len(header)
    esc = [[str(c).replace("|", "\\|") for c in row] for row in [list(header), *rows]]
    sep = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(esc[0]) + " |", "|" + "|".join(sep) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return "\n".join(lines)


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$", "—": "--", "–": "--",
        "<": r"\textless{}", ">": r"\textgreater{}"}


def tex_escape(s: str) -> str:
    return "".join(_TEX.get(c, c) for c in str(s))


def latex(header: Sequence[str], rows: Sequence[Sequence[str]], caption: str, label: str,
          align: str | None = None, fit: bool = False) -> str:
    """A booktabs ``table`` environment; ``fit`` scales it to the line width (graphicx)."""
    align = align or "r" * len(header)
    body = [" & ".join(tex_escape(c) for c in header) + r" \\", r"\midrule"]
    body += [" & ".join(tex_escape(c) for c in row) + r" \\" for row in rows]
    tabular = [rf"\begin{{tabular}}{{{align}}}", r"\toprule", *body, r"\bottomrule", r"\end{tabular}"]
    if fit:
        tabular = [r"\resizebox{\linewidth}{!}{%", *tabular, "}"]
    return "\n".join([r"\begin{table}[ht]", r"\centering", r"\small",
                      rf"\caption{{{tex_escape(caption)}}}", rf"\label{{{label}}}", *tabular, r"\end{table}"])


# ----------------------------------------------------------------------------- leaderboard tables

MAIN_HEADER = ["task", "task v", "method", "method v", "seeds", "rank", "AUC", "final acc.", "AUC gain vs random",
               "final gain vs random", "teacher acc. on queried", "select s", "train s", "queries"]
MAIN_ALIGN = "lrlrrrrrrrrrrr"


def main_rows(lb: Leaderboard) -> list[list[str]]:
    """The leaderboard: one row per (task, method), ranked methods first, then privileged ones."""
    rows = []
    for _, r in lb.summary.iterrows():
        rank = "privileged" if r["privileged"] else fmt_rank(r["rank"])
        rows.append([r["task"], str(r["task_version"]), r["method"], str(r["method_version"]), str(r["n_seeds"]),
                     rank, fmt_ci(r["auc_mean"], r["auc_ci95"]),
                     fmt_ci(r["final_accuracy_mean"], r["final_accuracy_ci95"]),
                     fmt_ci(r["gain_auc_mean"], r["gain_auc_ci95"], signed=True),
                     fmt_ci(r["gain_final_accuracy_mean"], r["gain_final_accuracy_ci95"], signed=True),
                     fmt_ci(r["teacher_acc_queried_mean"], r["teacher_acc_queried_ci95"]),
                     fmt_ci(r["select_seconds_mean"], r["select_seconds_ci95"], 2),
                     fmt_ci(r["train_seconds_mean"], r["train_seconds_ci95"], 2),
                     fmt(r["teacher_queries_mean"], 0)])
    return rows


def rank_header(lb: Leaderboard) -> list[str]:
    return ["method", "method v", *[f"rank on {t}" for t in lb.ranked_tasks], "average rank", "tasks", "seeds"]


def rank_rows(lb: Leaderboard) -> list[list[str]]:
    rows = []
    for _, r in lb.ranks.iterrows():
        rows.append([r["method"], str(r["method_version"]), *[fmt_rank(r[f"rank_{t}"]) for t in lb.ranked_tasks],
                     fmt(r["avg_rank"], 2), str(r["n_tasks"]), str(r["n_seeds"])])
    return rows


def win_matrix(lb: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """Rows beat columns: win rate over paired (task, seed) AUCs; ``*`` marks a Holm-corrected
    Wilcoxon p < 0.05."""
    methods = lb.ranked_methods
    cell = {(a, b): (w, s) for a, b, w, s in
            zip(lb.win_rates["method_a"], lb.win_rates["method_b"], lb.win_rates["win_rate"],
                lb.win_rates["significant"])}
    rows = []
    for a in methods:
        row = [a]
        for b in methods:
            if a == b:
                row.append(DASH)
            else:
                w, s = cell[(a, b)]
                row.append(fmt(w, 2) + ("*" if s else ""))
        rows.append(row)
    return ["row beats column", *methods], rows


def wide_curve(long: pd.DataFrame, digits: int = 3) -> tuple[list[str], list[list[str]]]:
    """Rows: query counts; columns: methods; cells ``mean ± CI``."""
    methods = sorted(long["method"].unique())
    cells = {(int(q), m): fmt_ci(mu, h, digits) for q, m, mu, h in
             zip(long["n_queries"], long["method"], long["mean"], long["ci95"])}
    queries = sorted({int(q) for q in long["n_queries"]})
    rows = [[str(q), *[cells.get((q, m), DASH) for m in methods]] for q in queries]
    return ["queries", *methods], rows


TEACHER_CURVE_NOTE = ("; teacher accuracy on the points queried in the round ending at each cumulative query count, "
                      "pooled over seeds (correct teacher labels / queries) [{ci} Wilson score interval]")


def wide_interval(long: pd.DataFrame, value: str = "accuracy", digits: int = 3) -> tuple[list[str], list[list[str]]]:
    """Rows: query counts; columns: methods; cells ``value [ci_low, ci_high]``."""
    methods = sorted(long["method"].unique())
    cells = {(int(q), m): fmt_interval(v, lo, hi, digits) for q, m, v, lo, hi in
             zip(long["n_queries"], long["method"], long[value], long["ci_low"], long["ci_high"])}
    queries = sorted({int(q) for q in long["n_queries"]})
    rows = [[str(q), *[cells.get((q, m), DASH) for m in methods]] for q in queries]
    return ["queries", *methods], rows


def task_caption(lb: Leaderboard, task: str) -> str:
    """``task T vN; K seeds; mean ± 95% CI; methods: a v1, b v1``."""
    s = lb.summary[lb.summary["task"] == task]
    tv = "/".join(str(v) for v in sorted(s["task_version"].unique()))
    methods = ", ".join(f"{m} v{v}" + (" (privileged)" if p else "")
                        for m, v, p in zip(s["method"], s["method_version"], s["privileged"]))
    lo, hi = int(s["n_seeds"].min()), int(s["n_seeds"].max())
    seeds = f"{lo}" if lo == hi else f"{lo}–{hi}"
    return f"task {task} v{tv}; {seeds} seeds; mean ± {lb.level:.0%} CI; {teacher_caption(lb, task)}; methods: {methods}"


def _span(values: pd.Series) -> str:
    lo, hi = fmt(values.min()), fmt(values.max())
    return lo if lo == hi else f"{lo}–{hi}"


def teacher_caption(lb: Leaderboard, task: str) -> str:
    """``teacher test accuracy 0.860–0.930, validation error 0.100–0.150`` over the task's seeds."""
    per_seed = lb.runs[lb.runs["task"] == task].drop_duplicates("seed")
    return (f"teacher test accuracy {_span(per_seed['teacher_test_accuracy'])}, validation error "
            f"{_span(per_seed['teacher_validation_error'])} over seeds")


def ranking_caption(lb: Leaderboard) -> str:
    """Versions and seed counts behind the rank and win-rate tables (ranked methods only)."""
    s = lb.summary[~lb.summary["privileged"]]
    tasks = ", ".join(f"{t} v{v}" for t, v in sorted(set(zip(s["task"], s["task_version"]))))
    methods = ", ".join(f"{m} v{v}" for m, v in sorted(set(zip(s["method"], s["method_version"]))))
    lo, hi = (int(s["n_seeds"].min()), int(s["n_seeds"].max())) if len(s) else (0, 0)
    seeds = f"{lo}" if lo == hi else f"{lo}–{hi}"
    return f"tasks: {tasks or 'none'}; methods: {methods or 'none'}; {seeds} seeds per (task, method)"


# ----------------------------------------------------------------------------- corrected tests

BEST_HEADER = ["task", "seeds", "top method", "best set", "comparisons with the top", "median paired SD",
               "min. detectable difference", "significant pairs"]
BEST_ALIGN = "lrllrrrr"
BEST_NOTE = ("Best set: the method of highest mean AUC and every method not significantly worse than it (paired "
             "t-test on per-seed AUC, Holm-corrected over the comparisons with the top, α = 0.05). Minimum "
             "detectable difference: the smallest true AUC difference that this test detects with 80% power at "
             "this many seeds (two-sided, α = 0.05 / comparisons), from the median paired SD of those comparisons; "
             "these records cannot resolve smaller differences. Significant pairs: pairs of methods whose paired "
             "t-test is significant after Holm correction over all pairs of the task (`pairwise.csv`).")


def best_rows(lb: Leaderboard) -> list[list[str]]:
    """One row per task: seeds, top method, best set, the test's resolution and the pair count."""
    sig = lb.significance
    rows = []
    for r in sig.best.itertuples(index=False):
        p = sig.pairwise[sig.pairwise["task"] == r.task]
        rows.append([r.task, str(r.n_seeds), r.top, r.best_set, str(r.n_comparisons), fmt(r.median_paired_sd),
                     fmt(r.mdd), f"{int(p['significant'].sum())} of {len(p)}"])
    return rows


def friedman_note(lb: Leaderboard) -> str:
    """The Friedman test across blocks in one sentence, and what the diagram and win stars mean."""
    f = lb.significance.friedman
    if f is None:
        return "Fewer than two complete (task, seed) blocks or two ranked methods: no test across blocks."
    p = "= " + DASH if f.p_value != f.p_value else ("< 0.001" if f.p_value < 0.001 else "= " + fmt(f.p_value, 3))
    return (f"Blocks: {f.n_blocks} (task, seed) pairs of the distinct tasks where all {f.n_methods} ranked methods "
            f"finished (a noise-free level shared by several noise kinds counts once). Friedman test: "
            f"χ² = {fmt(f.statistic, 2)}, p {p}. Post-hoc: Wilcoxon signed-rank test on every pair over the "
            f"blocks, Holm-corrected over the {f.n_methods * (f.n_methods - 1) // 2} pairs (`posthoc.csv`); "
            f"`cd_diagram.png` draws the average rank per block and joins the methods it cannot separate.")
