"""The lockstep executor (`run --executor lockstep`): the local executor's records, bit for bit
(dropout students, MC dropout, mixed queries, a student-gain teacher noise, any cohort size);
a failing method leaves its cohort while the rest finish; partial and killed runs resume;
bad settings are one-line errors. Grids: digits (dropout student) and the ci suite, cut to 2
rounds."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_status import exit_status
from faulty_method import failing_method, failures_by_executor  # noqa: F401  (a fixture)
from benchmark.core.config import MethodEntry, NoiseAxis
from benchmark.core.results import FileStore, iter_run_files, read_run
from benchmark.perf.lockstep import comparable
from benchmark.run.lockstep import cohorts
from benchmark.run.loop import RunSpec
from benchmark.run.runner import Grid, build_grid, run_grid

ROOT = Path(__file__).parents[1]
ROUNDS = 2
METHOD_MIX = ["random", "margin", "bald", "typiclust", "rad"]


def _records(out: Path) -> dict[str, dict]:
    """Every run file under ``out``, by its path below ``out``, without its wall-clock fields."""
    return {str(p.relative_to(out)): comparable(read_run(p)) for p in iter_run_files(out)}


def _digits_grid(**kw) -> Grid:
    grid = build_grid(tasks=["digits"], methods=METHOD_MIX, seeds=[0, 1], rounds=ROUNDS, **kw)
    mixing = RunSpec(grid.suite, grid.runs[0].task, MethodEntry("unixkd", "unixkd_mixup", {"mixup": True}), 0)
    return Grid(grid.suite, [*grid.runs, mixing])


@pytest.fixture(scope="module")
def local_digits(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("local-digits")
    run_grid(_digits_grid(), out, device="cpu", progress=False)
    return _records(out)


@pytest.mark.parametrize("cohort_size", [None, 3])
def test_lockstep_gives_the_local_executors_records(local_digits, tmp_path, cohort_size):
    grid = _digits_grid()
    t0 = time.perf_counter()
    got = run_grid(grid, tmp_path, device="cpu", progress=False, executor="lockstep", cohort_size=cohort_size)
    elapsed = time.perf_counter() - t0
    assert [(r.task, r.method_label, r.seed) for r in got] == \
        [(s.task.label, s.method.label, s.seed) for s in grid.runs]  # grid order
    # a run's recorded time is its own work and its share of the stacked training, not its cohort's
    assert sum(r.summary["wall_seconds"] for r in got) <= elapsed
    recs = _records(tmp_path)
    assert len(recs) == 11 and recs == local_digits
    assert any(r["method"].get("mixup") for rec in recs.values() for r in rec["rounds"])


def test_an_adaptive_teacher_noise_is_placed_as_in_the_local_executor(tmp_path):
    grid = build_grid(tasks=["digits"], methods=["margin", "rad"], seeds=[0], rounds=ROUNDS,
                      noise=NoiseAxis("flip_adaptive", [0.2]))
    for executor in ("local", "lockstep"):
        run_grid(grid, tmp_path / executor, device="cpu", progress=False, executor=executor)
    local, lock = _records(tmp_path / "local"), _records(tmp_path / "lockstep")
    assert lock == local and all(r["rounds"][1]["teacher_noise"]["flipped_queried"] is not None
                                 for r in lock.values())


def test_cohorts_keep_grid_order_one_task_each_and_the_size():
    grid = build_grid(tasks=["digits", "digits_ci"], methods=["random", "margin"], seeds=[0, 1, 2])
    cut = cohorts(grid.runs, 4)
    assert [len(c) for c in cut] == [4, 2, 4, 2]
    assert [s for c in cut for s in c] == grid.runs
    assert all(len({s.task.name for s in c}) == 1 for c in cut)
    with pytest.raises(ValueError, match="at least 1"):
        cohorts(grid.runs, 0)


def test_a_failing_method_leaves_its_cohort_and_the_others_finish(failing_method, tmp_path):
    task = build_grid(suite="ci", rounds=ROUNDS).runs[0].task
    grid = Grid("t", [RunSpec("t", task, MethodEntry(m), s) for s in (0, 1) for m in (failing_method, "random")])
    failures = failures_by_executor(grid, tmp_path, ("local", "lockstep"))
    assert failures["lockstep"] == failures["local"] == [
        f"method 'fails_in_round_2' (task digits_ci, seed {s}, round 2): ZeroDivisionError: the rule divided by zero"
        for s in (0, 1)]
    recs = _records(tmp_path / "lockstep")
    assert recs == _records(tmp_path / "local")
    assert sorted(len(r["rounds"]) for r in recs.values()) == [2, 2, ROUNDS + 1, ROUNDS + 1]


def test_partial_and_missing_runs_resume_to_the_local_records(local_digits, tmp_path, capsys):
    out = tmp_path / "out"
    grid = _digits_grid()
    run_grid(grid, out, device="cpu", progress=False, executor="lockstep")
    files = sorted(iter_run_files(out))
    for p in files[:3]:  # cut back to round 0 or 1, as a kill after that round would leave them
        rec = read_run(p)
        rec.rounds, rec.summary = rec.rounds[:1 + files.index(p) % 2], None
        FileStore(p).save(rec)
    files[3].unlink()
    untouched = {p: p.read_bytes() for p in files[4:]}
    capsys.readouterr()
    run_grid(grid, out, device="cpu", progress=False, executor="lockstep")
    assert capsys.readouterr().out.count("resuming") == 3
    assert _records(out) == local_digits
    assert all(p.read_bytes() == b for p, b in untouched.items())


def test_a_killed_lockstep_run_restarted_loses_and_duplicates_nothing(tmp_path):
    local = tmp_path / "local"
    run_grid(build_grid(suite="ci", rounds=ROUNDS), local, device="cpu", progress=False)
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "run_benchmark.py"), "run", "--suite", "ci", "--rounds", str(ROUNDS),
           "--executor", "lockstep", "--out", str(out), "--no-progress"]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(list(iter_run_files(out))) < 15 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    _, err = first.communicate(timeout=60)
    stored = [read_run(p) for p in iter_run_files(out)]
    assert stored and not all(r.complete for r in stored), err  # killed mid-grid
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert _records(out) == _records(local)
    assert not [p for p in out.rglob("*") if p.is_file() and p.suffix != ".jsonl"]  # no temporary files left


@pytest.mark.parametrize("args, message", [
    (["--cohort-size", "0"], "argument --cohort-size: expected an integer >= 1"),
    (["--cohort-size", "4"], "error: --cohort-size applies to --executor lockstep only"),
])
def test_bad_lockstep_settings_are_one_line_errors(tmp_path, capsys, args, message):
    rc = exit_status(["run", "--suite", "ci", "--rounds", "1", "--out", str(tmp_path), "--no-progress", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and message in err[-1] and "Traceback" not in "\n".join(err)
    assert not list(iter_run_files(tmp_path))
