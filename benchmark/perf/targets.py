"""The documented absolute speed and memory targets: ``run_benchmark.py perf targets``.

The targets hold on 2 idle CPU cores. CI does not check them (a shared machine of unknown
speed would fail them at random); its benchmarks (``tests/benchmarks``) assert ratios to
floors timed in the same process instead. This command measures each target ``repeats``
times, takes the median time and the largest extra memory (resident set, as in
``perf select``), prints one ``PASS``/``FAIL`` line per target and a summary, and returns 1
when any target is missed.

``scale`` shrinks every size (pool points, budget, centers, k, epochs) to check the command
itself quickly; the targets apply at scale 1. ``slack`` multiplies every time target (2 on
a machine half as fast as the reference); memory targets are not scaled.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmark.perf.measure import PeakMemory, measure_select, synthetic_state, timed


@dataclass(frozen=True)
class Target:
    """One documented target: ``measure(scale)`` -> (seconds, peak_mb or None, sizes)."""

    name: str
    seconds: float
    peak_mb: float | None
    measure: Callable[[float], tuple[float, float | None, dict[str, int]]]


def _size(v: int, scale: float, least: int = 1) -> int:
    return max(least, round(v * scale))


def _select(method: str, n: int, dim: int, classes: int, budget: int, initial: int):
    def measure(scale: float):
        from benchmark.core.registry import METHODS

        cls = METHODS.get(method)
        sizes = {"n": _size(n, scale, 2), "dim": dim, "classes": classes, "initial": _size(initial, scale, 0)}
        sizes["budget"] = min(sizes["n"], _size(budget, scale))
        state, view = synthetic_state(frozenset(cls.requires), cls.privileged, sizes["n"], dim, classes,
                                      sizes["initial"])
        r = measure_select(cls(), state, sizes["budget"], privileged=view)
        return r["seconds"], r["peak_mb"], sizes

    return measure


def _clustering(n: int, dim: int):
    def measure(scale: float):
        from methods.cluster_margin import average_linkage_clusters

        emb = np.random.default_rng(0).standard_normal((_size(n, scale, 2), dim), dtype=np.float32)
        with PeakMemory() as mem:
            seconds = timed(lambda: average_linkage_clusters(emb))()
        return seconds, mem.extra_mb, {"n": len(emb), "dim": dim}

    return measure


def _rad_sampling(n: int, budget: int, k: int):
    def measure(scale: float):
        from methods.rad import rad_inclusion_probabilities, systematic_sample

        sizes = {"n": _size(n, scale, 2), "budget": _size(budget, scale), "k": _size(k, scale, 0)}
        gains = np.random.default_rng(0).random(sizes["n"])
        rng = np.random.default_rng(1)
        seconds = timed(lambda: systematic_sample(rad_inclusion_probabilities(gains, sizes["k"], sizes["budget"]),
                                                  rng))()
        return seconds, None, sizes

    return measure


def _top_k(n: int, k: int):
    def measure(scale: float):
        from methods.topk import top_k

        sizes = {"n": _size(n, scale, 2), "k": _size(k, scale)}
        scores = np.random.default_rng(0).random(sizes["n"])
        rng = np.random.default_rng(1)
        return timed(lambda: top_k(scores, sizes["k"], rng))(), None, sizes

    return measure


def _digits_round(examples: int = 70, labeled: int = 20):
    def measure(scale: float):
        import dataclasses

        import torch

        from benchmark.core.config import load_task
        from benchmark.models import build_model
        from benchmark.run.train import fit, make_train_set

        task = load_task("digits")
        recipe = dataclasses.replace(task.train, epochs=_size(task.train.epochs, scale))
        rng = np.random.default_rng(0)
        x = rng.random((examples, 1, 8, 8), dtype=np.float32)
        soft = rng.dirichlet(np.ones(10), examples - labeled).astype(np.float32)
        cpu = torch.device("cpu")
        ts = make_train_set(x[:labeled], rng.integers(0, 10, labeled), x[labeled:], soft, 10, recipe, cpu)
        seconds = timed(lambda: fit(build_model(task.student, (1, 8, 8), 10), ts, recipe, 0, cpu))()
        return seconds, None, {"examples": examples, "epochs": recipe.epochs}

    return measure


TARGETS = [
    Target("coreset", 15.0, 300.0, _select("coreset", 50_000, 512, 10, 1_000, 1_000)),
    Target("badge", 15.0, 500.0, _select("badge", 20_000, 512, 100, 1_000, 0)),
    Target("cluster_margin_clustering", 60.0, None, _clustering(50_000, 512)),
    Target("margin", 1.0, None, _select("margin", 1_000_000, 1, 10, 10_000, 0)),
    Target("entropy", 1.0, None, _select("entropy", 1_000_000, 1, 10, 10_000, 0)),
    Target("rad", 1.0, None, _select("rad", 1_000_000, 1, 10, 10_000, 0)),
    Target("rad_sampling", 0.3, None, _rad_sampling(1_000_000, 10_000, 100_000)),
    Target("top_k", 0.1, None, _top_k(1_000_000, 10_000)),
    Target("digits_student_round", 0.5, None, _digits_round()),
]


def check_target(target: Target, scale: float = 1.0, slack: float = 1.0, repeats: int = 3) -> dict[str, Any]:
    """Measure ``target`` ``repeats`` times (after one untimed call at a thousandth of the
    size); the median seconds against ``seconds * slack`` and the largest extra memory (MB)
    against ``peak_mb``. Returns the row (``pass``: bool)."""
    target.measure(scale / 1000)  # warm-up at a tiny size: imports and first-call costs are not timed
    runs = [target.measure(scale) for _ in range(repeats)]
    seconds = float(np.median([r[0] for r in runs]))
    peaks = [r[1] for r in runs if r[1] is not None]
    row: dict[str, Any] = {"target": target.name, **runs[-1][2], "seconds": float(f"{seconds:.4g}"),
                           "target_seconds": float(f"{target.seconds * slack:.4g}")}
    ok = seconds <= target.seconds * slack
    if target.peak_mb is not None:
        row.update(peak_mb=round(max(peaks), 1), target_mb=target.peak_mb)
        ok = ok and max(peaks) <= target.peak_mb
    row["pass"] = ok
    return row


def _line(row: dict[str, Any]) -> str:
    text = f"{'PASS' if row['pass'] else 'FAIL'} {row['target']}: {row['seconds']:.3g} s (target <= " \
           f"{row['target_seconds']:.3g} s)"
    if "target_mb" in row:
        text += f", {row['peak_mb']:.0f} MB (target <= {row['target_mb']:.0f} MB)"
    sizes = {k: v for k, v in row.items() if k not in {"target", "seconds", "target_seconds", "peak_mb", "target_mb",
                                                        "pass"}}
    return text + " [" + ", ".join(f"{k}={v}" for k, v in sizes.items()) + "]"


def perf_targets(only: list[str] | None = None, scale: float = 1.0, slack: float = 1.0, repeats: int = 3,
                 json_path: Path | None = None) -> int:
    """``run_benchmark.py perf targets``: check the targets named in ``only`` (default: all).
    Returns 0 when every one passes, 1 when any fails. Raises ConfigError for an unknown name."""
    from benchmark.core.compute import run_threads
    from benchmark.core.config import ConfigError

    names = [t.name for t in TARGETS]
    unknown = [n for n in only or [] if n not in names]
    if unknown:
        raise ConfigError(f"unknown target {unknown[0]!r}; valid choices: {', '.join(names)}")
    rows = []
    with run_threads() as threads:
        for target in TARGETS:
            if only and target.name not in only:
                continue
            rows.append(check_target(target, scale, slack, repeats))
            print(_line(rows[-1]), flush=True)
    failed = [r["target"] for r in rows if not r["pass"]]
    print(f"targets: {len(rows) - len(failed)} passed, {len(failed)} failed ({threads} threads, "
          f"{os.cpu_count()} CPUs, scale {scale:g}, slack {slack:g}, median of {repeats})")
    if json_path is not None:
        json_path.write_text(json.dumps({"threads": threads, "cpu_count": os.cpu_count(), "scale": scale,
                                         "slack": slack, "repeats": repeats, "results": rows}, indent=2) + "\n")
    return 1 if failed else 0
