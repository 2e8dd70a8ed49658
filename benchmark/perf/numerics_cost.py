"""``run_benchmark.py perf numerics``: what the portable numerics mode costs, as a ratio.

Runs one suite (or a slice of it: ``--seeds``, ``--methods``) once per numerics mode and
repeat, in subprocesses on empty private caches (teacher training included), the modes
interleaved (portable, fast, portable, fast, ...) so that a change of background load hits
both alike. Prints one JSON line per run and a last line with the median seconds per mode
and ``ratio`` = portable / fast: the slowdown the portable mode's pinned code paths cost on
this machine.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from statistics import median
from typing import Callable, Sequence

from benchmark.perf.measure import time_cli

MODES = ("portable", "fast")


def time_suite(suite: str, mode: str, extra: Sequence[str] = ()) -> float:
    """Seconds of one ``run --suite suite --numerics mode`` in a subprocess on an empty
    private cache (``benchmark.perf.measure.time_cli``). Raises RuntimeError with the run's
    stderr if it fails."""
    return time_cli(["run", "--suite", suite, "--numerics", mode, *extra])


def perf_numerics(suite: str = "quick", repeats: int = 1, extra: Sequence[str] = (), json_path: Path | None = None,
                  timer: Callable[[str, str, Sequence[str]], float] | None = None) -> int:
    """Time ``suite`` in both numerics modes, ``repeats`` times, interleaved; print one JSON
    line per run and a summary with ``ratio`` (median portable / median fast seconds).
    ``extra``: further ``run`` arguments (e.g. ``--seeds 0``). Returns 0, or 1 when a run
    fails (its stderr is printed)."""
    timer = timer or time_suite
    rows = []
    for rep in range(repeats):
        for mode in MODES:
            try:
                seconds = timer(suite, mode, extra)
            except RuntimeError as e:
                sys.stderr.write(str(e))
                return 1
            rows.append({"suite": suite, "numerics": mode, "seconds": round(seconds, 2), "repeat": rep,
                         "args": list(extra)})
            print(json.dumps(rows[-1]), flush=True)
    med = {m: round(median(r["seconds"] for r in rows if r["numerics"] == m), 2) for m in MODES}
    summary = {"suite": suite, "median_seconds": med, "ratio": round(med["portable"] / med["fast"], 3),
               "repeats": repeats, "cpu_count": os.cpu_count()}
    print(json.dumps(summary), flush=True)
    if json_path is not None:
        json_path.write_text(json.dumps({"runs": rows, "summary": summary}, indent=2) + "\n")
    return 0
