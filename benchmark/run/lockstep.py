"""The lockstep executor: the runs of a cohort advance round by round together, and their
students are trained together (``--executor lockstep``).

A cohort is up to ``cohort_size`` consecutive runs of the grid that share a task (every method,
seed and teacher-noise level of it: the same student architecture and recipe, and at a given
round the same training-set size). Each run plays its own rounds as in the local executor:
its method selects on its own, the oracle counts its queries, its record is saved after each
round. Only the training differs: whenever every live run of the cohort waits for a student,
the waiting ``FitJob`` s are trained by ``benchmark.run.stacked.fit_many``, which gives each
the weights it would get alone, bit for bit. So a run's records do not depend on the cohort
it ran in, and lockstep, local and Ray runs are interchangeable (resume, ``reproduce``).

A run whose method fails leaves the cohort (its finished rounds stay stored); the rest go on.
A cohort holds its runs' data in memory at once: a Fashion-MNIST run's pool alone is about 45 MB
of uint8 pixels.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import torch
from tqdm.auto import tqdm

from benchmark.core.errors import MethodFailure
from benchmark.core.results import RunRecord, complete_on_disk, run_path, set_aside
from benchmark.run.loop import RunSpec, open_run
from benchmark.run.stacked import FitJob, fit_many

DEFAULT_COHORT = 64


def cohorts(runs: list[RunSpec], size: int = DEFAULT_COHORT) -> list[list[RunSpec]]:
    """``runs`` in grid order, cut into cohorts of at most ``size`` runs of one task (by task
    name: the noise levels of a task train the same student). Raises ``ValueError`` for a
    size below 1."""
    if size < 1:
        raise ValueError(f"cohort size must be at least 1, got {size}")
    out: list[list[RunSpec]] = []
    for spec in runs:
        if out and len(out[-1]) < size and out[-1][0].task.name == spec.task.name:
            out[-1].append(spec)
        else:
            out.append([spec])
    return out


class _Cohort:
    """The live runs of one cohort: each run's pending ``FitJob`` and the steps that follow."""

    def __init__(self, bar: tqdm, records: dict[int, RunRecord], failures: list[str]) -> None:
        self.bar, self.records, self.failures = bar, records, failures
        self.live: dict[int, tuple[Iterator[FitJob], FitJob, object]] = {}

    def start(self, i: int, steps: Iterator[FitJob], loop: object) -> None:
        self._advance(i, steps, loop)

    def _advance(self, i: int, steps: Iterator[FitJob], loop: object) -> None:
        """Play run ``i`` up to its next training job; file it as finished or failed when it ends."""
        try:
            self.live[i] = (steps, next(steps), loop)
        except StopIteration:
            self.live.pop(i, None)
            self.records[i] = loop.record
            self.bar.update(1)
        except MethodFailure as e:
            self.live.pop(i, None)
            self.failures.append(str(e))
            self.bar.write(f"error: {e}; the other runs go on")
            self.bar.update(1)

    def play(self) -> None:
        """Train the pending jobs together and advance every run, until none is left."""
        while self.live:
            fit_many([job for _, job, _ in self.live.values()])
            for i, (steps, _, loop) in list(self.live.items()):
                self._advance(i, steps, loop)
            self.bar.set_postfix_str(f"{len(self.live)} runs training together")


def run_lockstep(runs: list[RunSpec], suite: str, out: Path, dev: torch.device, progress: bool = True,
                 cohort_size: int = DEFAULT_COHORT, fresh: bool = False) -> tuple[list[RunRecord], int, list[str]]:
    """Run ``runs`` cohort by cohort; returns the records (grid order), how many runs were
    already complete, and one line per run whose method failed. Raises what ``open_run`` and
    the runs raise besides ``MethodFailure`` (configuration and storage errors stop the grid,
    as in the local executor)."""
    records: dict[int, RunRecord] = {}
    failures: list[str] = []
    reused = 0
    bar = tqdm(total=len(runs), desc=f"suite {suite} (lockstep)", unit="run", disable=not progress, file=sys.stderr)
    index = {id(spec): i for i, spec in enumerate(runs)}
    try:
        for cohort in cohorts(runs, cohort_size):
            group = _Cohort(bar, records, failures)
            for spec in cohort:
                i = index[id(spec)]
                p = run_path(out, spec.suite, spec.task.label, spec.method.label, spec.seed)
                if fresh and p.exists():
                    set_aside(p)
                done_before = complete_on_disk(p)
                opened = open_run(spec, out, dev, log=bar.write)
                if isinstance(opened, RunRecord):
                    records[i] = opened
                    reused += done_before
                    bar.update(1)
                else:
                    group.start(i, opened.steps(), opened)
            group.play()
    finally:
        bar.close()
    return [records[i] for i in sorted(records)], reused, failures
