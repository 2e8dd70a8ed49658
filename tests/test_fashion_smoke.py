"""A two-round fashion_mnist smoke run on the real Debian IDX files (the task's own data,
splits, teacher and student; training shortened so it takes seconds)."""
import dataclasses
import os

import pytest
import torch

from benchmark.core.config import MethodEntry, load_task
from benchmark.run.loop import RunSpec, execute_run

FOLDER = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not os.path.isdir(FOLDER),
                    reason=f"{FOLDER} absent: apt-get install dataset-fashion-mnist (.ci/run does)")
def test_fashion_mnist_two_round_smoke_run(tmp_path):
    t = load_task("fashion_mnist")
    task = dataclasses.replace(
        t, rounds=2, train=dataclasses.replace(t.train, epochs=20),
        teacher=dataclasses.replace(t.teacher, train=dataclasses.replace(t.teacher.train, epochs=3)))
    rec = execute_run(RunSpec("smoke", task, MethodEntry("margin"), 0), tmp_path, torch.device("cpu"))
    assert rec.complete and [r.n_queries for r in rec.rounds] == [0, 100, 200]
    assert rec.teacher["test_accuracy"] > 0.3 and rec.rounds[-1].test_accuracy > 0.3  # chance is 0.1
    assert (tmp_path / "smoke" / "fashion_mnist" / "margin" / "seed0.jsonl").exists()
