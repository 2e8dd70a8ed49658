"""The Ray executor (`run --executor ray`): the same records as the local executor, a worker
killed mid-run is retried and resumes, a killed driver restarted with the same command loses
and duplicates nothing, each teacher is trained once, and a failing method is reported while
the other runs go on. One local Ray instance with 2 CPUs serves the module; the grids are the
`ci` suite (digits_ci) cut to 2 rounds."""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import pytest

from benchmark.cli import main
from cli_status import exit_status
from faulty_method import failing_method, failures_by_executor  # noqa: F401  (a fixture)
from benchmark.core.config import MethodEntry
from benchmark.run.loop import RunSpec
from benchmark.core.results import RunRecord, iter_run_files, read_run
from benchmark.run.runner import Grid, build_grid, run_grid
from benchmark.run.ray_executor import start_local

ROOT = Path(__file__).parents[1]
# The tests that start a local Ray instance need the ray extra (`.ci/run` installs it).
needs_ray = pytest.mark.skipif(find_spec("ray") is None, reason="needs Ray: pip install -e '.[ray]'")
ROUNDS = 2


def _comparable(rec: RunRecord) -> dict:
    """The record without what depends on timing: the durations, the start time, and the
    checkout's commit as the process that ran it first saw it (a worker process may look later
    than the driver, after another commit)."""
    d = dataclasses.asdict(rec)
    for r in d["rounds"]:
        r.pop("select_seconds"), r.pop("train_seconds")
    for k in ("wall_seconds", "started_at", "git_sha", "git_dirty"):
        d["provenance"].pop(k)
    if d["summary"] is not None:
        d["summary"].pop("wall_seconds")
    return d


def _records(out: Path) -> dict[str, dict]:
    """Every run file under ``out``, by its path below ``out``, without timings."""
    return {str(p.relative_to(out)): _comparable(read_run(p)) for p in iter_run_files(out)}


def _ci_grid(**kw) -> Grid:
    return build_grid(suite="ci", rounds=ROUNDS, **kw)


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance with 2 CPUs shared by the module's tests; yields its address."""
    import ray

    start_local(ray, num_cpus=2)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def local_ci(tmp_path_factory) -> dict[str, dict]:
    """The records of the ci suite (2 rounds) run by the local executor."""
    out = tmp_path_factory.mktemp("local-ci")
    run_grid(_ci_grid(), out, device="cpu", progress=False)
    recs = _records(out)
    assert len(recs) == 15
    return recs


@needs_ray
def test_ci_suite_on_ray_gives_the_local_executors_records(ray_cluster, local_ci, tmp_path):
    grid = _ci_grid()
    got = run_grid(grid, tmp_path, device="cpu", progress=False, executor="ray")
    assert [(r.task, r.method_label, r.seed) for r in got] == \
        [(s.task.label, s.method.label, s.seed) for s in grid.runs]  # grid order
    assert _records(tmp_path) == local_ci


@needs_ray
def test_a_worker_killed_after_a_round_is_retried_and_resumes_from_the_driver(ray_cluster, local_ci, tmp_path,
                                                                             monkeypatch, capsys):
    marker = tmp_path / "worker-exited"
    monkeypatch.setenv("AKD_BENCH_TEST_EXIT_AFTER_ROUND", "1")
    monkeypatch.setenv("AKD_BENCH_TEST_EXIT_MARKER", str(marker))
    out = tmp_path / "out"
    run_grid(_ci_grid(seeds=[1], methods=["margin", "rad"]), out, device="cpu", progress=False, executor="ray")
    assert marker.exists()  # one worker did exit after storing round 1
    printed = capsys.readouterr().out
    assert "its worker died" in printed and "starting it again at round 2" in printed
    assert "resuming" in printed and "after round 1" in printed  # from the driver's record
    got = _records(out)
    assert len(got) == 2 and got == {k: local_ci[k] for k in got}


