"""Exact copies of training examples on the test side of a dataset: found, reported, dropped.

A test example that is also a training example measures memory, not generalisation. Inputs
are compared as the source produced them (after tokenization, truncation, resizing and
scaling), byte for byte; labels are not compared. Two kinds of copies are found:

- **test copies**: rows of the source's own test split (``x_test``) equal to a row of ``x``,
  the array that validation, teacher, labeled and pool splits are drawn from;
- **repeats**: rows of ``x`` equal to an earlier row of ``x``. The seeded splits draw the
  validation split (and the test split, when the source has none of its own) from ``x``
  too, so for some seeds the copies of a repeated row land on both the test side and the
  training side. Repeats are reported whether or not the source has a test split.

Each row is hashed once (``hashlib.blake2b`` of its bytes, 16-byte digest) and looked up in
a dict of digests; a digest match counts only when the rows' bytes are equal too. Time and
memory are O(N) in the number of rows: no pairwise comparison.

``screen`` (called by ``load_data``, which prints its message as one ``warning:`` line once
per dataset) gives the counts and one example pair of rows, counting data rows from 1, and
with ``data.dedupe: true`` drops the test copies from ``x_test`` and the repeats from ``x``
(the first copy of each row stays), before any split is drawn. The search runs once per
data fingerprint in a process, however many runs load the dataset. This module works on a
``LoadedData`` (``benchmark.data.base``) without importing it, since ``load_data`` calls it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.core.config import DataSpec

DIGEST_BYTES = 16


@dataclass(frozen=True)
class DuplicateReport:
    """Index pairs (int64, 0-based) of exact copies. ``test_copies[k]`` (a row of ``x_test``)
    equals ``test_sources[k]`` (the first equal row of ``x``); ``repeats[k]`` (a row of ``x``)
    equals the earlier row ``repeat_sources[k]``. Both pairs of arrays are sorted by copy."""

    test_copies: np.ndarray
    test_sources: np.ndarray
    repeats: np.ndarray
    repeat_sources: np.ndarray

    @property
    def clean(self) -> bool:
        return len(self.test_copies) == 0 and len(self.repeats) == 0


def _rows(x: np.ndarray) -> tuple[memoryview, int]:
    """The bytes of ``x`` (N, ...) as one flat memoryview, and the bytes per row."""
    width = math.prod(x.shape[1:]) * x.itemsize
    return memoryview(np.ascontiguousarray(x).reshape(-1).view(np.uint8)), width


def _digests(x: np.ndarray) -> list[bytes]:
    """(N,) blake2b digests of the rows of ``x`` (N, ...)."""
    mem, width = _rows(x)
    return [hashlib.blake2b(mem[i * width:(i + 1) * width], digest_size=DIGEST_BYTES).digest()
            for i in range(len(x))]


def _pairs(found: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(found, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0].copy(), arr[:, 1].copy()


def find_duplicates(x: np.ndarray, x_test: np.ndarray | None = None) -> DuplicateReport:
    """Exact copies among the rows of ``x`` (N, ...) and of ``x_test`` (M, ...) in ``x``.
    Arrays of different dtypes or row shapes share no rows."""
    mem, width = _rows(x)
    first: dict[bytes, int] = {}
    repeats: list[tuple[int, int]] = []
    for i, d in enumerate(_digests(x)):
        j = first.setdefault(d, i)
        if j != i and mem[i * width:(i + 1) * width] == mem[j * width:(j + 1) * width]:
            repeats.append((i, j))
    copies: list[tuple[int, int]] = []
    if x_test is not None and x_test.dtype == x.dtype and x_test.shape[1:] == x.shape[1:]:
        test_mem, _ = _rows(x_test)
        for i, d in enumerate(_digests(x_test)):
            j = first.get(d)
            if j is not None and test_mem[i * width:(i + 1) * width] == mem[j * width:(j + 1) * width]:
                copies.append((i, j))
    return DuplicateReport(*_pairs(copies), *_pairs(repeats))


_REPORTS: dict[str, DuplicateReport] = {}
_DEDUPED: dict[str, Any] = {}  # fingerprint -> the LoadedData without its copies


def report_for(data: Any) -> DuplicateReport:
    """``find_duplicates`` of a ``LoadedData``, computed once per fingerprint in this process."""
    report = _REPORTS.get(data.fingerprint) if data.fingerprint else None
    if report is None:
        report = find_duplicates(data.x, data.x_test)
        if data.fingerprint:
            _REPORTS[data.fingerprint] = report
    return report


def drop_copies(data: Any, report: DuplicateReport) -> Any:
    """The ``LoadedData`` without the test copies (from x_test/y_test) and the repeats (from x/y),
    with a new fingerprint; ``data`` itself when there is nothing to drop."""
    if report.clean:
        return data
    keep = np.setdiff1d(np.arange(len(data.x)), report.repeats)
    out = dataclasses.replace(data, x=data.x[keep], y=data.y[keep])
    if data.x_test is not None and len(report.test_copies):
        keep_test = np.setdiff1d(np.arange(len(data.x_test)), report.test_copies)
        out = dataclasses.replace(out, x_test=data.x_test[keep_test], y_test=data.y_test[keep_test])
    return out.with_fingerprint()


def describe_source(spec: DataSpec) -> str:
    """``data source 'hf_datasets' (train.csv, test.csv)``: the source and the files it reads."""
    p = spec.params
    files = p.get("data_files")
    if isinstance(files, dict):
        files = list(files.values())
    names = [str(f) for g in (files if isinstance(files, list) else [files]) if g is not None
             for f in (g if isinstance(g, list) else [g])]
    names = names or [str(v) for v in (p.get("data_dir"), p.get("path")) if v is not None][:1]
    return f"data source {spec.source!r}" + (f" ({', '.join(names)})" if names else "")


def message(report: DuplicateReport, data: Any, where: str, dedupe: bool) -> str:
    """One line: the counts and one example pair of each kind, and what was (or can be) done."""
    parts = []
    if len(report.test_copies):
        parts.append(f"{len(report.test_copies)} of {len(data.x_test)} test rows are exact copies of training rows "
                     f"(e.g. test row {report.test_copies[0] + 1} = training row {report.test_sources[0] + 1})")
    if len(report.repeats):
        parts.append(f"{len(report.repeats)} of {len(data.x)} training rows repeat an earlier row exactly "
                     f"(e.g. row {report.repeats[0] + 1} = row {report.repeat_sources[0] + 1}), so the seeded "
                     f"splits can put copies on both the test and the training side")
    done = ("dropped the copies (data.dedupe: true)" if dedupe else
            "set data.dedupe: true to drop them (the first copy of a repeated row stays)")
    return f"{where}: {'; '.join(parts)} (counting data rows from 1); {done}"


def screen(data: Any, spec: DataSpec) -> tuple[Any, str | None]:
    """(the ``LoadedData`` as loaded, or without its copies when ``spec.dedupe``; the one-line
    warning about exact copies between the test and the training side, None when clean)."""
    report = report_for(data)
    if report.clean:
        return data, None
    note = message(report, data, describe_source(spec), spec.dedupe)
    if not spec.dedupe:
        return data, note
    if not data.fingerprint:
        return drop_copies(data, report), note
    if data.fingerprint not in _DEDUPED:
        _DEDUPED[data.fingerprint] = drop_copies(data, report)
    return _DEDUPED[data.fingerprint], note
