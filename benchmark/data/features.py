"""Numeric feature columns (tabular data) as float32 feature vectors.

A task names its feature columns with ``feature_columns: [col_a, col_b, ...]`` or
``feature_columns: all`` (every column except the label column, in the file's order). Each
row becomes one float32 vector (N, D), D = the number of feature columns, which vector
models such as ``mlp`` train on. Values are used as they are (no scaling). Integers,
booleans (0/1) and numbers written as text are numbers; an empty cell (or NA, NaN, null),
a cell that is not a number, or a number that is infinite or outside the float32 range is a
one-line ``DataError`` naming the file, the column and the row.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.errors import DataError

_BOOLS = {"true": 1.0, "false": 0.0}  # booleans written as text, as pandas reads them
FEATURE_COLUMNS_HELP = "feature_columns (numeric columns: a list of names, or all)"


def feature_names(chosen: Any, columns: list[str], label_column: str, where: str) -> list[str]:
    """The feature columns of a split with ``columns``: ``chosen`` as given (a non-empty list
    of distinct names), or for ``all`` every column but ``label_column``. Raises DataError
    naming ``where`` for a malformed choice, a missing column, or the label column."""
    if chosen == "all":
        names = [c for c in columns if c != label_column]
    elif isinstance(chosen, list) and chosen and all(isinstance(c, str) for c in chosen) \
            and len(set(chosen)) == len(chosen):
        names = list(chosen)
    else:
        raise DataError(f"hf_datasets: feature_columns must be all or a non-empty list of distinct column names, "
                        f"got {chosen!r}")
    if not names:
        raise DataError(f"{where}: feature_columns all found no column besides the label column {label_column!r}")
    missing = [c for c in names if c not in columns]
    if missing:
        raise DataError(f"{where}: feature column {missing[0]!r} is not a column; columns: {columns}")
    if label_column in names:
        raise DataError(f"{where}: feature column {label_column!r} is the label column; leave it out of "
                        f"feature_columns")
    return names


def _row_error(where: str, column: str, row: int, what: str, advice: str) -> DataError:
    return DataError(f"{where}: row {row + 1} (counting data rows from 1) {what} in feature column {column!r}; "
                     f"{advice}")


def numeric_column(values: Any, column: str, where: str) -> np.ndarray:
    """One column's cells (a pandas Series, N) -> (N,) float32. Raises DataError naming
    ``where``, ``column`` and the first bad row (empty, not a number, not a finite float32)."""
    import pandas as pd

    cells = values.map(lambda v: _BOOLS.get(v.strip().lower(), v) if isinstance(v, str) else v) \
        if values.dtype == object or pd.api.types.is_string_dtype(values) else values
    try:
        num = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        kind = type(values.iloc[0]).__name__ if len(values) else "no"
        raise DataError(f"{where}: feature column {column!r} holds {kind} values, not numbers; name columns that "
                        f"hold one number per row") from None
    out = num.astype(np.float32)
    empty = values.isna().to_numpy()
    problems = [(np.isnan(num) & ~empty, "holds {!r}, which is not a number,", "feature columns hold numbers only"),
                (empty, "has an empty cell (or NA/NaN)", "fill it in or drop the row"),
                (~np.isfinite(out) & ~np.isnan(num), "holds {!r}, which is not a finite float32 number,",
                 "fix or drop the row")]
    found = [(int(np.argmax(bad)), what, advice) for bad, what, advice in problems if bad.any()]
    if found:
        row, what, advice = min(found)
        value = values.iloc[row]
        raise _row_error(where, column, row, what.format(value.item() if isinstance(value, np.generic) else value),
                         advice)
    return out


def feature_matrix(frame: Any, names: list[str], where: str) -> np.ndarray:
    """(N, D) float32 from the columns ``names`` of ``frame`` (a pandas DataFrame, N rows),
    in that order; errors as ``numeric_column``."""
    if not names:
        return np.zeros((len(frame), 0), np.float32)
    return np.stack([numeric_column(frame[c], c, where) for c in names], axis=1)


def csv_cell_error(files: list[Path], chosen: Any, label_column: str, encoding: str | None) -> DataError | None:
    """The error ``feature_names`` or ``feature_matrix`` gives for the first of the CSV
    ``files`` with a bad feature cell, each read with every cell as text; None when none has
    one (or a file cannot be read this way). Explains a set of files that the ``datasets``
    library cannot read as one table, e.g. a column of numbers with text in a later file or
    a later chunk of rows."""
    import pandas as pd

    for f in files:
        try:
            frame = pd.read_csv(f, dtype=str, encoding=encoding or "utf-8")
        except (OSError, ValueError, pd.errors.ParserError):
            return None
        try:
            feature_matrix(frame, feature_names(chosen, list(frame.columns), label_column, str(f)), str(f))
        except DataError as e:
            return e
    return None
