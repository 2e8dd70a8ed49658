"""The baselines inside the harness: whole runs and determinism (exact resume: test_loop.py)."""
import pytest
import torch
from test_loop import comparable

from benchmark.core.config import MethodEntry
from benchmark.run.loop import RunSpec, execute_run
from benchmark.core.registry import METHODS

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
