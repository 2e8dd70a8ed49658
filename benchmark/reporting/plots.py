"""Leaderboard figures (matplotlib, Agg), saved as PNG and SVG with reproducible bytes.

Made to stay readable with many methods: the curves are small multiples, one panel per
method, each showing that method (colour, 95% band) against ``random`` (black dashed), the
task's best-ranked method (grey) and the teacher's test accuracy (dotted), with queries on
every x-axis; AUC is a dot-and-whisker plot sorted by rank, honest without a zero baseline.
Each method keeps one colour, marker and line style (by its position in the sorted list of
the suite's methods) in every figure; ``random`` is always black dashed and privileged
methods (oracles) are marked as such.

Reproducible: no dates or software versions in the metadata, a fixed ``svg.hashsalt`` so
SVG element ids do not change between runs, and glyphs stored as paths.
"""
from __future__ import annotations

import io
import math
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from benchmark.reporting.leaderboard import BASELINE, Leaderboard
from benchmark.reporting.robustness import COMPARATORS, FOCUS, Robustness

RC = {"svg.hashsalt": "akd-bench", "svg.fonttype": "path", "font.family": "DejaVu Sans", "font.size": 8,
      "axes.titlesize": 8.5, "axes.labelsize": 8, "legend.fontsize": 8, "figure.titlesize": 11, "xtick.labelsize": 7.5,
      "ytick.labelsize": 7.5, "figure.dpi": 100, "savefig.dpi": 110, "path.simplify": True}
METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}
FORMATS = ("png", "svg")

BASE = {"color": "black", "ls": (0, (5, 2.5)), "lw": 1.3}
BEST = {"color": "0.55", "ls": "-", "lw": 1.1}
TEACHER = {"color": "0.25", "ls": ":", "lw": 1.2}
ORACLE = {"color": "0.45", "ls": ":", "lw": 1.6, "marker": "s", "mfc": "white"}
MARKERS = "osD^vP*X<>hpd"
LINESTYLES = ("-", "-.", (0, (3, 1, 1, 1, 1, 1)))


@contextmanager
def _pyplot() -> Iterator[object]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(RC):
        yield plt


def palette() -> list[tuple]:
    """19 distinguishable colours of enough contrast on white: tab10 without its grey, then the
    dark and the middle shades of tab20b (grey and black mark the baseline, the best method,
    the teacher and oracles)."""
    import matplotlib

    tab10, tab20b = matplotlib.colormaps["tab10"], matplotlib.colormaps["tab20b"]
    return [tab10(i) for i in range(10) if i != 7] + [tab20b(i) for i in (0, 4, 8, 12, 16, 2, 6, 10, 14, 18)]


