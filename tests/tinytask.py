"""A tiny task written by a test: 1x4x4 images of two separable classes in parquet files, a
task YAML pointing at them, and the command line run in-process on it."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml


def images(y: Sequence[int], seed: int = 0) -> np.ndarray:
    """(N, 1, 4, 4) float in [0, 1]; the first class listed by sorted value is dark, the rest bright."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    bright = (y != np.sort(np.unique(y))[0]).astype(float)
    return np.clip(0.3 + 0.4 * bright[:, None, None, None] + rng.normal(0, 0.1, (len(y), 1, 4, 4)), 0, 1)


def write_parquet(path: Path, x: np.ndarray, y: Sequence[Any]) -> Path:
    """Images as nested lists in column ``pixels``, labels as given in column ``label``."""
    import pandas as pd

    pd.DataFrame({"pixels": [a.tolist() for a in x], "label": list(y)}).to_parquet(path)
    return path


def labels(n: int, values: Sequence[Any], seed: int = 0) -> list[Any]:
    """n labels drawn from ``values`` with every value present."""
    rng = np.random.default_rng(seed)
    out = list(values) + [values[i] for i in rng.integers(0, len(values), n - len(values))]
    return [out[i] for i in rng.permutation(n)]


def write_task(folder: Path, name: str, data_params: dict[str, Any], **overrides: Any) -> Path:
    """``folder/<name>.yaml``: an hf_datasets task over ``data_params`` with short training."""
    task: dict[str, Any] = {
        "name": name, "version": 1,
        "data": {"source": "hf_datasets", "params": {"path": "parquet", "image_column": "pixels", **data_params}},
        "splits": {"test": 10, "validation": 10, "labeled": 4, "pool": None, "class_balanced": True},
        "teacher": {"train_on": "labeled", "model": {"name": "mlp", "params": {"hidden": [16]}},
                    "train": {"epochs": 30, "lr": 0.01}},
        "student": {"name": "mlp", "params": {"hidden": [8]}},
        "train": {"epochs": 20, "lr": 0.01},
        "rounds": 2, "queries_per_round": 3,
    }
    for key, value in overrides.items():  # "splits.labeled": 1 sets task["splits"]["labeled"]
        *parents, last = key.split(".")
        node = task
        for p in parents:
            node = node[p]
        node[last] = value
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(task, sort_keys=False))
    return path


def run_args(task: Path, out: Path, methods: str = "random", seeds: str = "0") -> list[str]:
    return ["run", "--tasks", str(task), "--methods", methods, "--seeds", seeds, "--rounds", "2",
            "--out", str(out), "--no-progress"]


def run_cli(args: list[str], capsys: Any) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of the command line run in this process."""
    from benchmark.cli import main

    capsys.readouterr()
    rc = main(args)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def snapshot(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def error_line(rc: int, err: str) -> str:
    """The single ``error: ...`` line of a bad-input exit (status 2, no traceback)."""
    assert rc == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def finished_run(root: Path) -> Path:
    """``root/out`` holding one finished run of a good tiny task (for checks that a refused
    command changes no finished result)."""
    from benchmark.cli import main

    y = labels(40, [0, 1])
    f = write_parquet(root / "good.parquet", images(y), y)
    assert main(run_args(write_task(root, "good", {"data_files": str(f)}), root / "out")) == 0
    return root / "out"
