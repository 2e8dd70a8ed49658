"""Performance measurements that are scripts, not tests: ``run_benchmark.py perf quick|select|calibrate``
(``perf targets`` is in ``benchmark.perf.targets``, ``perf train`` in ``benchmark.perf.training``).

``perf calibrate`` runs a slice of a suite and extrapolates the whole suite's time.
``perf quick`` times the whole quick suite (teacher training included, on an empty cache)
plus its report, in a subprocess, and prints one JSON line per run. ``--threads 1,2,default``
times several thread settings in one invocation, interleaved and ``--repeats`` times, and
adds a summary line (median seconds per setting, the fastest); ``--load N`` runs N busy-loop
processes beside it, to measure the settings on a machine shared with other jobs.

``perf select`` times one selection of a registered method on a synthetic ``PoolState``
(Gaussian features, softmax probabilities of Gaussian logits; only the fields the method
requires are built, before the clock starts) and prints one JSON line with ``seconds`` and
``peak_mb``. ``peak_mb`` is the extra resident memory of the process during the selection:
the peak of the resident set size (sampled every millisecond from ``/proc/self/statm`` by a
background thread) minus its value just before. Resident-set sampling sees every
allocation, numpy's, torch's and BLAS's alike, which ``tracemalloc`` does not (it misses
torch's allocator and slows Python allocation); it can miss a peak shorter than the
sampling interval, which large buffers do not have. Freed heap memory is returned to the
system (``malloc_trim``) before the baseline is read. On CUDA, ``peak_gpu_mb`` is torch's
peak allocated device memory during the selection.
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np



QUICK = "quick suite + report, empty cache"


@contextlib.contextmanager
def busy_loops(n: int) -> Iterator[list[subprocess.Popen]]:
    """Background CPU load: ``n`` Python processes spinning in ``while True: pass`` for the
    duration of the block, killed (by their own process handles) when it ends."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
             for _ in range(n)]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def time_cli(args: list[str]) -> float:
    """Seconds of one ``python -m benchmark <args> --out <tmp> --no-progress`` in a subprocess
    on an empty private cache. Raises RuntimeError with the command's stderr if it fails."""
    with tempfile.TemporaryDirectory(prefix="akd-perf-") as tmp:
        env = {**os.environ, "AKD_BENCH_CACHE": str(Path(tmp) / "cache"), "TQDM_DISABLE": "1"}
        cmd = [sys.executable, "-m", "benchmark", *args, "--out", str(Path(tmp) / "runs"), "--no-progress"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return seconds


def time_quick(threads: int | None) -> float:
    """Seconds of one ``run --suite quick --report`` (``time_cli``) with ``--threads threads``
    (None: run's default). Raises RuntimeError with the run's stderr if it fails."""
    return time_cli(["run", "--suite", "quick", "--report", *(["--threads", str(threads)] if threads else [])])


def perf_quick(json_path: Path | None = None, threads: list[int | None] | None = None, load: int = 0,
               repeats: int = 1, timer: Callable[[int | None], float] | None = None) -> int:
    """``run_benchmark.py perf quick``: time the quick suite once per thread setting in
    ``threads`` (None: run's default) and repeat, settings interleaved (a, b, a, b, ...) so
    that a change of background load hits every setting alike; ``load`` busy-loop processes
    run beside it the whole time. Prints one JSON line per run (seconds, threads, load) and,
    when there are several, a summary line with the median seconds per setting and the
    fastest. ``timer(threads) -> seconds`` times one run (default: ``time_quick``). Returns 0,
    or 1 when a run fails (its stderr is printed)."""
    from benchmark.core.compute import resolve_threads

    timer = timer or time_quick
    settings = threads or [None]
    rows = []
    with busy_loops(load):
        for rep in range(repeats):
            for t in settings:
                try:
                    seconds = timer(t)
                except RuntimeError as e:
                    sys.stderr.write(str(e))
                    return 1
                rows.append({"what": QUICK, "seconds": round(seconds, 2), "threads": t or resolve_threads(),
                             "threads_setting": "default" if t is None else t, "load": load, "repeat": rep,
                             "cpu_count": os.cpu_count()})
                print(json.dumps(rows[-1]), flush=True)
    out: dict[str, Any] = {"runs": rows}
    if len(rows) > 1:
        medians = {str(r["threads_setting"]): float(np.median([x["seconds"] for x in rows
                                                                if x["threads_setting"] == r["threads_setting"]]))
                   for r in rows}
        out["summary"] = {"what": "median seconds per thread setting", "median_seconds": medians,
                          "fastest": min(medians, key=medians.get), "load": load, "repeats": repeats}
        print(json.dumps(out["summary"]))
    if json_path is not None:
        json_path.write_text(json.dumps(out, indent=2) + "\n")
    return 0


def timed(fn: Callable[[], Any], repeats: int = 1) -> Callable[[], float]:
    """``fn`` wrapped to run ``repeats`` times and return the mean wall time of one call, in
    seconds, instead of its result."""

    def run() -> float:
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        return (time.perf_counter() - t0) / repeats

    return run


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):  # not Linux: fall back to the peak-so-far (coarser)
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _trim_heap() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Context manager: ``extra_mb`` = peak resident set size inside minus the size on entry
    (sampled every ``interval`` seconds by a thread); ``gpu_mb`` likewise for CUDA tensors."""

    def __init__(self, interval: float = 0.001, cuda: bool = False) -> None:
        self.interval = interval
        self.cuda = cuda
        self.extra_mb = 0.0
        self.gpu_mb: float | None = None

    def __enter__(self) -> "PeakMemory":
        _trim_heap()
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._gpu0 = torch.cuda.memory_allocated()
        self._base = self._peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss_bytes())
            time.sleep(self.interval)

    def __exit__(self, *exc: Any) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            self.gpu_mb = (torch.cuda.max_memory_allocated() - self._gpu0) / 2**20
        self._peak = max(self._peak, _rss_bytes())
        self._stop.set()
        self._thread.join()
        self.extra_mb = max(0, self._peak - self._base) / 2**20


def synthetic_state(requires: frozenset[str], privileged: bool, n: int, dim: int, classes: int, initial: int,
                    device: str = "cpu", seed: int = 0) -> tuple[Any, Any]:
    """A ``PoolState`` over n unqueried points with only the ``requires`` fields, precomputed
    (and the privileged view when asked): features (n, dim) ~ N(0, 1), probabilities softmax
    of N(0, 4) logits (n, classes), ``MC_SAMPLES`` such draws (T, n, classes) for the MC-dropout
    field, ``initial`` labeled points with their own features and probabilities (the initial
    centers of the k-center methods)."""
    from benchmark.run.state import MC_SAMPLES, PoolState, PrivilegedView

    rng = np.random.default_rng(seed)

    def feats(rows: int) -> np.ndarray:
        return rng.standard_normal((rows, dim), dtype=np.float32)

    def probs(rows: int) -> np.ndarray:
        z = rng.standard_normal((rows, classes), dtype=np.float32) * 2
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    makers: dict[str, Callable[[], np.ndarray]] = {
        "student_probs": lambda: probs(n), "student_embeddings": lambda: feats(n),
        "student_probs_train": lambda: probs(initial), "student_embeddings_train": lambda: feats(initial),
        "pool_inputs": lambda: feats(n), "initial_pool_embeddings": lambda: feats(n),
        "student_mc_probs": lambda: np.stack([probs(n) for _ in range(MC_SAMPLES)])}
    arrays = {name: makers[name]() for name in sorted(requires)}
    state = PoolState.from_arrays(num_classes=classes, unlabeled=np.arange(n), pool_size=n,
                                  labeled_y=rng.integers(0, classes, initial), device=device, **arrays)
    del arrays
    for name in requires:
        getattr(state, name)  # materialise now, outside any measurement
    view = None
    if privileged:
        view = PrivilegedView(rng.integers(0, classes, n), probs(n))
    return state, view


def measure_select(method: Any, state: Any, budget: int, privileged: Any = None, seed: int = 0,
                   device: str = "cpu") -> dict[str, Any]:
    """Time one ``method.select`` and measure its extra memory; returns seconds, peak_mb
    (and peak_gpu_mb on CUDA)."""
    cuda = device.startswith("cuda")
    rng = np.random.default_rng(seed)
    with PeakMemory(cuda=cuda) as mem:
        t0 = time.perf_counter()
        method.select(state, budget, rng, privileged=privileged)
        if cuda:
            import torch

            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
    out = {"seconds": round(seconds, 4), "peak_mb": round(mem.extra_mb, 1)}
    if mem.gpu_mb is not None:
        out["peak_gpu_mb"] = round(mem.gpu_mb, 1)
    return out


def perf_select(method_name: str, n: int, dim: int, classes: int, budget: int, device: str = "auto",
                initial: int = 1000, seed: int = 0, json_path: Path | None = None) -> int:
    """``run_benchmark.py perf select``: one selection on synthetic inputs, one JSON line."""
    import torch

    from benchmark.core.config import ConfigError
    from benchmark.core.registry import METHODS
    from benchmark.run.train import resolve_device

    cls = METHODS.get(method_name)
    dev = str(resolve_device(device))
    if classes < 2:
        raise ConfigError(f"--classes must be >= 2, got {classes}")
    if budget > n:
        raise ConfigError(f"--budget {budget} exceeds --n {n}: a selection takes at most n points")
    state, view = synthetic_state(frozenset(cls.requires), cls.privileged, n, dim, classes, initial, dev, seed)
    result = {"what": "select", "method": method_name, "n": n, "dim": dim, "classes": classes, "budget": budget,
              "initial": initial, "device": dev,
              **measure_select(cls(), state, budget, privileged=view, seed=seed, device=dev),
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

    from benchmark.core.config import load_suite
    from benchmark.run.runner import all_methods, build_grid, run_grid

    cfg = load_suite(suite)
    n_methods = assume_methods or (len(all_methods(cfg.include_privileged)) if cfg.methods == "all" else len(cfg.methods))
    n_levels = len(cfg.teacher_noise.levels()) if cfg.teacher_noise is not None else 1
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
    estimate = setup_per_seed * n_seeds + mean_run * n_methods * n_seeds * n_levels
    scale = cpu / wall  # CPU seconds per wall second actually obtained
    threads = int(records[0].provenance.get("compute", {}).get("threads") or torch.get_num_threads())
    result = {
        "suite": suite, "measured": {"methods": methods, "seeds": seeds, "runs": len(records)},
        "threads": threads, "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
        "setup_seconds_per_seed": round(setup_per_seed, 1), "mean_run_seconds": round(mean_run, 1),
        "mean_round_train_seconds": round(sum(r.train_seconds for r in rounds) / len(rounds), 3),
        "mean_round_select_seconds": round(sum(r.select_seconds for r in rounds) / len(rounds), 3),
        "assumed_methods": n_methods, "suite_seeds": n_seeds, "noise_levels": n_levels,
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
