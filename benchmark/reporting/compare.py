"""Regression check of results against reference results, per (task, method label).

For each (task, method) of the reference, over the complete runs (seeds) on each side:

- ``auc`` and ``final_accuracy`` regress when the results' mean is lower than the
  reference's by more than the tolerance (higher is reported as improved and passes);
- ``mean_gain`` (the student's margin gain of the points the method selected) and
  ``teacher_acc_queried`` (the teacher's accuracy on them), both pooled over the run, are
  the method's selection fingerprint: a change beyond the tolerance either way means the
  method no longer selects what it did, and fails.

The tolerance comes from the spread across seeds: the half-width of the Welch t-interval
on the difference of the two means at confidence ``level``, never below ``floor``
(``benchmark.reporting.metrics.welch_tolerance``), or below ``FINGERPRINT_FLOOR`` for the
fingerprint. With ``exact`` (deterministic CPU suites), every seed present on both sides
must also have selected the same pool indices and reached the same test accuracy in every
round; without it such differences are only reported.

Each side must be consistent on its own (``benchmark.reporting.leaderboard.check_consistent``): within
a task every complete run shares the rounds, queries per round and resolved task
configuration, and every seed of a method shares the method, version and parameters;
otherwise ``CompareError`` names two runs and the field. A (task, method) of the reference
that the results lack fails; a different task or method version, method, parameters,
rounds or queries per round on any seed fails as incomparable (results or reference were run with
other settings);
results with no reference are listed as new and pass. Results made by other code of the
method than the reference (the run headers' ``method_code``) get a note, and seeds of one
method made by different code a warning on stderr (``benchmark.reporting.code_drift``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from benchmark.core.defaults import DEFAULT_FLOOR, DEFAULT_LEVEL
from benchmark.core.errors import CompareError
from benchmark.reporting.code_drift import code_note, warn_mixed_code
from benchmark.reporting.leaderboard import LeaderboardError, check_consistent, run_row
from benchmark.reporting.metrics import welch_tolerance
from benchmark.core.results import RunRecord, read_run

# The fingerprint metrics are pooled over a few dozen queried points (one point moves the
# teacher's accuracy on them by 1/queries), and three seeds can agree by chance, so their
# tolerance never drops below this resolution-sized floor.
FINGERPRINT_FLOOR = 0.05

# metric -> "lower" (only a drop fails) or "both" (a change either way fails)
METRICS: dict[str, Literal["lower", "both"]] = {
    "auc": "lower", "final_accuracy": "lower", "mean_gain": "both", "teacher_acc_queried": "both"}


def load_folder(folder: Path, what: str, suite: str | None = None) -> list[RunRecord]:
    """Every run file (``seed<k>.jsonl``) under ``folder``, of one suite.

    ``folder`` may be a results root (``<suite>/<task>/<method>/seed<k>.jsonl``) or one
    suite's folder. A corrupt file raises ``ResultsError`` naming it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CompareError(f"{what} folder {str(folder)!r} does not exist; expected a folder of run files "
                           f"<task>/<method>/seed<k>.jsonl (e.g. results/runs/<suite> or results/reference/<suite>)")
    records = [read_run(p) for p in sorted(folder.rglob("seed*.jsonl"))]
    if not records:
        raise CompareError(f"{what} folder {str(folder)!r} holds no run files (<task>/<method>/seed<k>.jsonl)")
    suites = sorted({r.suite for r in records})
    if suite is not None:
        if suite not in suites:
            raise CompareError(f"{what} folder {str(folder)!r} has no records of suite {suite!r}; "
                               f"valid choices: {', '.join(suites)}")
        records = [r for r in records if r.suite == suite]
    elif len(suites) > 1:
        raise CompareError(f"{what} folder {str(folder)!r} holds records of several suites; choose one with --suite "
                           f"(valid choices: {', '.join(suites)})")
    return records


@dataclass
class Check:
    """One metric of one (task, method): both means, the difference, the tolerance, the verdict."""

    metric: str
    reference: float
    results: float
    n_reference: int
    n_results: int
    diff: float
    tol: float
    status: Literal["ok", "regression", "changed", "improved"]


@dataclass
class GroupResult:
    """The comparison of one (task, method label)."""

    task: str
    method: str
    status: Literal["ok", "regression", "missing", "incomparable", "new"]
    checks: list[Check] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status in ("regression", "missing", "incomparable")


@dataclass
class Comparison:
    """Every (task, method) compared, with the settings used."""

    groups: list[GroupResult]
    level: float
    floor: float
    exact: bool
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(g.failed for g in self.groups)


def _groups(records: list[RunRecord]) -> dict[tuple[str, str], dict[int, RunRecord]]:
    out: dict[tuple[str, str], dict[int, RunRecord]] = {}
    for r in records:
        out.setdefault((r.task, r.method_label), {})[r.seed] = r
    return out


