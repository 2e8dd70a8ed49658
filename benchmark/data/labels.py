"""Labels as class indices 0..C-1, whatever their spelling in the source files.

The rule: the distinct labels of the training split, in sorted order (numbers by value, text
alphabetically), become classes 0..C-1, and ``label_names[i]`` is the original spelling of
class i. Labels {1, 2}, {-1, +1} and {"neg", "pos"} all give two classes, so the same data
with differently spelled labels gives the same class indices, splits and results. Two
exceptions keep a dataset's own numbering: a source that declares its classes (a Hugging
Face ``ClassLabel`` feature: labels index its names), and an explicit ``num_classes`` (labels
must already be integers in [0, num_classes), e.g. to match a pretrained teacher's outputs).

Every test label must occur in the training split: a class the student can never learn is
an error, not an extra output.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from benchmark.core.errors import DataError


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) or (isinstance(v, (float, np.floating)) and float(v).is_integer())


def _row_error(where: str, column: str, i: int, what: str, advice: str) -> DataError:
    return DataError(f"{where}: row {i + 1} (counting data rows from 1) {what} in label column {column!r}; {advice}")


_EMPTY = ("has an empty label", "fill it in or drop the row")
_NOT_A_LABEL = "labels must be integers or names"


def clean_labels(values: Sequence[Any] | np.ndarray, where: str, column: str = "label") -> np.ndarray:
    """One split's raw labels -> an int64 array (numbers) or a str array (text), shape (N,).

    Raises DataError naming ``where`` (a file, or a split of a dataset) and the row of the
    first empty label, non-integer number, or mix of numbers and text."""
    arr = values if isinstance(values, np.ndarray) else _as_array(values)
    if arr.ndim != 1:
        raise DataError(f"{where}: label column {column!r} holds {arr.shape[1:]} values per row; expected one label")
    if len(arr) == 0:
        return arr.astype(np.int64)
    kind = arr.dtype.kind
    if kind in "biu":
        return arr.astype(np.int64)
    if kind == "f":
        bad = np.flatnonzero(np.isnan(arr))
        if len(bad):
            raise _row_error(where, column, int(bad[0]), *_EMPTY)
        frac = np.flatnonzero(arr != np.round(arr))
        if len(frac):
            raise _row_error(where, column, int(frac[0]), f"has the label {arr[frac[0]].item()!r}", _NOT_A_LABEL)
        return arr.astype(np.int64)
    if kind in "US":
        arr = arr.astype(str)
        empty = np.flatnonzero(np.char.strip(arr) == "")
        if len(empty):
            raise _row_error(where, column, int(empty[0]), *_EMPTY)
        return arr
    return _clean_objects(arr, where, column)


def _as_array(values: Sequence[Any]) -> np.ndarray:
    """A list of labels as an array, keeping a mix of numbers and text as objects (numpy
    would silently turn the numbers into text)."""
    arr = np.asarray(values) if len(values) else np.zeros(0, np.int64)
    if arr.dtype.kind in "US" and not all(isinstance(v, str) for v in values):
        arr = np.empty(len(values), dtype=object)
        arr[:] = list(values)
    return arr


def _clean_objects(arr: np.ndarray, where: str, column: str) -> np.ndarray:
    """Labels of mixed Python types (None for empty cells, numbers, strings)."""
    for i, v in enumerate(arr):
        if _missing(v):
            raise _row_error(where, column, i, *_EMPTY)
    if all(isinstance(v, str) for v in arr):
        return arr.astype(str)
    for i, v in enumerate(arr):
        if isinstance(v, str):
            raise _row_error(where, column, i, f"has the text label {v!r}",
                             "the other labels are numbers; use one kind")
        if not _is_int(v):
            raise _row_error(where, column, i, f"has the label {v.item() if isinstance(v, np.generic) else v!r}",
                             _NOT_A_LABEL)
    return arr.astype(np.int64)


def encode_labels(train: np.ndarray, test: np.ndarray | None, train_where: str, test_where: str | None = None,
                  num_classes: int | None = None, class_names: Sequence[str] | None = None
                  ) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Cleaned labels (``clean_labels``) of the train and optional test split -> class indices.

    ``class_names``: the labels are indices into these declared names (-1 marks an unlabeled
    example and is an error). ``num_classes``: integer labels in [0, num_classes) are kept.
    Otherwise the sorted distinct training labels become 0..C-1 (the module's rule).

    Returns (y (N,) int64, y_test (M,) int64 or None, label_names (C,) str).
    Raises DataError for a test class absent from train, or labels outside the declared range."""
    splits = [(train, train_where)] + ([(test, test_where or "test split")] if test is not None else [])
    if class_names is not None or num_classes is not None:
        names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
        for y, where in splits:
            _check_declared(y, where, len(names), class_names is not None)
        classes = np.arange(len(names), dtype=np.int64)
    else:
        if test is not None and test.dtype.kind != train.dtype.kind and len(test) and len(train):
            raise DataError(f"{test_where}: test labels are {_kind(test)} but the training labels ({train_where}) "
                            f"are {_kind(train)}; use one spelling for both")
        classes = np.unique(train)
        names = [str(c) for c in classes]
    if test is not None:
        _check_test_classes(train, test, train_where, test_where or "test split",
                            names if class_names is not None or num_classes is not None else None)
    y = np.searchsorted(classes, train).astype(np.int64)
    y_test = None if test is None else np.searchsorted(classes, test).astype(np.int64)
    return y, y_test, names


def _kind(y: np.ndarray) -> str:
    return "text" if y.dtype.kind in "US" else "numbers"


def _check_declared(y: np.ndarray, where: str, n: int, declared_names: bool) -> None:
    if y.dtype.kind in "US":
        raise DataError(f"{where}: labels are text (e.g. {y[0]!r}) but num_classes is set; num_classes applies to "
                        f"integer labels 0..num_classes-1; remove it to map the labels to classes by sorted name")
    bad = np.flatnonzero((y < 0) | (y >= n))
    if not len(bad):
        return
    i, v = int(bad[0]), int(y[bad[0]])
    if declared_names and v < 0:
        raise DataError(f"{where}: row {i + 1} is unlabeled (label {v}); choose a labeled split "
                        f"(for a test set: test_split, e.g. validation)")
    limit = f"the {n} declared classes" if declared_names else f"num_classes {n}"
    raise DataError(f"{where}: row {i + 1} has label {v}, outside [0, {n}) of {limit}"
                    + ("" if declared_names else "; remove num_classes to map any labels to 0..C-1"))


def _check_test_classes(train: np.ndarray, test: np.ndarray, train_where: str, test_where: str,
                        declared: list[str] | None) -> None:
    """Every test label must occur in train; ``declared``: the names that integer labels index."""
    extra = np.setdiff1d(np.unique(test), np.unique(train))
    if not len(extra):
        return
    shown = [declared[int(v)] if declared is not None else str(v) for v in extra[:5]]
    listing = ", ".join(repr(s) for s in shown) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
    noun = "class" if len(extra) == 1 else "classes"
    raise DataError(f"{test_where}: {noun} {listing} appear{'s' if len(extra) == 1 else ''} in the test split but "
                    f"not in the training data ({train_where}); drop those test rows or add training examples")