def styles(methods: list[str]) -> dict[str, dict]:
    """Per method label: matplotlib line keywords (colour, marker, line style) fixed by its
    position in ``methods`` (the suite's sorted labels); ``random`` is black dashed."""
    pal = palette()
    out = {}
    for i, m in enumerate(methods):
        out[m] = {"color": pal[i % len(pal)], "marker": MARKERS[i % len(MARKERS)],
                  "ls": LINESTYLES[(i // len(pal)) % len(LINESTYLES)], "lw": 1.5}
    if BASELINE in out:
        out[BASELINE] = {**BASE, "marker": None}
    return out


def render(fig: object, fmt: str) -> bytes:
    """The figure's bytes in ``fmt`` (png or svg) with the reproducible metadata."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata=METADATA[fmt])
    return buf.getvalue()


def _grid(plt: object, n: int, width: float = 4.2, height: float = 3.2) -> tuple[object, list]:
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(6.4, width * ncols), height * nrows + 0.6), squeeze=False,
                             layout="constrained")
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _label(method: str, privileged: bool) -> str:
    return f"{method} (privileged)" if privileged else method


# ----------------------------------------------------------------------------- small multiples

def _series(long: pd.DataFrame, task: str, method: str, value: str, low: str | None, high: str | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """x (queries), y, band low and band high of one (task, method), or None if absent."""
    g = long[(long["task"] == task) & (long["method"] == method)].sort_values("n_queries")
    if g.empty:
        return None
    y = g[value].to_numpy(float)
    if low is None:  # a t half-width; accuracies are proportions, so the band is clipped to [0, 1]
        h = np.nan_to_num(g["ci95"].to_numpy(float))
        lo, hi = np.clip(y - h, 0, 1), np.clip(y + h, 0, 1)
    else:
        lo, hi = g[low].to_numpy(float), g[high].to_numpy(float)
    return g["n_queries"].to_numpy(float), y, lo, hi


def _teacher_accuracy(lb: Leaderboard, task: str) -> float:
    """The task's teacher test accuracy, mean over seeds (one teacher per seed)."""
    per_seed = lb.runs[lb.runs["task"] == task].drop_duplicates("seed")["teacher_test_accuracy"]
    return float(per_seed.mean()) if per_seed.notna().any() else float("nan")


def _task_panels(lb: Leaderboard, task: str) -> tuple[pd.DataFrame, str | None]:
    """The summary rows drawn as panels (every method but the baseline, ranked first, then
    privileged) and the best-ranked method of the task."""
    s = lb.summary[lb.summary["task"] == task]
    ranked = s[~s["privileged"]]
    best = str(ranked["method"].iloc[0]) if len(ranked) else None
    panels = s[s["method"] != BASELINE]
    return (panels if len(panels) else s), best


def _panel(ax: object, lb: Leaderboard, long: pd.DataFrame, task: str, row: pd.Series, best: str | None,
           cols: tuple[str, str | None, str | None], style: dict) -> None:
    method = row["method"]
    teacher = _teacher_accuracy(lb, task)
    if teacher == teacher:
        ax.axhline(teacher, **TEACHER, zorder=1)
    refs = [(BASELINE, BASE)] if method != BASELINE else []
    if best not in (None, method, BASELINE):
        refs.append((best, BEST))
    for other, kw in refs:
        s = _series(long, task, other, *cols)
        if s is not None:
            ax.plot(s[0], s[1], **kw, zorder=2)
    s = _series(long, task, method, *cols)
    if s is not None:
        kw = ORACLE if row["privileged"] else style
        ax.fill_between(s[0], s[2], s[3], color=kw["color"], alpha=0.22, lw=0, zorder=3)
        ax.plot(s[0], s[1], ms=3.5, zorder=4, **kw)
    ax.grid(alpha=0.3)


def _small_multiples(lb: Leaderboard, long: pd.DataFrame, cols: tuple[str, str | None, str | None], ylabel: str,
                     title: str, note: Callable[[pd.Series], str], band: str) -> object:
    """One block of panels per task, one panel per method (see the module docstring)."""
    with _pyplot() as plt:
        sty = styles(lb.methods)
        layout = {t: _task_panels(lb, t) for t in lb.tasks}
        ncols = _columns(max(len(p) for p, _ in layout.values()))
        nrows = {t: math.ceil(len(p) / ncols) for t, (p, _) in layout.items()}
        heights = [2.1 * nrows[t] + 0.7 for t in lb.tasks]
        fig = plt.figure(figsize=(max(6.4, 3.0 * ncols + 0.4), sum(heights) + 1.0), layout="constrained")
        subfigs = np.atleast_1d(fig.subfigures(len(lb.tasks), 1, height_ratios=heights)).ravel()
        for sf, task in zip(subfigs, lb.tasks):
            panels, best = layout[task]
            axes = sf.subplots(nrows[task], ncols, sharex=True, sharey=True, squeeze=False).ravel()
            for i, (ax, (_, row)) in enumerate(zip(axes, panels.iterrows())):
                _panel(ax, lb, long, task, row, best, cols, sty[row["method"]])
                ax.set_title(_title(row), color="0.3" if row["privileged"] else "black")
                ax.text(0.98, 0.04, note(row), transform=ax.transAxes, ha="right", va="bottom", fontsize=7.5,
                        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8})
                if i + ncols >= len(panels):  # the lowest panel of its column
                    ax.xaxis.set_tick_params(labelbottom=True)
                    ax.set_xlabel("teacher queries")
                if i % ncols == 0:
                    ax.set_ylabel(ylabel)
            for ax in axes[len(panels):]:
                ax.set_visible(False)
            sf.suptitle(_task_title(lb, task, best), fontsize=9.5, fontweight="bold")
        fig.suptitle(title)
        oracle = bool(lb.summary["privileged"].any())
        handles = _legend(band, oracle)
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles) if ncols >= 4 else 3,
                   frameon=False)
        return fig


