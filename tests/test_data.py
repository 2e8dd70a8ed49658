"""Data sources and seeded, class-balanced splits."""
import gzip

import numpy as np
import pytest

from benchmark.core.config import DataSpec, SplitSpec
from benchmark.data import load_data, make_splits
from benchmark.data.base import DataError
from benchmark.data.idx_folder import read_idx

SPLITS = SplitSpec(test=400, validation=200, labeled=20, teacher=100, pool=None)


@pytest.fixture(scope="module")
def digits():
    return load_data(DataSpec("sklearn_digits"))


def test_digits_shape(digits):
    assert digits.x.shape == (1797, 1, 8, 8) and digits.x.dtype == np.float32
    assert 0.0 <= digits.x.min() and digits.x.max() <= 1.0 and digits.num_classes == 10
    assert len(digits.fingerprint) == 16


def test_splits_disjoint_sized_balanced_and_seeded(digits):
    s = make_splits(digits, SPLITS, seed=3)
    parts = {k: getattr(s, k) for k in ("labeled", "validation", "pool", "test", "teacher")}
    sizes = {k: len(v) for k, v in parts.items()}
    assert sizes == {"labeled": 20, "validation": 200, "pool": 1797 - 720, "test": 400, "teacher": 100}
    allidx = np.concatenate(list(parts.values()))
    assert len(np.unique(allidx)) == len(allidx) == 1797
    for k in ("labeled", "validation", "test", "teacher"):
        counts = np.bincount(digits.y[parts[k]], minlength=10)
        assert counts.max() - counts.min() <= 1, k
    again = make_splits(digits, SPLITS, seed=3)
    other = make_splits(digits, SPLITS, seed=4)
    assert all(np.array_equal(getattr(s, k), getattr(again, k)) for k in parts)
    assert not np.array_equal(s.labeled, other.labeled)


def test_balanced_split_when_a_class_is_scarce():
    from benchmark.data.base import LoadedData

    y = np.array([0] * 3 + [1] * 50 + [2] * 50)
    data = LoadedData(x=np.zeros((len(y), 2), np.float32), y=y, num_classes=3)
    s = make_splits(data, SplitSpec(test=30, validation=1, labeled=1, pool=None), seed=0)
    counts = np.bincount(y[s.test], minlength=3)
    assert counts.sum() == 30 and counts[0] == 3 and abs(counts[1] - counts[2]) <= 1


def test_split_too_large_is_a_clear_error(digits):
    with pytest.raises(DataError, match="split 'labeled' needs 5000 points but only"):
        make_splits(digits, SplitSpec(test=10, validation=10, labeled=5000), seed=0)


def _write_idx(path, arr, gz=True):
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def test_idx_folder_source(tmp_path):
    rng = np.random.default_rng(0)
    xtr, ytr = rng.integers(0, 256, (30, 5, 6)), rng.integers(0, 10, 30)
    xte, yte = rng.integers(0, 256, (12, 5, 6)), rng.integers(0, 10, 12)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", xtr)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", ytr)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", xte, gz=False)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", yte, gz=False)
    d = load_data(DataSpec("idx_folder", {"path": str(tmp_path)}), use_cache=False)
    assert d.x.shape == (30, 1, 5, 6) and d.x_test.shape == (12, 1, 5, 6)
    np.testing.assert_allclose(d.x[:, 0] * 255, xtr, atol=1e-3)
    np.testing.assert_array_equal(d.y_test, yte)
    s = make_splits(d, SplitSpec(test=10, validation=5, labeled=5, class_balanced=False), seed=0)
    assert s.test_from_test_split and s.test.max() < 12 and len(s.pool) == 20


def test_idx_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_data(DataSpec("idx_folder", {"path": str(tmp_path / "missing")}), use_cache=False)
    with pytest.raises(DataError, match="has no train-images-idx3-ubyte"):
        load_data(DataSpec("idx_folder", {"path": str(tmp_path)}), use_cache=False)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DataError, match="bad magic number"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"\x00" * 3)
    with pytest.raises(DataError, match="declares shape"):
        read_idx(short)


def test_unknown_source_and_bad_params():
    from benchmark.core.registry import UnknownNameError

    with pytest.raises(UnknownNameError, match="Did you mean 'sklearn_digits'"):
        load_data(DataSpec("sklearn_digit"))
    with pytest.raises(DataError, match="bad parameters"):
        load_data(DataSpec("sklearn_digits", {"colour": 1}), use_cache=False)


def test_fashion_mnist_from_debian_package():
    import os

    folder = "/usr/share/datasets/fashion-mnist"
    if not os.path.isdir(folder):
        pytest.skip(f"{folder} not present (apt-get install dataset-fashion-mnist)")
    d = load_data(DataSpec("idx_folder", {"path": folder}))
    assert d.x.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
