"""``failing_method``: a fixture registering 'fails_in_round_2', a method that picks at random
and raises in round 2, in this process only (the Ray executor sends its class to workers)."""
from __future__ import annotations

import pytest

from benchmark.core.registry import METHODS, register_method
from methods.base import AcquisitionMethod


class FailsInRound2(AcquisitionMethod):
    def select_positions(self, state, budget, rng, *args):
        if state.round == 2:
            raise ZeroDivisionError("the rule divided by zero")
        return rng.choice(state.n_unlabeled, budget, replace=False)


@pytest.fixture
def failing_method():
    register_method("fails_in_round_2")(FailsInRound2)
    yield "fails_in_round_2"
    METHODS.remove("fails_in_round_2")


def failures_by_executor(grid, out, executors: tuple[str, ...]) -> dict[str, list[str]]:
    """Run ``grid`` once per executor into ``out/<executor>``; the failure lines each one's
    ``GridError`` lists (every run of ``grid`` is expected to include a failing one)."""
    from benchmark.core.errors import GridError
    from benchmark.run.runner import run_grid

    failures = {}
    for executor in executors:
        with pytest.raises(GridError) as e:
            run_grid(grid, out / executor, device="cpu", progress=False, executor=executor)
        failures[executor] = e.value.failures
    return failures