def _task_title(lb: Leaderboard, task: str, best: str | None) -> str:
    """``digits v1: best-ranked rad; random #11; teacher test accuracy 0.921``."""
    s = lb.summary[lb.summary["task"] == task]
    parts = [f"best-ranked {best}"] if best else []
    base = s[s["method"] == BASELINE]
    if len(base):
        parts.append(f"random #{base['rank'].iloc[0]:g}")
    teacher = _teacher_accuracy(lb, task)
    if teacher == teacher:
        parts.append(f"teacher test accuracy {teacher:.3f}")
    return f"{task} v{int(s['task_version'].iloc[0])}: " + "; ".join(parts)


def _columns(n: int) -> int:
    """Panels per row: 4 or 3, whichever needs fewer rows, then leaves fewer panels empty."""
    return min(n, min((4, 3), key=lambda c: (math.ceil(n / c), -n % c)))


def _legend(band: str, oracle: bool) -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Line2D([], [], color="tab:blue", marker="o", ms=3.5, lw=1.5, label="the panel's method"),
               Patch(color="tab:blue", alpha=0.22, lw=0, label=band),
               Line2D([], [], **BASE, label="random (baseline)"),
               Line2D([], [], **BEST, label="best-ranked method"),
               Line2D([], [], **TEACHER, label="teacher test accuracy")]
    if oracle:
        handles.append(Line2D([], [], ms=3.5, **ORACLE, label="privileged (oracle)"))
    return handles


def _title(row: pd.Series) -> str:
    """``#1 rad``; ``oracle_correct_margin (privileged)``."""
    return _label(row["method"], True) if row["privileged"] else f"#{row['rank']:g} {row['method']}"


def accuracy_figure(lb: Leaderboard) -> object:
    """Test accuracy vs teacher queries: per task, one panel per method, mean with t-CI band."""
    def note(row: pd.Series) -> str:
        return f"AUC {row['auc_mean']:.3f}"

    return _small_multiples(lb, lb.curves, ("mean", None, None), "test accuracy",
                            f"suite {lb.suite}: test accuracy vs teacher queries (mean over seeds)", note,
                            f"{lb.level:.0%} t-CI over seeds")


def teacher_figure(lb: Leaderboard) -> object:
    """The teacher's accuracy on the points queried in each round vs cumulative queries:
    per task, one panel per method, pooled over seeds, with the Wilson score interval."""
    def note(row: pd.Series) -> str:
        return f"pooled {row['teacher_acc_queried_mean']:.3f}"

    return _small_multiples(lb, lb.teacher_curves, ("accuracy", "ci_low", "ci_high"), "teacher acc. on queried",
                            f"suite {lb.suite}: teacher accuracy on each round's queried points (pooled over seeds)",
                            note, f"{lb.level:.0%} Wilson interval")


# ----------------------------------------------------------------------------- AUC dots

