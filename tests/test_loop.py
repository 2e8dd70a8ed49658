"""Whole runs: determinism, resume after a crash, skip when finished, conflicts, integrity."""
import dataclasses

import pytest
import torch

from benchmark.core.config import MethodEntry
from benchmark.run.loop import RunConflictError, RunSpec, execute_run
from benchmark.core.results import ResultsError, read_run, run_path

CPU = torch.device("cpu")
VOLATILE_ROUND = ("select_seconds", "train_seconds")


def comparable(rec):
    """A record minus timings and provenance (wall clock, start time)."""
    d = dataclasses.asdict(rec)
    d.pop("provenance")
    d["summary"] = {k: v for k, v in (d["summary"] or {}).items() if k != "wall_seconds"}
    for r in d["rounds"]:
        for k in VOLATILE_ROUND:
            r.pop(k)
    return d


@pytest.mark.parametrize("method", ["margin", "random"])
def test_same_seed_same_record(fast_task, tmp_path, method):
    spec = RunSpec("t", fast_task, MethodEntry(method), 0)
    a = execute_run(spec, tmp_path / "a", CPU)
    b = execute_run(spec, tmp_path / "b", CPU)
    assert comparable(a) == comparable(b)
    assert a.complete and len(a.rounds) == fast_task.rounds + 1


def test_different_seed_differs(fast_task, tmp_path):
    a = execute_run(RunSpec("t", fast_task, MethodEntry("random"), 0), tmp_path, CPU)
    b = execute_run(RunSpec("t", fast_task, MethodEntry("random"), 1), tmp_path, CPU)
    assert a.rounds[1].queried != b.rounds[1].queried


def test_record_contents(fast_task, tmp_path):
    rec = execute_run(RunSpec("t", fast_task, MethodEntry("margin"), 0), tmp_path, CPU)
    q = fast_task.queries_per_round
    assert [r.n_queries for r in rec.rounds] == [q * r for r in range(fast_task.rounds + 1)]
    assert rec.rounds[0].queried == [] and rec.rounds[0].teacher_accuracy_on_queried is None
    all_q = [i for r in rec.rounds for i in r.queried]
    assert len(all_q) == len(set(all_q)) == q * fast_task.rounds
    for r in rec.rounds[1:]:
        assert 0.0 <= r.teacher_accuracy_on_queried <= 1.0 and 0.0 <= r.mean_gain <= 1.0
    assert 0.0 < rec.teacher["validation_error"] < 1.0
    assert rec.provenance["task_config"]["name"] == "digits"
    assert read_run(run_path(tmp_path, "t", "digits", "margin", 0)).run_id == rec.run_id


def test_methods_share_the_round0_student(fast_task, tmp_path):
    a = execute_run(RunSpec("t", fast_task, MethodEntry("margin"), 0), tmp_path, CPU)
    b = execute_run(RunSpec("t", fast_task, MethodEntry("random"), 0), tmp_path, CPU)
    assert a.rounds[0].test_accuracy == b.rounds[0].test_accuracy


class Crash(Exception):
    pass


RESUMABLE = [
    MethodEntry("margin"),
    # once-per-run clusters come from the round-0 student, which a resumed run rebuilds exactly
    MethodEntry("cluster_margin", params={"m": 2, "n_clusters": 8}),
]  # unixkd's mixed queries: test_unixkd_oracle.py::test_mixup_run_resumes_exactly


@pytest.mark.parametrize("entry", RESUMABLE, ids=lambda e: e.name)
@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize("crash_after", [0, 2])
def test_resume_after_crash_equals_uninterrupted(fast_task, tmp_path, crash_after, warm_start, entry):
    task = dataclasses.replace(fast_task, train=dataclasses.replace(fast_task.train, warm_start=warm_start))
    spec = RunSpec("t", task, entry, 1)
    ref = execute_run(spec, tmp_path / "ref", CPU)

    def crash(rec):
        if len(rec.rounds) == crash_after + 1:
            raise Crash

    with pytest.raises(Crash):
        execute_run(spec, tmp_path / "int", CPU, on_round=crash)
    partial = read_run(run_path(tmp_path / "int", "t", "digits", entry.label, 1))
    assert len(partial.rounds) == crash_after + 1 and not partial.complete
    resumed = execute_run(spec, tmp_path / "int", CPU)
    assert comparable(resumed) == comparable(ref)


