"""The ``ratio`` fixture: a speed measured relative to a floor timed in the same process.

CI machines are shared and of unknown speed, so no benchmark here asserts an absolute time.
Each round times the floor (in pytest-benchmark's untimed ``setup``) and then the subject, so
background load that slows one slows the other alike; the assertion is on the median over
rounds of subject / floor. The absolute targets are checked by ``run_benchmark.py perf targets``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest


@pytest.fixture
def ratio(benchmark):
    """``ratio(subject, floor, rounds, label, warmup=True)`` -> median over rounds of
    subject() / floor().

    ``subject`` and ``floor`` are callables returning a cost (seconds, or seconds per sample);
    wrap a plain callable with ``benchmark.perf.measure.timed``. Floor and subject alternate, floor
    first in each round, after one untimed call of each (unless ``warmup`` is False). The
    medians, the per-round ratios and the median ratio go to the benchmark's extra_info and
    are printed (run pytest with ``-s`` to see them)."""

    def measure(subject: Callable[[], float], floor: Callable[[], float], rounds: int, label: str,
                warmup: bool = True) -> float:
        if warmup:  # first-call costs (allocations, lazy imports, caches) are not measured
            floor()
            subject()
        floors: list[float] = []
        costs: list[float] = []
        benchmark.pedantic(lambda: costs.append(subject()), setup=lambda: floors.append(floor()),
                           rounds=rounds, iterations=1)
        ratios = [c / f for c, f in zip(costs, floors)]
        median = float(np.median(ratios))
        benchmark.extra_info.update(floor_median=float(np.median(floors)), subject_median=float(np.median(costs)),
                                    ratios=[round(r, 3) for r in ratios], ratio=median)
        print(f"\n{label}: ratio {median:.3g} (rounds {', '.join(f'{r:.3g}' for r in ratios)}), "
              f"subject {np.median(costs):.4g}, floor {np.median(floors):.4g}")
        return median

    return measure
