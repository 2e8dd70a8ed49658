"""Synthetic, complete run records for report, leaderboard and compare tests."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from benchmark.core.noise_label import task_label
from benchmark.core.results import RoundRecord, RunRecord, run_path, write_run


def make_record(method: str, seed: int, accs: Sequence[float], *, task: str = "digits", suite: str = "s",
                tq: float | Sequence[float] = 0.8, gain: float | Sequence[float] = 0.5, privileged: bool = False,
                method_version: int = 1, task_version: int = 1, queries: int = 5, label: str | None = None,
                params: dict | None = None, shift: int = 0, config: dict | None = None,
                teacher: dict | None = None, noise: tuple[str, float] | None = None) -> RunRecord:
    """A finished run with test accuracy ``accs[r]`` after round r (``queries`` per round);
    ``config`` adds or replaces top-level fields of the recorded resolved task configuration;
    ``teacher`` adds or replaces fields of the run header's teacher dict. ``noise=(kind, rate)``
    makes it a run at that teacher-noise level, as the harness records one: the task label
    ``<task>@<kind>-<rate>``, ``teacher["noise"]`` and the task configuration's teacher noise."""
    if noise is not None:
        kind, rate = noise
        config = {"teacher": {"noise": {"kind": kind, "rate": rate}}, **(config or {})}
        teacher = {"noise": {"kind": kind, "rate": rate}, **(teacher or {})}
        task = task_label(task, kind, rate)
    n = len(accs) - 1
    tqs = [tq] * n if isinstance(tq, (int, float)) else list(tq)
    gains = [gain] * n if isinstance(gain, (int, float)) else list(gain)
    rec = RunRecord(
        run_id=f"{task}-{method}-{seed}", suite=suite, task=task, task_version=task_version, method=method,
        method_label=label or method, method_version=method_version, params=params or {}, seed=seed,
        privileged=privileged, rounds_planned=n, queries_per_round=queries, data_fingerprint="fp",
        teacher={"model": "mlp", "test_accuracy": 0.9, "validation_error": 0.1, **(teacher or {})},
        provenance={"git_sha": "0123456789abcdef0123456789abcdef01234567", "git_dirty": False,
                    "packages": {"numpy": "2.0.0", "torch": "2.13.0"}, "python": "3.11.7", "platform": "Linux-test",
                    "device": "cpu (2 threads)", "task_config": {"name": task, "rounds": n, "queries_per_round": queries,
                                                                **(config or {})},
                    "started_at": "2024-01-01T00:00:00+00:00", "wall_seconds": 1.5})
    for r, a in enumerate(accs):
        rec.rounds.append(RoundRecord(
            round=r, n_labeled=20, n_queries=queries * r,
            queried=[] if r == 0 else [seed * 1000 + shift + queries * (r - 1) + i for i in range(queries)],
            test_accuracy=a, test_nll=0.3, teacher_agreement=0.7,
            teacher_accuracy_on_queried=None if r == 0 else tqs[r - 1], mean_gain=None if r == 0 else gains[r - 1],
            select_seconds=0.0 if r == 0 else 0.01, train_seconds=0.5))
    rec.finish(1.5)
    return rec


def store(records: Sequence[RunRecord], out: Path) -> Path:
    """Write the records as run files under ``out`` (a results root); returns ``out``."""
    for rec in records:
        write_run(run_path(out, rec.suite, rec.task, rec.method_label, rec.seed), rec)
    return out
