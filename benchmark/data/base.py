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
Labels are class indices 0..C-1; ``label_names`` gives each class's original spelling (see
``benchmark.data.labels`` for the mapping rule). Inputs must be finite: a NaN or inf is a
``DataError`` naming the file and the number of bad rows.

Processed arrays (tokenized text included) are cached under
``<cache>/data/<source>-<content hash>.npz``, keyed by the source name, its parameters and,
for sources that read files, the files' sizes and modification times. Every dataset
carries a ``fingerprint``: the sha256 of its bytes, recorded in each RunRecord.
"""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core import paths
from benchmark.core.atomic import atomic_write
from benchmark.core.config import DataSpec, stable_hash
from benchmark.core.errors import DataError
from benchmark.core.registry import DATA_SOURCES
from benchmark.data.duplicates import screen


PAD = -1  # padding value of token-id inputs

_log = logging.getLogger("benchmark.data")
_WARNED: set[Any] = set()


def warn_once(message: str, key: Any = None) -> None:
    """Log ``warning: <message>`` (one line on stderr when logging is not configured), at most
    once per process for each ``key`` (default: the message itself)."""
    k = message if key is None else key
    if k in _WARNED:
        return
    _WARNED.add(k)
    _log.warning("warning: %s", message)


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
    def label_names(self) -> tuple[str, ...]:
        """(num_classes,) the original spelling of each class: ``meta["classes"]`` when the
        source renamed its labels, else "0", "1", ... (the labels were already 0..C-1)."""
        names = self.meta.get("classes")
        return tuple(str(c) for c in names) if names else tuple(str(i) for i in range(self.num_classes))

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


def names_meta(names: list[str]) -> dict[str, Any]:
    """``{"classes": names}`` when the labels were renamed, else {} (labels already 0..C-1),
    so that a dataset whose labels were never renamed keeps its fingerprint."""
    return {} if list(names) == [str(i) for i in range(len(names))] else {"classes": list(names)}


def check_finite(x: np.ndarray | None, where: str, chunk: int = 65536) -> None:
    """Raise DataError naming ``where`` and the number of rows of float inputs ``x`` (N, ...)
    that hold a NaN or an inf; integer inputs pass. Works ``chunk`` rows at a time."""
    if x is None or x.dtype.kind != "f" or x.size == 0:
        return
    bad = np.concatenate([~np.isfinite(x[i:i + chunk].reshape(len(x[i:i + chunk]), -1)).all(axis=1)
                          for i in range(0, len(x), chunk)])
    n = int(bad.sum())
    if n:
        raise DataError(f"{where}: {n} of {len(x)} rows hold NaN or inf inputs (the first is row "
                        f"{int(np.argmax(bad)) + 1}); fix or drop those rows")


def validate(data: LoadedData, source: str, params: dict[str, Any] | None = None) -> LoadedData:
    """Check what a source returned: matching lengths, labels in [0, num_classes), finite
    inputs; warn once about classes without training examples."""
    where = f"data source {source!r}" + (f" ({params['path']})" if params and params.get("path") else "")
    if data.num_classes < 1:
        raise DataError(f"{where}: no classes (num_classes {data.num_classes})")
    for xs, ys, split in ((data.x, data.y, "train"), (data.x_test, data.y_test, "test")):
        if xs is None:
            continue
        if len(xs) != len(ys):
            raise DataError(f"{where}: {split} has {len(xs)} inputs but {len(ys)} labels")
        if len(ys) and (ys.min() < 0 or ys.max() >= data.num_classes):
            raise DataError(f"{where}: {split} labels outside [0, {data.num_classes})")
        check_finite(xs, f"{where}, {split} split")
    empty = np.flatnonzero(np.bincount(data.y, minlength=data.num_classes) == 0)
    if len(empty):
        names = data.label_names
        warn_once(f"{where}: {len(empty)} of {data.num_classes} classes have no training examples "
                  f"(first: {names[empty[0]]!r}); the student can never predict them")
    return data


_MEMORY: dict[str, LoadedData] = {}


def _check_params(loader: Any, spec: DataSpec) -> None:
    """An unknown or missing parameter of the source is a one-line DataError (checked against
    the loader's signature, so a TypeError raised while loading is never blamed on them)."""
    try:
        signature = inspect.signature(loader)
    except (TypeError, ValueError):  # a callable without a signature: nothing to check
        return
    try:
        signature.bind(**spec.params)
    except TypeError as e:
        valid = [n for n, p in signature.parameters.items() if p.kind is not p.VAR_KEYWORD]
        raise DataError(f"data source {spec.source!r}: bad parameters {dict(spec.params)}: {e}; "
                        f"valid parameters: {valid}") from None


def load_data(spec: DataSpec, use_cache: bool = True) -> LoadedData:
    """Load a dataset through its registered source, with in-process and on-disk caches, and
    screen it for test rows that copy training rows (``benchmark.data.duplicates``: one
    warning line per dataset; with ``spec.dedupe`` the copies are dropped)."""
    data, note = screen(_load_source(spec, use_cache), spec)
    if note is not None:
        warn_once(note)  # once per dataset, files and dedupe setting
    return data


def _load_source(spec: DataSpec, use_cache: bool) -> LoadedData:
    """The dataset as its source gives it, through the in-process and on-disk caches.

    A source may define ``loader.cache_token(**params)`` (e.g. the sizes and modification
    times of the files it reads, or an early one-line error); it becomes part of the key."""
    loader = DATA_SOURCES.get(spec.source)
    _check_params(loader, spec)
    token_fn = getattr(loader, "cache_token", None)
    token = token_fn(**spec.params) if token_fn is not None else None
    # format 2: labels mapped to 0..C-1 by sorted value (arrays cached by format 1 may not be)
    key_obj: dict[str, Any] = {"source": spec.source, "params": spec.params, "format": 3}
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
        data = loader(**params)
        data = validate(data, spec.source, params).with_fingerprint()
        if use_cache and getattr(loader, "cacheable", True):
            arrays = {"x": data.x, "y": data.y, "num_classes": np.int64(data.num_classes),
                      "fingerprint": np.str_(data.fingerprint)}
            if data.meta:
                arrays["meta"] = np.str_(json.dumps(data.meta, sort_keys=True))
            if data.x_test is not None:
                arrays.update(x_test=data.x_test, y_test=data.y_test)
            atomic_write(cache_file, lambda tmp: np.savez(tmp, **arrays))  # per-process temporary name
    _MEMORY[key] = data
    return data
