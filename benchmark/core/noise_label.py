"""How a teacher-noise level names its group of results: ``<task>@<kind>-<rate>``.

Runs of one task at different teacher-noise levels are different experiments: their
records carry the task label ``digits@flip_uniform-0.2`` (the plain task name when the
task has no noise), so every table, plot, ranking and comparison keeps the levels apart
by grouping on the record's ``task``. The header's ``teacher["noise"]`` holds the same
``{"kind", "rate"}`` as data.
"""
from __future__ import annotations

from typing import Iterable

SEPARATOR = "@"
KINDS = ("flip_uniform", "flip_hard", "flip_pairs", "flip_informative", "flip_adaptive", "train_labels")


def task_label(task: str, kind: str | None = None, rate: float | None = None) -> str:
    """``digits`` without noise; ``digits@flip_uniform-0.2`` with it (rate printed with ``:g``)."""
    if kind is None:
        return task
    return f"{task}{SEPARATOR}{kind}-{float(rate):g}"


def parse_task_label(label: str) -> tuple[str, str | None, float | None]:
    """The inverse of ``task_label``: ``(task, kind, rate)``; kind and rate are None without noise."""
    if SEPARATOR not in label:
        return label, None, None
    task, level = label.split(SEPARATOR, 1)
    kind, rate = level.rsplit("-", 1)
    return task, kind, float(rate)


def distinct_tasks(labels: Iterable[str]) -> list[str]:
    """The task labels with each base task's noise-free level counted once, sorted.

    The noise-free level of a base task can appear under several labels: the plain task and
    ``<task>@<kind>-0`` for every noise kind that ran rate 0 (a suite's noise axis runs rate 0
    once per kind, and rate 0 is bitwise the noiseless teacher). Ranks, win rates and pooled
    tests must count that level once: this keeps the plain label when present, else the rate-0
    label of the first kind in sorted order, and drops the other aliases.
    """
    labels = sorted(set(labels))
    keep: dict[str, str] = {}
    for label in labels:
        task, kind, rate = parse_task_label(label)
        if kind is None or rate == 0.0:
            # the plain label sorts before every `<task>@...` alias, so the first seen wins
            keep.setdefault(task, label)
    free = set(keep.values())
    return [t for t in labels if t in free or not _noise_free(t)]


def _noise_free(label: str) -> bool:
    _, kind, rate = parse_task_label(label)
    return kind is None or rate == 0.0
