"""Performance measurements that are scripts, not tests: ``run_benchmark.py perf quick``.

``perf calibrate`` runs a slice of a suite and extrapolates the whole suite's time.
``perf quick`` times the whole quick suite (teacher training included, on an empty cache)
plus its report, in a subprocess, and prints one JSON line.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark import paths


def perf_quick(json_path: Path | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="akd-perf-") as tmp:
        env = {**os.environ, "AKD_BENCH_CACHE": str(Path(tmp) / "cache")}
        cmd = [sys.executable, str(paths.REPO_ROOT / "run_benchmark.py"), "run", "--suite", "quick", "--report",
               "--out", str(Path(tmp) / "runs"), "--no-progress"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        return proc.returncode
    import torch

    result = {"what": "quick suite + report, empty cache", "seconds": round(seconds, 2),
              "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    print(json.dumps(result))
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def perf_calibrate(suite: str, methods: list[str], seeds: list[int], assume_methods: int | None = None,
                   json_path: Path | None = None, device: str = "cpu") -> int:
    """Run a slice of a suite (a few methods and seeds) on an empty cache and extrapolate the
    whole suite's time: setup (data, teacher, encoder cache) once per seed, plus the mean
    run time for every (method, seed). Reports wall time and this process's CPU time (on a
    busy machine CPU time / threads estimates the wall time the machine would take alone)."""
    import resource

    import torch

    from benchmark.config import load_suite
    from benchmark.runner import all_methods, build_grid, run_grid

    cfg = load_suite(suite)
    n_methods = assume_methods or len(all_methods())
    with tempfile.TemporaryDirectory(prefix="akd-calib-") as tmp:
        old = os.environ.get("AKD_BENCH_CACHE")
        os.environ["AKD_BENCH_CACHE"] = str(Path(tmp) / "cache")
        try:
            grid = build_grid(suite=suite, methods=methods, seeds=seeds)
            cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            records = run_grid(grid, Path(tmp) / "runs", device=device, progress=False)
            wall = time.perf_counter() - t0
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            if old is None:
                os.environ.pop("AKD_BENCH_CACHE", None)
            else:
                os.environ["AKD_BENCH_CACHE"] = old
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    run_wall = [r.provenance["wall_seconds"] for r in records]
    rounds = [rd for r in records for rd in r.rounds]
    setup_per_seed = (wall - sum(run_wall)) / len(seeds)
    mean_run = sum(run_wall) / len(run_wall)
    n_seeds = len(cfg.seeds)
    estimate = setup_per_seed * n_seeds + mean_run * n_methods * n_seeds
    scale = cpu / wall  # CPU seconds per wall second actually obtained
    threads = torch.get_num_threads()
    result = {
        "suite": suite, "measured": {"methods": methods, "seeds": seeds, "runs": len(records)},
        "threads": threads, "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
        "setup_seconds_per_seed": round(setup_per_seed, 1), "mean_run_seconds": round(mean_run, 1),
        "mean_round_train_seconds": round(sum(r.train_seconds for r in rounds) / len(rounds), 3),
        "mean_round_select_seconds": round(sum(r.select_seconds for r in rounds) / len(rounds), 3),
        "assumed_methods": n_methods, "suite_seeds": n_seeds,
        "estimated_suite_minutes_wall_as_measured": round(estimate / 60, 1),
        "estimated_suite_minutes_unloaded": round(estimate * min(1.0, scale / threads) / 60, 1),
        "final_accuracy": {f"{r.method_label}/seed{r.seed}": round(r.rounds[-1].test_accuracy, 4) for r in records},
        "round0_accuracy": {f"seed{r.seed}": round(r.rounds[0].test_accuracy, 4) for r in records},
        "teacher": {f"seed{r.seed}": {k: round(v, 4) for k, v in r.teacher.items() if isinstance(v, float)}
                    for r in records},
    }
    print(json.dumps(result, indent=2))
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    return 0
