"""Exact copies of training rows on the test side: one warning line with the counts and an
example pair, once per dataset and found once per process; ``data.dedupe: true`` drops
exactly them; clean data is silent; the new option leaves every shipped task's identity alone."""
import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.core.config import DataSpec, load_task_file
from benchmark.core.paths import REPO_ROOT
from benchmark.data import base, duplicates, load_data
from benchmark.data.duplicates import find_duplicates
from tests.conftest import WORDS


@pytest.fixture(autouse=True)
def _fresh_process_state(monkeypatch):
    """Each test starts as a new process would: nothing warned, searched or deduplicated yet."""
    monkeypatch.setattr(base, "_WARNED", set())
    monkeypatch.setattr(duplicates, "_REPORTS", {})
    monkeypatch.setattr(duplicates, "_DEDUPED", {})


def _texts(n, offset=0):
    """n distinct three-word texts (every word one token of the test tokenizer)."""
    w = len(WORDS)
    return [" ".join(WORDS[(i // w ** k) % w] for k in range(3)) for i in range(offset, offset + n)]


def _csv(path, texts, seed=0):
    y = np.random.default_rng(seed).integers(0, 2, len(texts))
    pd.DataFrame({"text": texts, "label": y}).to_csv(path, index=False)
    return str(path)


def _spec(tokenizer, train, test=None, dedupe=False):
    files = {"train": train, **({"test": test} if test else {})}
    return DataSpec("hf_datasets", {"path": "csv", "data_files": files, "text_column": "text", "tokenizer": tokenizer,
                                    "max_length": 8, **({"test_split": "test"} if test else {})}, dedupe=dedupe)


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "benchmark.data" and "exact" in r.getMessage()]


@pytest.fixture
def leaky(tmp_path, tiny_tokenizer):
    """A train file of 60 texts and a test file of 20, 7 of them copies of training texts: test
    row 3 copies training row 11 in capitals, which the tokenizer lower-cases."""
    train = _texts(60)
    test = _texts(20, offset=500)
    copies = {2: 10, 5: 0, 6: 59, 9: 33, 13: 10, 17: 4, 19: 20}  # test row -> training row (0-based)
    for i, j in copies.items():
        test[i] = train[j]
    test[2] = test[2].upper()
    return _spec(tiny_tokenizer, _csv(tmp_path / "train.csv", train), _csv(tmp_path / "test.csv", test, 1)), copies


def test_test_copies_of_training_rows_warn_once_with_the_counts(leaky, caplog):
    spec, _ = leaky
    with caplog.at_level(logging.WARNING, "benchmark.data"):
        load_data(spec, use_cache=False)
        load_data(spec, use_cache=False)
    files = ", ".join(spec.params["data_files"].values())
    assert _warnings(caplog) == [
        f"warning: data source 'hf_datasets' ({files}): 7 of 20 test rows are exact copies of training rows (e.g. "
        f"test row 3 = training row 11) (counting data rows from 1); set data.dedupe: true to drop them (the first "
        f"copy of a repeated row stays)"]


def test_dedupe_drops_exactly_the_test_copies(leaky, caplog):
    spec, copies = leaky
    raw = load_data(spec, use_cache=False)
    with caplog.at_level(logging.WARNING, "benchmark.data"):
        clean = load_data(dataclasses.replace(spec, dedupe=True), use_cache=False)
    keep = [i for i in range(20) if i not in copies]
    np.testing.assert_array_equal(clean.x_test, raw.x_test[keep])
    np.testing.assert_array_equal(clean.y_test, raw.y_test[keep])
    np.testing.assert_array_equal(clean.x, raw.x)
    assert clean.fingerprint != raw.fingerprint
    assert find_duplicates(clean.x, clean.x_test).clean
    assert [m for m in _warnings(caplog) if "7 of 20 test rows" in m and m.endswith("dropped the copies "
                                                                                     "(data.dedupe: true)")]


def test_dedupe_applies_to_data_from_the_in_process_cache(leaky, caplog):
    spec, copies = leaky
    with caplog.at_level(logging.WARNING, "benchmark.data"):
        raw = load_data(spec)
        again = load_data(spec)  # from the in-process cache
        clean = load_data(dataclasses.replace(spec, dedupe=True))
    assert again is raw and len(raw.x_test) == 20 and len(clean.x_test) == 20 - len(copies)
    assert load_data(dataclasses.replace(spec, dedupe=True)) is clean
    assert len(_warnings(caplog)) == 2  # one without dedupe, one with


def test_a_clean_dataset_does_not_warn(tmp_path, tiny_tokenizer, caplog):
    with caplog.at_level(logging.WARNING, "benchmark.data"):
        d = load_data(_spec(tiny_tokenizer, _csv(tmp_path / "a.csv", _texts(40)),
                            _csv(tmp_path / "b.csv", _texts(10, offset=100))), use_cache=False)
        digits = load_data(DataSpec("sklearn_digits"))
    assert _warnings(caplog) == [] and len(d.x_test) == 10
    assert load_data(DataSpec("sklearn_digits", dedupe=True)) is digits  # nothing to drop: the same data


def test_repeats_inside_one_array_are_reported_and_dropped(tmp_path, tiny_tokenizer, caplog):
    """Without a test file every split is drawn from one array, so a repeated row can land on
    both sides: reported as such, and ``dedupe`` keeps only its first copy."""
    texts = _texts(50)
    texts[11], texts[30], texts[49] = texts[1], texts[1], texts[7]
    spec = _spec(tiny_tokenizer, _csv(tmp_path / "one.csv", texts))
    with caplog.at_level(logging.WARNING, "benchmark.data"):
        raw = load_data(spec, use_cache=False)
        clean = load_data(dataclasses.replace(spec, dedupe=True), use_cache=False)
    assert [m.split(": ", 2)[2] for m in _warnings(caplog)] == [
        "3 of 50 training rows repeat an earlier row exactly (e.g. row 12 = row 2), so the seeded splits can put "
        "copies on both the test and the training side (counting data rows from 1); set data.dedupe: true to drop "
        "them (the first copy of a repeated row stays)",
        "3 of 50 training rows repeat an earlier row exactly (e.g. row 12 = row 2), so the seeded splits can put "
        "copies on both the test and the training side (counting data rows from 1); dropped the copies "
        "(data.dedupe: true)"]
    keep = [i for i in range(50) if i not in (11, 30, 49)]
    np.testing.assert_array_equal(clean.x, raw.x[keep])
    np.testing.assert_array_equal(clean.y, raw.y[keep])


def test_the_search_runs_once_per_dataset(leaky, monkeypatch):
    spec, _ = leaky
    calls = []
    real = duplicates._digests
    monkeypatch.setattr(duplicates, "_digests", lambda x: calls.append(len(x)) or real(x))
    load_data(spec, use_cache=False)
    load_data(spec, use_cache=False)  # the source reads and tokenizes the files again: same fingerprint
    load_data(dataclasses.replace(spec, dedupe=True), use_cache=False)
    assert calls == [60, 20]  # the training rows and the test rows, hashed once


def test_search_is_cached_per_fingerprint(monkeypatch):
    """A dataset searched once is never hashed again, and a new dataset is."""
    from benchmark.data.base import LoadedData

    calls = []
    real = duplicates._digests
    monkeypatch.setattr(duplicates, "_digests", lambda x: calls.append(len(x)) or real(x))
    x = np.arange(24, dtype=np.float32).reshape(6, 4)
    a = LoadedData(x=x, y=np.zeros(6, np.int64), num_classes=1).with_fingerprint()
    for _ in range(3):
        duplicates.report_for(a)
    assert calls == [6]
    duplicates.report_for(dataclasses.replace(a, x=x + 1).with_fingerprint())
    assert calls == [6, 6]


def test_a_digest_match_counts_only_when_the_bytes_are_equal(monkeypatch):
    """Every row gets the same digest: the byte comparison still finds only the real copies."""
    class Same:
        def __init__(self, *a, **k):
            pass

        def digest(self):
            return b"\0" * 16

    monkeypatch.setattr(duplicates.hashlib, "blake2b", Same)
    x = np.array([[1, 2], [3, 4], [1, 2], [5, 6]], np.int64)
    r = find_duplicates(x, np.array([[5, 6], [3, 4], [1, 2]], np.int64))
    assert r.repeats.tolist() == [2] and r.repeat_sources.tolist() == [0]
    assert r.test_copies.tolist() == [2] and r.test_sources.tolist() == [0]


def test_rows_of_another_shape_or_dtype_are_never_copies():
    x = np.zeros((3, 4), np.float32)
    assert find_duplicates(x, np.zeros((2, 4), np.float64)).test_copies.size == 0
    assert find_duplicates(x, np.zeros((2, 2, 2), np.float32)).test_copies.size == 0
    assert find_duplicates(x, np.zeros((2, 4), np.float32)).test_copies.tolist() == [0, 1]
    assert find_duplicates(np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32)).clean


# ----------------------------------------------------------------------------- identities pinned

# content_hash (the hash of task.to_dict(), part of every run id and teacher key) of each shipped
# task, as it was before data.dedupe existed: an option left at its default changes no identity
SHIPPED_TASK_HASHES = {
    "ag_news": "0922b981dc3e3d93", "cifar10": "a9aa2cc718f9129e", "cifar100": "0dd3ecbc069b8974",
    "digits": "8724f0f430089df3", "digits_ci": "7b76bf6f586a3e58", "fashion_mnist": "aba8a2a444ba75f5",
    "fashion_mnist_gpu": "1ebfe122e5d255a3", "imagenet": "1d4a0a8397ee95c3", "imdb": "08dbc6562addd041",
    "movie_snippets": "0bfb3f12db5b2b98", "sst2": "e60a9a99e447db2e", "svhn": "1f8b99735729aa7d",
}
DIGITS_FINGERPRINT = "137caf5884c53c21"


@pytest.mark.parametrize("name", sorted(SHIPPED_TASK_HASHES))
def test_shipped_task_identity_is_unchanged(name):
    task = load_task_file(REPO_ROOT / "datasets" / f"{name}.yaml")
    assert "dedupe" not in task.to_dict()["data"]
    assert task.content_hash() == SHIPPED_TASK_HASHES[name]


def test_dedupe_true_is_part_of_the_identity():
    task = load_task_file(REPO_ROOT / "datasets" / "digits.yaml")
    deduped = dataclasses.replace(task, data=dataclasses.replace(task.data, dedupe=True))
    assert deduped.to_dict()["data"]["dedupe"] is True and deduped.content_hash() != task.content_hash()


def test_digits_fingerprint_is_unchanged():
    assert load_data(load_task_file(REPO_ROOT / "datasets" / "digits.yaml").data).fingerprint == DIGITS_FINGERPRINT
