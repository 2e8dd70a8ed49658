"""`run_benchmark.py perf targets`: every documented target runs, PASS/FAIL lines, exit codes.

Run at a thousandth of the documented sizes. No outcome here depends on the machine's
speed: a passing run uses a huge ``--slack`` (every time target multiplied by 10^9) and a
failing one a tiny slack (every time target below any measurable time)."""
import json

import pytest

from benchmark.cli import build_parser, main
from benchmark.perf.targets import TARGETS, check_target

TINY = ["--scale", "0.001", "--repeats", "1"]


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_every_target_runs_at_a_tiny_size(target):
    row = check_target(target, scale=0.001, slack=1e9, repeats=1)
    assert row["target"] == target.name and row["pass"] is True
    assert row["seconds"] > 0 and row["target_seconds"] == pytest.approx(target.seconds * 1e9)
    assert ("target_mb" in row) == (target.peak_mb is not None)


def test_targets_met_exit_0(capsys, tmp_path):
    out = tmp_path / "targets.json"
    assert main(["perf", "targets", *TINY, "--slack", "1e9", "--only", "coreset,top_k", "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [x.split(":")[0] for x in lines[:2]] == ["PASS coreset", "PASS top_k"]
    assert "MB (target <= 300 MB)" in lines[0] and "n=50," in lines[0]
    assert lines[2].startswith("targets: 2 passed, 0 failed")
    saved = json.loads(out.read_text())
    assert [r["pass"] for r in saved["results"]] == [True, True] and saved["scale"] == 0.001


def test_a_missed_target_exits_1(capsys):
    assert main(["perf", "targets", *TINY, "--slack", "1e-12", "--only", "top_k,rad_sampling"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [x.split(":")[0] for x in lines[:2]] == ["FAIL rad_sampling", "FAIL top_k"]  # in the table's order
    assert lines[2].startswith("targets: 0 passed, 2 failed")


def test_unknown_target_is_a_one_line_error(capsys):
    assert main(["perf", "targets", "--only", "top_k,corset"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: unknown target 'corset'; valid choices: coreset")


@pytest.mark.parametrize("argv", [["--scale", "0"], ["--slack", "-1"], ["--slack", "inf"], ["--repeats", "0"]])
def test_bad_numbers_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["perf", "targets", *argv])
    assert exc.value.code == 2
    assert f"got '{argv[1]}'" in capsys.readouterr().err
