"""Where AKD-Bench finds its task specs, suites and reference results, and where it caches
and writes files.

Task specs and reference results live in the repository's top-level ``datasets/`` and
``results/reference/`` folders; a wheel ships them inside the package as
``benchmark/tasks/`` and ``benchmark/reference/`` (see ``[tool.setuptools]`` in
pyproject.toml). The installed copy is used when present, else the checkout's folder.

Environment overrides: ``AKD_BENCH_CACHE`` (cache root, default ``~/.cache/akd_bench``)
and ``AKD_BENCH_TASK_DIRS`` (extra folders of task YAML files, ``os.pathsep``-separated).
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # benchmark/
REPO_ROOT = PACKAGE_DIR.parent


def _shipped(packaged: str, checkout: Path) -> Path:
    """``PACKAGE_DIR/<packaged>`` in an installed wheel, else ``checkout`` (a checkout or an
    editable install, where the package folder has no such subfolder)."""
    inside = PACKAGE_DIR / packaged
    return inside if inside.is_dir() else checkout


TASKS_DIR = _shipped("tasks", REPO_ROOT / "datasets")
SUITES_DIR = PACKAGE_DIR / "suites"
REFERENCE_DIR = _shipped("reference", REPO_ROOT / "results" / "reference")
DEFAULT_OUT = Path("results") / "runs"


def leaderboard_dir(out: Path, suite: str) -> Path:
    """Where ``report`` writes one suite's leaderboard for the records under ``out``:
    ``<out>/leaderboard/<suite>/``, so a results folder keeps its leaderboard beside its runs
    (``results/runs/leaderboard/<suite>/`` for the default root, which git ignores). The
    committed leaderboards under ``results/leaderboard/<suite>/`` are written only on request
    (``report --out results/reference --suite S --leaderboard-dir results/leaderboard/S``).
    """
    return Path(out) / "leaderboard" / suite


_SWEPT: set[Path] = set()


def cache_dir(kind: str) -> Path:
    """``<cache root>/<kind>``, created on demand; the first use in a process removes the
    temporary files that killed writers left there (``benchmark.core.atomic.sweep_stale_tmp``)."""
    root = Path(os.environ.get("AKD_BENCH_CACHE", Path.home() / ".cache" / "akd_bench"))
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    if path not in _SWEPT:
        from benchmark.core.atomic import sweep_stale_tmp

        _SWEPT.add(path)
        sweep_stale_tmp(path)
    return path


def task_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("AKD_BENCH_TASK_DIRS", "").split(os.pathsep) if p]
    return [TASKS_DIR, *extra]
