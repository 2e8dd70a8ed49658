"""Numeric CSV files (tabular features, no text or image column): ``feature_columns`` gives
float32 vectors an MLP trains on, end to end through the command line; a missing column or a
cell that is not a number is one ``error:`` line naming the file, the column and the row."""
import json

import numpy as np
import pandas as pd
import pytest

from benchmark.core.config import DataSpec
from benchmark.data import load_data
from benchmark.data.base import DataError
from tinytask import error_line, run_cli, write_task


def _table(n, seed=0):
    """n rows of two well separated classes: float columns f1, f2, an integer column count,
    a boolean column flag and the label (text)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    return pd.DataFrame({"f1": rng.normal(3.0 * y, 0.5), "label": np.where(y == 1, "yes", "no"),
                         "f2": rng.normal(-2.0 * y, 0.5), "count": rng.integers(0, 5, n) + 10 * y,
                         "flag": y == 1})


@pytest.fixture
def files(tmp_path):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    _table(80).to_csv(train, index=False)
    _table(30, seed=1).to_csv(test, index=False)
    return train, test


def _params(files, **kw):
    train, test = files
    return {"path": "csv", "data_files": {"train": str(train), "test": str(test)}, "test_split": "test", **kw}


def test_feature_columns_give_float32_vectors(files):
    train, test = files
    d = load_data(DataSpec("hf_datasets", _params(files, feature_columns=["f2", "count"])), use_cache=False)
    table = pd.read_csv(train)
    assert d.x.dtype == np.float32 and d.x.shape == (80, 2) and d.modality == "vector"
    np.testing.assert_array_equal(d.x, table[["f2", "count"]].to_numpy(np.float32))
    np.testing.assert_array_equal(d.x_test, pd.read_csv(test)[["f2", "count"]].to_numpy(np.float32))
    assert d.label_names == ("no", "yes") and d.y.tolist() == (table["label"] == "yes").astype(int).tolist()


def test_feature_columns_all_is_every_column_but_the_label(files):
    d = load_data(DataSpec("hf_datasets", _params(files, feature_columns="all")), use_cache=False)
    table = pd.read_csv(files[0])
    assert d.meta["feature_columns"] == ["f1", "f2", "count", "flag"]
    np.testing.assert_array_equal(d.x, table[["f1", "f2", "count", "flag"]].to_numpy(np.float32))


def _task(folder, params, name="numeric"):
    """A one-round task over the numeric CSV ``params`` (the shared tiny task, data replaced)."""
    return write_task(folder, name, {}, **{"data.params": params, "splits.test": 20, "splits.labeled": 6,
                                           "rounds": 1, "queries_per_round": 4})


def _run(task, out):
    return ["run", "--tasks", str(task), "--methods", "random", "--seeds", "0", "--rounds", "1", "--out", str(out),
            "--no-progress"]


def test_numeric_csv_task_runs_one_round_through_the_command_line(files, tmp_path, capsys):
    task = _task(tmp_path, _params(files, feature_columns="all"))
    rc, _, err = run_cli(_run(task, tmp_path / "out"), capsys)
    assert rc == 0, err
    (run_file,) = (tmp_path / "out").rglob("seed0.jsonl")
    lines = [json.loads(line) for line in run_file.read_text().splitlines()]
    rounds = [r for line in lines for r in ([line] if "test_accuracy" in line else line.get("rounds", []))]
    assert [r["round"] for r in rounds] == [0, 1] and rounds[-1]["n_queries"] == 4
    assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in rounds)


def _refused(params, tmp_path, capsys):
    rc, _, err = run_cli(_run(_task(tmp_path, params), tmp_path / "out"), capsys)
    return error_line(rc, err)


def test_unknown_feature_column_is_one_line(files, tmp_path, capsys):
    line = _refused(_params(files, feature_columns=["f1", "colour"]), tmp_path, capsys)
    assert line == (f"error: {files[0]}: feature column 'colour' is not a column; columns: "
                    f"['f1', 'label', 'f2', 'count', 'flag']")


@pytest.mark.parametrize("which", [0, 1])  # the train file, or the test file (read against the train file's types)
def test_a_cell_that_is_not_a_number_names_file_column_and_row(files, tmp_path, capsys, which):
    table = _table((80, 30)[which], seed=which)
    table["f2"] = table["f2"].astype(object)
    table.loc[6, "f2"] = "n/a?"
    table.to_csv(files[which], index=False)
    line = _refused(_params(files, feature_columns="all"), tmp_path, capsys)
    assert line == (f"error: {files[which]}: row 7 (counting data rows from 1) holds 'n/a?', which is not a number, "
                    f"in feature column 'f2'; feature columns hold numbers only")


@pytest.mark.parametrize("cell,problem", [
    ("", "has an empty cell (or NA/NaN)"),
    ("inf", "holds inf, which is not a finite float32 number,"),
    ("1e300", "holds 1e+300, which is not a finite float32 number,"),
])
def test_empty_or_non_finite_cells_name_the_row(files, cell, problem):
    train = files[0]
    rows = train.read_text().splitlines()
    cells = rows[4].split(",")
    cells[0] = cell
    rows[4] = ",".join(cells)
    train.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as e:
        load_data(DataSpec("hf_datasets", _params(files, feature_columns=["f1"])), use_cache=False)
    assert str(e.value).startswith(f"{train}: row 4 (counting data rows from 1) {problem} in feature column 'f1'; ")


@pytest.mark.parametrize("value,message", [
    ("f1", "feature_columns must be all or a non-empty list of distinct column names, got 'f1'"),
    ([], "feature_columns must be all or a non-empty list of distinct column names, got []"),
    (["f1", "f1"], "feature_columns must be all or a non-empty list of distinct column names, got ['f1', 'f1']"),
    (["f1", "label"], "feature column 'label' is the label column; leave it out of feature_columns"),
])
def test_bad_feature_columns_value(files, value, message):
    with pytest.raises(DataError) as e:
        load_data(DataSpec("hf_datasets", _params(files, feature_columns=value)), use_cache=False)
    assert str(e.value).endswith(message) and len(str(e.value).splitlines()) == 1


def test_no_input_column_names_the_file_and_every_choice(files, tmp_path, capsys):
    line = _refused(_params(files), tmp_path, capsys)
    assert line == (f"error: hf_datasets ({files[0]}, {files[1]}): set exactly one of image_column (images), "
                    f"text_column (text, with a tokenizer) and feature_columns (numeric columns: a list of names, "
                    f"or all) in data.params")