def test_finished_run_is_skipped(fast_task, tmp_path, monkeypatch):
    spec = RunSpec("t", fast_task, MethodEntry("random"), 0)
    first = execute_run(spec, tmp_path, CPU)
    import benchmark.run.loop as loop

    monkeypatch.setattr(loop, "get_teacher", lambda *a, **k: pytest.fail("a finished run was recomputed"))
    again = execute_run(spec, tmp_path, CPU)
    assert comparable(again) == comparable(first)


def test_changed_config_conflicts_instead_of_overwriting(fast_task, tmp_path):
    execute_run(RunSpec("t", fast_task, MethodEntry("random"), 0), tmp_path, CPU)
    path = run_path(tmp_path, "t", "digits", "random", 0)
    before = path.read_bytes()
    changed = dataclasses.replace(fast_task, queries_per_round=4)
    with pytest.raises(RunConflictError, match="holds a different run"):
        execute_run(RunSpec("t", changed, MethodEntry("random"), 0), tmp_path, CPU)
    assert path.read_bytes() == before


def test_corrupt_file_is_reported_and_left_untouched(fast_task, tmp_path):
    spec = RunSpec("t", fast_task, MethodEntry("random"), 0)
    execute_run(spec, tmp_path, CPU)
    path = run_path(tmp_path, "t", "digits", "random", 0)
    damaged = path.read_bytes()[:-40]
    path.write_bytes(damaged)
    with pytest.raises(ResultsError, match=str(path)):
        execute_run(spec, tmp_path, CPU)
    assert path.read_bytes() == damaged


def test_ledger_matches_records(fast_task, tmp_path):
    """Every query the method made went through the ledger and is recorded."""
    rec = execute_run(RunSpec("t", fast_task, MethodEntry("entropy"), 2), tmp_path, CPU)
    assert rec.rounds[-1].n_queries == sum(len(r.queried) for r in rec.rounds)


def test_unknown_method_parameter(fast_task, tmp_path):
    from benchmark.core.config import ConfigError

    with pytest.raises(ConfigError, match="method 'margin': unknown parameter 'k'"):
        execute_run(RunSpec("t", fast_task, MethodEntry("margin", params={"k": 3}), 0), tmp_path, CPU)


def test_budget_larger_than_pool(fast_task, tmp_path):
    from benchmark.core.config import ConfigError

    big = dataclasses.replace(fast_task, rounds=10, queries_per_round=500)
    with pytest.raises(ConfigError, match=r"10 x 500 = 5000 exceeds the pool of 1077 points"):
        execute_run(RunSpec("t", big, MethodEntry("random"), 0), tmp_path, CPU)


def test_provenance_records_a_sha_only_for_a_checkout_of_this_project(tmp_path, monkeypatch):
    """An installed package inside some other repository must not record that repository's SHA."""
    import subprocess

    import benchmark.run.loop as loop
    from benchmark.core import paths

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q",
                    "--allow-empty", "-m", "x"], check=True)
    site = tmp_path / "venv" / "site-packages"
    site.mkdir(parents=True)
    monkeypatch.setattr(paths, "REPO_ROOT", site)
    loop._code_provenance.cache_clear()
    try:
        prov = loop._code_provenance()
        assert prov["git_sha"] is None and prov["git_dirty"] is None
    finally:
        monkeypatch.undo()
        loop._code_provenance.cache_clear()
    assert loop._code_provenance()["git_sha"]  # this checkout has one
