"""Atomic writes leave no temporary file behind, and stale ones of killed writers are swept."""
import os
import subprocess
import sys

import pytest

from benchmark.core.atomic import atomic_write, sweep_stale_tmp, tmp_path as tmp_name


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "run.jsonl"
    target.write_text("old\n")

    def half_then_interrupt(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_then_interrupt)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.jsonl"]


def test_write_replaces_the_file(tmp_path):
    target = tmp_path / "x.npz"
    atomic_write(target, lambda tmp: tmp.write_bytes(b"new"))
    assert target.read_bytes() == b"new" and tmp_name(target).name.endswith(".tmp.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz"]


def test_sweep_removes_only_the_leftovers_of_dead_writers(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    (tmp_path / "a" / "b").mkdir(parents=True)
    stale = [tmp_path / "a" / f".seed0.jsonl.{dead_pid}.tmp", tmp_path / "a" / "b" / f".t.npz.{dead_pid}.tmp.npz",
             tmp_path / f"digits-key.{dead_pid}.tmp.pt"]
    live = [tmp_path / "a" / f".seed1.jsonl.{os.getppid()}.tmp", tmp_path / "a" / f".seed2.jsonl.{os.getpid()}.tmp"]
    keep = [tmp_path / "a" / "seed0.jsonl", tmp_path / "notes.tmp.txt"]
    for p in stale + live + keep:
        p.write_text("x")
    assert sorted(sweep_stale_tmp(tmp_path)) == sorted(stale)
    assert all(p.exists() for p in live + keep) and not any(p.exists() for p in stale)


def test_a_run_sweeps_its_results_folder(tmp_path):
    from benchmark.cli import main

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    leftover = tmp_path / "adhoc" / "digits" / "random" / f".seed0.jsonl.{dead}.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("{")
    assert main(["run", "--tasks", "digits", "--methods", "random", "--seeds", "0", "--rounds", "1", "--out",
                 str(tmp_path), "--no-progress"]) == 0
    assert not leftover.exists()


def test_the_cache_is_swept_on_first_use(tmp_path, monkeypatch):
    from benchmark.core import paths

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    monkeypatch.setenv("AKD_BENCH_CACHE", str(tmp_path))
    leftover = tmp_path / "teachers" / f"digits-abc.{dead}.tmp.npz"
    leftover.parent.mkdir()
    leftover.write_bytes(b"half")
    assert paths.cache_dir("teachers") == tmp_path / "teachers"
    assert not leftover.exists()
