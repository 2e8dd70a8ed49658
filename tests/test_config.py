"""One test per kind of bad YAML; each checks that the message names file, field and expectation."""
import textwrap
from pathlib import Path

import pytest
import yaml

from benchmark.core.config import ConfigError, load_suite_file, load_task, load_task_file


def _task_yaml(tmp_path: Path, mutate=None, name="mytask", raw: str | None = None) -> Path:
    base = yaml.safe_load((Path(__file__).parents[1] / "datasets" / "digits.yaml").read_text())
    base["name"] = name
    if mutate:
        mutate(base)
    p = tmp_path / f"{name}.yaml"
    p.write_text(raw if raw is not None else yaml.safe_dump(base))
    return p


def test_shipped_task_loads_with_version():
    t = load_task("digits")
    assert t.version >= 1 and t.splits.labeled == 20 and t.teacher.train_on == "teacher_split"


def test_config_is_frozen():
    t = load_task("digits")
    with pytest.raises(Exception):
        t.rounds = 3


def test_malformed_yaml(tmp_path):
    p = _task_yaml(tmp_path, raw="name: x\nsplits: [1, 2\n")
    with pytest.raises(ConfigError, match=r"mytask\.yaml: malformed YAML at line \d+"):
        load_task_file(p)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: file not found"):
        load_task_file(tmp_path / "nope.yaml")


def test_top_level_not_a_mapping(tmp_path):
    p = _task_yaml(tmp_path, raw="- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a YAML mapping at the top level, got list"):
        load_task_file(p)


def test_missing_field(tmp_path):
    p = _task_yaml(tmp_path, lambda d: d.pop("student"))
    with pytest.raises(ConfigError, match=r"mytask\.yaml: field 'student': missing; expected a mapping with keys"):
        load_task_file(p)


def test_unknown_field(tmp_path):
    p = _task_yaml(tmp_path, lambda d: d["splits"].update(labelled=3))
    with pytest.raises(ConfigError, match=r"field 'splits\.labelled': unknown field; valid fields are \["):
        load_task_file(p)


def test_wrong_type(tmp_path):
    p = _task_yaml(tmp_path, lambda d: d.update(rounds="ten"))
    with pytest.raises(ConfigError, match=r"field 'rounds': expected an integer, got 'ten'"):
        load_task_file(p)


def test_bool_is_not_an_integer(tmp_path):
    p = _task_yaml(tmp_path, lambda d: d.update(version=True))
    with pytest.raises(ConfigError, match=r"field 'version': expected an integer, got True"):
        load_task_file(p)


def test_out_of_range_value(tmp_path):
    p = _task_yaml(tmp_path, lambda d: d["splits"].update(labeled=-3))
    with pytest.raises(ConfigError, match=r"field 'splits\.labeled': expected a value >= 1, got -3"):
        load_task_file(p)


def test_bad_choice(tmp_path):
    p = _task_yaml(tmp_path, lambda d: d["teacher"].update(train_on="everything"))
    with pytest.raises(ConfigError, match=r"field 'teacher\.train_on': expected one of 'labeled', 'teacher_split'"):
        load_task_file(p)


def test_nested_recipe_field(tmp_path):
    p = _task_yaml(tmp_path, lambda d: d["train"].update(distill_weight=1.5))
    with pytest.raises(ConfigError, match=r"field 'train\.distill_weight': expected a value in \[0, 1\], got 1.5"):
        load_task_file(p)


def test_missing_version(tmp_path):
    p = _task_yaml(tmp_path, lambda d: d.pop("version"))
    with pytest.raises(ConfigError, match=r"field 'version': missing; expected an integer"):
        load_task_file(p)


def test_name_must_match_file(tmp_path):
    p = _task_yaml(tmp_path, lambda d: d.update(name="other"))
    with pytest.raises(ConfigError, match=r"field 'name': expected 'mytask' \(the file name\), got 'other'"):
        load_task_file(p)


def test_budget_larger_than_declared_pool(tmp_path):
    p = _task_yaml(tmp_path, lambda d: d["splits"].update(pool=20))
    with pytest.raises(ConfigError, match=r"rounds x queries_per_round = 10 x 5 exceeds the pool of 20 points"):
        load_task_file(p)


def test_teacher_split_required_when_training_on_it(tmp_path):
    p = _task_yaml(tmp_path, lambda d: d["splits"].update(teacher=0))
    with pytest.raises(ConfigError, match=r"field 'splits\.teacher': expected an integer >= 1 when"):
        load_task_file(p)


def _suite(tmp_path, text, name="mysuite"):
    p = tmp_path / f"{name}.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_suite_loads_methods_as_names_or_mappings(tmp_path):
    p = _suite(tmp_path, """
        name: mysuite
        version: 2
        tasks: [digits]
        methods: [margin, {name: random, label: rnd}]
        seeds: [0, 1]
    """)
    s = load_suite_file(p)
    assert s.version == 2 and [m.label for m in s.methods] == ["margin", "rnd"]


def test_suite_bad_methods_value(tmp_path):
    p = _suite(tmp_path, "name: mysuite\nversion: 1\ntasks: [digits]\nmethods: some\n")
    with pytest.raises(ConfigError, match=r"field 'methods': expected 'all' or a list of"):
        load_suite_file(p)


def test_suite_duplicate_seeds(tmp_path):
    p = _suite(tmp_path, "name: mysuite\nversion: 1\ntasks: [digits]\nseeds: [1, 1]\n")
    with pytest.raises(ConfigError, match=r"field 'seeds': expected distinct seeds"):
        load_suite_file(p)


def test_suite_empty_tasks(tmp_path):
    p = _suite(tmp_path, "name: mysuite\nversion: 1\ntasks: []\n")
    with pytest.raises(ConfigError, match=r"field 'tasks': expected a non-empty list of task names"):
        load_suite_file(p)


@pytest.mark.parametrize("raw,field,shown", [
    ("train:\n  lr: .inf\n", "train.lr", "inf"),
    ("train:\n  weight_decay: .nan\n", "train.weight_decay", "nan"),
    ("teacher:\n  train: {temperature: -.inf}\n", "teacher.train.temperature", "-inf"),
    ("student:\n  params: {hidden: [64], dropout: .nan}\n", "student.params.dropout", "nan"),
    ("data:\n  params: {scale: [1.0, .inf]}\n", r"data.params.scale\[1\]", "inf"),
])
def test_non_finite_numbers_are_refused(tmp_path, raw, field, shown):
    """NaN and inf in any number of a task (typed or free-form parameters) name the dotted field."""
    base = yaml.safe_load((Path(__file__).parents[1] / "datasets" / "digits.yaml").read_text())
    for key, value in yaml.safe_load(raw).items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    p = _task_yaml(tmp_path, lambda d: d.update(base))
    with pytest.raises(ConfigError, match=rf"^{p}: field '{field}': expected a finite number, got {shown}$"):
        load_task_file(p)


def test_non_finite_method_parameter_in_a_suite(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\nversion: 1\ntasks: [digits]\nmethods: [{name: rad, params: {alpha: .nan}}]\n")
    with pytest.raises(ConfigError, match=r"s.yaml: field 'methods\[0\]\.params\.alpha': expected a finite number"):
        load_suite_file(p)
