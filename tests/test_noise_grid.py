"""Teacher noise as a grid axis: each level is its own task label, so results never mix."""
import pytest

from benchmark.core.config import ConfigError, NoiseAxis, load_suite
from benchmark.run.runner import build_grid


def test_suite_axis_expands_every_kind_and_rate():
    cfg = load_suite("robustness")
    assert cfg.teacher_noise.kinds == ["flip_uniform", "flip_hard"] and cfg.include_privileged
    grid = build_grid(suite="robustness", methods=["margin"], seeds=[0])
    labels = [r.task.label for r in grid.runs]
    assert labels[:2] == ["digits@flip_uniform-0", "digits@flip_uniform-0.1"] and len(labels) == 12
    assert {r.task.teacher.noise.kind for r in grid.runs} == {"flip_uniform", "flip_hard"}
    assert "oracle_correct_margin" in {r.method.name for r in build_grid(suite="robustness", seeds=[0]).runs}


def test_command_line_axis_overrides_and_keeps_levels_apart():
    grid = build_grid(tasks=["digits"], methods=["margin", "random"], seeds=[0],
                      noise=NoiseAxis("flip_hard", [0.0, 0.3]))
    assert [(r.task.label, r.method.label) for r in grid.runs] == [
        ("digits@flip_hard-0", "margin"), ("digits@flip_hard-0", "random"),
        ("digits@flip_hard-0.3", "margin"), ("digits@flip_hard-0.3", "random")]
    run_ids = {r.task.to_dict()["teacher"]["noise"]["rate"] for r in grid.runs}
    assert run_ids == {0.0, 0.3}


def test_bad_axis_is_a_config_error(tmp_path):
    p = tmp_path / "bad-noise.yaml"
    p.write_text("name: bad-noise\nversion: 1\ntasks: [digits]\nmethods: [margin]\n"
                 "teacher_noise: {kind: flip_uniform, rates: [0.1, 0.1]}\n")
    with pytest.raises(ConfigError, match="field 'teacher_noise.rates': expected a non-empty list of distinct rates"):
        load_suite(str(p))
