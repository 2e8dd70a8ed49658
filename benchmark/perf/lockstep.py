"""``run_benchmark.py perf lockstep``: the lockstep executor against one run at a time.

Runs one suite (or a slice: ``--seeds``, ``--methods``) twice in this process, once with the
local executor (one run after the other) and once with ``--executor lockstep``, at the same
thread setting, into two empty folders. The teachers are trained first, into a private cache
both share, so neither side pays for them; the order of the two sides alternates between
repeats. Prints one JSON line per timed run and a last line with the median seconds of
each side, ``speedup`` = local / lockstep and ``records_equal``: whether every run file of
one side equals the other's in everything but the wall-clock fields (run id, selections,
every score and diagnostic of every round).
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any, Sequence

from benchmark.core.results import RunRecord, load_records

EXECUTORS = ("local", "lockstep")
# fields that time the computation rather than describe its result
CLOCK_FIELDS = frozenset({"select_seconds", "train_seconds"})
CLOCK_PROVENANCE = frozenset({"wall_seconds", "started_at"})


def comparable(record: RunRecord) -> dict[str, Any]:
    """``record`` as a dict without its wall-clock fields (per round and in the provenance)."""
    d = dataclasses.asdict(record)
    d["rounds"] = [{k: v for k, v in r.items() if k not in CLOCK_FIELDS} for r in d["rounds"]]
    d["provenance"] = {k: v for k, v in d["provenance"].items() if k not in CLOCK_PROVENANCE}
    if d["summary"] is not None:
        d["summary"] = {k: v for k, v in d["summary"].items() if k != "wall_seconds"}
    return d


def records_equal(a: list[RunRecord], b: list[RunRecord]) -> tuple[bool, str]:
    """Whether two sets of records hold the same runs with the same results (``comparable``);
    with the first difference found, in words ("" when equal)."""
    def key(r: RunRecord) -> tuple[str, str, int]:
        return r.task, r.method_label, r.seed

    ka, kb = {key(r): r for r in a}, {key(r): r for r in b}
    if set(ka) != set(kb):
        return False, f"different runs: {sorted(set(ka) ^ set(kb))[:3]}"
    for k in sorted(ka):
        da, db = comparable(ka[k]), comparable(kb[k])
        if da != db:
            field = next(f for f in da if da[f] != db.get(f))
            if field == "rounds":
                r = next(i for i, (x, y) in enumerate(zip(da["rounds"], db["rounds"])) if x != y)
                field = f"round {r}: " + next(f for f in da["rounds"][r] if da["rounds"][r][f] != db["rounds"][r][f])
            return False, f"{k[0]}/{k[1]}/seed {k[2]} differs in {field}"
    return True, ""


def _warm_teachers(grid, device) -> None:
    """Train (or load) the teacher of every (task, seed) of ``grid`` into the cache."""
    from benchmark.run.loop import _plan_run
    from benchmark.run.teacher import get_teacher

    seen = set()
    for spec in grid.runs:
        if (spec.task.label, spec.seed) not in seen:
            seen.add((spec.task.label, spec.seed))
            plan = _plan_run(spec, device)
            get_teacher(spec.task, plan.data, plan.splits, spec.seed, device)


def perf_lockstep(suite: str, seeds: Sequence[int] | None = None, methods: Sequence[str] | None = None,
                  repeats: int = 1, cohort_size: int | None = None, json_path: Path | None = None,
                  progress: bool = True) -> int:
    """Time ``suite`` with both executors ``repeats`` times (module note); print one JSON line
    per timed run and the summary line. Returns 0; raises what ``run_grid`` raises."""
    from benchmark.core.compute import resolve_threads, run_threads
    from benchmark.run.runner import build_grid, run_grid
    from benchmark.run.train import resolve_device

    grid = build_grid(suite=suite, seeds=seeds, methods=methods)
    threads = resolve_threads()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="akd-lockstep-") as tmp:
        os.environ["AKD_BENCH_CACHE"] = str(Path(tmp) / "cache")
        with run_threads(threads):
            _warm_teachers(grid, resolve_device("cpu"))
        stored = {}
        for rep in range(repeats):
            for executor in (EXECUTORS if rep % 2 == 0 else EXECUTORS[::-1]):
                out = Path(tmp) / f"{executor}-{rep}"
                t0 = time.perf_counter()
                run_grid(grid, out, device="cpu", progress=progress, threads=threads, executor=executor,
                         cohort_size=cohort_size if executor == "lockstep" else None)
                seconds = time.perf_counter() - t0
                stored[executor] = load_records(out, grid.suite)
                rows.append({"suite": suite, "executor": executor, "seconds": round(seconds, 2), "repeat": rep,
                             "runs": len(grid.runs)})
                print(json.dumps(rows[-1]), flush=True)
        equal, why = records_equal(stored["local"], stored["lockstep"])
    med = {e: median(r["seconds"] for r in rows if r["executor"] == e) for e in EXECUTORS}
    summary = {"suite": suite, "runs": len(grid.runs), "seeds": sorted({s.seed for s in grid.runs}),
               "threads": threads, "cohort_size": cohort_size, "local_seconds": round(med["local"], 2),
               "lockstep_seconds": round(med["lockstep"], 2), "speedup": round(med["local"] / med["lockstep"], 2),
               "records_equal": equal, "repeats": repeats, "cpu_count": os.cpu_count()}
    if not equal:
        summary["first_difference"] = why
        print(f"warning: the two executors' records differ: {why}", file=sys.stderr)
    print(json.dumps(summary), flush=True)
    if json_path is not None:
        json_path.write_text(json.dumps({"runs": rows, "summary": summary}, indent=2) + "\n")
    return 0
