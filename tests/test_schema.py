"""`schema task|suite|run` prints JSON Schemas that hold for every shipped task and suite file
and every committed run-file line, checked with the independent `jsonschema` package; they
reject what the loaders reject, and the loaders' messages read from them."""
import contextlib
import copy
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from benchmark.cli import main
from benchmark.core.config import ConfigError, load_suite_file, load_task_file

ROOT = Path(__file__).parents[1]
TASK_FILES = sorted((ROOT / "datasets").glob("*.yaml"))
SUITE_FILES = sorted((ROOT / "benchmark" / "suites").glob("*.yaml"))
REFERENCE_SUITES = sorted(p for p in (ROOT / "results" / "reference").iterdir() if p.is_dir())


def _printed_schema(kind: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["schema", kind]) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def validator():
    """kind -> a Draft 2020-12 validator of the schema the command line prints."""
    return {kind: Draft202012Validator(_printed_schema(kind)) for kind in ("task", "suite", "run")}


def _problems(v: Draft202012Validator, doc) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


@pytest.mark.parametrize("kind", ["task", "suite", "run"])
def test_printed_schema_is_a_valid_json_schema_with_help_for_editors(kind):
    schema = _printed_schema(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["description"] and schema["title"]
    if kind == "task":
        version = schema["properties"]["version"]
        assert version["type"] == "integer" and version["minimum"] == 1 and "results" in version["description"]
        assert "distill_weight" in schema["$defs"]["TrainRecipe"]["description"]  # the class docstring


def test_bad_schema_kind_is_a_one_line_argument_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["schema", "tasks"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and err[-1].endswith(
        "argument kind: invalid choice: 'tasks' (choose from 'task', 'suite', 'run')")


@pytest.mark.parametrize("kind", ["task", "run"])
def test_schema_command_does_not_import_torch_pandas_or_scipy(kind):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "run_benchmark.py"), "schema", kind],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0 and json.loads(res.stdout)["$schema"], res.stderr[-2000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}
    assert "pydantic" in imported  # the flag took effect
    assert not {"torch", "pandas", "scipy"} & imported


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda p: p.stem)
def test_every_shipped_task_follows_the_task_schema(validator, path):
    assert _problems(validator["task"], yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("path", SUITE_FILES, ids=lambda p: p.stem)
def test_every_shipped_suite_follows_the_suite_schema(validator, path):
    assert _problems(validator["suite"], yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("folder", REFERENCE_SUITES, ids=lambda p: p.name)
def test_every_reference_run_line_follows_the_run_schema(validator, folder):
    files = sorted(folder.rglob("*.jsonl"))
    kinds = set()
    for f in files:
        for no, line in enumerate(f.read_text().splitlines(), 1):
            obj = json.loads(line)
            kinds.add(obj["record"])
            assert _problems(validator["run"], obj) == [], f"{f}:{no}"
    assert files and kinds == {"run", "round", "summary"}


# ----------------------------------------------------------------------------- bad documents


def _digits():
    return yaml.safe_load((ROOT / "datasets" / "digits.yaml").read_text())


def _set(doc: dict, dotted: str, value) -> dict:
    doc = copy.deepcopy(doc)
    *parents, last = dotted.split(".")
    node = doc
    for p in parents:
        node = node[p]
    node[last] = value
    return doc


@pytest.mark.parametrize("field,value", [
    ("splits.labeled", -3), ("splits.labeled", 2.5), ("version", True), ("rounds", "ten"),
    ("train.distill_weight", 1.5), ("train.lr", 0), ("teacher.train_on", "everything"), ("splits.labelled", 3),
    ("student.params", 3), ("teacher.noise", {"kind": "flip_uniform", "rate": 1.0}), ("train.augment", "rotate"),
])
def test_the_task_schema_rejects_what_the_loader_rejects(validator, tmp_path, field, value):
    doc = _set(_digits(), field, value)
    doc["name"] = "bad"
    assert _problems(validator["task"], doc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=re.escape(f"field '{field}")):  # the field or one inside it
        load_task_file(path)


@pytest.mark.parametrize("text,field", [
    ("tasks: []", "tasks"), ("seeds: [1, 1]", "seeds"), ("methods: some", "methods"), ("version: 0", "version"),
    ("teacher_noise: {kind: flip_uniform, rates: [0.1, 1.5]}", "teacher_noise.rates[1]"),
    ("teacher_noise: {kind: flip_uniform, rates: [0.1, 0.1]}", "teacher_noise.rates"),
    ("methods: [{name: rad, lbl: x}]", "methods[0].lbl"),
])
def test_the_suite_schema_rejects_what_the_loader_rejects(validator, tmp_path, text, field):
    doc = {"name": "bad", "version": 1, "tasks": ["digits"], **yaml.safe_load(text)}
    assert _problems(validator["suite"], doc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=re.escape(f"field '{field}'")):
        load_suite_file(path)


def _reference_lines() -> dict[str, dict]:
    path = next((ROOT / "results" / "reference" / "ci").rglob("seed0.jsonl"))
    return {obj["record"]: obj for obj in map(json.loads, path.read_text().splitlines())}


@pytest.mark.parametrize("kind,change", [
    ("round", {"test_accuracy": 1.5}), ("round", {"queried": [1, True]}), ("round", {"n_labeled": "20"}),
    ("round", {"extra": 1}), ("run", {"schema_version": 2}), ("run", {"privileged": 0}), ("run", {"run_id": None}),
    ("summary", {"auc": "x"}), ("summary", {"record": "summry"}),
])
def test_the_run_schema_rejects_a_bad_line(validator, kind, change):
    line = _reference_lines()[kind]
    assert _problems(validator["run"], line) == []
    assert _problems(validator["run"], {**line, **change})


def test_a_run_line_must_have_every_header_field(validator):
    header = _reference_lines()["run"]
    for field in header:
        assert _problems(validator["run"], {k: v for k, v in header.items() if k != field}), field


# ----------------------------------------------------------------------------- messages


@pytest.mark.parametrize("text,message", [
    ("methods: [{label: x}]", "field 'methods[0].name': missing; expected a string"),
    ("methods: [margin, 3]", "field 'methods[1]': expected a string or a mapping with keys "
                             "['name', 'label', 'params'], got 3"),
    ("methods: [{name: a, lbl: b}]", "field 'methods[0].lbl': unknown field; valid fields are "
                                     "['label', 'name', 'params']"),
    ("teacher_noise: {kind: [flip_uniform, bad], rates: [0.1]}",
     "field 'teacher_noise.kind[1]': expected one of 'flip_uniform', 'flip_hard', 'flip_pairs', 'flip_informative', "
     "'flip_adaptive', 'train_labels', got 'bad'"),
    ("teacher_noise: {kind: flip_uniform, rates: [0.1, 1.5]}",
     "field 'teacher_noise.rates[1]': expected a value in [0, 1), got 1.5"),
    ("tasks: digits", "field 'tasks': expected a list of task names, got 'digits'"),
    ("rounds: 0", "field 'rounds': expected a value >= 1, got 0"),
    ("3: x", "field '3': unknown field; valid fields are ['description', 'include_privileged', 'methods', 'name', "
             "'rounds', 'seeds', 'tasks', 'teacher_noise', 'version']"),
    ("methods: [{name: rad, params: {1: 2}}]", "field 'methods[0].params[1]': expected a string, got 1"),
])
def test_a_suite_error_names_the_innermost_field_and_reads_the_schema(tmp_path, text, message):
    """Inside a union (methods: all or a list) the member the value fits is the one explained."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "version": 1, "tasks": ["digits"], **yaml.safe_load(text)}))
    with pytest.raises(ConfigError) as e:
        load_suite_file(path)
    assert str(e.value) == f"{path}: {message}"


def test_a_task_error_of_a_missing_or_misspelt_field(tmp_path):
    doc = _digits()
    doc["splits"]["labelled"] = doc["splits"].pop("labeled")  # unknown and missing: the unknown one is named
    path = tmp_path / "digits.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as e:
        load_task_file(path)
    assert str(e.value) == (f"{path}: field 'splits.labelled': unknown field; valid fields are ['class_balanced', "
                            f"'labeled', 'pool', 'teacher', 'test', 'validation']")
    path.write_text(yaml.safe_dump(_set(_digits(), "teacher.noise", {"kind": "flip_hard"})))
    with pytest.raises(ConfigError) as e:
        load_task_file(path)
    assert str(e.value) == f"{path}: field 'teacher.noise.rate': missing; expected a number in [0, 1)"


def test_a_run_file_error_names_line_and_field(tmp_path):
    from benchmark.core.results import ResultsError, read_run

    src = next((ROOT / "results" / "reference" / "ci").rglob("seed0.jsonl")).read_text().splitlines()
    bad = json.loads(src[2])
    bad["queried"] = [1, True]
    path = tmp_path / "seed0.jsonl"
    path.write_text("\n".join([src[0], src[1], json.dumps(bad), *src[3:]]) + "\n")
    with pytest.raises(ResultsError, match=r"line 3: round: field 'queried\[1\]': expected an integer, got True: "):
        read_run(path)
