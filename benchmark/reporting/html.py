"""The static HTML leaderboard: one self-contained file that opens from the file system.

The plots are embedded as base64 PNG (the SVG files beside the page are linked), the
leaderboard table sorts when a column header is clicked (vanilla JavaScript, no network),
and a ``<details>`` element shows the provenance of every record. Nothing in the page
depends on the time it was written, so the same records give the same bytes.

The page is rendered from the Jinja2 templates in ``benchmark/reporting/templates/``
(``leaderboard.html.j2``, which inlines ``leaderboard.css`` and ``leaderboard.js``); this
module only prepares the values they show.
"""
from __future__ import annotations

import base64
import html
import json
from functools import cache
from typing import Any, NamedTuple, Sequence

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_eval_context, select_autoescape
from jinja2.nodes import EvalContext
from markupsafe import Markup

from benchmark.reporting.leaderboard import Leaderboard, provenance_summary
from benchmark.reporting.robustness import (INTRO, PAIR_HEADER, Robustness, auc_header, auc_rows, family_size, mdd_note,
                                           pair_rows)
from benchmark.reporting.tables import (BEST_HEADER, BEST_NOTE, MAIN_HEADER, TEACHER_CURVE_NOTE, best_rows, fmt,
                                        friedman_note, main_rows, rank_header, rank_rows, ranking_caption, task_caption,
                                        wide_curve, wide_interval, win_matrix)

PAGE_TEMPLATE = "leaderboard.html.j2"

# Per main-table column: the summary field whose raw value sorts it (None: sort by the text).
_SORT_FIELDS = ["task", "task_version", "method", "method_version", "n_seeds", "rank", "auc_mean",
                "final_accuracy_mean", "gain_auc_mean", "gain_final_accuracy_mean", "teacher_acc_queried_mean",
                "select_seconds_mean", "train_seconds_mean", "teacher_queries_mean"]
_TEXT_COLS = {"task", "method"}


class Table(NamedTuple):
    """One table of the page: ``header`` (n strings) and ``rows`` (lists of n strings); the first
    ``left`` columns are left-aligned; ``id`` and ``cls`` are the table's id and class ("": none)."""
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    left: int = 1
    id: str = ""
    cls: str = ""


@pass_eval_context
def _escape_as_stdlib(ctx: EvalContext, value: Any) -> Any:
    """Where a template autoescapes, escape each printed value as ``html.escape`` does: quotes
    become ``&quot;`` and ``&#x27;`` (markupsafe would write ``&#34;`` and ``&#39;``, the same
    characters but other bytes than the page has always had). Markup passes unchanged; an
    undefined value raises ``jinja2.UndefinedError``."""
    if not ctx.autoescape or hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value)))


@cache
def environment() -> Environment:
    """The Jinja2 environment over the package's ``templates`` folder: ``.html``/``.html.j2``
    templates autoescape, an undefined variable raises, the final newline is kept."""
    return Environment(loader=PackageLoader("benchmark.reporting", "templates"),
                       autoescape=select_autoescape(["html", "html.j2"], default_for_string=True),
                       finalize=_escape_as_stdlib, undefined=StrictUndefined, keep_trailing_newline=True,
                       trim_blocks=True, lstrip_blocks=True)


def render_page(template: str, **context: Any) -> str:
    """Render the package template ``template`` with ``context``; raises
    ``jinja2.TemplateNotFound`` for an unknown name and ``jinja2.UndefinedError`` when the
    template uses a value that ``context`` lacks."""
    return environment().get_template(template).render(**context)


