"""Results schema v1: one JSONL file per run, validated on write and on read.

A run file holds a ``run`` header line, one ``round`` line per finished round (round 0 is
the student trained on the labeled set alone), and a ``summary`` line once the run is
complete. Files are rewritten atomically (temp file, fsync, rename) after every round, so
a killed run leaves either the previous or the new file, never half of one. A corrupt or
truncated file raises ``ResultsError`` naming the file, the line and the field, and is
never overwritten.

The records are plain mutable dataclasses: the harness appends a round at a time and
finishes the run in place, so they are validated where they cross the file boundary, as a
whole before every write and line by line on read, by pydantic through ``TypeAdapter``
(field types and constraints are pydantic's; numbers are strict, so a ``true`` is no
number). Validation only checks: the values stored are those written, an integer stays an
integer. ``line_schema`` is the JSON Schema of one line (``python run_benchmark.py schema run``).

Layout: ``<out>/<suite>/<task>/<method label>/seed<k>.jsonl``.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, Optional, Protocol

import numpy as np
from pydantic import ConfigDict, Field, Strict, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from benchmark.core.atomic import atomic_write
from benchmark.core.errors import ResultsError
from benchmark.core.validation import explain

SCHEMA_VERSION = 1

Int = Annotated[int, Strict()]
Num = Annotated[float, Strict()]  # an integer or a number (NaN allowed: it is written as null)
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]
Fraction = Annotated[Num, Field(ge=0, le=1)]
RECORD = ConfigDict(extra="forbid", use_attribute_docstrings=True)


@dataclass
class RoundRecord:
    """One round: the accuracy after training on labeled + everything queried so far."""

    __pydantic_config__ = RECORD

    round: Int
    """0 is the student on the labeled set alone."""
    n_labeled: Int
    n_queries: Int
    """Teacher labels bought so far."""
    queried: list[Int]
    """Pool indices bought this round."""
    test_accuracy: Fraction
    test_nll: Optional[Num]
    """Test negative log-likelihood; null if it diverged."""
    teacher_agreement: Num
    """Fraction of test points where student and teacher predict the same class."""
    teacher_accuracy_on_queried: Optional[Num]
    mean_gain: Optional[Num]
    select_seconds: Num
    train_seconds: Num
    method: dict[str, Any] = field(default_factory=dict)
    """Diagnostics the method reported."""
    teacher_noise: Optional[dict[str, Any]] = None
    """Only under a student-gain teacher noise (flip_informative, flip_adaptive), rounds >= 1:
    the harness's audit of the hidden placement, never shown to the method:
    ``flipped_queried`` (the pool indices bought this round whose answer was flipped),
    ``flipped_unqueried`` (how many unqueried pool points were answered wrong when the method
    selected) and ``validation_error`` (the teacher validation error the method saw). Absent
    from the file otherwise."""

    def validate(self, what: str = "round record") -> "RoundRecord":
        _check(_ROUND, dataclasses.asdict(self), what)
        return self


@with_config(RECORD)
class RunSummary(TypedDict):
    """A complete run's results."""

    final_accuracy: Num
    auc: Num
    """Normalized area under accuracy vs. queries, in [0, 1]."""
    wall_seconds: Num


@dataclass
class RunHeader:
    """What was run: task, method, seed, teacher, and the code and machine it ran on."""

    __pydantic_config__ = RECORD

    run_id: Str
    suite: Str
    task: Str
    task_version: Int
    method: Str
    method_label: Str
    method_version: Int
    params: dict[str, Any]
    seed: Int
    privileged: Bool
    rounds_planned: Int
    queries_per_round: Int
    data_fingerprint: Str
    teacher: dict[str, Any]
    provenance: dict[str, Any]
    schema_version: Literal[1]


