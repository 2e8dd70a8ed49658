"""Rerun a frozen suite and compare it with its committed reference results.

``reproduce(suite)`` runs every run of the suite from scratch (into a temporary folder,
or ``out``), with an empty private cache unless ``use_cache`` (so a stale cached teacher
cannot hide a change) and with ``threads`` torch CPU threads (default 1: floating-point
sums, and so the selections, then do not depend on the machine's core count), and compares the new records with ``results/reference/<suite>/``
(``benchmark.reporting.compare``). ``update=True`` instead replaces that reference with the new
records; the old reference, if any, is first compared for information.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from benchmark.core import paths
from benchmark.reporting.compare import CompareError, compare_records, format_comparison, load_folder
from benchmark.core.config import ConfigError, load_suite
from benchmark.core.results import ResultsError
from benchmark.run.runner import build_grid, run_grid


def reference_dir(suite: str, root: Path | None = None) -> Path:
    return Path(root if root is not None else paths.REFERENCE_DIR) / suite


def _suites_with_reference(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    import torch

    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextmanager
def _private_cache(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    old = os.environ.get("AKD_BENCH_CACHE")
    with tempfile.TemporaryDirectory(prefix="akd-reproduce-cache-") as d:
        os.environ["AKD_BENCH_CACHE"] = d
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("AKD_BENCH_CACHE", None)
            else:
                os.environ["AKD_BENCH_CACHE"] = old


def _replace_tree(src: Path, dst: Path) -> None:
    """Make ``dst`` a copy of ``src`` (run files only), swapping folders so no mix is left."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = dst.with_name(f".{dst.name}.new")
    old = dst.with_name(f".{dst.name}.old")
    for p in (staging, old):
        if p.exists():
            shutil.rmtree(p)
    shutil.copytree(src, staging, ignore=shutil.ignore_patterns("*.bak", "*.tmp", ".*"))
    if dst.exists():
        dst.replace(old)
    staging.replace(dst)
    if old.exists():
        shutil.rmtree(old)


def _check_portable(device: str) -> None:
    """Raise ``ConfigError`` unless a CPU reference written now would be portable: a
    reference made in the fast numerics mode would hold one CPU's code paths, so every other
    machine's ``--exact`` check against it would fail."""
    from benchmark.core.numerics import numerics_identity

    if device != "cpu":
        return
    mode = numerics_identity()
    if mode != "portable":
        raise ConfigError(f"--update-reference writes CPU references in the portable numerics mode only; this process "
                          f"computes in {mode!r}: run it without --numerics fast (and without AKD_BENCH_NUMERICS=fast), "
                          f"as a program rather than from Python")


def reproduce(suite: str, out: Path | None = None, reference: Path | None = None, device: str = "cpu",
              exact: bool = False, level: float = 0.99, floor: float = 0.005, update: bool = False,
              progress: bool = True, use_cache: bool = False, threads: int | None = 1, executor: str = "local",
              address: str | None = None) -> int:
    """Run ``suite`` and compare it with its reference (0: reproduced, 1: regression), or with
    ``update`` write the new records as the reference (0). Prints the comparison.
    ``executor``/``address``: as for ``run_grid`` (``ray`` runs each run at ``threads`` CPUs)."""
    cfg = load_suite(suite)
    ref = Path(reference) if reference is not None else reference_dir(cfg.name)
    if not update and not ref.is_dir():
        have = _suites_with_reference(ref.parent)
        raise CompareError(f"no reference results for suite {cfg.name!r} at {str(ref)!r}; suites with a reference: "
                           f"{', '.join(have) or 'none'}; create it with `python run_benchmark.py reproduce --suite "
                           f"{cfg.name} --update-reference`")
    if update:
        _check_portable(device)
    with tempfile.TemporaryDirectory(prefix="akd-reproduce-") as tmp:
        root = Path(out) if out is not None else Path(tmp)
        grid = build_grid(suite=suite)
        with _private_cache(not use_cache), _torch_threads(threads):
            run_grid(grid, root, device=device, fresh=True, progress=progress, threads=threads, executor=executor,
                     address=address)
        new = root / grid.suite
        results = load_folder(new, "results", grid.suite)
        if update:
            if ref.is_dir():
                try:
                    comp = compare_records(results, load_folder(ref, "reference"), level, floor, exact)
                    print(format_comparison(comp, str(new), f"{ref} (being replaced)"))
                except (CompareError, ResultsError) as e:
                    print(f"note: the old reference is not comparable and is replaced: {e}")
            _replace_tree(new, ref)
            print(f"reproduce: wrote {len(results)} reference run files for suite {grid.suite!r} to {ref}; "
                  f"commit them")
            return 0
        comp = compare_records(results, load_folder(ref, "reference"), level, floor, exact)
        print(format_comparison(comp, str(new) if out is not None else f"a fresh run of suite {grid.suite!r}",
                                str(ref)))
        return 1 if comp.failed else 0