@needs_ray
def test_a_killed_driver_restarted_with_the_same_command_loses_and_duplicates_nothing(ray_cluster, local_ci,
                                                                                      tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "run_benchmark.py"), "run", "--suite", "ci", "--rounds", str(ROUNDS),
           "--executor", "ray", "--out", str(out), "--no-progress"]
    first = subprocess.Popen([*cmd, "--address", ray_cluster], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 300
    while len(list(iter_run_files(out))) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    _, err = first.communicate(timeout=60)
    before = {p: p.read_bytes() for p in iter_run_files(out) if read_run(p).complete}
    assert 2 <= len(list(iter_run_files(out))) and len(before) < 15, err  # killed mid-grid
    # the restart starts its own local Ray instance (no --address)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert _records(out) == local_ci
    assert all(p.read_bytes() == b for p, b in before.items())  # finished runs were not run again
    assert not [p for p in out.rglob("*") if p.is_file() and p.suffix != ".jsonl"]  # no temporary files left


@needs_ray
def test_a_teacher_is_trained_once_when_four_runs_that_need_it_start_together(ray_cluster, local_ci, tmp_path,
                                                                             monkeypatch, capsys):
    """Four runs at once on 2 CPUs (half a CPU each), one of them querying mixed inputs (which
    needs the teacher model itself, not only its outputs), on an empty cache."""
    monkeypatch.setenv("AKD_BENCH_CACHE", str(tmp_path / "cache"))
    grid = _ci_grid(seeds=[2], methods=["random", "margin", "entropy"])
    mixing = RunSpec(grid.suite, grid.runs[0].task, MethodEntry("unixkd", "unixkd_mixup", {"mixup": True}), 2)
    grid = Grid(grid.suite, [*grid.runs, mixing])
    run_grid(grid, tmp_path / "ray", device="cpu", progress=False, executor="ray", cpus_per_run=0.5)
    printed = capsys.readouterr().out
    assert printed.count("training teacher") == 1, printed
    assert len(list((tmp_path / "cache" / "teachers").glob("*.npz"))) == 1
    got = _records(tmp_path / "ray")
    assert len(got) == 4 and {k: v for k, v in got.items() if "mixup" not in k} == \
        {k: local_ci[k] for k in got if "mixup" not in k}
    run_grid(Grid(grid.suite, [mixing]), tmp_path / "local", device="cpu", progress=False)
    assert _records(tmp_path / "local") == {k: v for k, v in got.items() if "mixup" in k}
    assert any(r["method"].get("mixup") for r in _records(tmp_path / "local").values() for r in r["rounds"])


@needs_ray
def test_runs_on_a_local_instance_get_the_drivers_cpu_priority(ray_cluster):
    """Ray's default worker niceness (15) would let any busy process on the machine starve
    the runs; a local instance's workers run at the driver's niceness."""
    import ray

    @ray.remote(num_cpus=1)
    def niceness() -> int:
        return os.nice(0)

    assert ray.get(niceness.remote(), timeout=300) == os.nice(0)


@needs_ray
def test_teacher_weights_sent_with_the_outputs_fill_a_workers_cache_that_lacks_them(ray_cluster, tmp_path,
                                                                                    monkeypatch):
    import ray

    from benchmark.run.ray_executor import _install_teacher_weights, _teacher_weights_path

    monkeypatch.setenv("AKD_BENCH_CACHE", str(tmp_path))
    task = _ci_grid().runs[0].task
    _install_teacher_weights(task, "key0", [ray.put(b"weights")])
    assert _teacher_weights_path(task, "key0").read_bytes() == b"weights"
    _install_teacher_weights(task, "key0", [ray.put(b"other")])  # present: kept as it is
    assert _teacher_weights_path(task, "key0").read_bytes() == b"weights"
    _install_teacher_weights(task, "key1", [ray.put(None)])  # a teacher without weights (pretrained)
    assert not _teacher_weights_path(task, "key1").exists()


@needs_ray
def test_a_failing_method_is_reported_and_the_other_runs_go_on_as_locally(ray_cluster, failing_method, tmp_path):
    task = _ci_grid().runs[0].task
    grid = Grid("t", [RunSpec("t", task, MethodEntry(m), 0) for m in (failing_method, "random")])
    failures = failures_by_executor(grid, tmp_path, ("local", "ray"))
    assert failures["ray"] == failures["local"] == [
        "method 'fails_in_round_2' (task digits_ci, seed 0, round 2): ZeroDivisionError: the rule divided by zero"]
    assert _records(tmp_path / "ray") == _records(tmp_path / "local")  # the failed run keeps rounds 0 and 1
    assert [len(r["rounds"]) for r in _records(tmp_path / "ray").values()] == [2, ROUNDS + 1]


@needs_ray
@pytest.mark.parametrize("args, message", [
    (["--device", "cuda:1"], "--device 'cuda:1': with --executor ray each run gets its GPU from Ray"),
    (["--device", "cuda"], "--device cuda with --executor ray needs a GPU share per run"),
    (["--cpus-per-run", "2", "--threads", "1"], "--threads 1 disagrees with --cpus-per-run 2"),
    (["--cpus-per-run", "8"], "no Ray node can give a run 8 CPU + 0 GPU (nodes: 2 CPU + 0 GPU)"),
])
def test_bad_ray_settings_are_one_line_errors(ray_cluster, tmp_path, capsys, args, message):
    rc = main(["run", "--suite", "ci", "--rounds", "1", "--executor", "ray", "--out", str(tmp_path),
               "--no-progress", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith(f"error: {message}")
    assert not list(iter_run_files(tmp_path))


@pytest.mark.parametrize("args, message", [
    (["--gpus-per-run", "1.5"], "argument --gpus-per-run: expected a number >= 0 (a fraction up to 1, or a whole"),
    (["--cpus-per-run", "0"], "argument --cpus-per-run: expected a number > 0"),
    (["--executor", "dask"], "argument --executor: invalid choice: 'dask'"),
    (["--address", "auto"], "error: --address applies to --executor ray only"),
    (["--gpus-per-run", "0.25"], "error: --gpus-per-run applies to --executor ray only"),
])
def test_executor_options_are_checked(tmp_path, capsys, args, message):
    rc = exit_status(["run", "--suite", "ci", "--rounds", "1", "--out", str(tmp_path), "--no-progress", *args])
    assert rc == 2 and message in capsys.readouterr().err
    assert not list(iter_run_files(tmp_path))


def test_without_ray_the_ray_executor_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    rc = main(["run", "--suite", "ci", "--rounds", "1", "--executor", "ray", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith("error: --executor ray needs Ray") and "pip install 'akd-bench[ray]'" in err[0]
    assert not list(iter_run_files(tmp_path))


def test_reproduce_takes_the_executor_too(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    rc = main(["reproduce", "--suite", "ci", "--executor", "ray", "--out", str(tmp_path), "--no-progress"])
    assert rc == 2 and capsys.readouterr().err.startswith("error: --executor ray needs Ray")


def test_the_command_line_and_the_runner_do_not_import_ray():
    code = "import sys, benchmark.cli, benchmark.run.runner, benchmark.run.ray_executor; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr
