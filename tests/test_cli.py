"""The command line: help, lists, ad-hoc runs, reports and one-line errors."""
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
    from benchmark import paths

    # records under the default root results/runs -> results/leaderboard/<suite>/
    assert paths.leaderboard_dir(paths.DEFAULT_OUT, "quick") == Path("results") / "leaderboard" / "quick"
    assert paths.leaderboard_dir(Path("results/runs/"), "ci") == Path("results") / "leaderboard" / "ci"
    # any other --out DIR keeps its leaderboard inside it
    assert paths.leaderboard_dir(Path("/tmp/x"), "ci") == Path("/tmp/x/leaderboard/ci")


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
