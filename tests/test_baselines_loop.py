"""The baselines inside the harness: whole runs, determinism and exact resume."""
import dataclasses

import pytest
import torch
from test_loop import Crash, comparable

from benchmark.config import MethodEntry
from benchmark.loop import RunSpec, execute_run
from benchmark.registry import METHODS
from benchmark.results import read_run, run_path

CPU = torch.device("cpu")
BASELINES = ["coreset", "pcoreset", "badge", "cluster_margin", "unixkd", "oracle_correct_margin"]


def test_baselines_are_registered():
    """The contract template (tests/test_contract.py) runs over every registered method."""
    assert set(BASELINES) <= set(METHODS.names())
    assert [n for n in BASELINES if METHODS.get(n).privileged] == ["oracle_correct_margin"]


@pytest.mark.parametrize("method", BASELINES)
def test_whole_run_is_deterministic(fast_task, tmp_path, method):
    spec = RunSpec("t", fast_task, MethodEntry(method), 0)
    a = execute_run(spec, tmp_path / "a", CPU)
    b = execute_run(spec, tmp_path / "b", CPU)
    assert comparable(a) == comparable(b)
    assert a.complete and a.privileged == (method == "oracle_correct_margin")
    all_q = [i for r in a.rounds for i in r.queried]
    assert len(all_q) == len(set(all_q)) == fast_task.rounds * fast_task.queries_per_round


@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize("crash_after", [0, 2])
def test_cluster_margin_resume_equals_uninterrupted(fast_task, tmp_path, crash_after, warm_start):
    """The clusters come from the round-0 student, which a resumed run rebuilds exactly."""
    task = dataclasses.replace(fast_task, train=dataclasses.replace(fast_task.train, warm_start=warm_start))
    spec = RunSpec("t", task, MethodEntry("cluster_margin", params={"m": 2, "n_clusters": 8}), 1)
    ref = execute_run(spec, tmp_path / "ref", CPU)

    def crash(rec):
        if len(rec.rounds) == crash_after + 1:
            raise Crash

    with pytest.raises(Crash):
        execute_run(spec, tmp_path / "int", CPU, on_round=crash)
    assert len(read_run(run_path(tmp_path / "int", "t", "digits", "cluster_margin", 1)).rounds) == crash_after + 1
    assert comparable(execute_run(spec, tmp_path / "int", CPU)) == comparable(ref)