def _num(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return ""
    return "" if f != f else f"{f:.6f}"


def _main_table(lb: Leaderboard) -> dict[str, list[dict[str, Any]]]:
    """The sortable table: per column its header, field and whether it sorts as text; per row
    the task, method, privileged flag and per cell its sort value and shown text."""
    columns = [{"header": h, "field": f, "text": f in _TEXT_COLS} for h, f in zip(MAIN_HEADER, _SORT_FIELDS)]
    rows = [{"task": r["task"], "method": r["method"], "privileged": bool(r["privileged"]),
             "cells": [{"value": str(r[f]) if f in _TEXT_COLS else _num(r[f]), "shown": c, "text": f in _TEXT_COLS}
                       for f, c in zip(_SORT_FIELDS, cells)]}
            for (_, r), cells in zip(lb.summary.iterrows(), main_rows(lb))]
    return {"columns": columns, "rows": rows}


def _tasks(lb: Leaderboard) -> list[dict[str, Any]]:
    """Per task: its name, caption, test-accuracy table and teacher-on-queried table."""
    out = []
    for task in lb.tasks:
        curve = wide_curve(lb.curves[lb.curves["task"] == task])
        teacher = wide_interval(lb.teacher_curves[lb.teacher_curves["task"] == task])
        out.append({"name": task, "caption": task_caption(lb, task), "curve": Table(*curve),
                    "teacher": Table(*teacher)})
    return out


def _counts(items: list[tuple[str, int]]) -> str:
    return "; ".join(f"{v} ({n} run{'s' if n != 1 else ''})" for v, n in items)


def _provenance(lb: Leaderboard) -> dict[str, Any]:
    p = provenance_summary(lb.records)
    return {
        "code": _counts(p["code"]), "device": _counts(p["device"]), "python": _counts(p["python"]),
        "wall_seconds": fmt(p["wall_seconds"], 1), "n_runs": len(p["runs"]), "skipped": ", ".join(lb.skipped),
        "packages": Table(["package", "version (runs)"],
                          [[k, "; ".join(f"{v} ({n})" for v, n in vs)] for k, vs in p["packages"].items()], left=2),
        "methods": Table(["label", "method", "version", "parameters"],
                         [[lbl, name, str(v), json.dumps(prm, sort_keys=True)] for lbl, name, v, prm in p["methods"]],
                         left=4),
        "teachers": Table(["task", "seed", "teacher"],
                          [[t, str(s), json.dumps(te, sort_keys=True)] for t, s, te in p["teachers"]], left=3),
        "configs": [{"task": task, "seeds": ", ".join(map(str, seeds)), "text": cfg}
                    for task, cfgs in p["task_configs"].items() for cfg, seeds in cfgs],
        "runs": Table(["task", "method", "seed", "run id", "git SHA", "dirty", "device", "wall s"],
                      [[t, m, str(s), rid, sha, "yes" if dirty else "no", dev, fmt(w, 1)]
                       for t, m, s, rid, sha, dirty, dev, w in p["runs"]], left=7),
    }


def _robustness(lb: Leaderboard, rob: Robustness | None) -> dict[str, Any] | None:
    """The robustness section's intro and, per (base task, noise kind), its AUC table and its
    paired-difference table (None where there are no pairs); None without ``rob``."""
    if rob is None:
        return None
    groups = []
    for base, kind in rob.groups:
        pairs = pair_rows(rob, base, kind)
        groups.append({"base": base, "kind": kind, "auc": Table(auc_header(rob, base, kind), auc_rows(rob, base, kind)),
                       "pairs": Table(PAIR_HEADER, pairs, left=0, cls="robustness-pairs") if pairs else None,
                       "mdd": mdd_note(rob, base, kind)})
    intro = INTRO.format(ci=f"{lb.level:.0%}", m=family_size(rob.pairs)).replace("`", "")
    return {"intro": intro, "groups": groups}


def render_html(lb: Leaderboard, figures: dict[str, bytes], rob: Robustness | None = None) -> str:
    """The whole page as a string; ``figures`` maps ``<name>.png`` to PNG bytes; ``rob`` adds
    the robustness section (its figure must be in ``figures``)."""
    ci = f"{lb.level:.0%}"
    win_head, win_rows = win_matrix(lb)
    images = {name[:-len(".png")]: base64.b64encode(png).decode("ascii")
              for name, png in figures.items() if name.endswith(".png")}
    return render_page(PAGE_TEMPLATE, suite=lb.suite, n_runs=len(lb.records), n_tasks=len(lb.tasks), ci=ci,
                       tasks=_tasks(lb), **_main_table(lb), ranking_caption=ranking_caption(lb),
                       ranks=Table(rank_header(lb), rank_rows(lb), id="ranks"),
                       win_rates=Table(win_head, win_rows, id="win-rates"), images=images,
                       best=Table(BEST_HEADER, best_rows(lb), id="best-set", left=4), best_note=BEST_NOTE.replace("`", ""),
                       friedman_note=friedman_note(lb).replace("`", ""),
                       robustness=_robustness(lb, rob), teacher_note=TEACHER_CURVE_NOTE.format(ci=ci),
                       prov=_provenance(lb))
