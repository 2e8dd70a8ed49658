"""MNIST-format IDX folders (LeCun et al.): MNIST, Fashion-MNIST, KMNIST and friends.

An IDX file is a big-endian header: two zero bytes, a type code (0x08 = uint8), the number
of dimensions, then one 4-byte size per dimension, then the data. Files may be gzipped.
The folder holds ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]`` and
optionally ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``.
Fashion-MNIST on Debian: ``apt-get install dataset-fashion-mnist`` puts it in
``/usr/share/datasets/fashion-mnist``. A relative ``path`` is resolved against the data dir
(``--data-dir``) when one is set, else against the working directory.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from benchmark.data.base import DataError, LoadedData, check_finite, data_dir, file_token, names_meta
from benchmark.data.labels import clean_labels, encode_labels
from benchmark.core.registry import register_data_source

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally .gz) into an array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read IDX file: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path}: IDX header declares shape {shape} ({expected} bytes) "
                        f"but the file holds {len(raw) - header} data bytes")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).exists():
            return folder / name
    return None


def idx_folder_path(path: str) -> Path:
    """The folder ``path`` names: relative paths are resolved against the data dir when one
    is set. A missing folder is a one-line ``DataError``."""
    p = Path(path).expanduser()
    base = data_dir()
    folder = p if p.is_absolute() or base is None else base / p
    if not folder.is_dir():
        where = f" (data dir {str(base)!r})" if base is not None and not p.is_absolute() else ""
        raise DataError(f"IDX folder {str(folder)!r} does not exist{where}; set data.params.path in the "
                        "task YAML or pass --data-dir (Fashion-MNIST: apt-get install dataset-fashion-mnist)")
    return folder


@register_data_source("idx_folder")
def load_idx_folder(path: str, num_classes: int | None = None) -> LoadedData:
    """x: (N, 1, H, W) float32 in [0, 1]; y: (N,) int64 in [0, C); the t10k files become the
    test split. Labels map to 0..C-1 in sorted order (``benchmark.data.labels``); with
    ``num_classes`` they must already be in [0, num_classes)."""
    folder = idx_folder_path(path)
    arrays, label_files = {}, {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        img, lab = _find(folder, f"{prefix}-images-idx3-ubyte"), _find(folder, f"{prefix}-labels-idx1-ubyte")
        if img is None or lab is None:
            if split == "train":
                raise DataError(f"IDX folder {str(folder)!r} has no {prefix}-images-idx3-ubyte[.gz] "
                                f"and {prefix}-labels-idx1-ubyte[.gz]")
            continue
        x, y = read_idx(img), read_idx(lab)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"IDX folder {str(folder)!r}: {split} images {x.shape} and labels {y.shape} do not match")
        check_finite(x, str(img))
        arrays[split] = ((x.astype(np.float32) / 255.0)[:, None], clean_labels(y, str(lab)))
        label_files[split] = str(lab)
    (x, y_raw), (x_test, y_test_raw) = arrays["train"], arrays.get("test", (None, None))
    y, y_test, names = encode_labels(y_raw, y_test_raw, label_files["train"], label_files.get("test"),
                                     num_classes=num_classes)
    return LoadedData(x=x, y=y, num_classes=len(names), x_test=x_test, y_test=y_test, meta=names_meta(names))


def _cache_token(path: str, **_: object) -> list:
    """The sizes and modification times of the folder's files: part of the data cache key."""
    return file_token([idx_folder_path(path)])


load_idx_folder.cache_token = _cache_token
