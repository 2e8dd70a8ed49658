"""Tables and plots computed only from stored run records; ``report`` never trains.

For each (suite, task): test accuracy at each query count, mean +- 95% CI over seeds
(Student's t), per method; the same for the teacher's accuracy on the queried points; CSV,
Markdown and a PNG plot of the curves with CI bands, under ``<out>/report/<suite>/``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from benchmark.results import RunRecord


def mean_ci(values: np.ndarray | list[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the t confidence interval; half-width is NaN for one value."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if len(v) == 0:
        return float("nan"), float("nan")
    if len(v) == 1:
        return float(v[0]), float("nan")
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean()), float(half)


def rounds_frame(records: list[RunRecord]) -> pd.DataFrame:
    """One row per (run, round): suite, task, method label, seed, round, n_queries and metrics."""
    rows = []
    for rec in records:
        for r in rec.rounds:
            rows.append({"suite": rec.suite, "task": rec.task, "task_version": rec.task_version,
                         "method": rec.method_label, "method_version": rec.method_version,
                         "privileged": rec.privileged, "seed": rec.seed, "round": r.round,
                         "n_queries": r.n_queries, "test_accuracy": r.test_accuracy,
                         "teacher_accuracy_on_queried": r.teacher_accuracy_on_queried})
    return pd.DataFrame(rows)


def curve_table(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Long table: task, method, round, n_queries, mean, ci95, n_seeds for ``metric``."""
    out = []
    for (task, method, rnd), g in frame.groupby(["task", "method", "round"], sort=True):
        m, h = mean_ci(g[metric].dropna().tolist())
        out.append({"task": task, "method": method, "round": rnd, "n_queries": int(g["n_queries"].iloc[0]),
                    "mean": m, "ci95": h, "n_seeds": int(g[metric].notna().sum())})
    return pd.DataFrame(out)


def _fmt(m: float, h: float) -> str:
    if np.isnan(m):
        return "—"
    return f"{m:.3f}" if np.isnan(h) else f"{m:.3f} ± {h:.3f}"


def wide_table(long: pd.DataFrame) -> pd.DataFrame:
    """Rows: n_queries; columns: methods; cells 'mean ± ci'."""
    long = long.assign(cell=[_fmt(m, h) for m, h in zip(long["mean"], long["ci95"])])
    wide = long.pivot(index="n_queries", columns="method", values="cell")
    wide.columns.name = None
    return wide


def markdown(df: pd.DataFrame, index_name: str) -> str:
    cols = [index_name, *map(str, df.columns)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---:" for _ in cols) + "|"]
    for idx, row in df.iterrows():
        lines.append("| " + " | ".join([str(idx), *[str(v) for v in row.tolist()]]) + " |")
    return "\n".join(lines)


def _caption(frame: pd.DataFrame, task: str) -> str:
    f = frame[frame.task == task]
    tv = sorted(f.task_version.unique())
    methods = ", ".join(f"{m} v{v}" for m, v in sorted(set(zip(f.method, f.method_version))))
    seeds = f.groupby("method").seed.nunique()
    n = f"{seeds.min()}" if seeds.min() == seeds.max() else f"{seeds.min()}–{seeds.max()}"
    return f"task {task} v{'/'.join(map(str, tv))}; {n} seeds; mean ± 95% CI; methods: {methods}"


def plot_curves(long: pd.DataFrame, title: str, ylabel: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for method, g in long.groupby("method", sort=True):
        g = g.sort_values("n_queries")
        x, m, h = g["n_queries"].to_numpy(), g["mean"].to_numpy(), np.nan_to_num(g["ci95"].to_numpy())
        (line,) = ax.plot(x, m, marker="o", ms=3, lw=1.5, label=method)
        ax.fill_between(x, m - h, m + h, color=line.get_color(), alpha=0.15, lw=0)
    ax.set_xlabel("teacher queries")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def write_report(records: list[RunRecord], out_dir: Path, echo: bool = True) -> list[Path]:
    """Write CSV, Markdown and PNG per task under ``out_dir``; print the tables. Returns the paths."""
    complete = [r for r in records if r.complete]
    if not complete:
        raise ValueError("no complete runs to report")
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = rounds_frame(complete)
    written = []
    for task in sorted(frame.task.unique()):
        f = frame[frame.task == task]
        caption = _caption(frame, task)
        acc = curve_table(f, "test_accuracy")
        tq = curve_table(f[f["round"] > 0], "teacher_accuracy_on_queried")
        sections = [f"## {task}: test accuracy vs teacher queries\n\n{caption}\n\n{markdown(wide_table(acc), 'queries')}",
                    f"## {task}: teacher accuracy on the queried points\n\n{caption}\n\n"
                    f"{markdown(wide_table(tq), 'queries')}"]
        for name, table in (("accuracy", acc), ("teacher_on_queried", tq)):
            p = out_dir / f"{task}_{name}.csv"
            table.to_csv(p, index=False, float_format="%.6f")
            written.append(p)
        md = out_dir / f"{task}.md"
        md.write_text("\n\n".join(sections) + "\n")
        png = out_dir / f"{task}_accuracy.png"
        plot_curves(acc, f"{task}: test accuracy (mean ± 95% CI)", "test accuracy", png)
        written += [md, png]
        if echo:
            print("\n\n".join(sections))
            print(f"\nwrote {md}, {png}")
    return written
