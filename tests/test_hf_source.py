"""The Hugging Face datasets source: local parquet/csv/json/imagefolder files give the same
tensors as the direct loaders; hub ids fail fast offline; bad input is a one-line error."""
import gzip
import json

import numpy as np
import pytest

from benchmark.core.config import DataSpec
from benchmark.data import load_data
from benchmark.data.base import PAD, DataError
from tests.conftest import sentiment_texts


def _write_idx(path, arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def _images(n, shape, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8), rng.integers(0, 3, n)


def _hf_image_dataset(x, y, column="image", label="label"):
    import datasets
    from PIL import Image

    ims = [Image.fromarray(a if a.ndim == 2 else a.transpose(1, 2, 0)) for a in x]
    feats = datasets.Features({column: datasets.Image(), label: datasets.ClassLabel(names=["c0", "c1", "c2"])})
    return datasets.Dataset.from_dict({column: ims, label: y.tolist()}, features=feats)


@pytest.fixture(scope="module")
def grey(tmp_path_factory):
    """28x28 grey images written as IDX, parquet (Image + ClassLabel) and an imagefolder."""
    from PIL import Image

    root = tmp_path_factory.mktemp("grey")
    (xtr, ytr), (xte, yte) = _images(30, (28, 28), 0), _images(12, (28, 28), 1)
    idx = root / "idx"
    idx.mkdir()
    for prefix, x, y in (("train", xtr, ytr), ("t10k", xte, yte)):
        _write_idx(idx / f"{prefix}-images-idx3-ubyte.gz", x)
        _write_idx(idx / f"{prefix}-labels-idx1-ubyte.gz", y)
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        _hf_image_dataset(x, y).to_parquet(str(root / f"{split}.parquet"))
        for i, (a, label) in enumerate(zip(x, y)):
            d = root / "folder" / split / f"c{label}"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(a).save(d / f"{i:04d}.png")
    return root, (xtr, ytr, xte, yte)


def test_parquet_and_imagefolder_match_the_idx_loader(grey):
    root, (xtr, ytr, xte, yte) = grey
    direct = load_data(DataSpec("idx_folder", {"path": str(root / "idx"), "num_classes": 3}), use_cache=False)
    pq = load_data(DataSpec("hf_datasets", {
        "path": "parquet", "data_files": {"train": str(root / "train.parquet"), "test": str(root / "test.parquet")},
        "test_split": "test", "image_column": "image"}), use_cache=False)
    assert pq.x.shape == (30, 1, 28, 28) and pq.x.dtype == np.float32 and pq.num_classes == 3
    np.testing.assert_array_equal(pq.x, direct.x)
    np.testing.assert_array_equal(pq.x_test, direct.x_test)
    np.testing.assert_array_equal(pq.y, direct.y)
    np.testing.assert_array_equal(pq.y_test, direct.y_test)
    assert pq.meta["classes"] == ["c0", "c1", "c2"] and pq.modality == "image"

    folder = load_data(DataSpec("hf_datasets", {"path": "imagefolder", "data_dir": str(root / "folder"),
                                                "test_split": "test", "image_column": "image"}), use_cache=False)
    # imagefolder lists files by class folder, then file name
    order = np.lexsort((np.arange(30), ytr))
    np.testing.assert_array_equal(folder.x, direct.x[order])
    np.testing.assert_array_equal(folder.y, ytr[order])
    assert folder.x_test.shape == (12, 1, 28, 28)


def test_rgb_parquet_and_uint8_storage(tmp_path):
    x, y = _images(10, (3, 32, 32), 2)
    _hf_image_dataset(x, y, column="img").to_parquet(str(tmp_path / "train.parquet"))
    params = {"path": "parquet", "data_files": str(tmp_path / "train.parquet"), "image_column": "img"}
    d = load_data(DataSpec("hf_datasets", params), use_cache=False)
    np.testing.assert_allclose(d.x, x / 255.0, atol=1e-7)
    u = load_data(DataSpec("hf_datasets", {**params, "storage": "uint8"}), use_cache=False)
    assert u.x.dtype == np.uint8 and np.array_equal(u.x, x)
    small = load_data(DataSpec("hf_datasets", {**params, "image_size": 16, "channels": 1}), use_cache=False)
    assert small.x.shape == (10, 1, 16, 16)


@pytest.fixture(scope="module")
def text_files(tmp_path_factory):
    import pandas as pd

    root = tmp_path_factory.mktemp("text")
    texts, y = sentiment_texts(40, seed=3)
    texts[0] = "a very very " + " ".join(["good"] * 40)  # longer than max_length: truncated
    df = pd.DataFrame({"text": texts, "label": y, "valence": np.linspace(-2, 2, 40)})
    df.to_csv(root / "reviews.csv", index=False)
    df.to_parquet(root / "reviews.parquet")
    with open(root / "reviews.jsonl", "w") as f:
        for t, label in zip(texts, y):
            f.write(json.dumps({"text": t, "label": int(label)}) + "\n")
    return root, texts, y


@pytest.mark.parametrize("fmt,file", [("csv", "reviews.csv"), ("parquet", "reviews.parquet"), ("json", "reviews.jsonl")])
def test_text_files_match_the_tokenizer(text_files, tiny_tokenizer, fmt, file):
    from transformers import AutoTokenizer

    root, texts, y = text_files
    d = load_data(DataSpec("hf_datasets", {"path": fmt, "data_files": str(root / file), "text_column": "text",
                                           "tokenizer": tiny_tokenizer, "max_length": 16}), use_cache=False)
    tok = AutoTokenizer.from_pretrained(tiny_tokenizer)
    enc = tok(texts, truncation=True, max_length=16)["input_ids"]
    assert d.x.dtype == np.int64 and d.x.shape == (40, max(map(len, enc))) == (40, 16)
    for row, ids in zip(d.x, enc):
        assert list(row[:len(ids)]) == ids and (row[len(ids):] == PAD).all()
    np.testing.assert_array_equal(d.y, y)
    assert d.meta["modality"] == "text" and d.meta["vocab_size"] == len(tok) > 50 and d.meta["tokenizer"] == tiny_tokenizer


def test_string_labels_map_to_sorted_class_names(tmp_path, tiny_tokenizer):
    (tmp_path / "s.csv").write_text("sentence,mood\ngood film,pos\nbad film,neg\nfine,pos\n")
    d = load_data(DataSpec("hf_datasets", {"path": "csv", "data_files": str(tmp_path / "s.csv"),
                                           "text_column": "sentence", "label_column": "mood",
                                           "tokenizer": tiny_tokenizer}), use_cache=False)
    assert d.meta["classes"] == ["neg", "pos"] and d.y.tolist() == [1, 0, 1]


def test_processed_text_is_cached_and_invalidated_by_a_changed_file(text_files, tiny_tokenizer, monkeypatch, tmp_path):
    import shutil

    import benchmark.data.base as base

    root, _, _ = text_files
    f = tmp_path / "r.csv"
    shutil.copy(root / "reviews.csv", f)
    spec = DataSpec("hf_datasets", {"path": "csv", "data_files": str(f), "text_column": "text",
                                    "tokenizer": tiny_tokenizer})
    first = load_data(spec)
    base._MEMORY.clear()
    import datasets

    monkeypatch.setattr(datasets, "load_dataset",
                        lambda *a, **k: pytest.fail("a cached dataset was reloaded"))
    again = load_data(spec)
    np.testing.assert_array_equal(first.x, again.x)
    assert again.meta == first.meta and again.fingerprint == first.fingerprint
    monkeypatch.undo()
    base._MEMORY.clear()
    f.write_text(f.read_text().replace("good", "bad"))
    changed = load_data(spec)
    assert changed.fingerprint != first.fingerprint


def _forbid_library_load(monkeypatch):
    """Fast means before any call into ``datasets.load_dataset`` (whose retries take ~23 s):
    checked by making that call fail the test, not by a wall-time bound."""
    import datasets

    def called(*args, **kwargs):
        pytest.fail("datasets.load_dataset was called for an unreachable hub id")

    monkeypatch.setattr(datasets, "load_dataset", called)


def test_hub_id_offline_is_a_fast_one_line_error(monkeypatch):
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    _forbid_library_load(monkeypatch)
    with pytest.raises(DataError) as e:
        load_data(DataSpec("hf_datasets", {"path": "uoft-cs/cifar10", "image_column": "img"}), use_cache=False)
    msg = str(e.value)
    assert len(msg.splitlines()) == 1 and "HF_DATASETS_OFFLINE=1" in msg
    assert "data_files" in msg and "imagefolder" in msg


def test_hub_id_without_network_fails_fast_without_the_offline_variables(monkeypatch):
    import benchmark.data.pretrained as pre

    for var in pre.OFFLINE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setattr(pre, "_PROBED", {})
    _forbid_library_load(monkeypatch)
    with pytest.raises(DataError, match="cannot be reached") as e:
        load_data(DataSpec("hf_datasets", {"path": "stanfordnlp/imdb", "text_column": "text", "tokenizer": "x"}),
                  use_cache=False)
    assert len(str(e.value).splitlines()) == 1


@pytest.mark.parametrize("params,match", [
    ({"path": "csv", "data_files": "F", "text_column": "review", "tokenizer": "T"},
     r"text_column 'review' is not a column of split 'train'; columns: \['text', 'label', 'valence'\]"),
    ({"path": "csv", "data_files": "F", "text_column": "text", "label_column": "stars", "tokenizer": "T"},
     r"label_column 'stars' is not a column"),
    ({"path": "csv", "data_files": "F", "text_column": "text", "tokenizer": "T", "test_split": "test"},
     r"has no split 'test'; available splits: \['train'\]"),
    ({"path": "csv", "data_files": "F", "text_column": "text", "image_column": "img"}, "exactly one of"),
    ({"path": "csv", "data_files": "F", "text_column": "text"}, "needs data.params.tokenizer"),
    ({"path": "csv", "text_column": "text", "tokenizer": "T"}, "needs data_files"),
    ({"path": "csv", "data_files": "missing.csv", "text_column": "text", "tokenizer": "T"},
     r"'missing.csv' not found .*--data-dir"),
    ({"path": "csv", "data_files": "F", "text_column": "text", "colour": 1}, "bad parameters"),
])
def test_bad_input_is_a_one_line_error(text_files, tiny_tokenizer, params, match):
    root, _, _ = text_files
    params = {k: (str(root / "reviews.csv") if v == "F" else tiny_tokenizer if v == "T" else v) for k, v in params.items()}
    with pytest.raises(DataError, match=match) as e:
        load_data(DataSpec("hf_datasets", params), use_cache=False)
    assert len(str(e.value).splitlines()) == 1


def test_relative_paths_resolve_against_the_data_dir(text_files, tiny_tokenizer, monkeypatch):
    root, _, y = text_files
    monkeypatch.setenv("AKD_BENCH_DATA_DIR", str(root))
    d = load_data(DataSpec("hf_datasets", {"path": "csv", "data_files": "reviews.csv", "text_column": "text",
                                           "tokenizer": tiny_tokenizer}), use_cache=False)
    np.testing.assert_array_equal(d.y, y)


def test_unlabeled_test_split_is_refused(tmp_path):
    """-1 in a ClassLabel column marks an unlabeled example (the test split of GLUE tasks)."""
    x, _ = _images(4, (4, 4), 0)
    _hf_image_dataset(x, np.array([0, 1, 2, 1])).to_parquet(str(tmp_path / "tr.parquet"))
    _hf_image_dataset(x[:2], np.array([1, -1])).to_parquet(str(tmp_path / "te.parquet"))
    with pytest.raises(DataError, match=r"te.parquet: row 2 is unlabeled \(label -1\); choose a labeled split") as e:
        load_data(DataSpec("hf_datasets", {"path": "parquet", "data_files": {"train": str(tmp_path / "tr.parquet"),
                                                                             "test": str(tmp_path / "te.parquet")},
                                           "test_split": "test", "image_column": "image"}), use_cache=False)
    assert len(str(e.value).splitlines()) == 1


@pytest.mark.parametrize("layout", ["chw", "hwc", "hw"])
def test_image_column_of_nested_arrays(tmp_path, layout):
    import datasets

    x, y = _images(6, (3, 8, 8), 4)
    stored = {"chw": x, "hwc": x.transpose(0, 2, 3, 1), "hw": x[:, 0]}[layout]
    datasets.Dataset.from_dict({"pixels": stored.tolist(), "label": y.tolist()}).to_parquet(str(tmp_path / "a.parquet"))
    d = load_data(DataSpec("hf_datasets", {"path": "parquet", "data_files": str(tmp_path / "a.parquet"),
                                           "image_column": "pixels", "storage": "uint8"}), use_cache=False)
    expected = x[:, :1] if layout == "hw" else x
    np.testing.assert_array_equal(d.x, expected)