def _identity(r: RunRecord) -> dict[str, str]:
    return {"task version": str(r.task_version), "method": r.method, "method version": str(r.method_version),
            "params": str(run_row(r)["params"]), "queries per round": str(r.queries_per_round),
            "rounds": str(r.rounds_planned)}


def _incomparable(res: dict[int, RunRecord], ref: dict[int, RunRecord]) -> list[str]:
    """Every configuration field where some seed of the results differs from some seed of the reference."""
    a, b = [_identity(r) for r in res.values()], [_identity(r) for r in ref.values()]
    out = []
    for k in a[0]:
        va, vb = sorted({x[k] for x in a}), sorted({x[k] for x in b})
        if va != vb:
            out.append(f"{k} {', '.join(va)} vs reference {', '.join(vb)}")
    return out


def _check_side(records: list[RunRecord], side: str) -> None:
    try:
        check_consistent(records)
    except LeaderboardError as e:
        raise CompareError(f"the {side} cannot be compared: {e}") from None


def _exact(res: dict[int, RunRecord], ref: dict[int, RunRecord]) -> list[str]:
    problems = []
    for seed in sorted(set(ref) - set(res)):
        problems.append(f"seed {seed}: missing from the results")
    for seed in sorted(set(ref) & set(res)):
        a, b = res[seed].rounds, ref[seed].rounds
        if len(a) != len(b):
            problems.append(f"seed {seed}: {len(a)} rounds in the results, {len(b)} in the reference")
            continue
        for ra, rb in zip(a, b):
            if ra.queried != rb.queried:
                differ = len(set(rb.queried) - set(ra.queried))
                problems.append(f"seed {seed}: round {ra.round} selected different pool indices "
                                f"({differ} of {len(rb.queried)} differ; first ones {ra.queried[:5]} vs "
                                f"reference {rb.queried[:5]})")
                break
            if ra.test_accuracy != rb.test_accuracy:
                problems.append(f"seed {seed}: round {ra.round} test accuracy {ra.test_accuracy:.4f} vs "
                                f"reference {rb.test_accuracy:.4f} with the same selections")
                break
    return problems


def _check(metric: str, res: list[float], ref: list[float], level: float, floor: float) -> Check | None:
    r = [v for v in res if np.isfinite(v)]
    f = [v for v in ref if np.isfinite(v)]
    if not r or not f:
        return None
    if METRICS[metric] == "both":
        floor = max(floor, FINGERPRINT_FLOOR)
    t = welch_tolerance(r, f, level, floor)
    if METRICS[metric] == "lower":
        status = "regression" if t.diff < -t.tol else ("improved" if t.diff > t.tol else "ok")
    else:
        status = "changed" if abs(t.diff) > t.tol else "ok"
    return Check(metric, float(np.mean(f)), float(np.mean(r)), len(f), len(r), t.diff, t.tol, status)


def compare_records(results: list[RunRecord], reference: list[RunRecord], level: float = DEFAULT_LEVEL,
                    floor: float = DEFAULT_FLOOR, exact: bool = False) -> Comparison:
    """Compare complete runs of ``results`` with those of ``reference`` per (task, method).

    Prints on stderr a warning per (task, method) of either side whose seeds were made by
    different code of the method; a (task, method) whose results were made by other code than
    its reference gets a note. Raises ``CompareError`` for a bad ``level`` or ``floor``, or a
    side whose runs mix budgets or configurations (one line naming two runs and the field that
    differs).
    """
    if not 0.0 < level < 1.0:
        raise CompareError(f"--level must be in (0, 1), got {level}")
    if floor < 0.0:
        raise CompareError(f"--floor must be >= 0, got {floor}")
    _check_side(results, "results")
    _check_side(reference, "reference")
    comp = Comparison(groups=[], level=level, floor=floor, exact=exact)
    suites = (sorted({r.suite for r in results}), sorted({r.suite for r in reference}))
    if suites[0] != suites[1]:
        raise CompareError(f"results of suite {', '.join(suites[0])} cannot be compared with a reference of suite "
                           f"{', '.join(suites[1])}; compare runs of a suite with a reference of the same suite "
                           f"(e.g. `run --suite ci` against results/reference/ci)")
    partial = sorted(f"{r.task}/{r.method_label}/seed{r.seed}" for r in results if not r.complete)
    if partial:
        comp.notes.append(f"incomplete result runs left out: {', '.join(partial)}")
    res_g = _groups([r for r in results if r.complete])
    ref_g = _groups([r for r in reference if r.complete])
    warn_mixed_code([r for g in res_g.values() for r in g.values()], "in the results")
    warn_mixed_code([r for g in ref_g.values() for r in g.values()], "in the reference")
    for key in sorted(set(ref_g) | set(res_g)):
        task, method = key
        if key not in res_g:
            comp.groups.append(GroupResult(task, method, "missing",
                                           problems=[f"in the reference (seeds {sorted(ref_g[key])}) but not in "
                                                     f"the results"]))
            continue
        if key not in ref_g:
            comp.groups.append(GroupResult(task, method, "new", notes=["not in the reference"]))
            continue
        res, ref = res_g[key], ref_g[key]
        g = GroupResult(task, method, "ok")
        note = code_note(res.values(), ref.values())
        if note is not None:
            g.notes.append(note)
        diffs = _incomparable(res, ref)
        if diffs:
            g.status = "incomparable"
            g.problems += [f"configuration differs: {d}" for d in diffs]
            comp.groups.append(g)
            continue
        if sorted(res) != sorted(ref):
            g.notes.append(f"seeds {sorted(res)} vs reference {sorted(ref)}")
        changed_ids = sorted(s for s in set(res) & set(ref) if res[s].run_id != ref[s].run_id)
        if changed_ids:
            g.notes.append(f"seeds {changed_ids}: run ids differ from the reference (task spec, data or compute "
                           f"setting changed: see provenance.compute in the run headers)")
        rows_res = [run_row(r) for r in res.values()]
        rows_ref = [run_row(r) for r in ref.values()]
        for metric in METRICS:
            c = _check(metric, [x[metric] for x in rows_res], [x[metric] for x in rows_ref], level, floor)
            if c is not None:
                g.checks.append(c)
        mismatches = _exact(res, ref)
        if exact and mismatches:
            g.problems += mismatches
        elif mismatches:
            more = f" (+{len(mismatches) - 1} more)" if len(mismatches) > 1 else ""
            g.notes.append(f"not bit-identical to the reference: {mismatches[0]}{more}")
        else:
            g.notes.append(f"bit-identical to the reference on seeds {sorted(ref)}")
        if any(c.status in ("regression", "changed") for c in g.checks) or g.problems:
            g.status = "regression"
        comp.groups.append(g)
    return comp


