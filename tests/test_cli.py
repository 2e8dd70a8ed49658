"""The command line: help, lists, ad-hoc runs, reports and one-line errors."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.cli import main

ROOT = Path(__file__).parents[1]


def test_help_explains_every_flag():
    out = subprocess.run([sys.executable, str(ROOT / "run_benchmark.py"), "run", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for flag in ("--suite", "--tasks", "--methods", "--seeds", "--rounds", "--device", "--out", "--fresh"):
        assert flag in out


def test_list(capsys):
    assert main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    assert "margin" in out and "random" in out
    assert main(["list", "tasks"]) == 0 and "digits" in capsys.readouterr().out
    assert main(["list", "suites"]) == 0 and "quick" in capsys.readouterr().out


@pytest.mark.parametrize("what", ["tasks", "suites"])
def test_list_columns_line_up_past_long_names(what, capsys):
    """The version column starts at one position on every line, whatever the longest name."""
    assert main(["list", what]) == 0
    lines = capsys.readouterr().out.splitlines()
    starts = {re.search(r"  v\d+  ", line).start() for line in lines}
    assert len(lines) > 3 and len(starts) == 1, lines


def test_unknown_method_is_a_one_line_error(capsys, tmp_path):
    rc = main(["run", "--tasks", "digits", "--methods", "margn", "--seeds", "0", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "unknown method 'margn'" in err and "Did you mean 'margin'?" in err


def test_unknown_task_and_suite(capsys, tmp_path):
    assert main(["run", "--suite", "quik", "--out", str(tmp_path)]) == 2
    assert "Did you mean 'quick'?" in capsys.readouterr().err
    assert main(["run", "--tasks", "digit", "--methods", "random", "--seeds", "0", "--out", str(tmp_path)]) == 2
    assert "Did you mean 'digits'?" in capsys.readouterr().err


def test_incomplete_adhoc_grid(capsys, tmp_path):
    assert main(["run", "--tasks", "digits", "--out", str(tmp_path)]) == 2
    assert "--tasks, --methods and --seeds" in capsys.readouterr().err


def test_bad_seeds_and_rounds():
    with pytest.raises(SystemExit):
        main(["run", "--seeds", "a,b"])
    with pytest.raises(SystemExit):
        main(["run", "--rounds", "0"])


def test_bad_device(capsys, tmp_path):
    rc = main(["run", "--tasks", "digits", "--methods", "random", "--seeds", "0", "--device", "tpu",
               "--out", str(tmp_path)])
    assert rc == 2 and "unknown device 'tpu'" in capsys.readouterr().err


def test_adhoc_run_then_report(tmp_path, capsys):
    args = ["--tasks", "digits", "--methods", "margin,random", "--seeds", "0,1", "--rounds", "2",
            "--out", str(tmp_path), "--no-progress"]
    assert main(["run", *args]) == 0
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl"))
    assert files == [f"adhoc/digits/{m}/seed{s}.jsonl" for m in ("margin", "random") for s in (0, 1)]
    assert main(["report", "--out", str(tmp_path)]) == 0
    board = tmp_path / "leaderboard" / "adhoc"  # with --out DIR the leaderboard goes under DIR/leaderboard/
    for name in ("leaderboard.csv", "leaderboard.md", "leaderboard.tex", "accuracy_curves.png", "index.html"):
        assert (board / name).exists(), name
    assert "| queries | margin | random |" in capsys.readouterr().out
    assert main(["report", "--out", str(tmp_path), "--suite", "adhoc"]) == 0  # the leaderboard is not a run file
    # --fresh keeps the old file as a backup
    assert main(["run", *args, "--fresh"]) == 0
    assert (tmp_path / "adhoc" / "digits" / "margin" / "seed0.jsonl.bak").exists()


def test_leaderboard_folder_rule():
    from benchmark.core import paths

    # every --out DIR keeps its leaderboard inside it, the default (git-ignored) results/runs too,
    # so a user's report never rewrites the committed leaderboards under results/leaderboard/
    assert paths.leaderboard_dir(paths.DEFAULT_OUT, "quick") == Path("results") / "runs" / "leaderboard" / "quick"
    assert paths.leaderboard_dir(Path("/tmp/x"), "ci") == Path("/tmp/x/leaderboard/ci")


def test_report_to_an_explicit_leaderboard_dir(tmp_path, capsys):
    """--leaderboard-dir writes one suite's leaderboard there, nothing under --out."""
    src = ROOT / "results" / "reference"
    assert main(["report", "--out", str(src), "--suite", "ci", "--leaderboard-dir", str(tmp_path / "lb")]) == 0
    assert (tmp_path / "lb" / "leaderboard.csv").exists() and not (src / "leaderboard").exists()
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:  # which suite would the folder hold?
        main(["report", "--out", str(src), "--leaderboard-dir", str(tmp_path / "lb2")])
    assert e.value.code == 2 and "--leaderboard-dir: name the suite it holds with --suite" in capsys.readouterr().err