def auc_figure(lb: Leaderboard) -> object:
    """Per task, mean normalized AUC (dot) with its t-CI (whiskers), best rank on top,
    privileged methods below in grey; the dashed line marks random's mean."""
    with _pyplot() as plt:
        sty = styles(lb.methods)
        n_rows = max(int((lb.summary["task"] == t).sum()) for t in lb.tasks)
        fig, axes = _grid(plt, len(lb.tasks), width=4.6, height=0.7 + 0.26 * n_rows)
        for ax, task in zip(axes, lb.tasks):
            s = lb.summary[lb.summary["task"] == task]
            y = np.arange(len(s))[::-1]
            for yi, (_, r) in zip(y, s.iterrows()):
                kw = ORACLE if r["privileged"] else sty[r["method"]]
                h = r["auc_ci95"] if r["auc_ci95"] == r["auc_ci95"] else 0.0
                ax.errorbar(r["auc_mean"], yi, xerr=h, color=kw["color"], marker=kw.get("marker") or "o",
                            mfc=kw.get("mfc", kw["color"]), ms=5, capsize=2.5, lw=1.3)
            base = s[s["method"] == BASELINE]
            if len(base):
                ax.axvline(float(base["auc_mean"].iloc[0]), **BASE, zorder=0)
            labels = [_label(m, True) if p else f"{r:g}. {m}" for m, p, r in zip(s["method"], s["privileged"], s["rank"])]
            ax.set_yticks(y, labels)
            ax.set_ylim(-0.7, len(s) - 0.3)
            ax.margins(x=0.08)
            ax.set_xlabel("normalized AUC (accuracy vs queries)")
            ax.set_title(f"{task} v{int(s['task_version'].iloc[0])}")
            ax.grid(axis="x", alpha=0.3)
        fig.suptitle(f"suite {lb.suite}: AUC, mean ± {lb.level:.0%} t-CI over seeds (dashed: random)")
        return fig


# ----------------------------------------------------------------------------- robustness

def _highlighted(lb: Leaderboard, rob: Robustness, base: str, kind: str, limit: int = 6) -> set[str]:
    """Methods drawn in colour: every one when few, else those of rad, margin and power_margin
    and the best by mean AUC over the levels, up to ``limit`` (random and oracles are always
    drawn in their own styles)."""
    g = rob.table[(rob.table["base_task"] == base) & (rob.table["kind"] == kind) & ~rob.table["privileged"]]
    g = g[g["method"] != BASELINE]
    if g["method"].nunique() <= limit:
        return set(g["method"])
    names = dict(zip(lb.summary["method"], lb.summary["method_name"]))
    focus = {m for m in g["method"] if names.get(m) in (FOCUS, *COMPARATORS)}
    by_auc = g.groupby("method")["auc_mean"].mean().reset_index().sort_values(["auc_mean", "method"],
                                                                                ascending=[False, True])
    out = set(sorted(focus)[:limit])
    for m in by_auc["method"]:
        if len(out) >= limit:
            break
        out.add(m)
    return out


def robustness_figure(lb: Leaderboard, rob: Robustness) -> object:
    """Per (base task, noise kind), AUC (mean with t-CI error bars) vs the teacher's measured
    pool error, one line per method; random black dashed, oracles grey dotted, and with many
    methods only a highlighted few in colour, the rest thin grey."""
    with _pyplot() as plt:
        sty = styles(lb.methods)
        fig, axes = _grid(plt, len(rob.groups), width=5.4, height=4.0)
        handles: dict[str, object] = {}
        for ax, (base, kind) in zip(axes, rob.groups):
            levels = rob.levels[(rob.levels["base_task"] == base) & (rob.levels["kind"] == kind)]
            xs, xlabel = rob.x_axis(base, kind)
            x_of = dict(zip(levels["task"], xs))
            top = ax.secondary_xaxis("top")
            top.set_xticks(xs, [f"{r:g}" for r in levels["rate"]])
            top.set_xlabel("nominal noise rate", fontsize=7.5)
            g = rob.table[(rob.table["base_task"] == base) & (rob.table["kind"] == kind)]
            shown = _highlighted(lb, rob, base, kind)
            for method, m in g.groupby("method", sort=True):
                m = m.assign(x=m["task"].map(x_of)).sort_values("x")
                priv = bool(m["privileged"].iloc[0])
                if priv:
                    kw, label, z = ORACLE, _label(method, True), 3
                elif method == BASELINE or method in shown:
                    kw, label, z = sty[method], method, 4
                else:
                    kw, label, z = {"color": "0.75", "lw": 0.9, "ls": "-"}, "other methods", 1
                h = np.nan_to_num(m["auc_ci95"].to_numpy(float)) if z > 1 else None
                cont = ax.errorbar(m["x"], m["auc_mean"], yerr=h, capsize=2.5, ms=4, zorder=z, **kw)
                handles.setdefault(label, cont)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("normalized AUC")
            ax.set_title(f"{base}: {kind} teacher noise")
            ax.grid(alpha=0.3)
        order = sorted(handles, key=lambda k: (k == "other methods", "(privileged)" in k, k != BASELINE, k))
        fig.suptitle(f"suite {lb.suite}: AUC vs teacher error (mean ± {lb.level:.0%} t-CI over seeds)")
        ncol = min(len(order), 3 * min(3, len(rob.groups)))
        fig.legend([handles[k] for k in order], order, loc="outside lower center", ncol=ncol, frameon=False)
        return fig