@dataclass
class RunRecord(RunHeader):
    """One (task, method, seed) run. ``rounds[r]`` is round r; ``summary`` is set when complete."""

    schema_version: Literal[1] = SCHEMA_VERSION
    rounds: list[RoundRecord] = field(default_factory=list)
    summary: Optional[RunSummary] = None

    @property
    def complete(self) -> bool:
        return self.summary is not None

    def header(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("rounds")
        d.pop("summary")
        return d

    def validate(self, what: str = "run record") -> "RunRecord":
        """Raise ``ResultsError`` naming ``what`` and the field if the record breaks the schema."""
        _check_version(self.schema_version, what)
        _check(_RECORD, dataclasses.asdict(self), what)
        for i, r in enumerate(self.rounds):
            if r.round != i:
                raise ResultsError(f"{what}: round records out of order: position {i} holds round {r.round}")
        return self

    def finish(self, wall_seconds: float) -> None:
        q = np.array([r.n_queries for r in self.rounds], dtype=float)
        a = np.array([r.test_accuracy for r in self.rounds], dtype=float)
        self.summary = {"final_accuracy": float(a[-1]), "auc": normalized_auc(q, a), "wall_seconds": wall_seconds}

    def to_lines(self) -> list[str]:
        lines = [_dumps({"record": "run", **self.header()})]
        lines += [_dumps({"record": "round", **_round_fields(r)}) for r in self.rounds]
        if self.summary is not None:
            lines.append(_dumps({"record": "summary", **self.summary}))
        return lines


def _round_fields(r: RoundRecord) -> dict[str, Any]:
    """A round's fields as written: ``teacher_noise`` only where it is set, so the files of runs
    without a student-gain noise stay as they were."""
    d = dataclasses.asdict(r)
    if d["teacher_noise"] is None:
        d.pop("teacher_noise")
    return d


_ROUND, _RECORD = TypeAdapter(RoundRecord), TypeAdapter(RunRecord)
_LINES = {"run": TypeAdapter(RunHeader), "round": _ROUND, "summary": TypeAdapter(RunSummary)}


def _check(adapter: TypeAdapter, obj: dict[str, Any], what: str) -> None:
    """Validate ``obj`` with ``adapter``; a defect is one ``ResultsError`` line naming the field."""
    try:
        adapter.validate_python(obj)
    except ValidationError as e:
        where, problem = explain(e, adapter.json_schema())
        raise ResultsError(f"{what}: field '{where}': {problem}") from None


def _check_version(version: Any, what: str) -> None:
    if version != SCHEMA_VERSION:
        raise ResultsError(f"{what}: schema_version {version!r} is not supported (expected {SCHEMA_VERSION})")


def line_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one line of a run file: a ``run`` header, a
    ``round`` or the ``summary``, told apart by their ``record`` field."""
    lines = []
    for kind, adapter in _LINES.items():
        schema = adapter.json_schema()
        schema["properties"] = {"record": {"const": kind}, **schema["properties"]}
        schema["required"] = ["record", *schema["required"]]
        lines.append(schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Run file line",
            "description": "One line of a results file <out>/<suite>/<task>/<method>/seed<k>.jsonl (schema v1).",
            "oneOf": lines}


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
        fields = {k: v for k, v in obj.items() if k != "record"} if kind is not None else {}
        try:
            if kind == "run" and header is None and no == 1:
                _check_version(fields.get("schema_version", SCHEMA_VERSION), "header")
                _check(_LINES["run"], fields, "header")
                header = fields
            elif kind == "round" and header is not None and summary is None:
                _check(_ROUND, fields, "round")
                rounds.append(RoundRecord(**fields))
            elif kind == "summary" and header is not None and summary is None:
                _check(_LINES["summary"], fields, "summary")
                summary = fields
            else:
                raise ResultsError(f"unexpected record {kind!r}")
        except ResultsError as e:
            raise ResultsError(f"{path}: line {no}: {e}: {hint}") from None
    if header is None:
        raise ResultsError(f"{path}: no run header: {hint}")
    try:
        return RunRecord(**header, rounds=rounds, summary=summary).validate("record")
    except ResultsError as e:
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


def complete_on_disk(path: Path) -> bool:
    """Whether ``path`` holds a finished run (its identity is checked when the run starts)."""
    if not path.exists():
        return False
    try:
        return read_run(path).complete
    except ResultsError:
        return False


def set_aside(path: Path) -> None:
    """``--fresh``: move ``path`` to ``<name>.bak`` before its run starts over, unless that would
    replace a complete backup with an unfinished run (a ``--fresh`` run killed before it
    finished): a complete run survives until its replacement is complete."""
    bak = path.with_name(path.name + ".bak")
    if bak.exists() and complete_on_disk(bak) and not complete_on_disk(path):
        path.unlink()
    else:
        path.replace(bak)
