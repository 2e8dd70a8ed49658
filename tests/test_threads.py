"""Results do not depend on the core count: one default thread count, recorded in the run
header and the run id, and keyed in every cache, so a result of one setting never reaches
a run of another."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmark.core.compute import DEFAULT_THREADS, compute_identity, resolve_threads, run_threads

ROOT = Path(__file__).parents[1]
TIMING = {"select_seconds", "train_seconds", "wall_seconds", "started_at", "git_sha", "git_dirty"}


def _strip(obj):
    """A run file's content without timings (the only fields allowed to differ)."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIMING}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _records(out: Path) -> dict[str, list]:
    return {str(p.relative_to(out)): [_strip(json.loads(line)) for line in p.read_text().splitlines()]
            for p in sorted(out.rglob("seed*.jsonl"))}


def _run(out: Path, cache: Path, *threads: str) -> None:
    env = {**os.environ, "AKD_BENCH_CACHE": str(cache)}
    env.pop("AKD_BENCH_THREADS", None)
    cmd = [sys.executable, str(ROOT / "run_benchmark.py"), "run", "--tasks", "digits", "--methods", "margin",
           "--seeds", "0", "--rounds", "2", "--out", str(out), "--no-progress", *threads]
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, timeout=600)


def test_default_is_one_thread_whatever_the_cores(monkeypatch):
    monkeypatch.delenv("AKD_BENCH_THREADS", raising=False)
    assert DEFAULT_THREADS == 1 and resolve_threads() == 1
    monkeypatch.setenv("AKD_BENCH_THREADS", "3")
    assert resolve_threads() == 3 and resolve_threads(2) == 2


def test_bad_thread_environment_names_the_value(monkeypatch):
    monkeypatch.setenv("AKD_BENCH_THREADS", "many")
    with pytest.raises(ValueError, match="AKD_BENCH_THREADS='many'"):
        resolve_threads()


def test_run_threads_sets_and_restores():
    before = torch.get_num_threads()
    with run_threads(2) as n:
        assert n == 2 and torch.get_num_threads() == 2
        assert compute_identity(torch.device("cpu"))["threads"] == 2
    assert torch.get_num_threads() == before


def test_teacher_key_holds_the_compute_setting(fast_task):
    from benchmark.data import load_data, make_splits
    from benchmark.run.teacher import teacher_key

    data = load_data(fast_task.data)
    splits = make_splits(data, fast_task.splits, 0)
    cpu = torch.device("cpu")
    with run_threads(1):
        one = teacher_key(fast_task, data, splits, 0, cpu)
    with run_threads(2):
        two = teacher_key(fast_task, data, splits, 0, cpu)
    assert one != two
    with run_threads(1):
        assert teacher_key(fast_task, data, splits, 0, cpu) == one


def test_a_teacher_of_another_thread_setting_is_never_served(tmp_path):
    """Two settings in two processes share one cache; the 1-thread run must equal a 1-thread
    run with an empty cache, and the 2-thread run is a different run (id and header)."""
    shared, empty = tmp_path / "shared-cache", tmp_path / "empty-cache"
    _run(tmp_path / "two", shared, "--threads", "2")
    _run(tmp_path / "one", shared, "--threads", "1")
    _run(tmp_path / "clean", empty)  # the default: 1 thread
    one, clean, two = _records(tmp_path / "one"), _records(tmp_path / "clean"), _records(tmp_path / "two")
    assert one == clean
    head_one, head_two = one["adhoc/digits/margin/seed0.jsonl"][0], two["adhoc/digits/margin/seed0.jsonl"][0]
    assert head_one["provenance"]["compute"]["threads"] == 1
    assert head_two["provenance"]["compute"]["threads"] == 2
    assert head_one["run_id"] != head_two["run_id"]
