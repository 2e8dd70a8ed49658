"""Write a CPU-sized copy of the ``gpu-fashion`` suite and its task, for checking
``scripts/gpu_check.sh`` without a GPU (``TINY=1``).

    python scripts/tiny_suite.py DIR      # prints DIR/gpu-fashion-tiny.yaml

The copy keeps the task's data source, models, recipe and the suite's methods, and shrinks
the splits, the epochs, the rounds and the seeds. Both files are validated by loading them.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SUITE = "gpu-fashion"
SPLITS = {"test": 200, "validation": 100, "labeled": 100, "pool": 400, "class_balanced": True}
ROUNDS, QUERIES, EPOCHS = 1, 40, 1


def write_tiny(folder: Path) -> Path:
    """Write ``<task>_tiny.yaml`` and ``gpu-fashion-tiny.yaml`` into ``folder``; returns the
    suite file's path."""
    from benchmark.core.config import load_suite, load_task_file, load_suite_file, TASKS

    suite = load_suite(SUITE)
    (task_name,) = suite.tasks
    task = yaml.safe_load(Path(TASKS.get(task_name)).read_text())
    task.update(name=f"{task_name}_tiny", splits=SPLITS, rounds=ROUNDS, queries_per_round=QUERIES,
                description=f"{task['description']} (tiny copy for a CPU check)")
    task["train"] = {**task["train"], "epochs": EPOCHS}
    task["teacher"]["train"] = {**task["teacher"]["train"], "epochs": EPOCHS}
    folder.mkdir(parents=True, exist_ok=True)
    task_path = folder / f"{task['name']}.yaml"
    task_path.write_text(yaml.safe_dump(task, sort_keys=False))
    load_task_file(task_path)
    methods = [{"name": m.name, "label": m.label, "params": m.params} for m in suite.methods]
    tiny = {"name": f"{SUITE}-tiny", "version": suite.version, "tasks": [str(task_path)], "methods": methods,
            "seeds": suite.seeds[:1], "description": f"tiny CPU copy of {SUITE}"}
    suite_path = folder / f"{tiny['name']}.yaml"
    suite_path.write_text(yaml.safe_dump(tiny, sort_keys=False))
    load_suite_file(suite_path)
    return suite_path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python scripts/tiny_suite.py DIR", file=sys.stderr)
        sys.exit(2)
    print(write_tiny(Path(sys.argv[1])))
