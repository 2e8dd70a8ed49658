"""Results schema v1: one JSONL file per run, validated on write and on read.

A run file holds a ``run`` header line, one ``round`` line per finished round (round 0 is
the student trained on the labeled set alone), and a ``summary`` line once the run is
complete. Files are rewritten atomically (temp file, fsync, rename) after every round, so
a killed run leaves either the previous or the new file, never half of one. A corrupt or
truncated file raises ``ResultsError`` naming the file and line, and is never overwritten.

Layout: ``<out>/<suite>/<task>/<method label>/seed<k>.jsonl``.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np

from benchmark.atomic import atomic_write

from benchmark.errors import ResultsError

SCHEMA_VERSION = 1


NUM = (int, float)
_HEADER_FIELDS: dict[str, tuple] = {
    "schema_version": (int,), "run_id": (str,), "suite": (str,), "task": (str,), "task_version": (int,),
    "method": (str,), "method_label": (str,), "method_version": (int,), "params": (dict,), "seed": (int,),
    "privileged": (bool,), "rounds_planned": (int,), "queries_per_round": (int,), "data_fingerprint": (str,),
    "teacher": (dict,), "provenance": (dict,),
}
_ROUND_FIELDS: dict[str, tuple] = {
    "round": (int,), "n_labeled": (int,), "n_queries": (int,), "queried": (list,), "test_accuracy": NUM,
    "test_nll": (*NUM, type(None)), "teacher_agreement": NUM, "teacher_accuracy_on_queried": (*NUM, type(None)),
    "mean_gain": (*NUM, type(None)), "select_seconds": NUM, "train_seconds": NUM, "method": (dict,),
}
_SUMMARY_FIELDS: dict[str, tuple] = {"final_accuracy": NUM, "auc": NUM, "wall_seconds": NUM}


def _check(obj: dict[str, Any], spec: dict[str, tuple], what: str) -> None:
    missing = [k for k in spec if k not in obj]
    if missing:
        raise ResultsError(f"{what}: missing field {missing[0]!r}")
    extra = sorted(set(obj) - set(spec) - {"record"})
    if extra:
        raise ResultsError(f"{what}: unknown field {extra[0]!r}")
    for k, types in spec.items():
        v = obj[k]
        if isinstance(v, bool) and bool not in types:
            raise ResultsError(f"{what}: field {k!r} must be {'/'.join(t.__name__ for t in types)}, got {v!r}")
        if not isinstance(v, types):
            raise ResultsError(f"{what}: field {k!r} must be {'/'.join(t.__name__ for t in types)}, got {v!r}")


@dataclass
class RoundRecord:
    """One round: the accuracy after training on labeled + everything queried so far."""

    round: int
    n_labeled: int
    n_queries: int
    queried: list[int]
    test_accuracy: float
    test_nll: float
    teacher_agreement: float
    teacher_accuracy_on_queried: float | None
    mean_gain: float | None
    select_seconds: float
    train_seconds: float
    method: dict[str, Any] = field(default_factory=dict)

    def validate(self, what: str = "round record") -> "RoundRecord":
        _check(dataclasses.asdict(self), _ROUND_FIELDS, what)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in self.queried):
            raise ResultsError(f"{what}: field 'queried' must be a list of integers")
        if not 0.0 <= self.test_accuracy <= 1.0:
            raise ResultsError(f"{what}: field 'test_accuracy' must be in [0, 1], got {self.test_accuracy}")
        return self


@dataclass
class RunRecord:
    """One (task, method, seed) run. ``rounds[r]`` is round r; ``summary`` is set when complete."""

    run_id: str
    suite: str
    task: str
    task_version: int
    method: str
    method_label: str
    method_version: int
    params: dict[str, Any]
    seed: int
    privileged: bool
    rounds_planned: int
    queries_per_round: int
    data_fingerprint: str
    teacher: dict[str, Any]
    provenance: dict[str, Any]
    rounds: list[RoundRecord] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def complete(self) -> bool:
        return self.summary is not None

    def header(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("rounds")
        d.pop("summary")
        return d

    def validate(self, what: str = "run record") -> "RunRecord":
        _check(self.header(), _HEADER_FIELDS, f"{what} header")
        if self.schema_version != SCHEMA_VERSION:
            raise ResultsError(f"{what}: schema_version {self.schema_version} is not supported (expected {SCHEMA_VERSION})")
        for i, r in enumerate(self.rounds):
            r.validate(f"{what} round {i}")
            if r.round != i:
                raise ResultsError(f"{what}: round records out of order: position {i} holds round {r.round}")
        if self.summary is not None:
            _check(self.summary, _SUMMARY_FIELDS, f"{what} summary")
        return self

    def finish(self, wall_seconds: float) -> None:
        q = np.array([r.n_queries for r in self.rounds], dtype=float)
        a = np.array([r.test_accuracy for r in self.rounds], dtype=float)
        self.summary = {"final_accuracy": float(a[-1]), "auc": normalized_auc(q, a), "wall_seconds": wall_seconds}

    def to_lines(self) -> list[str]:
        lines = [_dumps({"record": "run", **self.header()})]
        lines += [_dumps({"record": "round", **dataclasses.asdict(r)}) for r in self.rounds]
        if self.summary is not None:
            lines.append(_dumps({"record": "summary", **self.summary}))
        return lines


def normalized_auc(n_queries: np.ndarray, accuracy: np.ndarray) -> float:
    """Area under accuracy-vs-queries (trapezoid) divided by the query range: in [0, 1]."""
    n_queries, accuracy = np.asarray(n_queries, dtype=float), np.asarray(accuracy, dtype=float)
    if len(n_queries) < 2 or n_queries[-1] == n_queries[0]:
        return float(accuracy[-1])
    area = float(np.sum((accuracy[1:] + accuracy[:-1]) / 2 * np.diff(n_queries)))
    return area / float(n_queries[-1] - n_queries[0])


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, np.generic):
        return _clean(v.item())
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(_clean(obj), sort_keys=True, allow_nan=False)


def write_run(path: Path, record: RunRecord) -> None:
    """Validate, then atomically replace ``path`` with the record's JSONL."""
    record.validate(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(record.to_lines()) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))


