"""Command line: ``akd-bench``, ``python -m benchmark`` or ``python run_benchmark.py``, then
``[run|list|report|compare|reproduce|power|prepare|perf|schema] ...``.

With no arguments it runs the ``quick`` suite and reports it. Parsing, ``--help``,
``--version``, ``list tasks`` / ``list suites``, ``schema`` and argument errors import neither
torch, pandas nor scipy: every command imports what it needs when it runs.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path
from typing import Sequence

from benchmark.core import paths
from benchmark.core.defaults import DEFAULT_FLOOR, DEFAULT_LEVEL
from benchmark.core.errors import USER_ERRORS, ConfigError, GridError
from benchmark.core.noise_label import KINDS as NOISE_KINDS
from benchmark.core.numerics import MODES as NUMERICS_MODES

# commands that compute (train, select, time): they run in a numerics mode
COMPUTING = frozenset({"run", "reproduce", "perf", None})

# errno values of a failed write (full disk, quota, read-only file system): one line, exit 2
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})

EXAMPLES = [  # (arguments, what the command does)
    ("", "quick suite on digits, then the report"),
    ("run --suite quick --seeds 0", "one seed of the quick suite"),
    ("run --tasks digits --methods margin,random --seeds 0,1 --rounds 3", "an ad-hoc grid"),
    ("report", "leaderboard of results/runs -> results/runs/leaderboard/"),
    ("compare results/runs/ci results/reference/ci", "check results against the ci reference; exit 1 on a regression"),
    ("reproduce --suite ci", "rerun the ci suite, compare with its reference"),
    ("reproduce --suite ci --update-reference", "regenerate the ci reference (then commit it)"),
    ("power results/reference/quick --difference 0.01", "seeds needed to detect an AUC difference of 0.01"),
    ("report --out results/reference --suite quick --leaderboard-dir results/leaderboard/quick",
     "regenerate a committed leaderboard from the suite's reference run files"),
    ("list methods", "registered methods (also: list tasks, list suites)"),
    ("schema task > task.schema.json", "JSON Schema of task YAML files, for editors (also: schema suite, schema run)"),
    ("perf select --method coreset --n 50000 --dim 512 --budget 1000 --initial 1000", "time one selection"),
    ("prepare movie_snippets --data-dir data", "build movie_review_snippets.csv"),
    ("run --suite cpu-text --data-dir data", "then run the text suite on it"),
    ("perf train", "training throughput of every model (samples/s)"),
    ("perf lockstep --suite quick --seeds 0-19", "lockstep executor vs one run at a time: speedup, records equal"),
]


def _epilog(prog: str) -> str:
    """The examples, each command starting with ``prog``, under a comment saying what it does."""
    lines = []
    for args, note in EXAMPLES:
        lines += [f"  # {note}"] if note else []
        lines.append(f"  {prog} {args}".rstrip())
    return "examples:\n" + "\n".join(lines) + "\n"


def version() -> str:
    """The version of the running code: the installed distribution's (``importlib.metadata``),
    or, where the package runs from a checkout, the one in the checkout's pyproject.toml
    (which an older install's metadata could contradict); ``"unknown"`` if neither is found."""
    from importlib import metadata

    try:
        import tomllib

        with open(paths.REPO_ROOT / "pyproject.toml", "rb") as f:
            project = tomllib.load(f).get("project", {})
        if project.get("name") == "akd-bench" and "version" in project:
            return str(project["version"])
    except (ImportError, OSError, ValueError):  # Python 3.10, not a checkout, or an unreadable file
        pass
    try:
        return metadata.version("akd-bench")
    except metadata.PackageNotFoundError:
        return "unknown"


class _VersionAction(argparse.Action):
    """``--version``: print ``<prog> <version>`` and exit 0 (the version is looked up only then)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the version and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"{parser.prog} {version()}")
        parser.exit()


def _csv(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def _seeds(s: str) -> list[int]:
    """``0,1,2`` or ranges ``0-4``; seeds are integers >= 0 (repeats are kept once, in order)."""
    expected = "expected integers >= 0 like 0,1,2 or a range 0-4"
    out = []
    for part in _csv(s) or [s]:
        lo, sep, hi = part.partition("-")
        try:
            first, last = (int(lo), int(hi)) if sep and lo else (int(part), int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid seeds {s!r}: {expected}") from None
        if first < 0:
            raise argparse.ArgumentTypeError(f"invalid seed {first} in {s!r}: {expected}")
        if last < first:
            raise argparse.ArgumentTypeError(f"invalid seed range {part!r}: the first seed must not exceed the "
                                             f"last, e.g. {last}-{first}")
        out.extend(range(first, last + 1))
    return list(dict.fromkeys(out))


def _rates(s: str) -> list[float]:
    """``0,0.2,0.4``: distinct teacher-noise rates in [0, 1)."""
    try:
        rates = [float(x) for x in _csv(s)]
    except ValueError:
        rates = []
    if not rates or any(not 0.0 <= r < 1.0 for r in rates):
        raise argparse.ArgumentTypeError(f"invalid rates {s!r}: expected numbers in [0, 1) like 0,0.2,0.4")
    return list(dict.fromkeys(rates))


def _number(kind: type, ok, expected: str):
    """An argparse type: ``kind(s)`` accepted when ``ok(value)``, else a one-line error."""

    def parse(s: str):
        try:
            v = kind(s)
        except ValueError:
            v = None
        if v is None or not ok(v):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {s!r}")
        return v

    return parse


_positive_int = _number(int, lambda v: v >= 1, "an integer >= 1")
_non_negative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_level = _number(float, lambda v: 0.0 < v < 1.0, "a confidence level in (0, 1), e.g. 0.99")
_floor = _number(float, lambda v: v >= 0.0, "a number >= 0, e.g. 0.005")
# Ray takes fractions up to 1 and whole numbers above it
_cpu_share = _number(float, lambda v: 0.0 < v < float("inf") and (v <= 1 or v == int(v)),
                     "a number > 0 (a fraction up to 1, or a whole number), e.g. 1 or 0.5")
_gpu_share = _number(float, lambda v: 0.0 <= v < float("inf") and (v <= 1 or v == int(v)),
                     "a number >= 0 (a fraction up to 1, or a whole number), e.g. 1 or 0.25")


def _add_out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=paths.DEFAULT_OUT,
                   help="results root: runs are stored as OUT/<suite>/<task>/<method>/seed<k>.jsonl and the "
                        "leaderboard in OUT/leaderboard/<suite>/ (default: %(default)s)")


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", help="a suite name (see `list suites`) or a suite YAML path; default: quick, "
                                   "unless --tasks/--methods/--seeds give an ad-hoc grid")
    p.add_argument("--tasks", type=_csv, help="comma-separated task names or YAML paths (see `list tasks`)")
    p.add_argument("--methods", type=_csv, help="comma-separated method names, or 'all' (see `list methods`)")
    p.add_argument("--seeds", type=_seeds, help="comma-separated seeds or a range, e.g. 0,1,2 or 0-4")
    p.add_argument("--rounds", type=_positive_int, help="override the number of query rounds of every task")
    p.add_argument("--teacher-noise", type=_rates, metavar="RATES",
                   help="run every task at each of these teacher-noise rates, e.g. 0,0.2,0.4 (a grid axis; each "
                        "level is reported as its own task, digits@flip_uniform-0.2); overrides the suite's")
    p.add_argument("--noise-kind", choices=NOISE_KINDS,
                   help="the kind of teacher error for --teacher-noise: confident flips anywhere (flip_uniform), "
                        "on the teacher's smallest margins (flip_hard), fixed class confusions (flip_pairs), on the "
                        "round-0 student's highest-gain points (flip_informative), on the current student's "
                        "highest-gain points each round (flip_adaptive), or noisy teacher training labels "
                        "(train_labels) (default: flip_uniform)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N (default: auto)")
    p.add_argument("--data-dir", type=Path,
                   help="folder that relative data-file paths in task YAMLs are resolved against, e.g. the folder "
                        "holding movie_review_snippets.csv (default: $AKD_BENCH_DATA_DIR, else the working directory)")
    p.add_argument("--compile", action="store_true",
                   help="wrap models in torch.compile on CUDA (faster long runs; the first round pays the compile)")
    p.add_argument("--threads", type=_positive_int,
                   help="CPU threads for torch and BLAS (default: 1, so CPU results do not depend on the core "
                        "count; more threads are recorded in the run header and the run id)")
    _add_numerics(p)
    _add_out(p)
    p.add_argument("--fresh", action="store_true",
                   help="start every run of the grid over; an existing run file is kept as <file>.bak")
    _add_executor_args(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _add_numerics(p: argparse.ArgumentParser) -> None:
    p.add_argument("--numerics", choices=NUMERICS_MODES,
                   help="portable: CPU libraries pinned to code paths every x86-64 CPU computes alike, so records "
                        "are the same on any machine; fast: each library's fastest path for this CPU (records tied "
                        "to it). Part of the run id and recorded (default: $AKD_BENCH_NUMERICS, else portable)")


def _add_executor_args(p: argparse.ArgumentParser, shares: bool = True) -> None:
    """--executor and --address (and, with ``shares``, each run's CPU and GPU share)."""
    p.add_argument("--executor", choices=["local", "lockstep", "ray"], default="local",
                   help="local: one run after the other in this process; lockstep: the runs of a task advance round "
                        "by round together in this process and their students train as one stacked computation "
                        "(same records as local, faster for small students on a CPU); ray: each run is a Ray task, "
                        "teachers are trained once as their own tasks, and this process writes the run files (needs "
                        "the ray extra: pip install 'akd-bench[ray]') (default: %(default)s)")
    p.add_argument("--address", help="with --executor ray: the cluster to join, 'auto' (the one started here with "
                                     "`ray start`), HOST:6379 or ray://HOST:10001 (default: start a local Ray "
                                     "instance on this machine's cores)")
    if shares:
        p.add_argument("--cohort-size", type=_positive_int,
                       help="with --executor lockstep: the most runs of a task that advance together (more: faster, "
                            "and more memory: every run's data is held at once) (default: 64)")
        p.add_argument("--cpus-per-run", type=_cpu_share,
                       help="with --executor ray: CPUs each run (and teacher) takes; it computes at that many "
                            "torch threads, at least 1 (default: --threads, else 1)")
        p.add_argument("--gpus-per-run", type=_gpu_share,
                       help="with --executor ray: GPUs each run takes; 0.25 packs four runs on one GPU (default: 0)")


def _add_compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--exact", action="store_true",
                   help="also require the same selected pool indices and test accuracy in every round of every "
                        "seed (deterministic CPU suites on the same kind of machine)")
    p.add_argument("--level", type=_level, default=DEFAULT_LEVEL,
                   help="confidence level of the Welch t-interval that sets the tolerance (default: %(default)s)")
    p.add_argument("--floor", type=_floor, default=DEFAULT_FLOOR,
                   help="smallest tolerance, for runs with no spread across seeds (default: %(default)s)")


def _add_power_parser(sub) -> None:
    """The ``power`` command; its numbers are checked when it runs, each bad value one ``error:`` line."""
    p = sub.add_parser(
        "power", help="seeds needed to detect an AUC difference, from a pilot run's paired SD (or from --sd)",
        description="How many seeds a benchmark needs. Two methods run on the same seeds give one AUC "
                    "difference per seed; the sample SD of those differences is the paired SD. From the complete "
                    "runs under RESULTS_DIR, per task: the paired SD over every pair of non-privileged methods "
                    "(median and 90th percentile over pairs), the minimum detectable difference at the current "
                    "seed count, and the seeds needed to detect --difference. The test is the two-sided paired "
                    "t-test at level alpha/m, for one comparison (m=1) and for the family of every pair of the "
                    "task (m=k(k-1)/2, the Bonferroni bound of the Holm correction); power is exact, from the "
                    "noncentral t. Prints a Markdown table, then the same numbers as one JSON line. With --sd "
                    "instead of RESULTS_DIR: the seeds needed for that paired SD, no data read.")
    p.add_argument("results", nargs="?", type=Path, metavar="RESULTS_DIR",
                   help="folder of run files of a pilot run (a results root or one suite's folder)")
    p.add_argument("--suite", help="only this suite's records (needed when the folder holds several)")
    p.add_argument("--sd", metavar="SD", help="a paired SD of AUC differences, instead of RESULTS_DIR")
    p.add_argument("--comparisons", metavar="M", help="with --sd: the number of comparisons m of the Holm family "
                                                      "(default: 1)")
    p.add_argument("--difference", default="0.01", metavar="D",
                   help="the true mean AUC difference to detect, > 0 (default: %(default)s)")
    p.add_argument("--power", default="0.8", metavar="P", help="probability of detecting it, in (0, 1) "
                                                                "(default: %(default)s)")
    p.add_argument("--alpha", default="0.05", metavar="A", help="family-wise significance level, in (0, 1) "
                                                                 "(default: %(default)s)")


def _power_value(option: str, s: str, kind: type, ok, expected: str):
    """``kind(s)`` when ``ok`` accepts it, else ``ConfigError`` naming the option, the value and what is valid."""
    try:
        v = kind(s)
    except ValueError:
        v = None
    if v is None or not ok(v):
        raise ConfigError(f"{option} {s!r}: expected {expected}")
    return v


def _in_unit(v: float) -> bool:
    return 0.0 < v < 1.0


def _power_settings(args: argparse.Namespace) -> tuple[float, float, float]:
    """``(difference, alpha, power)`` of the ``power`` command, checked."""
    return (_power_value("--difference", args.difference, float, lambda v: 0.0 < v < float("inf"),
                         "a number > 0, e.g. 0.01"),
            _power_value("--alpha", args.alpha, float, _in_unit, "a number in (0, 1), e.g. 0.05"),
            _power_value("--power", args.power, float, _in_unit, "a number in (0, 1), e.g. 0.8"))


def _cmd_power(args: argparse.Namespace) -> int:
    """Print the power table of a results folder, or the seeds needed for ``--sd``; each as text then one JSON line."""
    import json

    from benchmark.reporting import power as pw

    difference, alpha, power = _power_settings(args)
    if args.sd is not None and args.results is not None:
        raise ConfigError("power takes RESULTS_DIR or --sd SD, not both")
    if args.sd is None and args.results is None:
        raise ConfigError("power needs RESULTS_DIR (a pilot run's folder, e.g. results/reference/quick) or --sd SD")
    if args.sd is None:
        if args.comparisons is not None:
            raise ConfigError("--comparisons goes with --sd; with RESULTS_DIR, m is every pair of a task's methods")
        table = pw.power_table(pw.load_ranked_runs(args.results, args.suite), difference, alpha, power)
        print(pw.format_markdown(table, difference, alpha, power))
        print(pw.to_json(table, difference, alpha, power))
        return 0
    sd = _power_value("--sd", args.sd, float, lambda v: 0.0 <= v < float("inf"), "a number >= 0, e.g. 0.02")
    m = _power_value("--comparisons", args.comparisons or "1", int, lambda v: v >= 1, "an integer >= 1, e.g. 45")
    res = pw.arithmetic(sd, difference, m, alpha, power)
    n = res["seeds_needed"]
    print(f"{n if n is not None else f'more than {pw.N_MAX}'} seeds detect a true mean AUC difference of "
          f"{difference:g} with power {power:g} when the paired SD is {sd:g} (two-sided paired t-test at "
          f"alpha {alpha:g}/{m})")
    print(json.dumps(res, sort_keys=True))
    return 0


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``prog`` names the program in usage lines and examples (default:
    the name it was invoked by, ``os.path.basename(sys.argv[0])``)."""
    prog = prog or os.path.basename(sys.argv[0])
    parser = argparse.ArgumentParser(
        prog=prog,
        description="AKD-Bench: benchmark acquisition methods for active knowledge distillation. "
                    "Each run trains a student on a small labeled set plus the teacher's soft labels on the "
                    "pool points a method chose to pay for, and records test accuracy after every round.",
        epilog=_epilog(prog), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command",
                                metavar="{run,list,report,compare,reproduce,power,prepare,perf,schema}")

    p_run = sub.add_parser("run", help="run a suite or an ad-hoc grid (finished runs are skipped, "
                                       "interrupted ones resume)")
    _add_run_args(p_run)
    p_run.add_argument("--report", action="store_true", help="write the report after the runs")

    p_prep = sub.add_parser("prepare", help="build a task's local data file (movie_snippets: the CSV from the "
                                            "vaderSentiment 3.3.2 source distribution on PyPI)")
    p_prep.add_argument("what", choices=["movie_snippets"])
    p_prep.add_argument("--data-dir", type=Path, default=Path("data"),
                        help="folder to write the file to; pass the same --data-dir to `run` (default: %(default)s)")
    p_prep.add_argument("--sdist", type=Path, help="a local vaderSentiment-3.3.2.tar.gz instead of fetching it with pip")

    p_list = sub.add_parser("list", help="list registered methods, tasks or suites")
    p_list.add_argument("what", choices=["methods", "tasks", "suites"])

    p_schema = sub.add_parser(
        "schema", help="print the JSON Schema of task or suite YAML files, or of one line of a run file",
        description="Print the JSON Schema (draft 2020-12) of a task YAML file (datasets/*.yaml), a suite YAML "
                    "file (benchmark/suites/*.yaml) or one line of a run file (*.jsonl). Point an editor at it, "
                    "e.g. with a first line '# yaml-language-server: $schema=./task.schema.json' in a task file.")
    p_schema.add_argument("kind", choices=["task", "suite", "run"])

    p_rep = sub.add_parser("report", help="leaderboard tables, plots and HTML page from stored records (never trains)")
    _add_out(p_rep)
    p_rep.add_argument("--suite", help="report only this suite (default: every suite under --out)")
    p_rep.add_argument("--leaderboard-dir", type=Path,
                       help="write the leaderboard of --suite (required with this option) to this folder instead "
                            "of OUT/leaderboard/<suite>/; the committed leaderboards are made with "
                            "--out results/reference --suite S --leaderboard-dir results/leaderboard/S")

    p_cmp = sub.add_parser(
        "compare", help="check results against reference results per (task, method); exit 1 on a regression",
        description="Compare per (task, method): mean AUC and final accuracy must not drop, and the selection "
                    "fingerprint (mean gain and teacher accuracy of the queried points) must not change, by more "
                    "than the half-width of the Welch t-interval on the difference of means over seeds (at least "
                    "--floor). Exit 0: no regression; 1: a regression or a reference entry missing from RESULTS; "
                    "2: bad input.")
    p_cmp.add_argument("results", type=Path, help="folder of run files to check (a results root or one suite's folder)")
    p_cmp.add_argument("reference", type=Path, help="folder of reference run files, e.g. results/reference/ci")
    p_cmp.add_argument("--suite", help="compare only this suite's records (needed when a folder holds several)")
    _add_compare_args(p_cmp)

    p_rpr = sub.add_parser(
        "reproduce", help="rerun a frozen suite and compare it with results/reference/<suite>/",
        description="Run every run of the suite from scratch (fresh runs, empty private cache) and compare the "
                    "records with the suite's committed reference. Exit 0: reproduced; 1: a regression. With "
                    "--update-reference, write the new records as the reference instead (then commit them).")
    p_rpr.add_argument("--suite", required=True, help="a suite name (see `list suites`) or a suite YAML path")
    p_rpr.add_argument("--out", type=Path, help="keep the new runs under OUT/<suite>/ (existing run files there "
                                                 "are kept as .bak); default: a temporary folder")
    p_rpr.add_argument("--reference", type=Path, help="the suite's reference folder (default: "
                                                       "results/reference/<suite> of the checkout, or the copy "
                                                       "installed with the package)")
    p_rpr.add_argument("--update-reference", action="store_true",
                       help="replace the reference with the new records instead of comparing")
    p_rpr.add_argument("--device", default="cpu", help="cpu (default; references are CPU results), auto, cuda or "
                                                       "cuda:N")
    p_rpr.add_argument("--threads", type=_positive_int, default=1,
                       help="torch CPU threads; the default 1 makes CPU results independent of the core count "
                            "(default: %(default)s)")
    _add_numerics(p_rpr)
    _add_executor_args(p_rpr, shares=False)
    p_rpr.add_argument("--use-cache", action="store_true", help="reuse cached teachers and data instead of an "
                                                                 "empty private cache")
    p_rpr.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    _add_compare_args(p_rpr)
    _add_power_parser(sub)

    def _thread_settings(s: str) -> list[int | None]:
        items = _csv(s)
        if not items or not all(x == "default" or (x.isdigit() and int(x) >= 1) for x in items):
            raise argparse.ArgumentTypeError(f"expected integers >= 1 or 'default', comma-separated, got {s!r}")
        return [None if x == "default" else int(x) for x in items]

    _positive_float = _number(float, lambda v: v > 0.0 and v != float("inf"), "a number > 0")
    p_perf = sub.add_parser("perf", help="measure performance (quick, select, train, calibrate, targets, numerics, "
                                         "lockstep)")
    perf_sub = p_perf.add_subparsers(dest="what", metavar="{quick,select,train,calibrate,targets,numerics,lockstep}",
                                     required=True)
    pq = perf_sub.add_parser("quick", help="time the whole quick suite and its report, on an empty cache")
    pq.add_argument("--threads", dest="thread_settings", type=_thread_settings,
                    help="torch threads of the run; several, e.g. 1,2,default, are timed interleaved "
                         "(default: run's default)")
    pq.add_argument("--load", type=_non_negative_int, default=0,
                    help="busy-loop processes to run beside it as background CPU load (default: %(default)s)")
    pq.add_argument("--repeats", type=_positive_int, default=1, help="runs per thread setting (default: %(default)s)")
    pq.add_argument("--json", type=Path, help="also write the measurement to this JSON file")
    ps = perf_sub.add_parser("select", help="time one selection of a method on synthetic inputs; prints one JSON "
                                            "line with seconds and peak_mb (extra resident memory)")
    ps.add_argument("--method", required=True, help="registered method to time (see `list methods`)")
    ps.add_argument("--n", type=_positive_int, default=10_000, help="unqueried pool points (default: %(default)s)")
    ps.add_argument("--dim", type=_positive_int, default=512, help="embedding dimension (default: %(default)s)")
    ps.add_argument("--classes", type=_positive_int, default=10, help="number of classes (default: %(default)s)")
    ps.add_argument("--budget", type=_positive_int, default=1000, help="points to select (default: %(default)s)")
    ps.add_argument("--initial", type=_non_negative_int, default=1000,
                    help="labeled points, the initial centers of the k-center methods (default: %(default)s)")
    ps.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    ps.add_argument("--seed", type=_non_negative_int, default=0, help="seed of the synthetic inputs and the selection")
    ps.add_argument("--json", type=Path, help="also write the measurement to this JSON file")
    pt = perf_sub.add_parser("train", help="training throughput (samples/s) of every registered model")
    pt.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    pt.add_argument("--models", type=_csv, help="only these models (default: all)")
    pt.add_argument("--scale", type=float, default=1.0, help="multiply the example counts (default: 1)")
    pt.add_argument("--threads", type=_positive_int, help="CPU threads for torch")
    pt.add_argument("--json", type=Path, help="also write the measurement to this JSON file")
    pc = perf_sub.add_parser("calibrate", help="run a few runs of a suite and extrapolate the whole suite's time")
    pc.add_argument("--suite", default="cpu-vision", help="the suite to extrapolate (default: %(default)s)")
    pc.add_argument("--methods", type=_csv, default=["margin", "random"], help="methods to run (default: margin,random)")
    pc.add_argument("--seeds", type=_seeds, default=[0], help="seeds to run (default: 0)")
    pc.add_argument("--assume-methods", type=_positive_int,
                    help="number of methods of the full grid (default: those the suite runs)")
    pc.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    pc.add_argument("--data-dir", type=Path, help="folder of local data files (as for run)")
    pc.add_argument("--threads", type=_positive_int, help="CPU threads for torch (as for run)")
    pc.add_argument("--json", type=Path, help="also write the measurement to this JSON file")
    pg = perf_sub.add_parser("targets", help="check the documented absolute speed and memory targets (2 idle CPU "
                                             "cores); one PASS/FAIL line each, exit 1 on a miss")
    pg.add_argument("--only", type=_csv, help="only these targets, comma-separated (default: all)")
    pg.add_argument("--scale", type=_positive_float, default=1.0,
                    help="multiply every size, to check the command quickly; targets apply at 1 (default: 1)")
    pg.add_argument("--slack", type=_positive_float, default=1.0,
                    help="multiply every time target, e.g. 2 on a machine half as fast (default: 1)")
    pg.add_argument("--repeats", type=_positive_int, default=3, help="measurements per target; the median time "
                                                                     "counts (default: %(default)s)")
    pg.add_argument("--threads", type=_positive_int, help="CPU threads for torch")
    pg.add_argument("--json", type=Path, help="also write the results to this JSON file")
    pn = perf_sub.add_parser("numerics", help="time a suite in the portable and the fast numerics mode, "
                                               "interleaved; prints the ratio portable / fast")
    pn.add_argument("--suite", default="quick", help="the suite to time (default: %(default)s)")
    pn.add_argument("--seeds", help="only these seeds of the suite, e.g. 0 or 0-2 (default: the suite's)")
    pn.add_argument("--methods", help="only these methods, comma-separated (default: the suite's)")
    pn.add_argument("--repeats", type=_positive_int, default=1, help="runs per mode (default: %(default)s)")
    pn.add_argument("--json", type=Path, help="also write the measurement to this JSON file")
    pl = perf_sub.add_parser("lockstep", help="time a suite with the lockstep executor and one run at a time, same "
                                              "threads, teachers trained first; prints speedup and records_equal")
    pl.add_argument("--suite", default="quick", help="the suite to time (default: %(default)s)")
    pl.add_argument("--seeds", type=_seeds, help="these seeds instead of the suite's, e.g. 0-19")
    pl.add_argument("--methods", type=_csv, help="only these methods, comma-separated (default: the suite's)")
    pl.add_argument("--cohort-size", type=_positive_int, help="runs that advance together (default: 64)")
    pl.add_argument("--repeats", type=_positive_int, default=1, help="timed runs per executor, alternating "
                                                                     "(default: %(default)s)")
    pl.add_argument("--data-dir", type=Path, help="folder of local data files (as for run)")
    pl.add_argument("--threads", type=_positive_int, help="CPU threads for torch, both executors (default: 1)")
    pl.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    pl.add_argument("--json", type=Path, help="also write the measurement to this JSON file")
    for sp in (ps, pt, pc, pg, pl):
        _add_numerics(sp)
    return parser


def _cmd_run(args: argparse.Namespace, report: bool) -> int:
    from benchmark.core.config import NoiseAxis
    from benchmark.run.runner import build_grid, run_grid
    from benchmark.run.train import RUNTIME

    if args.data_dir is not None:
        os.environ["AKD_BENCH_DATA_DIR"] = str(args.data_dir.expanduser().resolve())
    RUNTIME.compile = bool(args.compile)
    suite = args.suite
    if suite is None and not (args.tasks or args.methods or args.seeds):
        suite = "quick"
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out {str(args.out)!r} is a file; expected a folder for the results")
    if args.noise_kind and not args.teacher_noise:
        raise ConfigError(f"--noise-kind {args.noise_kind} needs --teacher-noise RATES, e.g. --teacher-noise 0,0.2,0.4")
    noise = NoiseAxis(args.noise_kind or "flip_uniform", args.teacher_noise) if args.teacher_noise else None
    grid = build_grid(suite=suite, tasks=args.tasks, methods=args.methods, seeds=args.seeds, rounds=args.rounds,
                      noise=noise)
    try:
        run_grid(grid, args.out, device=args.device, fresh=args.fresh, progress=not args.no_progress,
                 threads=args.threads, executor=args.executor, address=args.address,
                 cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run, cohort_size=args.cohort_size)
    except GridError as e:
        for failure in e.failures:
            print(f"error: {failure}", file=sys.stderr)
        if report:
            _cmd_report(args.out, grid.suite, None)
        print(f"{len(e.failures)} of {len(grid.runs)} runs failed (listed above); their finished rounds are kept: "
              f"run the same command again to resume them", file=sys.stderr)
        return 1
    if report:
        return _cmd_report(args.out, grid.suite, None)
    print(f"{len(grid.runs)} runs stored under {args.out / grid.suite}")
    return 0


def _cmd_report(out: Path, suite: str | None, to: Path | None) -> int:
    """Write the leaderboard of every suite under ``out`` (or of ``suite``) to
    ``OUT/leaderboard/<suite>/``, or of ``suite`` to ``to``."""
    from benchmark.reporting.report import write_report
    from benchmark.core.results import load_records

    records = load_records(out, suite)
    if not records:
        where = f"suite {suite!r} under {out}" if suite else str(out)
        raise FileNotFoundError(f"no run records found for {where}; run a suite first")
    for s in sorted({r.suite for r in records}):
        write_report([r for r in records if r.suite == s], to if to is not None else paths.leaderboard_dir(out, s))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from benchmark.reporting.compare import compare_records, format_comparison, load_folder

    results = load_folder(args.results, "results", args.suite)
    reference = load_folder(args.reference, "reference", args.suite)
    comp = compare_records(results, reference, level=args.level, floor=args.floor, exact=args.exact)
    print(format_comparison(comp, str(args.results), str(args.reference)))
    return 1 if comp.failed else 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from benchmark.reporting.reproduce import reproduce

    return reproduce(args.suite, out=args.out, reference=args.reference, device=args.device, exact=args.exact,
                     level=args.level, floor=args.floor, update=args.update_reference,
                     progress=not args.no_progress, use_cache=args.use_cache, threads=args.threads,
                     executor=args.executor, address=args.address)


def _cmd_list(what: str) -> int:
    if what == "methods":
        from benchmark.core.registry import METHODS

        for name, cls in METHODS.items():
            doc = (cls.__doc__ or sys.modules[cls.__module__].__doc__ or "").strip().splitlines()
            flags = " [privileged]" if cls.privileged else ""
            req = ",".join(sorted(cls.requires)) or "-"
            print(f"{name:<24} v{cls.version}  requires: {req:<32}{flags} {doc[0] if doc else ''}")
    elif what == "tasks":
        from benchmark.core.config import TASKS, load_task

        _print_table([(name, load_task(name)) for name in TASKS.names()])
    else:
        from benchmark.core.config import SUITES, load_suite

        _print_table([(name, load_suite(name)) for name in SUITES.names()])
    return 0


def _print_table(specs: list) -> None:
    """One line per (name, spec): the names padded to the longest, then version and description."""
    width = max((len(name) for name, _ in specs), default=0)
    for name, spec in specs:
        print(f"{name:<{width}}  v{spec.version}  {spec.description}")


def _cmd_schema(kind: str) -> int:
    """Print the JSON Schema of ``kind``: task, suite or run (one line of a run file)."""
    import json

    if kind == "run":
        from benchmark.core.results import line_schema

        schema = line_schema()
    else:
        from benchmark.core.config import SuiteConfig, TaskConfig, json_schema

        schema = json_schema(TaskConfig if kind == "task" else SuiteConfig)
    print(json.dumps(schema, indent=2))
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); returns the exit status:
    0 done, 1 a regression (``compare``/``reproduce``) or a closed output pipe, 2 bad input
    (one ``error: ...`` line on stderr). ``prog`` as for ``build_parser``.

    A reader that closes the output early (``| head``) ends the program quietly.
    """
    try:
        try:
            return _main(argv, prog)
        finally:
            sys.stdout.flush()  # a closed pipe shows here, not in a traceback at exit
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _enter_numerics(args: argparse.Namespace, entry: bool) -> None:
    """Put a computing command in its numerics mode: at the program's entry (``entry``) by
    re-executing it with the pinned environment where needed; in-process by setting the mode
    that torch's run-time pins and the run ids follow. Raises ``ConfigError`` for a bad
    ``$AKD_BENCH_NUMERICS``."""
    from benchmark.core import numerics

    if args.command not in COMPUTING:
        return
    try:
        mode = numerics.resolve_mode(getattr(args, "numerics", None))
    except ValueError as e:
        raise ConfigError(f"{numerics.MODE_ENV}: {e}") from None
    if entry:
        numerics.ensure_process(mode)
    elif mode == "portable" and not numerics.pins_at_start():
        print("warning: portable numerics were asked for, but this process did not start with their pins (the "
              "command line was called from Python); its records are marked with the fast numerics in force, "
              "tied to this CPU", file=sys.stderr)
    os.environ[numerics.MODE_ENV] = mode


def _main(argv: Sequence[str] | None, prog: str | None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.command == "report" and args.leaderboard_dir is not None and args.suite is None:
        parser.error("argument --leaderboard-dir: name the suite it holds with --suite")
    try:
        _enter_numerics(args, entry=argv is None)
        if args.command is None:
            args = parser.parse_args(["run", "--suite", "quick"])
            return _cmd_run(args, report=True)
        if args.command == "run":
            return _cmd_run(args, report=args.report)
        if args.command == "report":
            return _cmd_report(args.out, args.suite, args.leaderboard_dir)
        if args.command == "compare":
            return _cmd_compare(args)
        if args.command == "reproduce":
            return _cmd_reproduce(args)
        if args.command == "power":
            return _cmd_power(args)
        if args.command == "prepare":
            from benchmark.data.movie_snippets import prepare_movie_snippets

            print(f"wrote {prepare_movie_snippets(args.data_dir, args.sdist)}")
            return 0
        if args.command == "list":
            return _cmd_list(args.what)
        if args.command == "schema":
            return _cmd_schema(args.kind)
        if args.command == "perf":
            if getattr(args, "data_dir", None) is not None:
                os.environ["AKD_BENCH_DATA_DIR"] = str(args.data_dir.expanduser().resolve())
            if getattr(args, "threads", None) is not None:
                os.environ["AKD_BENCH_THREADS"] = str(args.threads)
            if args.what == "train":
                from benchmark.perf.training import perf_train

                return perf_train(args.json, device=args.device, models=args.models, scale=args.scale)
            if args.what == "calibrate":
                from benchmark.perf.measure import perf_calibrate

                return perf_calibrate(args.suite, args.methods, args.seeds, args.assume_methods, args.json,
                                      device=args.device)
            if args.what == "select":
                from benchmark.perf.measure import perf_select

                return perf_select(args.method, args.n, args.dim, args.classes, args.budget, args.device,
                                   args.initial, args.seed, args.json)
            if args.what == "numerics":
                from benchmark.perf.numerics_cost import perf_numerics

                extra = [*(["--seeds", args.seeds] if args.seeds else []),
                         *(["--methods", args.methods] if args.methods else [])]
                return perf_numerics(args.suite, args.repeats, extra, args.json)
            if args.what == "lockstep":
                from benchmark.perf.lockstep import perf_lockstep

                return perf_lockstep(args.suite, args.seeds, args.methods, args.repeats, args.cohort_size, args.json,
                                     progress=not args.no_progress)
            if args.what == "targets":
                from benchmark.perf.targets import perf_targets

                return perf_targets(args.only, args.scale, args.slack, args.repeats, args.json)
            from benchmark.perf.measure import perf_quick

            return perf_quick(args.json, args.thread_settings, args.load, args.repeats)
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume (finished rounds are kept)", file=sys.stderr)
        return 130
    except OSError as e:
        if e.errno not in WRITE_ERRNOS:
            raise
        where = f": {e.filename}" if e.filename else ""
        print(f"error: cannot write{where}: {e.strerror}; the results stored so far are intact", file=sys.stderr)
        return 2
    return 0
