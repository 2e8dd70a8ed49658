"""Write one suite's leaderboard from stored run records; ``report`` never trains.

Files written to the output folder (see ``benchmark.core.paths.leaderboard_dir`` for where):

- ``leaderboard.csv``: one row per (task, method): versions, seeds, rank, mean and 95% CI
  half-width of AUC, final accuracy, paired gains over random, teacher accuracy on the
  queried points, select/train seconds and teacher queries;
- ``runs.csv`` (the per-seed values behind it), ``curves.csv`` (accuracy at each query
  count), ``teacher_on_queried.csv`` (per round), ``ranks.csv``, ``win_rates.csv``;
- ``pairwise.csv`` (per task, every pair: paired t and Wilcoxon, Holm over the task's pairs),
  ``best_set.csv`` (per task: the best set and the minimum detectable difference),
  ``posthoc.csv`` (across (task, seed) blocks: Wilcoxon-Holm), see
  ``benchmark.reporting.significance``;
- ``leaderboard.md`` and ``leaderboard.tex``: every table with versions and seed counts;
- ``accuracy_curves``, ``teacher_on_queried``, ``auc_bars`` as ``.png`` and ``.svg``, and
  ``cd_diagram`` (the critical-difference diagram) when there are two blocks and three ranked methods;
- ``index.html``: the self-contained sortable page with the plots and the provenance;
- only when some task ran at two or more teacher-noise levels (``benchmark.reporting.robustness``):
  ``robustness.csv``, ``robustness_pairs.csv`` and ``robustness`` as ``.png`` and ``.svg``,
  with their tables in ``leaderboard.md`` and ``index.html``.

The same records always give byte-identical files.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from benchmark.reporting.code_drift import warn_mixed_code
from benchmark.reporting.html import render_html
from benchmark.reporting.leaderboard import Leaderboard, build_leaderboard, provenance_summary
from benchmark.reporting.plots import render_all
from benchmark.core.atomic import atomic_write, sweep_stale_tmp
from benchmark.core.results import RunRecord, run_path
from benchmark.reporting.robustness import Robustness, build_robustness, markdown_section
from benchmark.reporting.tables import (BEST_ALIGN, BEST_HEADER, BEST_NOTE, MAIN_ALIGN, MAIN_HEADER, TEACHER_CURVE_NOTE,
                                        best_rows, friedman_note, latex, main_rows, markdown, rank_header, rank_rows,
                                        ranking_caption, task_caption, wide_curve, wide_interval, win_matrix)

CSV_FLOAT = "%.6f"
NAMED_UNFINISHED = 3  # unfinished run files named in the warning; the rest are counted


def _intro(lb: Leaderboard) -> str:
    return (f"{len(lb.records)} complete runs; mean ± {lb.level:.0%} CI over seeds (Student's t). AUC: area under "
            f"test accuracy vs teacher queries divided by the query range. Gains over random are paired by seed. "
            f"Rank 1 = highest mean AUC among non-privileged methods; privileged methods are never ranked.")


def markdown_document(lb: Leaderboard, rob: Robustness | None = None) -> str:
    """Every table of the leaderboard as one Markdown document (with the robustness section
    when ``rob`` is given)."""
    head, rows = win_matrix(lb)
    captions = "\n\n".join(task_caption(lb, t) for t in lb.tasks)
    parts = [f"# AKD-Bench leaderboard: suite `{lb.suite}`", _intro(lb),
             "## Leaderboard", captions, markdown(MAIN_HEADER, main_rows(lb), MAIN_ALIGN),
             "## Best methods and what the seeds can resolve", BEST_NOTE, markdown(BEST_HEADER, best_rows(lb), BEST_ALIGN),
             "## Average rank across tasks",
             "Rank by mean AUC per task (1 = best; ties share the average rank), averaged over the distinct tasks "
             f"each method ran (a noise-free level shared by several noise kinds counts once). {ranking_caption(lb)}.",
             markdown(rank_header(lb), rank_rows(lb), "l" + "r" * (len(rank_header(lb)) - 1)),
             "## Critical-difference diagram and pairwise win rate (row beats column)", friedman_note(lb),
             "Win rate: share of (distinct task, seed) pairs where the row's AUC is higher (ties count half); `*`: "
             f"Holm-corrected Wilcoxon signed-rank p < 0.05 (the post-hoc above). {ranking_caption(lb)}.",
             markdown(head, rows, "l" + "r" * (len(head) - 1))]
    for task in lb.tasks:
        cap = task_caption(lb, task)
        h, r = wide_curve(lb.curves[lb.curves["task"] == task])
        parts += [f"## {task}: test accuracy vs teacher queries", cap, markdown(h, r)]
        h, r = wide_interval(lb.teacher_curves[lb.teacher_curves["task"] == task])
        parts += [f"## {task}: teacher accuracy on the points queried in each round",
                  cap + TEACHER_CURVE_NOTE.format(ci=f"{lb.level:.0%}"), markdown(h, r)]
    if rob is not None:
        parts += markdown_section(rob, lb.level)
    p = provenance_summary(lb.records)
    pk = ", ".join(f"{k} {'/'.join(v for v, _ in vs)}" for k, vs in p["packages"].items())
    prov = [f"- code (git SHA): {'; '.join(f'{v} ({n} runs)' for v, n in p['code'])}",
            f"- device: {'; '.join(f'{v} ({n} runs)' for v, n in p['device'])}",
            f"- packages: {pk}"]
    if lb.skipped:
        prov.append(f"- incomplete runs left out: {', '.join(lb.skipped)}")
    parts += ["## Provenance", "\n".join(prov)]
    return "\n\n".join(parts) + "\n"


def latex_document(lb: Leaderboard) -> str:
    """The leaderboard, average ranks, win rates and accuracy curves as booktabs tables."""
    caps = " ".join(task_caption(lb, t) + "." for t in lb.tasks)
    head, rows = win_matrix(lb)
    rc = ranking_caption(lb)
    tables = [latex(MAIN_HEADER, main_rows(lb), f"AKD-Bench suite {lb.suite}: leaderboard. {caps}",
                    f"tab:{lb.suite}-leaderboard", MAIN_ALIGN, fit=True),
              latex(rank_header(lb), rank_rows(lb), f"Suite {lb.suite}: rank by mean AUC per task and average rank; "
                                                    f"{rc}.", f"tab:{lb.suite}-ranks",
                    "l" + "r" * (len(rank_header(lb)) - 1)),
              latex(head, rows, f"Suite {lb.suite}: pairwise win rate over (task, seed) AUC pairs, row beats column; "
                                f"* Holm-corrected Wilcoxon signed-rank p < 0.05; {rc}.", f"tab:{lb.suite}-win-rates",
                    "l" + "r" * (len(head) - 1))]
    for task in lb.tasks:
        h, r = wide_curve(lb.curves[lb.curves["task"] == task])
        tables.append(latex(h, r, f"Suite {lb.suite}: test accuracy vs teacher queries; {task_caption(lb, task)}.",
                            f"tab:{lb.suite}-{task}-accuracy"))
    header = "% Generated by AKD-Bench from stored run records; needs \\usepackage{booktabs,graphicx}.\n"
    return header + "\n\n".join(tables) + "\n"


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, float_format=CSV_FLOAT, lineterminator="\n").encode()


def render_report(lb: Leaderboard) -> dict[str, bytes]:
    """``{file name: bytes}`` of every output file."""
    rob = build_robustness(lb)
    figures = render_all(lb, rob)
    files = {
        "leaderboard.csv": _csv(lb.summary), "runs.csv": _csv(lb.runs), "curves.csv": _csv(lb.curves),
        "teacher_on_queried.csv": _csv(lb.teacher_curves), "ranks.csv": _csv(lb.ranks),
        "win_rates.csv": _csv(lb.win_rates), "pairwise.csv": _csv(lb.significance.pairwise),
        "best_set.csv": _csv(lb.significance.best), "posthoc.csv": _csv(lb.significance.posthoc),
        "leaderboard.md": markdown_document(lb, rob).encode(),
        "leaderboard.tex": latex_document(lb).encode(), **figures,
        "index.html": render_html(lb, figures, rob).encode(),
    }
    if rob is not None:
        files.update({"robustness.csv": _csv(rob.table), "robustness_pairs.csv": _csv(rob.pairs)})
    return dict(sorted(files.items()))


def unfinished_warning(records: list[RunRecord]) -> str | None:
    """The ``warning: ...`` line naming the unfinished runs among ``records`` that the report
    leaves out (their run files, relative to the results folder; the first few, then a count),
    or None when every run is finished."""
    files = sorted(str(run_path(Path(), r.suite, r.task, r.method_label, r.seed)) for r in records if not r.complete)
    if not files:
        return None
    named = ", ".join(files[:NAMED_UNFINISHED]) + (f" and {len(files) - NAMED_UNFINISHED} more"
                                                    if len(files) > NAMED_UNFINISHED else "")
    return (f"warning: {len(files)} unfinished run file{'s' if len(files) > 1 else ''} left out of the report: "
            f"{named}; run the suite again to finish {'them' if len(files) > 1 else 'it'}")


def write_report(records: list[RunRecord], out_dir: Path, echo: bool = True, level: float = 0.95) -> list[Path]:
    """Write every output file for one suite's records to ``out_dir``; print the main tables, and
    on stderr a warning per (task, method) whose seeds were made by different code of the method.
    Unfinished runs are left out with one warning line on stderr (``unfinished_warning``);
    temporary files that killed writers left in ``out_dir`` are removed."""
    lb = build_leaderboard(records, level=level)
    warn_mixed_code(lb.records)
    note = unfinished_warning(records)
    if note:
        print(note, file=sys.stderr)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale_tmp(out_dir, recursive=False)  # what writers killed mid-file left behind
    written = []
    for name, data in render_report(lb).items():
        written.append(atomic_write(out_dir / name, lambda tmp, data=data: tmp.write_bytes(data)))
    if echo:
        print(f"## suite {lb.suite}: leaderboard\n")
        print("\n".join(task_caption(lb, t) for t in lb.tasks) + "\n")
        print(markdown(MAIN_HEADER, main_rows(lb), MAIN_ALIGN))
        for task in lb.tasks:
            h, r = wide_curve(lb.curves[lb.curves["task"] == task])
            print(f"\n## {task}: test accuracy vs teacher queries\n\n{task_caption(lb, task)}\n\n{markdown(h, r)}")
        print(f"\nwrote {len(written)} files to {out_dir} (open {out_dir / 'index.html'})")
    return written
