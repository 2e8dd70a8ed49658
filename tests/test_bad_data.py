"""Bad user data never gives wrong numbers silently or a traceback: non-finite inputs and
hyperparameters, CSV files in another encoding or with empty cells are one ``error: ...``
line (exit status 2) that leaves finished results alone; a one-point or one-class labeled
set and empty texts are one warning line each, once per task."""
import gzip
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from benchmark.core.config import DataSpec
from benchmark.data import load_data
from benchmark.data.base import DataError, LoadedData
from benchmark.core.paths import REPO_ROOT
from tinytask import error_line, finished_run, images, labels, run_args, run_cli, snapshot, write_parquet, write_task


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """An output folder holding one finished run of a good tiny task."""
    return finished_run(tmp_path_factory.mktemp("finished"))


def _refused(args, capsys, out):
    """The one error line of a command that must fail, after checking ``out`` is untouched."""
    before = snapshot(out)
    rc, _, err = run_cli(args, capsys)
    line = error_line(rc, err)
    assert snapshot(out) == before
    return line


# ----------------------------------------------------------------------------- non-finite values


def test_nan_or_inf_inputs_are_refused(tmp_path, capsys, finished):
    y = labels(40, [0, 1])
    x = images(y)
    x[2, 0, 1, 1], x[6, 0, 0, 0] = np.nan, np.inf
    f = write_parquet(tmp_path / "d.parquet", x, y)
    task = write_task(tmp_path, "nan_inputs", {"data_files": str(f)})
    line = _refused(run_args(task, finished), capsys, finished)
    assert line == (f"error: {f}: image column 'pixels': 2 of 40 rows hold NaN or inf inputs (the first is row 3); "
                    f"fix or drop those rows")


def test_nan_in_an_idx_file_names_the_file(tmp_path):
    x = np.zeros((3, 2, 2), ">f4")
    x[1, 0, 0] = -np.inf
    header = bytes([0, 0, 0x0D, 3]) + b"".join(int(d).to_bytes(4, "big") for d in x.shape)
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(header + x.tobytes())
    with gzip.open(tmp_path / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes([0, 1, 0]))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: 1 of 3 rows hold NaN or inf inputs "
                                        r"\(the first is row 2\)"):
        load_data(DataSpec("idx_folder", {"path": str(tmp_path)}), use_cache=False)


def test_any_source_returning_nan_is_refused():
    from benchmark.core.registry import DATA_SOURCES

    def nan_source():
        x = np.ones((4, 3), np.float32)
        x[3, 1] = np.nan
        return LoadedData(x=x, y=np.array([0, 1, 0, 1]), num_classes=2)

    DATA_SOURCES.add("nan_source_for_test", nan_source)
    try:
        with pytest.raises(DataError, match=r"data source 'nan_source_for_test', train split: 1 of 4 rows hold NaN"):
            load_data(DataSpec("nan_source_for_test"), use_cache=False)
    finally:
        DATA_SOURCES.remove("nan_source_for_test")


@pytest.mark.parametrize("field,value", [("train.lr", float("inf")), ("teacher.train.lr", float("nan")),
                                         ("train.temperature", float("inf")),
                                         ("student.params.hidden", [64, float("inf")])])
def test_non_finite_hyperparameter_is_refused(tmp_path, capsys, finished, field, value):
    task = yaml.safe_load((REPO_ROOT / "datasets" / "digits.yaml").read_text())
    *parents, last = field.split(".")
    node = task
    for p in parents:
        node = node[p]
    node[last] = value
    path = tmp_path / "digits.yaml"
    path.write_text(yaml.safe_dump(task))
    assert (".inf" if "inf" in repr(value) else ".nan") in path.read_text()
    line = _refused(run_args(path, finished), capsys, finished)
    where = field + ("[1]" if isinstance(value, list) else "")
    shown = value[1] if isinstance(value, list) else value
    assert line == f"error: {path}: field '{where}': expected a finite number, got {shown!r}"


# ----------------------------------------------------------------------------- CSV files


def _text_task(folder, name, tokenizer, data_params, **kw):
    return write_task(folder, name, {"path": "csv", "text_column": "text", "image_column": None,
                                     "tokenizer": tokenizer, "max_length": 8, **data_params},
                      **{"teacher.model": {"name": "embedding_bag", "params": {"dim": 8}},
                         "student": {"name": "embedding_bag", "params": {"dim": 8}}, **kw})


def _reviews(n=40, seed=0):
    y = labels(n, [0, 1], seed)
    words = {0: "bad dull", 1: "good great"}
    return [f"{words[v]} film" for v in y], y


def _csv(path, texts, y, encoding="utf-8"):
    rows = ["text,label"] + [f"{t},{'' if v is None else v}" for t, v in zip(texts, y)]
    path.write_bytes(("\n".join(rows) + "\n").encode(encoding))
    return path


def test_latin1_csv_is_one_line_naming_the_file_and_line(tmp_path, capsys, finished, tiny_tokenizer):
    texts, y = _reviews()
    texts[4] = "un film trop lent, déçu"
    f = _csv(tmp_path / "reviews.csv", texts, y, encoding="latin-1")
    task = _text_task(tmp_path, "latin1", tiny_tokenizer, {"data_files": str(f)})
    line = _refused(run_args(task, finished), capsys, finished)
    assert line == (f"error: {f}: line 6 is not valid utf-8 text (bytes b'\\xe9'); set data.params.encoding to the "
                    f"file's encoding, e.g. latin-1 or cp1252")


