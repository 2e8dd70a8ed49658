"""A suite grid of tasks x methods x seeds, run locally with progress bars, or on Ray
(``executor="ray"``, ``benchmark.run.ray_executor``).

Finished runs are skipped, interrupted runs resume, and ``fresh`` starts every run of the
grid over (an existing file is first moved to ``<name>.jsonl.bak``, so nothing is lost).
A run whose method fails (``MethodFailure``: the method, task, seed and round) keeps its
finished rounds; the other runs go on, and ``GridError`` lists the failures at the end.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from benchmark.core.config import ConfigError, MethodEntry, NoiseAxis, SuiteConfig, load_suite, load_task
from benchmark.models.base import check_model_spec
from benchmark.run.loop import RunSpec, execute_run, instantiate_method
from benchmark.core.registry import METHODS, builtin_method_names
from benchmark.core.atomic import sweep_stale_tmp
from benchmark.core.compute import run_threads
from benchmark.core.errors import GridError, MethodFailure
from benchmark.core.results import RunRecord, complete_on_disk, run_path, set_aside
from benchmark.run.train import resolve_device


@dataclass(frozen=True)
class Grid:
    """A resolved grid: the results folder name and every run in execution order."""

    suite: str
    runs: list[RunSpec]


def all_methods(include_privileged: bool = False) -> list[MethodEntry]:
    """Every built-in method (``methods: all``, ``--methods all``); installed plugins run only
    when named, so a faulty plugin cannot break a shipped suite."""
    return [MethodEntry(n) for n in builtin_method_names() if include_privileged or not METHODS.get(n).privileged]


def parse_methods(names: Sequence[str]) -> list[MethodEntry]:
    entries = []
    for n in names:
        if n == "all":
            entries.extend(all_methods())
        else:
            METHODS.get(n)  # unknown name -> did-you-mean error
            entries.append(MethodEntry(n))
    return entries


def build_grid(suite: str | None = None, tasks: Sequence[str] | None = None, methods: Sequence[str] | None = None,
               seeds: Sequence[int] | None = None, rounds: int | None = None,
               noise: NoiseAxis | None = None) -> Grid:
    """From a suite name (with optional overrides) or an ad-hoc grid of tasks, methods and seeds.

    ``noise`` (or the suite's ``teacher_noise``) expands every task over teacher-noise levels;
    each level is its own task label (``digits@flip_uniform-0.2``), so results never mix.
    Repeated seeds, tasks or methods run once. Every method and its parameters are checked
    before anything runs."""
    if suite is not None:
        cfg: SuiteConfig = load_suite(suite)
        name = cfg.name
        task_names = list(tasks) if tasks else cfg.tasks
        entries = parse_methods(methods) if methods else (all_methods(cfg.include_privileged) if cfg.methods == "all"
                                                          else cfg.methods)
        seed_list = list(seeds) if seeds else cfg.seeds
        rounds = rounds if rounds is not None else cfg.rounds
        noise = noise if noise is not None else cfg.teacher_noise
    else:
        missing = [flag for flag, given in (("--tasks", tasks), ("--methods", methods), ("--seeds", seeds)) if not given]
        if missing:
            raise ConfigError(f"run needs --suite NAME, or an ad-hoc grid given by all of --tasks, --methods and "
                              f"--seeds (missing: {', '.join(missing)})")
        name, task_names, entries, seed_list = "adhoc", list(tasks), parse_methods(methods), list(seeds)
    for e in entries:
        instantiate_method(e)
    task_cfgs = [load_task(t).with_rounds(rounds) for t in dict.fromkeys(task_names)]
    for t in task_cfgs:  # before any teacher is trained
        check_model_spec(t.student, f"task {t.name}: field 'student'")
        check_model_spec(t.teacher.model, f"task {t.name}: field 'teacher.model'")
    if noise is not None:
        task_cfgs = [t.with_noise(level) for t in task_cfgs for level in noise.levels()]
    entries = _distinct_labels(entries)
    runs = [RunSpec(name, t, m, s) for t in task_cfgs for s in dict.fromkeys(seed_list) for m in entries]
    return Grid(name, runs)


def _distinct_labels(entries: Sequence[MethodEntry]) -> list[MethodEntry]:
    """The entries with repeats dropped; two different entries under one label are an error."""
    seen: dict[str, MethodEntry] = {}
    for e in entries:
        if e.label in seen and seen[e.label] != e:
            raise ConfigError(f"two methods share the label {e.label!r} ({seen[e.label]} and {e}); give each a "
                              f"distinct label")
        seen.setdefault(e.label, e)
    return list(seen.values())


EXECUTORS = ("local", "lockstep", "ray")


def run_grid(grid: Grid, out: Path, device: str = "auto", fresh: bool = False, progress: bool = True,
             threads: int | None = None, executor: str = "local", address: str | None = None,
             cpus_per_run: float | None = None, gpus_per_run: float | None = None,
             cohort_size: int | None = None) -> list[RunRecord]:
    """Run every run of ``grid`` at ``threads`` CPU threads (default ``benchmark.core.compute``'s: 1).

    The thread count applies to torch and to every BLAS/OpenMP pool for the whole grid; it is
    part of each run's identity, so runs stored at another setting are a conflict, not a resume.

    ``executor="ray"`` runs each run as a Ray task (``benchmark.run.ray_executor``) taking
    ``cpus_per_run`` CPUs (default ``threads``, else 1; also its thread count) and
    ``gpus_per_run`` GPUs, on a local Ray instance or the cluster at ``address``; the run files
    and the outcome are the same. ``address`` and the shares are refused by the local executor.

    ``executor="lockstep"`` plays the runs of a task in cohorts of ``cohort_size`` (default
    ``benchmark.run.lockstep.DEFAULT_COHORT``) and trains their students together
    (``benchmark.run.lockstep``); the run files are the same as the local executor's, bit for bit.
    """
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; valid choices: {', '.join(EXECUTORS)}")
    if executor == "ray":
        from benchmark.run.ray_executor import run_all_ray

        sweep_stale_tmp(Path(out) / grid.suite)
        records, reused, failures = run_all_ray(grid, out, device, fresh, progress, threads, address=address,
                                                cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run)
        return _finish(grid, out, records, reused, failures)
    given = [n for n, v in (("--address", address), ("--cpus-per-run", cpus_per_run),
                            ("--gpus-per-run", gpus_per_run)) if v is not None]
    if given:
        raise ConfigError(f"{given[0]} applies to --executor ray only; add --executor ray or leave it out")
    if cohort_size is not None and executor != "lockstep":
        raise ConfigError("--cohort-size applies to --executor lockstep only; add --executor lockstep or leave it out")
    dev = resolve_device(device)
    sweep_stale_tmp(Path(out) / grid.suite)
    with run_threads(threads if dev.type == "cpu" else None):
        if executor == "lockstep":
            from benchmark.run.lockstep import DEFAULT_COHORT, run_lockstep

            records, reused, failures = run_lockstep(grid.runs, grid.suite, Path(out), dev, progress,
                                                     cohort_size or DEFAULT_COHORT, fresh)
        else:
            records, reused, failures = _run_all(grid, out, dev, fresh, progress)
    return _finish(grid, out, records, reused, failures)


def _finish(grid: Grid, out: Path, records: list[RunRecord], reused: int, failures: list[str]) -> list[RunRecord]:
    """Say when every run was already complete; raise ``GridError`` listing the failed runs."""
    if reused == len(grid.runs) and reused:
        print(f"{reused} runs already complete under {out / grid.suite}; --fresh reruns them", file=sys.stderr)
    if failures:
        raise GridError(failures)
    return records


def _run_all(grid: Grid, out: Path, dev, fresh: bool, progress: bool) -> tuple[list[RunRecord], int, list[str]]:
    """Run the grid in order; returns the records, how many were already complete, and one line
    per run whose method failed (those runs keep their finished rounds for a resume)."""
    records, reused, failures = [], 0, []
    disable = not progress
    outer = tqdm(grid.runs, desc=f"suite {grid.suite}", unit="run", disable=disable, file=sys.stderr)
    for spec in outer:
        outer.set_postfix_str(f"{spec.task.label} / {spec.method.label} / seed {spec.seed}")
        p = run_path(out, spec.suite, spec.task.label, spec.method.label, spec.seed)
        if fresh and p.exists():
            set_aside(p)
        done_before = complete_on_disk(p)
        inner = tqdm(total=spec.task.rounds + 1, desc="rounds", unit="round", leave=False, disable=disable,
                     file=sys.stderr)

        def on_round(rec: RunRecord, bar: tqdm = inner) -> None:
            bar.n = len(rec.rounds)
            bar.set_postfix_str(f"acc {rec.rounds[-1].test_accuracy:.3f}")
            bar.refresh()

        try:
            records.append(execute_run(spec, out, dev, on_round=on_round, log=outer.write))
        except MethodFailure as e:
            failures.append(str(e))
            outer.write(f"error: {e}; the other runs go on")
        finally:
            inner.close()
        reused += done_before
    outer.close()
    return records, reused, failures
