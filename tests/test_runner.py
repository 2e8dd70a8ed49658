"""The grid runner: a re-run of a finished grid says so, and a bad grid is refused before anything runs."""
import pytest
import yaml

from benchmark.core import paths
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


def test_an_ad_hoc_grid_names_the_flags_it_lacks(tmp_path, capsys):
    rc = main(["run", "--tasks", "digits_ci", "--methods", "random", "--rounds", "1", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].endswith("(missing: --seeds)")
    rc = main(["run", "--seeds", "0", "--out", str(tmp_path)])
    assert rc == 2 and capsys.readouterr().err.strip().endswith("(missing: --tasks, --methods)")


@pytest.mark.parametrize("field, value, message", [
    ("student", {"name": "mlpx"}, "field 'student': unknown model 'mlpx'"),
    ("student", {"name": "mlp", "params": {"hiddn": [8]}}, "field 'student': model 'mlp': unknown parameter 'hiddn'"),
    ("teacher", {"model": {"name": "mlpx"}}, "field 'teacher.model': unknown model 'mlpx'"),
])
def test_a_bad_model_in_a_task_is_refused_before_any_teacher_is_trained(tmp_path, capsys, monkeypatch, field, value,
                                                                        message):
    spec = yaml.safe_load((paths.TASKS_DIR / "digits_ci.yaml").read_text())
    spec["name"] = "bad_model"
    spec[field] = {**spec[field], **value} if field == "teacher" else value
    (tmp_path / "bad_model.yaml").write_text(yaml.safe_dump(spec))
    monkeypatch.setenv("AKD_BENCH_CACHE", str(tmp_path / "cache"))
    rc = main(["run", "--tasks", str(tmp_path / "bad_model.yaml"), "--methods", "random", "--seeds", "0",
               "--out", str(tmp_path / "out"), "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 2 and captured.err.strip().splitlines() == [captured.err.strip()]
    assert f"error: task bad_model: {message}" in captured.err
    assert "training teacher" not in captured.out + captured.err and not (tmp_path / "cache" / "teachers").exists()