def format_comparison(comp: Comparison, results_label: str, reference_label: str) -> str:
    """A readable diff: one line per metric check, then the problems, then the verdict."""
    lines = [f"compare {results_label} against reference {reference_label}",
             f"tolerance: half-width of the Welch t-interval ({comp.level:.0%}) on the difference of mean over seeds, "
             f"at least {comp.floor:g} ({max(comp.floor, FINGERPRINT_FLOOR):g} for the fingerprint); auc/final_accuracy fail only when lower, mean_gain/teacher_acc_queried "
             f"(selection fingerprint) fail on a change either way" + ("; exact: selections and accuracies must match"
                                                                       if comp.exact else "")]
    lines += [f"note: {n}" for n in comp.notes]
    head = f"{'task':<16} {'method':<20} {'metric':<20} {'reference':>14} {'results':>14} {'diff':>9} {'tol':>8}  status"
    lines += ["", head, "-" * len(head)]
    for g in comp.groups:
        if not g.checks:
            lines.append(f"{g.task:<16} {g.method:<20} {'-':<20} {'':>14} {'':>14} {'':>9} {'':>8}  {g.status.upper()}")
        for c in g.checks:
            mark = c.status.upper() if c.status in ("regression", "changed") else c.status
            lines.append(f"{g.task:<16} {g.method:<20} {c.metric:<20} {f'{c.reference:.4f} (n={c.n_reference})':>14} "
                         f"{f'{c.results:.4f} (n={c.n_results})':>14} {c.diff:>+9.4f} {c.tol:>8.4f}  {mark}")
    details = [(g, p, "FAIL") for g in comp.groups for p in g.problems] + \
              [(g, n, "note") for g in comp.groups for n in g.notes]
    if details:
        lines.append("")
        lines += [f"{kind}: {g.task}/{g.method}: {text}" for g, text, kind in details]
    failed = [g for g in comp.groups if g.failed]
    lines.append("")
    if failed:
        lines.append(f"compare: FAILED: {len(failed)} of {len(comp.groups)} (task, method) pairs: "
                     + ", ".join(f"{g.task}/{g.method} ({g.status})" for g in failed))
        if any(g.status == "incomparable" for g in failed):
            lines.append("hint: results and reference were run with different settings (the FAIL lines name "
                         "them): rerun the results with the reference's settings, or, if the change is meant, "
                         "regenerate the reference (python run_benchmark.py reproduce --suite NAME "
                         "--update-reference)")
        if comp.exact and any(p for g in failed for p in g.problems if "round" in p):
            lines.append("hint: exact selections differ; records are identical across CPUs only between runs in "
                         "the portable numerics mode with the same package versions (run headers: "
                         "provenance.compute.numerics, provenance.packages); for runs in the fast mode or with other "
                         "versions, rerun without --exact to apply the statistical check alone")
    else:
        n = sum(len(g.checks) for g in comp.groups)
        lines.append(f"compare: PASSED: {len(comp.groups)} (task, method) pairs, {n} checks")
    return "\n".join(lines)
