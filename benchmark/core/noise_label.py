"""How a teacher-noise level names its group of results: ``<task>@<kind>-<rate>``.

Runs of one task at different teacher-noise levels are different experiments: their
records carry the task label ``digits@flip_uniform-0.2`` (the plain task name when the
task has no noise), so every table, plot, ranking and comparison keeps the levels apart
by grouping on the record's ``task``. The header's ``teacher["noise"]`` holds the same
``{"kind", "rate"}`` as data.
"""
from __future__ import annotations

SEPARATOR = "@"
KINDS = ("flip_uniform", "flip_hard", "flip_pairs", "train_labels")


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
