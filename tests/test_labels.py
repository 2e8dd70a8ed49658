"""Labels of any spelling become classes 0..C-1 in sorted order; the mapping is recorded; a
class only the test split has is an error; the same data spelled differently gives the
same splits and results."""
import gzip
import json

import numpy as np
import pytest

from benchmark.core.config import DataSpec, SplitSpec
from benchmark.data import load_data, make_splits
from benchmark.data.base import DataError
from benchmark.data.labels import clean_labels, encode_labels
from tinytask import error_line, finished_run, images, labels, run_args, run_cli, snapshot, write_parquet, write_task


@pytest.mark.parametrize("train,test,names,y,y_test", [
    ([1, 2, 2, 1], [2], ["1", "2"], [0, 1, 1, 0], [1]),
    ([-1, 1, 1], [-1], ["-1", "1"], [0, 1, 1], [0]),
    ([10, 3, 7, 3], [7, 10], ["3", "7", "10"], [2, 0, 1, 0], [1, 2]),  # by value, not as text
    (["pos", "neg", "pos"], ["neg"], ["neg", "pos"], [1, 0, 1], [0]),
    ([1.0, 2.0], None, ["1", "2"], [0, 1], None),  # a CSV column read as floats
    ([0, 1, 2], [1], ["0", "1", "2"], [0, 1, 2], [1]),  # already 0..C-1: unchanged
])
def test_labels_map_to_sorted_classes(train, test, names, y, y_test):
    tr = clean_labels(train, "tr.csv")
    te = None if test is None else clean_labels(test, "te.csv")
    got_y, got_test, got_names = encode_labels(tr, te, "tr.csv", "te.csv")
    assert got_names == names and got_y.tolist() == y and got_y.dtype == np.int64
    assert (got_test is None) if y_test is None else got_test.tolist() == y_test


@pytest.mark.parametrize("values,match", [
    ([1, None, 2], r"^tr.csv: row 2 \(counting data rows from 1\) has an empty label in label column 'label'; "
                   r"fill it in or drop the row$"),
    ([1.0, float("nan")], "row 2 .* has an empty label"),
    (["a", " "], "row 2 .* has an empty label"),
    ([1.0, 1.5], r"row 2 .* has the label 1.5 in label column 'label'; labels must be integers or names"),
    ([1, "b"], r"row 2 .* has the text label 'b' in label column 'label'; the other labels are numbers"),
])
def test_bad_label_values_name_the_file_and_row(values, match):
    for given in (values, np.array(values, dtype=object)):
        with pytest.raises(DataError, match=match):
            clean_labels(given, "tr.csv")


def test_explicit_num_classes_keeps_the_numbering_and_checks_the_range():
    y, _, names = encode_labels(np.array([1, 2]), None, "tr", num_classes=3)
    assert y.tolist() == [1, 2] and names == ["0", "1", "2"]
    with pytest.raises(DataError, match=r"tr: row 2 has label 3, outside \[0, 3\) of num_classes 3"):
        encode_labels(np.array([1, 3]), None, "tr", num_classes=3)


def _write_idx(path, arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def _idx_folder(folder, ytr, yte):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, y in (("train", ytr), ("t10k", yte)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (len(y), 3, 3)))
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.asarray(y))
    return folder


def test_idx_labels_one_and_two_are_a_binary_task(tmp_path):
    d = load_data(DataSpec("idx_folder", {"path": str(_idx_folder(tmp_path / "f", [1, 2, 2, 1], [2, 1]))}),
                  use_cache=False)
    assert d.num_classes == 2 and d.y.tolist() == [0, 1, 1, 0] and d.y_test.tolist() == [1, 0]
    assert d.label_names == ("1", "2")


def test_idx_class_only_in_the_test_split_is_an_error(tmp_path):
    folder = _idx_folder(tmp_path / "f", [0, 1, 0, 1], [1, 2])
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: class '2' appears in the test split but not "
                                        r"in the training data \(.*train-labels-idx1-ubyte.gz\)"):
        load_data(DataSpec("idx_folder", {"path": str(folder)}), use_cache=False)


