"""Where AKD-Bench finds its task specs and suites and where it caches and writes files.

Environment overrides: ``AKD_BENCH_CACHE`` (cache root, default ``~/.cache/akd_bench``)
and ``AKD_BENCH_TASK_DIRS`` (extra folders of task YAML files, ``os.pathsep``-separated).
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
TASKS_DIR = REPO_ROOT / "datasets"
SUITES_DIR = PACKAGE_DIR / "suites"
DEFAULT_OUT = Path("results") / "runs"
LEADERBOARD_DIR = Path("results") / "leaderboard"
REFERENCE_DIR = REPO_ROOT / "results" / "reference"


def leaderboard_dir(out: Path, suite: str) -> Path:
    """Where ``report`` writes one suite's leaderboard for the records under ``out``.

    ``results/leaderboard/<suite>/`` for the default results root ``results/runs``;
    ``<out>/leaderboard/<suite>/`` for any other ``--out``, so a results folder keeps its
    own leaderboard beside its runs.
    """
    if Path(out).resolve() == DEFAULT_OUT.resolve():
        return LEADERBOARD_DIR / suite
    return Path(out) / "leaderboard" / suite


def cache_dir(kind: str) -> Path:
    """``<cache root>/<kind>``, created on demand."""
    root = Path(os.environ.get("AKD_BENCH_CACHE", Path.home() / ".cache" / "akd_bench"))
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def task_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("AKD_BENCH_TASK_DIRS", "").split(os.pathsep) if p]
    return [TASKS_DIR, *extra]
