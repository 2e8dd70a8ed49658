"""Leaderboard figures (matplotlib, Agg), saved as PNG and SVG with reproducible bytes.

Reproducible: no dates or software versions in the metadata, a fixed ``svg.hashsalt`` so
SVG element ids do not change between runs, glyphs stored as paths, and colours fixed by
each method's position in the sorted list of the suite's methods. Privileged methods are
drawn dashed (curves) or hatched (bars).
"""
from __future__ import annotations

import io
import math
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pandas as pd

from benchmark.leaderboard import Leaderboard

RC = {"svg.hashsalt": "akd-bench", "svg.fonttype": "path", "font.family": "DejaVu Sans", "font.size": 9,
      "axes.titlesize": 10, "legend.fontsize": 8, "figure.dpi": 100, "savefig.dpi": 110, "path.simplify": True}
METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}
FORMATS = ("png", "svg")


@contextmanager
def _pyplot() -> Iterator[object]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(RC):
        yield plt


def colors(methods: list[str]) -> dict[str, tuple]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(methods) <= 10 else "tab20"]
    return {m: cmap(i % cmap.N) for i, m in enumerate(methods)}


def render(fig: object, fmt: str) -> bytes:
    """The figure's bytes in ``fmt`` (png or svg) with the reproducible metadata."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata=METADATA[fmt])
    return buf.getvalue()


def _grid(plt: object, n: int, width: float = 4.2, height: float = 3.2) -> tuple[object, list]:
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(6.4, width * ncols), height * nrows + 0.6), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _curves(lb: Leaderboard, long: pd.DataFrame, x: str, xlabel: str, ylabel: str, title: str) -> object:
    with _pyplot() as plt:
        col = colors(lb.methods)
        fig, axes = _grid(plt, len(lb.tasks))
        handles = {}
        for ax, task in zip(axes, lb.tasks):
            t = long[long["task"] == task]
            for method in lb.methods:
                g = t[t["method"] == method].sort_values(x)
                if g.empty:
                    continue
                xs, m, h = g[x].to_numpy(float), g["mean"].to_numpy(float), np.nan_to_num(g["ci95"].to_numpy(float))
                dashed = bool(g["privileged"].iloc[0])
                (line,) = ax.plot(xs, m, marker="o", ms=3, lw=1.5, color=col[method], ls="--" if dashed else "-",
                                  label=method + (" (privileged)" if dashed else ""))
                # accuracies are proportions: the band is drawn clipped to [0, 1]
                ax.fill_between(xs, np.clip(m - h, 0, 1), np.clip(m + h, 0, 1), color=col[method], alpha=0.15, lw=0)
                handles.setdefault(line.get_label(), line)
            ax.set_title(f"{task} v{int(t['task_version'].iloc[0])}" if len(t) else task)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        fig.suptitle(title)
        fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=min(5, len(handles)),
                   frameon=False)
        fig.tight_layout(rect=(0, 0.08, 1, 1))
        return fig


def accuracy_figure(lb: Leaderboard) -> object:
    """Grid of test accuracy vs teacher queries, one panel per task, mean with CI bands."""
    return _curves(lb, lb.curves, "n_queries", "teacher queries", "test accuracy",
                   f"suite {lb.suite}: test accuracy (mean ± {lb.level:.0%} CI)")


def teacher_figure(lb: Leaderboard) -> object:
    """Grid of the teacher's accuracy on the points queried in each round, mean with CI bands."""
    return _curves(lb, lb.teacher_curves, "round", "round", "teacher accuracy on queried points",
                   f"suite {lb.suite}: teacher accuracy on queried points (mean ± {lb.level:.0%} CI)")


def auc_figure(lb: Leaderboard) -> object:
    """Per task, horizontal bars of mean normalized AUC with CI error bars, best rank on top."""
    with _pyplot() as plt:
        col = colors(lb.methods)
        n_rows = max(int((lb.summary["task"] == t).sum()) for t in lb.tasks)
        fig, axes = _grid(plt, len(lb.tasks), height=0.9 + 0.32 * n_rows)
        for ax, task in zip(axes, lb.tasks):
            s = lb.summary[lb.summary["task"] == task]
            y = np.arange(len(s))[::-1]
            m, h = s["auc_mean"].to_numpy(float), np.nan_to_num(s["auc_ci95"].to_numpy(float))
            for yi, mi, hi, method, priv in zip(y, m, h, s["method"], s["privileged"]):
                ax.barh(yi, mi, xerr=hi, color=col[method], alpha=0.85, hatch="//" if priv else None,
                        edgecolor="black" if priv else col[method], lw=0.5, capsize=3)
            ax.set_yticks(y, [f"{mm} (privileged)" if p else mm for mm, p in zip(s["method"], s["privileged"])])
            lo = float(np.nanmin(m - h)) if len(m) else 0.0
            hi_ = float(np.nanmax(m + h)) if len(m) else 1.0
            pad = max(0.01, 0.15 * (hi_ - lo))
            ax.set_xlim(max(0.0, lo - pad), min(1.0, hi_ + pad))
            ax.set_xlabel("normalized AUC (accuracy vs queries)")
            ax.set_title(f"{task} v{int(s['task_version'].iloc[0])}")
            ax.grid(axis="x", alpha=0.3)
        fig.suptitle(f"suite {lb.suite}: area under the accuracy curve (mean ± {lb.level:.0%} CI)")
        fig.tight_layout()
        return fig


FIGURES = {"accuracy_curves": accuracy_figure, "teacher_on_queried": teacher_figure, "auc_bars": auc_figure}


def render_all(lb: Leaderboard) -> dict[str, bytes]:
    """``{"<figure>.<fmt>": bytes}`` for every figure and format."""
    import matplotlib.pyplot as plt

    out = {}
    for name, make in FIGURES.items():
        with _pyplot():
            fig = make(lb)
            for fmt in FORMATS:
                out[f"{name}.{fmt}"] = render(fig, fmt)
            plt.close(fig)
    return out