class RunStore(Protocol):
    """Where one run's record lives between rounds: ``load`` the stored record (None when
    there is none; a corrupt one raises ``ResultsError``) and ``save`` it after a round.
    ``FileStore`` is a run file; an executor that runs elsewhere sends it to its driver."""

    where: str

    def load(self) -> "RunRecord | None": ...

    def save(self, record: "RunRecord") -> None: ...


@dataclass(frozen=True)
class FileStore:
    """A run file, rewritten atomically after every round (``write_run``)."""

    path: Path

    @property
    def where(self) -> str:
        return str(self.path)

    def load(self) -> "RunRecord | None":
        return read_run(self.path) if self.path.exists() else None

    def save(self, record: "RunRecord") -> None:
        write_run(self.path, record)


def read_run(path: Path) -> RunRecord:
    """Read and validate one run file; any defect raises ``ResultsError`` naming the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ResultsError(f"{path}: cannot read results file: {e.strerror}") from None
    hint = "the file is corrupt or truncated; it was left untouched (move it away, or rerun with --fresh)"
    header, rounds, summary = None, [], None
    if not text.endswith("\n"):
        raise ResultsError(f"{path}: last line is incomplete: {hint}")
    for no, line in enumerate(text.splitlines(), 1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ResultsError(f"{path}: line {no}: invalid JSON ({e.msg}): {hint}") from None
        kind = obj.get("record") if isinstance(obj, dict) else None
        try:
            if kind == "run" and header is None and no == 1:
                _check(obj, _HEADER_FIELDS, "header")
                header = {k: v for k, v in obj.items() if k != "record"}
            elif kind == "round" and header is not None and summary is None:
                _check(obj, _ROUND_FIELDS, "round")
                rounds.append(RoundRecord(**{k: v for k, v in obj.items() if k != "record"}).validate("round"))
            elif kind == "summary" and header is not None and summary is None:
                _check(obj, _SUMMARY_FIELDS, "summary")
                summary = {k: v for k, v in obj.items() if k != "record"}
            else:
                raise ResultsError(f"unexpected record {kind!r}")
        except (ResultsError, TypeError) as e:
            raise ResultsError(f"{path}: line {no}: {e}: {hint}") from None
    if header is None:
        raise ResultsError(f"{path}: no run header: {hint}")
    try:
        rec = RunRecord(**header, rounds=rounds, summary=summary)
        return rec.validate("record")
    except (ResultsError, TypeError) as e:
        raise ResultsError(f"{path}: {e}: {hint}") from None


def run_path(out: Path, suite: str, task: str, label: str, seed: int) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_.=,+" else "_" for c in label)
    return Path(out) / suite / task / safe / f"seed{seed}.jsonl"


def iter_run_files(out: Path) -> Iterator[Path]:
    yield from sorted(Path(out).glob("*/*/*/seed*.jsonl"))


def load_records(out: Path, suite: str | None = None) -> list[RunRecord]:
    """Every run record under ``out``, or only suite ``suite``'s (only its folder
    ``out/<suite>/`` is read, so another suite's corrupt file does not matter); raises
    ``ResultsError`` on a corrupt file among those read."""
    if suite is None:
        return [read_run(p) for p in iter_run_files(out)]
    files = sorted((Path(out) / suite).glob("*/*/seed*.jsonl"))
    return [r for r in map(read_run, files) if r.suite == suite]
