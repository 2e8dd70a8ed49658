"""How much the Ray executor speeds up a suite, and what it costs per run:

    python scripts/bench_ray.py [--suite quick] [--overhead-runs 12] [--json FILE]

1. **Speed-up.** The suite through the command line with the local executor, with
   ``--executor ray`` (which starts a local Ray instance on all of the machine's cores: one run
   per core, one torch thread per run, as locally; its time includes starting and stopping
   Ray), and with ``--executor ray --address`` joining a Ray instance this script keeps
   running (the cluster case), interleaved, each from an empty cache (teachers included)
   into an empty folder. All must give the same records (timings aside); the script checks it.
2. **Speed-up of the runs alone.** The same grid in this process with the teachers and data
   cached and Ray already started with warm workers: what the executor gives once its one-time
   costs are paid (a cluster that stays up, a long suite).
3. **Per-run overhead.** A grid of ``--overhead-runs`` tiny runs (digits_ci, 1 round, random,
   one seed each) with warm caches, local and then on a Ray instance with ONE CPU (so runs go
   one at a time, as locally, on a warm worker): (ray - local) / runs is what the executor
   adds per run (task dispatch, its teacher task, streaming the rounds, writing the files).
   The one-time costs (starting Ray, the first worker process) are reported apart.

The machine's load average is printed with the figures, and, before and after, the speed-up
the machine itself gives two processes at that moment (a fixed torch loop run twice in a row
vs in two processes at once, without Ray): on a machine shared with other jobs that is the
ceiling of any executor's speed-up.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _comparable(path: Path) -> dict[str, Any]:
    """Every run file under ``path`` without durations, start time and commit."""
    from benchmark.core.results import iter_run_files, read_run

    out = {}
    for p in iter_run_files(path):
        d = dataclasses.asdict(read_run(p))
        for r in d["rounds"]:
            r.pop("select_seconds"), r.pop("train_seconds")
        for k in ("wall_seconds", "started_at", "git_sha", "git_dirty"):
            d["provenance"].pop(k, None)
        if d["summary"]:
            d["summary"].pop("wall_seconds")
        out[str(p.relative_to(path))] = d
    return out


def _cli_run(suite: str, out: Path, cache: Path, extra: list[str]) -> float:
    """Seconds of one `run --suite` through the command line, in a fresh process."""
    env = {**os.environ, "AKD_BENCH_CACHE": str(cache), "AKD_BENCH_THREADS": "1", "TQDM_DISABLE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "run_benchmark.py"), "run", "--suite", suite, "--out",
                           str(out), "--no-progress", *extra], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"run {' '.join(extra) or '(local)'} failed:\n{proc.stderr[-3000:]}")
    return seconds


_BUSY = ("import time, torch\ntorch.set_num_threads(1)\na = torch.randn(256, 256)\nt = time.perf_counter()\n"
         "for _ in range(3000):\n    a = torch.tanh(a @ a * 0.01)\n")


def ceiling() -> dict[str, Any]:
    """What this machine gives two processes now: a fixed one-thread torch loop twice one after
    the other vs in two processes at once (no Ray); the speed-up no executor can beat."""
    cmd = [sys.executable, "-c", _BUSY]
    t0 = time.perf_counter()
    for _ in range(2):
        subprocess.run(cmd, check=True)
    serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd) for _ in range(2)]
    for proc in procs:
        proc.wait()
    parallel = time.perf_counter() - t0
    return {"serial_s": round(serial, 2), "parallel_s": round(parallel, 2), "speedup": round(serial / parallel, 2),
            "load": round(os.getloadavg()[0], 1)}


def speedup(suite: str, tmp: Path, repeats: int) -> dict[str, Any]:
    """The suite local, on Ray started by the command, and on an already running Ray instance
    (all cores, joined with --address), interleaved ``repeats`` times; empty caches each time."""
    import ray

    ray.init(address="local", include_dashboard=False, logging_level=logging.ERROR)  # the running instance
    address = ray.get_runtime_context().gcs_address
    modes = {"local": [], "ray": ["--executor", "ray"], "ray_running": ["--executor", "ray", "--address", address]}
    times: dict[str, list[float]] = {m: [] for m in modes}
    try:
        for i in range(repeats):
            for mode, extra in modes.items():
                times[mode].append(_cli_run(suite, tmp / f"{mode}{i}", tmp / f"cache-{mode}{i}", extra))
    finally:
        ray.shutdown()
    reference = _comparable(tmp / "local0")
    same = all(_comparable(tmp / f"{m}{i}") == reference for m in modes for i in range(repeats))
    best = {m: min(t) for m, t in times.items()}
    return {"suite": suite, "runs": len(reference), "seconds": {m: [round(x, 1) for x in t] for m, t in times.items()},
            "speedup_ray_started_by_run": round(best["local"] / best["ray"], 2),
            "speedup_ray_running": round(best["local"] / best["ray_running"], 2), "same_records": same}


def warm_speedup(suite: str, tmp: Path, repeats: int) -> dict[str, Any]:
    """The suite's runs alone: teachers and data cached, Ray started and its workers warm
    (all cores), local and Ray interleaved ``repeats`` times, in this process."""
    import ray

    from benchmark.run.runner import build_grid, run_grid

    os.environ["AKD_BENCH_CACHE"] = str(tmp / "cache-warm")
    os.environ["AKD_BENCH_THREADS"] = "1"
    grid = build_grid(suite=suite)
    run_grid(grid, tmp / "warm-cache", device="cpu", progress=False)  # caches the teachers and data
    ray.init(address="local", include_dashboard=False, logging_level=logging.ERROR)
    times: dict[str, list[float]] = {"local": [], "ray": []}
    try:
        run_grid(build_grid(suite=suite, methods=["random"], rounds=1), tmp / "warm-workers", device="cpu",
                 progress=False, executor="ray")  # starts the workers
        for i in range(repeats):
            for mode in times:
                t0 = time.perf_counter()
                run_grid(grid, tmp / f"warm-{mode}{i}", device="cpu", progress=False, executor=mode)
                times[mode].append(time.perf_counter() - t0)
    finally:
        ray.shutdown()
    best = {m: min(t) for m, t in times.items()}
    return {"suite": suite, "seconds": {m: [round(x, 1) for x in t] for m, t in times.items()},
            "speedup": round(best["local"] / best["ray"], 2)}


def overhead(n_runs: int, tmp: Path) -> dict[str, Any]:
    """(ray on one CPU - local) / runs on a grid of tiny runs with warm caches and a warm worker."""
    import ray

    from benchmark.run.runner import build_grid, run_grid

    os.environ["AKD_BENCH_CACHE"] = str(tmp / "cache-overhead")
    os.environ["AKD_BENCH_THREADS"] = "1"
    grid = build_grid(tasks=["digits_ci"], methods=["random"], seeds=list(range(n_runs)), rounds=1)
    run_grid(grid, tmp / "warm", device="cpu", progress=False)  # teachers and data cached
    t0 = time.perf_counter()
    ray.init(address="local", num_cpus=1, include_dashboard=False, logging_level=logging.ERROR)
    start_s = time.perf_counter() - t0
    try:
        warm = build_grid(tasks=["digits_ci"], methods=["margin"], seeds=[0], rounds=1)
        t0 = time.perf_counter()
        run_grid(warm, tmp / "warm-ray", device="cpu", progress=False, executor="ray")  # starts the worker
        first_s = time.perf_counter() - t0
        times = {}
        for name in ("local", "ray", "local2", "ray2"):  # interleaved, twice
            t0 = time.perf_counter()
            run_grid(grid, tmp / name, device="cpu", progress=False, fresh=True,
                     executor="ray" if name.startswith("ray") else "local")
            times[name] = time.perf_counter() - t0
    finally:
        ray.shutdown()
    local_s, ray_s = min(times["local"], times["local2"]), min(times["ray"], times["ray2"])
    return {"runs": n_runs, "local_s": round(local_s, 2), "ray_s": round(ray_s, 2),
            "overhead_per_run_s": round((ray_s - local_s) / n_runs, 3), "ray_start_s": round(start_s, 1),
            "first_grid_with_worker_start_s": round(first_s, 1),
            "all_s": {k: round(v, 2) for k, v in times.items()}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", default="quick", help="suite of the speed-up measurement (default: %(default)s)")
    p.add_argument("--overhead-runs", type=int, default=12, help="tiny runs of the overhead grid (default: 12)")
    p.add_argument("--repeats", type=int, default=1, help="interleaved repeats of the speed-up measurement; the "
                                                          "fastest of each counts (default: 1)")
    p.add_argument("--skip-speedup", action="store_true", help="measure the per-run overhead only")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    figures: dict[str, Any] = {"machine": f"{os.cpu_count()} cores", "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="akd-bench-ray-") as d:
        tmp = Path(d)
        if not args.skip_speedup:
            figures["ceiling_before"] = ceiling()
            print(json.dumps({"ceiling": figures["ceiling_before"]}), flush=True)
            figures["speedup"] = speedup(args.suite, tmp, args.repeats)
            print(json.dumps({"speedup": figures["speedup"]}), flush=True)
            figures["warm_speedup"] = warm_speedup(args.suite, tmp, args.repeats)
            print(json.dumps({"warm_speedup": figures["warm_speedup"]}), flush=True)
            figures["ceiling_after"] = ceiling()
            print(json.dumps({"ceiling": figures["ceiling_after"]}), flush=True)
        figures["overhead"] = overhead(args.overhead_runs, tmp)
        print(json.dumps({"overhead": figures["overhead"]}), flush=True)
    figures["load_after"] = os.getloadavg()
    print(json.dumps({"load": [figures["load_before"], figures["load_after"]]}))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