def cd_figure(lb: Leaderboard) -> object:
    """The critical-difference diagram (scikit-posthocs): each ranked method at its average
    rank over the (task, seed) blocks (1 = best, on the left), methods the Holm-corrected
    Wilcoxon post-hoc cannot separate joined by a bar; height grows with the method count."""
    import matplotlib.pyplot as plt
    import scikit_posthocs

    from benchmark.reporting.statistics import sig_matrix

    sig = lb.significance
    f = sig.friedman
    methods = sorted(f.avg_ranks)
    fig, ax = plt.subplots(figsize=(8.0, 1.4 + 0.16 * len(methods)), layout="constrained")
    artists = scikit_posthocs.critical_difference_diagram(
        pd.Series(f.avg_ranks)[methods], sig_matrix(sig.posthoc, methods), ax=ax, alpha=0.05,
        label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}",
        label_props={"fontsize": 7.5}, color_palette={m: st["color"] for m, st in styles(lb.methods).items()
                                                      if m in f.avg_ranks})
    for lines in artists.get("crossbars", []):  # drawn in set order, which varies with the hash seed
        for line in lines:
            line.set_xdata(sorted(line.get_xdata()))
    p = "< 0.001" if f.p_value < 0.001 else f"= {f.p_value:.3f}"
    ax.set_title(f"suite {lb.suite}: average rank over {f.n_blocks} (task, seed) blocks; bars join methods not "
                 f"significantly different\n(Wilcoxon signed-rank, Holm over all pairs, α = 0.05; Friedman "
                 f"χ² = {f.statistic:.1f}, p {p})", fontsize=8)
    return fig


FIGURES = {"accuracy_curves": accuracy_figure, "teacher_on_queried": teacher_figure, "auc_bars": auc_figure}


def _save(make: Callable[[], object], name: str, out: dict[str, bytes]) -> None:
    import matplotlib.pyplot as plt

    with _pyplot():
        fig = make()
        for fmt in FORMATS:
            out[f"{name}.{fmt}"] = render(fig, fmt)
        plt.close(fig)


def render_all(lb: Leaderboard, rob: Robustness | None = None) -> dict[str, bytes]:
    """``{"<figure>.<fmt>": bytes}`` for every figure and format; ``cd_diagram`` when the
    leaderboard has a Friedman test over three or more ranked methods; ``robustness`` too when
    ``rob`` is given."""
    out: dict[str, bytes] = {}
    for name, make in FIGURES.items():
        _save(lambda: make(lb), name, out)
    f = lb.significance.friedman
    if f is not None and f.n_methods >= 3:
        _save(lambda: cd_figure(lb), "cd_diagram", out)
    if rob is not None:
        _save(lambda: robustness_figure(lb, rob), "robustness", out)
    return out
