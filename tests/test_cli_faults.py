"""Bad input and faults on the command line: one `error:` line and a clear exit status, no
traceback, and no stored result lost."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.core.results import read_run, run_path

ROOT = Path(__file__).parents[1]
ADHOC = ["run", "--tasks", "digits", "--methods", "random", "--rounds", "1", "--no-progress"]


@pytest.mark.parametrize("seeds,message", [("-1", "invalid seed -1"), ("3-1", "invalid seed range '3-1'"),
                                           ("a", "invalid seeds 'a'")])
def test_bad_seeds_are_one_line(capsys, seeds, message):
    with pytest.raises(SystemExit) as e:
        main(["run", "--seeds", seeds])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_repeated_seeds_run_once(tmp_path, capsys):
    assert main([*ADHOC, "--seeds", "0,0", "--out", str(tmp_path)]) == 0
    assert "1 runs stored" in capsys.readouterr().out
    assert len(list(tmp_path.rglob("seed*.jsonl"))) == 1


def test_out_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "results.txt"
    f.write_text("keep me")
    assert main([*ADHOC, "--seeds", "0", "--out", str(f)]) == 2
    assert "is a file; expected a folder" in capsys.readouterr().err and f.read_text() == "keep me"


def test_full_disk_is_one_line_and_keeps_what_was_stored(tmp_path, capsys, monkeypatch):
    assert main([*ADHOC, "--seeds", "0", "--out", str(tmp_path)]) == 0
    stored = run_path(tmp_path, "adhoc", "digits", "random", 0)
    before = stored.read_bytes()
    import benchmark.core.results as results

    def full(path, write):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(results, "atomic_write", full)
    capsys.readouterr()
    assert main([*ADHOC, "--seeds", "0,1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot write") and "No space left on device" in err[0]
    assert stored.read_bytes() == before


def test_interrupt_says_how_to_resume_and_the_rerun_resumes(tmp_path):
    env = {**os.environ, "AKD_BENCH_CACHE": str(tmp_path / "cache"), "TQDM_DISABLE": "1"}
    cmd = [sys.executable, str(ROOT / "run_benchmark.py"), "run", "--tasks", "digits", "--methods", "random",
           "--seeds", "0-19", "--rounds", "10", "--no-progress", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = run_path(tmp_path / "out", "adhoc", "digits", "random", 0)
    deadline = time.monotonic() + 300
    while not first.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("interrupted; run the same command again to resume")
    finished = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0
    assert all(read_run(run_path(tmp_path / "out", "adhoc", "digits", "random", s)).complete for s in range(20))


def test_compare_against_another_suite_is_incomparable(tmp_path, capsys):
    from tests.records import make_record, store

    store([make_record("margin", 0, [0.5, 0.6], suite="a")], tmp_path / "res")
    store([make_record("margin", 0, [0.5, 0.6], suite="b")], tmp_path / "ref")
    assert main(["compare", str(tmp_path / "res"), str(tmp_path / "ref")]) == 2
    assert "cannot be compared with a reference of suite b" in capsys.readouterr().err


def test_a_failing_method_is_listed_the_others_finish_and_the_report_is_written(tmp_path, capsys):
    from benchmark.core.registry import METHODS, register_method
    from methods.base import AcquisitionMethod

    @register_method("fails_in_round_2")
    class Fails(AcquisitionMethod):
        def select_positions(self, state, budget, rng, *args):
            if state.round == 2:
                raise RuntimeError("boom")
            return rng.choice(state.n_unlabeled, budget, replace=False)

    try:
        rc = main(["run", "--tasks", "digits", "--methods", "fails_in_round_2,random", "--seeds", "0", "--rounds", "3",
                   "--no-progress", "--out", str(tmp_path), "--report"])
    finally:
        METHODS.remove("fails_in_round_2")
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert "error: method 'fails_in_round_2' (task digits, seed 0, round 2): RuntimeError: boom" in err
    assert "1 of 2 runs failed" in err
    assert read_run(run_path(tmp_path, "adhoc", "digits", "random", 0)).complete
    assert (tmp_path / "leaderboard" / "adhoc" / "leaderboard.csv").exists()


def test_noise_kind_without_rates_is_an_error_not_a_noiseless_run(tmp_path, capsys):
    assert main([*ADHOC, "--seeds", "0", "--noise-kind", "flip_hard", "--out", str(tmp_path)]) == 2
    assert "--noise-kind flip_hard needs --teacher-noise" in capsys.readouterr().err
    assert not list(tmp_path.rglob("seed*.jsonl"))
