"""The in-memory form of a dataset, and ``load_data`` with an on-disk cache of processed arrays.

A source returns a ``LoadedData``: ``x`` (N, ...) float32 inputs, ``y`` (N,) int64 labels,
and optionally a separate test split ``x_test``/``y_test``. Processed arrays are cached
under ``<cache>/data/<content hash>.npz`` keyed by the source name and parameters, and every
dataset carries a ``fingerprint``: the sha256 of its bytes, recorded in each RunRecord.
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark import paths
from benchmark.config import DataSpec, stable_hash
from benchmark.registry import DATA_SOURCES


class DataError(ValueError):
    """A dataset cannot be loaded: a missing file, a bad format, or bad parameters."""


@dataclass(frozen=True)
class LoadedData:
    """Arrays of one dataset. ``x``: (N, ...) float32; ``y``: (N,) int64 in [0, num_classes)."""

    x: np.ndarray
    y: np.ndarray
    num_classes: int
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    fingerprint: str = ""

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def with_fingerprint(self) -> "LoadedData":
        h = hashlib.sha256()
        for a in (self.x, self.y, self.x_test, self.y_test):
            if a is not None:
                h.update(str(a.shape).encode())
                h.update(np.ascontiguousarray(a).data)
        return dataclasses.replace(self, fingerprint=h.hexdigest()[:16])


def validate(data: LoadedData, source: str) -> LoadedData:
    for xs, ys, split in ((data.x, data.y, "train"), (data.x_test, data.y_test, "test")):
        if xs is None:
            continue
        if len(xs) != len(ys):
            raise DataError(f"data source {source!r}: {split} has {len(xs)} inputs but {len(ys)} labels")
        if ys.min() < 0 or ys.max() >= data.num_classes:
            raise DataError(f"data source {source!r}: {split} labels outside [0, {data.num_classes})")
    return data


_MEMORY: dict[str, LoadedData] = {}


def load_data(spec: DataSpec, use_cache: bool = True) -> LoadedData:
    """Load a dataset through its registered source, with in-process and on-disk caches."""
    key = stable_hash({"source": spec.source, "params": spec.params, "format": 1})
    if use_cache and key in _MEMORY:
        return _MEMORY[key]
    loader = DATA_SOURCES.get(spec.source)
    cache_file = paths.cache_dir("data") / f"{spec.source}-{key}.npz"
    data = None
    if use_cache and cache_file.exists():
        try:
            with np.load(cache_file, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            data = LoadedData(
                x=arrays["x"], y=arrays["y"], num_classes=int(arrays["num_classes"]),
                x_test=arrays.get("x_test"), y_test=arrays.get("y_test"),
                fingerprint=str(arrays["fingerprint"]),
            )
        except Exception:  # a damaged cache entry is rebuilt, never trusted
            data = None
    if data is None:
        params: dict[str, Any] = dict(spec.params)
        try:
            data = loader(**params)
        except TypeError as e:
            raise DataError(f"data source {spec.source!r}: bad parameters {params}: {e}") from None
        data = validate(data, spec.source).with_fingerprint()
        if use_cache and getattr(loader, "cacheable", True):
            arrays = {"x": data.x, "y": data.y, "num_classes": np.int64(data.num_classes),
                      "fingerprint": np.str_(data.fingerprint)}
            if data.x_test is not None:
                arrays.update(x_test=data.x_test, y_test=data.y_test)
            tmp = cache_file.with_suffix(".tmp.npz")
            np.savez(tmp, **arrays)
            tmp.replace(cache_file)
    _MEMORY[key] = data
    return data