def test_label_names_and_splits_do_not_depend_on_the_spelling(tmp_path):
    y01 = np.array(labels(60, [0, 1]))
    x = images(y01)
    splits = SplitSpec(test=10, validation=10, labeled=4)
    loaded = {}
    for spelling in ([0, 1], [1, 2], [-1, 1], ["neg", "pos"]):
        f = write_parquet(tmp_path / f"{spelling[0]}.parquet", x, [spelling[int(v)] for v in y01])
        d = load_data(DataSpec("hf_datasets", {"path": "parquet", "data_files": str(f), "image_column": "pixels"}),
                      use_cache=False)
        assert d.num_classes == 2 and d.label_names == tuple(str(s) for s in spelling)
        assert np.array_equal(d.y, y01)
        loaded[spelling[0]] = make_splits(d, splits, seed=3)
    first = loaded[0]
    for s in loaded.values():
        assert s.fingerprint() == first.fingerprint()


def _run_file(out, task):
    files = sorted(out.rglob(f"{task}/*/seed0.jsonl"))
    assert len(files) == 1, files
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    return lines[0], [r for r in lines if r.get("record") == "round"]


@pytest.mark.parametrize("spelling", [[1, 2], [-1, 1]])
def test_respelled_labels_give_identical_results(tmp_path, capsys, spelling):
    """{1, 2} once gave an empty class 0 and {-1, +1} a refusal; both now equal {0, 1}."""
    y01 = labels(60, [0, 1])
    x = images(y01)
    results = {}
    for name, spell in (("zero_one", [0, 1]), ("respelled", spelling)):
        (tmp_path / name).mkdir()  # one task name: seeds derive from it
        f = write_parquet(tmp_path / name / "data.parquet", x, [spell[v] for v in y01])
        task = write_task(tmp_path / name, "tiny", {"data_files": str(f)})
        rc, _, err = run_cli(run_args(task, tmp_path / name / "out"), capsys)
        assert rc == 0, err
        results[name] = _run_file(tmp_path / name / "out", "tiny")
    (h0, r0), (h1, r1) = results["zero_one"], results["respelled"]
    assert len(r0) == len(r1) == 3
    for a, b in zip(r0, r1):
        assert a["queried"] == b["queried"] and a["test_accuracy"] == b["test_accuracy"]
        assert a["test_nll"] == b["test_nll"]
    assert h0["provenance"]["label_names"] == ["0", "1"]
    assert h1["provenance"]["label_names"] == [str(s) for s in spelling]


def test_binary_uncertainty_methods_select_alike(tmp_path, capsys):
    """On two classes margin, entropy and least confidence rank the pool the same way; an
    empty third class (labels {1, 2} read as 0..2) made them differ."""
    y = labels(80, [1, 2], seed=1)
    f = write_parquet(tmp_path / "d.parquet", images(y, seed=1), y)
    task = write_task(tmp_path, "binary", {"data_files": str(f)}, queries_per_round=10,
                      **{"splits.labeled": 2, "train.epochs": 5, "teacher.train.epochs": 5})
    rc, _, err = run_cli(run_args(task, tmp_path / "out", methods="margin,entropy,least_confidence"), capsys)
    assert rc == 0, err
    picked = {}
    for m in ("margin", "entropy", "least_confidence"):
        rounds = [json.loads(line) for line in (tmp_path / "out/adhoc/binary" / m / "seed0.jsonl").read_text().splitlines()
                  if json.loads(line).get("record") == "round"]
        picked[m] = [sorted(r["queried"]) for r in rounds]
    assert picked["margin"] == picked["entropy"] == picked["least_confidence"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """An output folder holding one finished run of a good tiny task."""
    return finished_run(tmp_path_factory.mktemp("finished"))


def test_class_only_in_the_test_file_is_an_error(tmp_path, capsys, finished):
    y = labels(40, ["cat", "dog"])
    tr = write_parquet(tmp_path / "train.parquet", images(y), y)
    te = write_parquet(tmp_path / "test.parquet", images([0, 1, 1]), ["cat", "dog", "emu"])
    task = write_task(tmp_path, "extra", {"data_files": {"train": str(tr), "test": str(te)}, "test_split": "test"},
                      **{"splits.test": 3})
    before = snapshot(finished)
    line = error_line(*run_cli(run_args(task, finished), capsys)[::2])
    assert line == (f"error: {te}: class 'emu' appears in the test split but not in the training data ({tr}); "
                    f"drop those test rows or add training examples")
    assert snapshot(finished) == before
