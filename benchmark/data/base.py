"""The in-memory form of a dataset, and ``load_data`` with an on-disk cache of processed arrays.

A source returns a ``LoadedData``: ``x`` (N, ...) inputs, ``y`` (N,) int64 labels, and
optionally a separate test split ``x_test``/``y_test``. Inputs are one of

- images: float32 (N, C, H, W) in [0, 1] (or uint8 0..255 when a source is asked to store
  them compactly; the training code scales them on the device);
- vectors: float32 (N, D);
- text: int64 token ids (N, L) from the task's tokenizer, right-padded with ``PAD = -1``
  (the attention mask is ``x >= 0``; each model maps -1 to its own pad id).

``meta`` is a small JSON-able dict describing the inputs (``modality``, and for text the
``tokenizer`` and ``vocab_size``); ``build_model`` passes matching entries to model factories.
Processed arrays (tokenized text included) are cached under
``<cache>/data/<source>-<content hash>.npz``, keyed by the source name, its parameters and,
for sources that read files, the files' sizes and modification times. Every dataset
carries a ``fingerprint``: the sha256 of its bytes, recorded in each RunRecord.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import paths
from benchmark.config import DataSpec, stable_hash
from benchmark.errors import DataError
from benchmark.registry import DATA_SOURCES


PAD = -1  # padding value of token-id inputs


@dataclass(frozen=True)
class LoadedData:
    """Arrays of one dataset. ``x``: (N, ...) inputs (see the module docstring);
    ``y``: (N,) int64 in [0, num_classes); ``meta``: what the inputs are."""

    x: np.ndarray
    y: np.ndarray
    num_classes: int
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    fingerprint: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def modality(self) -> str:
        """``image`` (N, C, H, W), ``text`` (N, L) token ids, or ``vector`` (N, D)."""
        if "modality" in self.meta:
            return str(self.meta["modality"])
        return "image" if self.x.ndim == 4 else "vector"

    def with_fingerprint(self) -> "LoadedData":
        h = hashlib.sha256()
        for a in (self.x, self.y, self.x_test, self.y_test):
            if a is not None:
                h.update(str(a.shape).encode())
                h.update(np.ascontiguousarray(a).data)
        if self.meta:
            h.update(json.dumps(self.meta, sort_keys=True).encode())
        return dataclasses.replace(self, fingerprint=h.hexdigest()[:16])


def data_dir() -> Path | None:
    """The folder that relative data-file paths are resolved against: ``AKD_BENCH_DATA_DIR``
    (set by the ``--data-dir`` option), else None (relative to the working directory)."""
    d = os.environ.get("AKD_BENCH_DATA_DIR")
    return Path(d).expanduser() if d else None


def resolve_data_path(path: str | os.PathLike, what: str = "data file") -> Path:
    """Resolve ``path`` against the data dir; a missing file is a one-line ``DataError`` that
    says where it was looked for and how to point elsewhere."""
    p = Path(path).expanduser()
    base = data_dir()
    candidate = p if p.is_absolute() or base is None else base / p
    if candidate.exists():
        return candidate
    where = f"in the data dir {str(base)!r}" if base is not None and not p.is_absolute() else "there"
    raise DataError(f"{what} {str(p)!r} not found {where}; pass --data-dir DIR (or set AKD_BENCH_DATA_DIR) "
                    f"to the folder that holds it, or give an absolute path in the task YAML")


def file_token(paths: list[Path]) -> list[list[Any]]:
    """(path, size, mtime_ns) of each file (each file under a folder): part of a cache key."""
    out: list[list[Any]] = []
    for p in paths:
        files = sorted(q for q in Path(p).rglob("*") if q.is_file()) if Path(p).is_dir() else [Path(p)]
        for q in files:
            st = q.stat()
            out.append([str(q.resolve()), st.st_size, st.st_mtime_ns])
    return out


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
    """Load a dataset through its registered source, with in-process and on-disk caches.

    A source may define ``loader.cache_token(**params)`` (e.g. the sizes and modification
    times of the files it reads, or an early one-line error); it becomes part of the key."""
    loader = DATA_SOURCES.get(spec.source)
    token_fn = getattr(loader, "cache_token", None)
    try:
        token = token_fn(**spec.params) if token_fn is not None else None
    except TypeError as e:
        raise DataError(f"data source {spec.source!r}: bad parameters {dict(spec.params)}: {e}") from None
    key_obj: dict[str, Any] = {"source": spec.source, "params": spec.params, "format": 1}
    if token is not None:
        key_obj["files"] = token
    key = stable_hash(key_obj)
    if use_cache and key in _MEMORY:
        return _MEMORY[key]
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
                meta=json.loads(str(arrays["meta"])) if "meta" in arrays else {},
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
            if data.meta:
                arrays["meta"] = np.str_(json.dumps(data.meta, sort_keys=True))
            if data.x_test is not None:
                arrays.update(x_test=data.x_test, y_test=data.y_test)
            tmp = cache_file.with_suffix(".tmp.npz")
            np.savez(tmp, **arrays)
            tmp.replace(cache_file)
    _MEMORY[key] = data
    return data