def _cli(*args: str, cwd: Path | None = None, module: bool = False, importtime: bool = False):
    head = [sys.executable, *(["-X", "importtime"] if importtime else [])]
    head += ["-m", "benchmark"] if module else [str(ROOT / "run_benchmark.py")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([*head, *args], capture_output=True, text=True, cwd=cwd, env=env)


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["run", "--help"], ["list", "tasks"], ["list", "suites"],
                                  ["run", "--rounds", "0"], ["list", "nothing"], ["compare", "a", "b", "--level", "2"],
                                  ["report", "--leaderboard-dir", "x"]])
def test_help_lists_and_argument_errors_do_not_import_torch_pandas_or_scipy(args):
    res = _cli(*args, importtime=True)
    assert res.returncode in (0, 2), res.stderr[-2000:]
    # -X importtime writes one line per module to stderr: "import time: self | cumulative | [indent]name"
    imported = {line.rsplit("|", 1)[1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}
    assert "benchmark.cli" in imported  # the flag took effect
    assert not {"torch", "pandas", "scipy"} & imported


def test_version_help_names_and_module_entry_point(tmp_path):
    from benchmark.cli import version

    assert version() != "unknown"
    res = _cli("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"python run_benchmark.py {version()}"
    usage = _cli("--help").stdout
    assert usage.startswith("usage: python run_benchmark.py") and "python run_benchmark.py reproduce --suite ci" in usage
    res = _cli("--help", cwd=tmp_path, module=True)  # python -m benchmark is the same command line
    assert res.returncode == 0 and res.stdout.startswith("usage: python -m benchmark")
    assert "python -m benchmark run --suite quick --seeds 0" in res.stdout
    res = _cli("list", "suites", cwd=tmp_path, module=True)
    assert res.returncode == 0 and "quick" in res.stdout


def test_threads_help_says_one_thread_by_default():
    out = " ".join(_cli("run", "--help").stdout.split())
    assert ("--threads THREADS CPU threads for torch and BLAS (default: 1, so CPU results do not depend on the core "
            "count; more threads are recorded in the run header and the run id)") in out


ENTRY_POINTS = {  # how each entry point starts the command line
    "script": [str(ROOT / "run_benchmark.py")],
    "module": ["-m", "benchmark"],
    "console": ["-c", "import sys; from benchmark.cli import main; sys.exit(main())"],  # akd-bench = benchmark.cli:main
}


@pytest.mark.parametrize("unbuffered", ["", "1"])
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_closed_output_pipe_exits_quietly(entry, unbuffered):
    """`... list suites | head -1`: the reader is gone (here before the first write, so every
    write fails): nothing on stderr, whether stdout is buffered or not; exit status 1 (argparse
    itself ignores a failed write of --help and exits 0)."""
    head = [sys.executable, *ENTRY_POINTS[entry]]
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    for args in (["list", "suites"], ["--version"], ["--help"]):
        r, w = os.pipe()
        os.close(r)
        try:
            res = subprocess.run([*head, *args], stdout=w, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        finally:
            os.close(w)
        assert res.stderr == "" and res.returncode in ((0, 1) if args == ["--help"] else (1,)), (args, res.stderr)


def test_reproduce_without_reference_is_a_one_line_error(tmp_path, capsys):
    assert main(["reproduce", "--suite", "ci", "--reference", str(tmp_path / "none"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no reference results for suite 'ci'" in err
    assert "--update-reference" in err
    assert main(["reproduce", "--suite", "cj"]) == 2
    assert "Did you mean 'ci'?" in capsys.readouterr().err


def test_report_on_empty_root(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path)]) == 2
    assert "no run records found" in capsys.readouterr().err


def test_report_on_corrupt_file(tmp_path, capsys):
    p = tmp_path / "s" / "digits" / "margin" / "seed0.jsonl"
    p.parent.mkdir(parents=True)
    p.write_text('{"record": "run"')
    assert main(["report", "--out", str(tmp_path)]) == 2
    assert str(p) in capsys.readouterr().err and p.read_text() == '{"record": "run"'


@pytest.mark.parametrize("argv,message", [
    (["run", "--rounds", "0"], "argument --rounds: expected an integer >= 1, got '0'"),
    (["run", "--threads", "two"], "argument --threads: expected an integer >= 1, got 'two'"),
    (["perf", "select", "--method", "margin", "--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
    (["compare", "a", "b", "--level", "1.5"], "argument --level: expected a confidence level in (0, 1)"),
    (["compare", "a", "b", "--floor", "-0.1"], "argument --floor: expected a number >= 0, e.g. 0.005, got '-0.1'"),
])
def test_bad_number_arguments_name_the_flag_and_the_range(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err