def test_encoding_parameter_reads_the_file(tmp_path, tiny_tokenizer):
    from transformers import AutoTokenizer

    texts, y = _reviews(6)
    texts[1] = "déçu film"
    f = _csv(tmp_path / "reviews.csv", texts, y, encoding="latin-1")
    d = load_data(DataSpec("hf_datasets", {"path": "csv", "data_files": str(f), "text_column": "text",
                                           "tokenizer": tiny_tokenizer, "encoding": "latin-1"}), use_cache=False)
    ids = AutoTokenizer.from_pretrained(tiny_tokenizer)(texts[1])["input_ids"]
    assert d.x[1][:len(ids)].tolist() == ids and d.y.tolist() == list(y)


@pytest.mark.parametrize("params,match", [
    ({"encoding": "utf-9"}, r"^hf_datasets: unknown encoding 'utf-9'; e.g. utf-8, latin-1, cp1252$"),
    ({"path": "parquet", "encoding": "latin-1"}, r"^hf_datasets: encoding applies to \['csv', 'json', 'text'\] files"),
])
def test_bad_encoding_parameter(tmp_path, tiny_tokenizer, params, match):
    texts, y = _reviews(4)
    f = _csv(tmp_path / "reviews.csv", texts, y)
    with pytest.raises(DataError, match=match):
        load_data(DataSpec("hf_datasets", {"path": "csv", "data_files": str(f), "text_column": "text",
                                           "tokenizer": tiny_tokenizer, **params}), use_cache=False)


def test_empty_label_cell_names_the_file_and_row(tmp_path, capsys, finished, tiny_tokenizer):
    texts, y = _reviews()
    y = list(y)
    y[7] = None
    f = _csv(tmp_path / "reviews.csv", texts, y)
    task = _text_task(tmp_path, "empty_label", tiny_tokenizer, {"data_files": str(f)})
    line = _refused(run_args(task, finished), capsys, finished)
    assert line == (f"error: {f}: row 8 (counting data rows from 1) has an empty label in label column 'label'; "
                    f"fill it in or drop the row")


def test_malformed_csv_row_is_one_line(tmp_path, capsys, finished, tiny_tokenizer):
    texts, y = _reviews()
    texts[3] = "good film,extra"
    f = _csv(tmp_path / "reviews.csv", texts, y)
    task = _text_task(tmp_path, "malformed", tiny_tokenizer, {"data_files": str(f)})
    line = _refused(run_args(task, finished), capsys, finished)
    assert line.startswith(f"error: hf_datasets: cannot read 'csv' ({f}): ParserError: ") and "line 5" in line


# ----------------------------------------------------------------------------- warnings, once per task


@pytest.fixture(scope="module")
def warned(tmp_path_factory, tiny_tokenizer):
    """stderr of one real command line run, two seeds, over three tasks: a one-point labeled
    set, data of a single class, and a CSV with empty texts."""
    root = tmp_path_factory.mktemp("warned")
    y = labels(40, [0, 1])
    one_point = write_task(root, "one_point", {"data_files": str(write_parquet(root / "a.parquet", images(y), y))},
                           **{"splits.labeled": 1})
    cats = ["cat"] * 40
    one_class = write_task(root, "one_class",
                           {"data_files": str(write_parquet(root / "b.parquet", images(y), cats))})
    texts, yt = _reviews()
    texts[2] = texts[9] = texts[30] = ""
    empty_texts = _text_task(root, "empty_texts", tiny_tokenizer,
                             {"data_files": str(_csv(root / "reviews.csv", texts, yt))})
    tasks = ",".join(str(t) for t in (one_point, one_class, empty_texts))
    args = run_args(tasks, root / "out", seeds="0,1")
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "run_benchmark.py"), *args], capture_output=True,
                          text=True, cwd=root, env={**os.environ}, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return [line for line in proc.stderr.splitlines() if line.strip()], root


def test_one_point_or_one_class_labeled_set_warns_once(warned):
    lines, _ = warned
    point = [line for line in lines if "the labeled set holds a single point" in line]
    assert point == ["warning: the labeled set holds a single point (splits.labeled: 1) of class '0': "
                     "round 0 trains the student on one example"] or point == [
        "warning: the labeled set holds a single point (splits.labeled: 1) of class '1': "
        "round 0 trains the student on one example"]
    one_class = [line for line in lines if "holds only class" in line]
    assert one_class == ["warning: the labeled set of seed 0 holds only class 'cat' (4 points; the data has a "
                         "single class: check the label column): round 0 trains the student on one class"]


def test_empty_texts_are_counted_in_one_warning(warned):
    lines, root = warned
    empty = [line for line in lines if "empty texts" in line]
    assert empty == [f"warning: 3 empty texts in text column 'text' (3 of 40 in {root / 'reviews.csv'}); they are "
                     f"kept as empty inputs, drop those rows if they are not meant to be there"]
    assert all(line.startswith("warning: ") for line in lines), lines  # nothing else on stderr
