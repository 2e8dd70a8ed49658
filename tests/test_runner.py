"""The grid runner: a re-run of a finished grid says so instead of silently doing nothing."""
from benchmark.cli import main


def test_rerun_of_a_finished_grid_says_so(tmp_path, capsys):
    args = ["run", "--tasks", "digits", "--methods", "random", "--seeds", "0,1", "--rounds", "1", "--out",
            str(tmp_path), "--no-progress"]
    assert main(args) == 0
    assert "already complete" not in capsys.readouterr().err
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "2 runs already complete" in err and "--fresh reruns them" in err
    assert main([*args, "--fresh"]) == 0
    assert "already complete" not in capsys.readouterr().err
