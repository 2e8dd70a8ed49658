"""Command line: ``python run_benchmark.py [run|list|report|perf] ...``.

With no arguments it runs the ``quick`` suite and reports it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from benchmark import paths

EPILOG = """examples:
  python run_benchmark.py                                 # quick suite on digits, then the report
  python run_benchmark.py run --suite quick --seeds 0     # one seed of the quick suite
  python run_benchmark.py run --tasks digits --methods margin,random --seeds 0,1 --rounds 3
  python run_benchmark.py report --out results/runs       # tables and plots from stored records
  python run_benchmark.py list methods
  python run_benchmark.py run --suite cpu-text --data-dir ../shared/data   # folder of movie_review_snippets.csv
  python run_benchmark.py perf train                      # training throughput of every model (samples/s)
"""


def _csv(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def _seeds(s: str) -> list[int]:
    try:
        out = []
        for part in _csv(s):
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                out.extend(range(int(lo), int(hi) + 1))
            else:
                out.append(int(part))
        return out
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seeds {s!r}: expected integers like 0,1,2 or a range 0-4") from None


def _positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {s!r}")
    return v


def _add_out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=paths.DEFAULT_OUT,
                   help="results root: runs are stored as OUT/<suite>/<task>/<method>/seed<k>.jsonl and the "
                        "report is written to OUT/report/<suite>/ (default: %(default)s)")


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", help="a suite name (see `list suites`) or a suite YAML path; default: quick, "
                                   "unless --tasks/--methods/--seeds give an ad-hoc grid")
    p.add_argument("--tasks", type=_csv, help="comma-separated task names or YAML paths (see `list tasks`)")
    p.add_argument("--methods", type=_csv, help="comma-separated method names, or 'all' (see `list methods`)")
    p.add_argument("--seeds", type=_seeds, help="comma-separated seeds or a range, e.g. 0,1,2 or 0-4")
    p.add_argument("--rounds", type=_positive_int, help="override the number of query rounds of every task")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N (default: auto)")
    p.add_argument("--data-dir", type=Path,
                   help="folder that relative data-file paths in task YAMLs are resolved against, e.g. the folder "
                        "holding movie_review_snippets.csv (default: $AKD_BENCH_DATA_DIR, else the working directory)")
    p.add_argument("--compile", action="store_true",
                   help="wrap models in torch.compile on CUDA (faster long runs; the first round pays the compile)")
    p.add_argument("--threads", type=_positive_int,
                   help="CPU threads for torch (default: every core available, unless OMP_NUM_THREADS is set)")
    _add_out(p)
    p.add_argument("--fresh", action="store_true",
                   help="start every run of the grid over; an existing run file is kept as <file>.bak")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_benchmark.py",
        description="AKD-Bench: benchmark acquisition methods for active knowledge distillation. "
                    "Each run trains a student on a small labeled set plus the teacher's soft labels on the "
                    "pool points a method chose to pay for, and records test accuracy after every round.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="{run,list,report,perf}")

    p_run = sub.add_parser("run", help="run a suite or an ad-hoc grid (finished runs are skipped, "
                                       "interrupted ones resume)")
    _add_run_args(p_run)
    p_run.add_argument("--report", action="store_true", help="write the report after the runs")

    p_list = sub.add_parser("list", help="list registered methods, tasks or suites")
    p_list.add_argument("what", choices=["methods", "tasks", "suites"])

    p_rep = sub.add_parser("report", help="tables and plots from stored records (never trains)")
    _add_out(p_rep)
    p_rep.add_argument("--suite", help="report only this suite (default: every suite under --out)")

    p_perf = sub.add_parser("perf", help="measure performance: `perf quick` times the quick suite end to end; "
                                         "`perf train` reports training throughput (samples/s) of every model")
    p_perf.add_argument("what", choices=["quick", "train", "calibrate"])
    p_perf.add_argument("--json", type=Path, help="also write the measurement to this JSON file")
    p_perf.add_argument("--device", default="cpu", help="perf train: cpu, cuda or auto (default: cpu)")
    p_perf.add_argument("--models", type=_csv,
                        help="perf train: only these models; perf calibrate: the methods to run (default margin,random)")
    p_perf.add_argument("--scale", type=float, default=1.0, help="perf train: multiply the example counts")
    p_perf.add_argument("--suite", default="cpu-vision", help="perf calibrate: the suite to extrapolate")
    p_perf.add_argument("--seeds", type=_seeds, default=[0], help="perf calibrate: seeds to run (default 0)")
    p_perf.add_argument("--assume-methods", type=_positive_int,
                        help="perf calibrate: number of methods of the full grid (default: those registered)")
    p_perf.add_argument("--data-dir", type=Path, help="folder of local data files (as for run)")
    p_perf.add_argument("--threads", type=_positive_int, help="CPU threads for torch (as for run)")
    return parser


def _cmd_run(args: argparse.Namespace, report: bool) -> int:
    import os

    from benchmark.runner import build_grid, run_grid
    from benchmark.train import RUNTIME

    if args.data_dir is not None:
        os.environ["AKD_BENCH_DATA_DIR"] = str(args.data_dir.expanduser().resolve())
    if args.threads is not None:
        os.environ["AKD_BENCH_THREADS"] = str(args.threads)
    RUNTIME.compile = bool(args.compile)
    suite = args.suite
    if suite is None and not (args.tasks or args.methods or args.seeds):
        suite = "quick"
    grid = build_grid(suite=suite, tasks=args.tasks, methods=args.methods, seeds=args.seeds, rounds=args.rounds)
    run_grid(grid, args.out, device=args.device, fresh=args.fresh, progress=not args.no_progress)
    if report:
        return _cmd_report(args.out, grid.suite)
    print(f"{len(grid.runs)} runs stored under {args.out / grid.suite}")
    return 0


def _cmd_report(out: Path, suite: str | None) -> int:
    from benchmark.report import write_report
    from benchmark.results import load_records

    records = load_records(out, suite)
    if not records:
        where = f"suite {suite!r} under {out}" if suite else str(out)
        raise FileNotFoundError(f"no run records found for {where}; run a suite first")
    for s in sorted({r.suite for r in records}):
        write_report([r for r in records if r.suite == s], out / "report" / s)
    return 0


def _cmd_list(what: str) -> int:
    if what == "methods":
        from benchmark.registry import METHODS

        for name, cls in METHODS.items():
            doc = (sys.modules[cls.__module__].__doc__ or cls.__doc__ or "").strip().splitlines()
            flags = " [privileged]" if cls.privileged else ""
            req = ",".join(sorted(cls.requires)) or "-"
            print(f"{name:<24} v{cls.version}  requires: {req:<32}{flags} {doc[0] if doc else ''}")
    elif what == "tasks":
        from benchmark.config import TASKS, load_task

        for name in TASKS.names():
            t = load_task(name)
            print(f"{name:<20} v{t.version}  {t.description}")
    else:
        from benchmark.config import SUITES, load_suite

        for name in SUITES.names():
            s = load_suite(name)
            print(f"{name:<20} v{s.version}  {s.description}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from benchmark.config import ConfigError
    from benchmark.registry import RegistryError, UnknownNameError

    parser = build_parser()
    args = parser.parse_args(argv)
    from benchmark.data.base import DataError
    from benchmark.loop import RunConflictError
    from benchmark.results import ResultsError
    from benchmark.teacher import OracleError
    from methods.base import BudgetError, MethodError

    known = (ConfigError, UnknownNameError, RegistryError, ResultsError, DataError, RunConflictError, OracleError,
             BudgetError, MethodError, FileNotFoundError)
    try:
        if args.command is None:
            args = parser.parse_args(["run", "--suite", "quick"])
            return _cmd_run(args, report=True)
        if args.command == "run":
            return _cmd_run(args, report=args.report)
        if args.command == "report":
            return _cmd_report(args.out, args.suite)
        if args.command == "list":
            return _cmd_list(args.what)
        if args.command == "perf":
            import os

            if args.data_dir is not None:
                os.environ["AKD_BENCH_DATA_DIR"] = str(args.data_dir.expanduser().resolve())
            if args.threads is not None:
                os.environ["AKD_BENCH_THREADS"] = str(args.threads)
            if args.what == "train":
                from benchmark.perf_train import perf_train

                return perf_train(args.json, device=args.device, models=args.models, scale=args.scale)
            if args.what == "calibrate":
                from benchmark.perf import perf_calibrate

                return perf_calibrate(args.suite, args.models or ["margin", "random"], args.seeds,
                                      args.assume_methods, args.json, device=args.device)
            from benchmark.perf import perf_quick

            return perf_quick(args.json)
    except known as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
