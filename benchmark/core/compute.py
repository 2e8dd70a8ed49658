"""The compute setting that results depend on: device, CPU threads, precision, torch version.

CPU results are defined at ``DEFAULT_THREADS`` (1) intra-op thread. Floating-point sums in
torch's and BLAS's kernels are split across threads, so the same training run at 1 and at
2 threads can end in different weights, and so in different selections and accuracies.
One fixed default makes the same command give the same records on a 2-core laptop and a
64-core server; more threads are an opt-in (``--threads N`` or ``AKD_BENCH_THREADS``) that
is recorded in the run header and is part of the run id and of the teacher cache key, so
results of different settings never mix.

The CPU's instruction set changes results too; ``benchmark.core.numerics`` pins it (the
``portable`` mode) or names it (``fast``), and its identity is part of this one.

``compute_identity(device)`` is that setting as a dict; ``run_threads(n)`` applies it for a
block of work (torch intra-op threads plus every BLAS/OpenMP pool via ``threadpoolctl``, and
the numerics mode's run-time pins).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

DEFAULT_THREADS = 1
THREADS_ENV = "AKD_BENCH_THREADS"


def resolve_threads(n: int | None = None) -> int:
    """``n``, else ``$AKD_BENCH_THREADS``, else ``DEFAULT_THREADS``; at least 1.

    Raises ``ValueError`` for a non-integer ``AKD_BENCH_THREADS``."""
    if n is None:
        env = os.environ.get(THREADS_ENV, "").strip()
        if env:
            try:
                n = int(env)
            except ValueError:
                raise ValueError(f"{THREADS_ENV}={env!r} is not an integer; expected a thread count >= 1") from None
        else:
            n = DEFAULT_THREADS
    return max(1, int(n))


def configure_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count to ``resolve_threads(n)`` and return it; apply the
    numerics mode's run-time pins (``benchmark.core.numerics.apply_runtime``)."""
    import torch

    from benchmark.core.numerics import apply_runtime

    apply_runtime()
    n = resolve_threads(n)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


@contextmanager
def run_threads(n: int | None = None) -> Iterator[int]:
    """Run a block at ``resolve_threads(n)`` torch and BLAS/OpenMP threads; restore both after."""
    import torch
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    n = configure_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield n
    finally:
        torch.set_num_threads(old)


def compute_identity(device: Any) -> dict[str, Any]:
    """What a result depends on besides its inputs, e.g. ``{"device": "cpu", "threads": 1,
    "precision": "float32", "torch": "2.13", "numerics": "portable"}``.

    ``threads`` is torch's current intra-op count on CPU (``None`` on CUDA, where it does
    not enter the arithmetic); ``precision`` is ``bf16-autocast`` on CUDA, the fast path's
    training precision. ``torch`` is the major.minor version: kernels change between
    releases. ``numerics`` is the CPU numerics in force (``numerics_identity``: selection
    and metrics run on the CPU on every device); on CUDA, ``gpu`` names the device model,
    whose kernels decide GPU results."""
    import torch

    from benchmark.core.numerics import numerics_identity

    kind = getattr(device, "type", str(device)).split(":")[0]
    major_minor = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    ident = {"device": kind, "threads": torch.get_num_threads() if kind == "cpu" else None,
             "precision": "bf16-autocast" if kind == "cuda" else "float32", "torch": major_minor,
             "numerics": numerics_identity()}
    if kind == "cuda":
        ident["gpu"] = torch.cuda.get_device_name(device)
    return ident
