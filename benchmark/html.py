"""The static HTML leaderboard: one self-contained file that opens from the file system.

The plots are embedded as base64 PNG (the SVG files beside the page are linked), the
leaderboard table sorts when a column header is clicked (vanilla JavaScript, no network),
and a ``<details>`` element shows the provenance of every record. Nothing in the page
depends on the time it was written, so the same records give the same bytes.
"""
from __future__ import annotations

import base64
import json
from html import escape
from typing import Any, Sequence

from benchmark.leaderboard import Leaderboard, provenance_summary
from benchmark.robustness import INTRO, PAIR_HEADER, Robustness, auc_header, auc_rows, pair_rows
from benchmark.tables import (MAIN_HEADER, TEACHER_CURVE_NOTE, fmt, main_rows, rank_header, rank_rows, ranking_caption, task_caption,
                              wide_curve, wide_interval, win_matrix)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:1.5rem auto;
max-width:1280px;padding:0 1rem;color:#1b1f24;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.25rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
.caption{color:#57606a;font-size:.9rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem}
th,td{padding:.3rem .55rem;border-bottom:1px solid #e1e4e8;text-align:right;white-space:nowrap}
th{background:#f6f8fa;white-space:normal;vertical-align:bottom}
.scroll{overflow-x:auto}
td.l,th.l{text-align:left}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit}
th[aria-sort=ascending] button::after{content:" \\25B2"}th[aria-sort=descending] button::after{content:" \\25BC"}
tr.privileged td{color:#6e7781;font-style:italic}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #e1e4e8}
figcaption{font-size:.85rem;color:#57606a}
details{margin-top:2rem;background:#f6f8fa;padding:.5rem 1rem;border-radius:6px}
summary{cursor:pointer;font-weight:600}
pre{font-size:.78rem;background:#fff;padding:.5rem;border:1px solid #e1e4e8;overflow:auto;max-height:24rem}
"""

SORT_JS = """
(function () {
  function key(cell) { return cell.getAttribute("data-value"); }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
        var numeric = th.getAttribute("data-type") === "number";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var pos = new Map(rows.map(function (r, i) { return [r, i]; }));
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]), c;
          if (numeric) {
            var fx = parseFloat(x), fy = parseFloat(y), nx = isNaN(fx), ny = isNaN(fy);
            if (nx || ny) { return nx === ny ? pos.get(a) - pos.get(b) : (nx ? 1 : -1); }
            c = fx - fy;
          } else {
            c = x < y ? -1 : (x > y ? 1 : 0);
          }
          if (dir === "descending") { c = -c; }
          return c || pos.get(a) - pos.get(b);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
"""

# Per main-table column: the summary field whose raw value sorts it (None: sort by the text).
_SORT_FIELDS = ["task", "task_version", "method", "method_version", "n_seeds", "rank", "auc_mean",
                "final_accuracy_mean", "gain_auc_mean", "gain_final_accuracy_mean", "teacher_acc_queried_mean",
                "select_seconds_mean", "train_seconds_mean", "teacher_queries_mean"]
_TEXT_COLS = {"task", "method"}


def _num(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return ""
    return "" if f != f else f"{f:.6f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1, attrs: str = "") -> str:
    th = "".join(f'<th class="{"l" if i < left else ""}">{escape(h)}</th>' for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{escape(c)}</td>'
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f'<div class="scroll"><table{attrs}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


def _main_table(lb: Leaderboard) -> str:
    heads = []
    for h, f in zip(MAIN_HEADER, _SORT_FIELDS):
        kind = "text" if f in _TEXT_COLS else "number"
        cls = ' class="l"' if f in _TEXT_COLS else ""
        heads.append(f'<th data-type="{kind}" data-field="{f}"{cls}><button type="button">{escape(h)}</button></th>')
    body = []
    for (_, r), cells in zip(lb.summary.iterrows(), main_rows(lb)):
        tds = []
        for f, c in zip(_SORT_FIELDS, cells):
            value = escape(str(r[f])) if f in _TEXT_COLS else _num(r[f])
            cls = ' class="l"' if f in _TEXT_COLS else ""
            tds.append(f'<td data-value="{value}"{cls}>{escape(c)}</td>')
        priv = ' class="privileged"' if r["privileged"] else ""
        body.append(f'<tr{priv} data-task="{escape(r["task"])}" data-method="{escape(r["method"])}">'
                    + "".join(tds) + "</tr>")
    return (f'<div class="scroll"><table id="leaderboard" class="sortable"><thead><tr>{"".join(heads)}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _figure(name: str, png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure id="fig-{name}"><img src="data:image/png;base64,{data}" alt="{escape(alt)}">'
            f'<figcaption>{escape(alt)} (vector: <a href="{name}.svg">{name}.svg</a>)</figcaption></figure>')


def _counts(items: list[tuple[str, int]]) -> str:
    return "; ".join(f"{escape(v)} ({n} run{'s' if n != 1 else ''})" for v, n in items)


def _provenance(lb: Leaderboard) -> str:
    p = provenance_summary(lb.records)
    parts = ['<details id="provenance"><summary>Provenance: code, packages, device, configuration</summary>',
             "<ul>", f"<li>code (git SHA): {_counts(p['code'])}</li>", f"<li>device: {_counts(p['device'])}</li>",
             f"<li>interpreter: {_counts(p['python'])}</li>",
             f"<li>total run wall time: {fmt(p['wall_seconds'], 1)} s over {len(p['runs'])} runs</li>"]
    if lb.skipped:
        parts.append(f"<li>incomplete runs left out: {escape(', '.join(lb.skipped))}</li>")
    parts.append("</ul><h3>Package versions</h3>")
    parts.append(_table(["package", "version (runs)"], [[k, "; ".join(f"{v} ({n})" for v, n in vs)]
                                                        for k, vs in p["packages"].items()], left=2))
    parts.append("<h3>Methods</h3>")
    parts.append(_table(["label", "method", "version", "parameters"],
                        [[lbl, name, str(v), json.dumps(prm, sort_keys=True)] for lbl, name, v, prm in p["methods"]],
                        left=4))
    parts.append("<h3>Teachers</h3>")
    parts.append(_table(["task", "seed", "teacher"], [[t, str(s), json.dumps(te, sort_keys=True)]
                                                      for t, s, te in p["teachers"]], left=3))
    parts.append("<h3>Resolved task configuration</h3>")
    for task, cfgs in p["task_configs"].items():
        for cfg, seeds in cfgs:
            parts.append(f"<p>{escape(task)} (seeds {escape(', '.join(map(str, seeds)))})</p><pre>{escape(cfg)}</pre>")
    parts.append("<h3>Runs</h3>")
    parts.append(_table(["task", "method", "seed", "run id", "git SHA", "dirty", "device", "wall s"],
                        [[t, m, str(s), rid, sha, "yes" if dirty else "no", dev, fmt(w, 1)]
                         for t, m, s, rid, sha, dirty, dev, w in p["runs"]], left=7))
    parts.append("</details>")
    return "\n".join(parts)


def _robustness(lb: Leaderboard, rob: Robustness, figures: dict[str, bytes]) -> list[str]:
    intro = INTRO.format(ci=f"{lb.level:.0%}").replace("`", "")
    parts = ['<h2 id="robustness">Robustness to teacher noise</h2>', f'<p class="caption">{escape(intro)}</p>',
             _figure("robustness", figures["robustness.png"],
                     "AUC vs the teacher's measured error on the pool, per task and noise kind, mean with CI; "
                     "random black dashed, privileged oracles grey dotted")]
    for base, kind in rob.groups:
        parts += [f"<h3>{escape(base)}, {escape(kind)} noise: AUC at each level</h3>",
                  _table(auc_header(rob, base, kind), auc_rows(rob, base, kind))]
        rows = pair_rows(rob, base, kind)
        if rows:
            parts += [f"<h3>{escape(base)}, {escape(kind)} noise: paired differences</h3>",
                      _table(PAIR_HEADER, rows, left=0, attrs=' class="robustness-pairs"')]
    return parts


def render_html(lb: Leaderboard, figures: dict[str, bytes], rob: Robustness | None = None) -> str:
    """The whole page as a string; ``figures`` maps ``<name>.png`` to PNG bytes; ``rob`` adds
    the robustness section (its figure must be in ``figures``)."""
    ci = f"{lb.level:.0%}"
    n_runs = len(lb.records)
    intro = (f"{n_runs} complete runs; {len(lb.tasks)} task(s); mean ± {ci} confidence interval over seeds "
             f"(Student's t). AUC is the area under the test-accuracy-vs-teacher-queries curve divided by the "
             f"query range (in [0, 1]). Gains over random are paired by seed. Rank 1 = highest mean AUC among "
             f"non-privileged methods; privileged methods (which see hidden labels) are shown but never ranked. "
             f"Click a column header to sort.")
    head, rows = win_matrix(lb)
    sections = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>AKD-Bench leaderboard: suite {escape(lb.suite)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        f"<h1>AKD-Bench leaderboard: suite <code>{escape(lb.suite)}</code></h1>",
        f'<p class="caption">{escape(intro)}</p>',
        "<h2>Leaderboard</h2>",
        *[f'<p class="caption">{escape(task_caption(lb, t))}</p>' for t in lb.tasks],
        _main_table(lb),
        "<h2>Average rank across tasks</h2>",
        '<p class="caption">Rank by mean AUC per task (1 = best; ties share the average rank), averaged over the '
        f'tasks each method ran. {escape(ranking_caption(lb))}.</p>',
        _table(rank_header(lb), rank_rows(lb), attrs=' id="ranks"'),
        "<h2>Pairwise win rate</h2>",
        '<p class="caption">Share of (task, seed) pairs where the row method\'s AUC beats the column method\'s '
        '(ties count half); * marks p &lt; 0.05 in a two-sided paired t-test on the AUC differences. '
        f'{escape(ranking_caption(lb))}.</p>',
        _table(head, rows, attrs=' id="win-rates"'),
        "<h2>Plots</h2>",
        _figure("accuracy_curves", figures["accuracy_curves.png"],
                "Test accuracy vs teacher queries, one panel per method against random (black dashed), the "
                "best-ranked method (grey) and the teacher's test accuracy (dotted); mean with CI bands"),
        _figure("auc_bars", figures["auc_bars.png"], "Normalized AUC per method, mean with CI, sorted by rank"),
        _figure("teacher_on_queried", figures["teacher_on_queried.png"],
                "Teacher accuracy on the points queried in each round, pooled over seeds, with Wilson intervals"),
        *(_robustness(lb, rob, figures) if rob is not None else []),
    ]
    for task in lb.tasks:
        cap = escape(task_caption(lb, task))
        h, r = wide_curve(lb.curves[lb.curves["task"] == task])
        sections += [f"<h2>{escape(task)}: test accuracy at each query count</h2>", f'<p class="caption">{cap}</p>',
                     _table(h, r)]
        h, r = wide_interval(lb.teacher_curves[lb.teacher_curves["task"] == task])
        note = escape(TEACHER_CURVE_NOTE.format(ci=f"{lb.level:.0%}"))
        sections += [f"<h2>{escape(task)}: teacher accuracy on the points queried in each round</h2>",
                     f'<p class="caption">{cap}{note}</p>', _table(h, r)]
    sections += [_provenance(lb), f"<script>{SORT_JS}</script>", "</body>", "</html>", ""]
    return "\n".join(sections)
