"""Why a stored run cannot be resumed or reused by this run: the fields of its identity that
differ, and a change of the method's code.

A run's identity is what its run id hashes (``benchmark.run.loop._plan_run``): the schema
version, the resolved task configuration, the method, its version and parameters, the seed,
the data fingerprint and the compute setting. A stored record keeps each of them (the task
configuration and the compute setting in its provenance), so the fields that differ can be
named with both values: ``rounds (stored 1, this run 2) differ``.
"""
from __future__ import annotations

import json
from typing import Any

from benchmark.core.errors import RunConflictError
from benchmark.core.results import RunRecord

# identity key -> how a field under it is named ("" : the task's own fields by their names)
_NAMES = {"schema": "schema version", "task": "", "method": "method", "method_version": "method version",
          "params": "params", "seed": "seed", "data": "data fingerprint", "compute": "compute"}
_ABSENT = object()
_LONGEST = 60  # characters of a value shown


def stored_identity(record: RunRecord) -> dict[str, Any]:
    """The identity of a stored run, keyed as the run id's input (a field an older file does
    not hold is None)."""
    return {"schema": record.schema_version, "task": record.provenance.get("task_config"),
            "method": record.method, "method_version": record.method_version, "params": record.params,
            "seed": record.seed, "data": record.data_fingerprint, "compute": record.provenance.get("compute")}


def differences(stored: dict[str, Any], planned: dict[str, Any]) -> list[str]:
    """One ``name (stored A, this run B)`` per leaf field that differs between two identities
    (nested dicts are compared key by key; ``planned`` is compared as it reads back from JSON)."""
    planned = json.loads(json.dumps(planned, sort_keys=True, default=str))
    out: list[str] = []
    for key in sorted(set(stored) | set(planned)):
        prefix = _NAMES.get(key, key)
        _walk(stored.get(key, _ABSENT), planned.get(key, _ABSENT), prefix, out)
    return out


def _walk(a: Any, b: Any, name: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            _walk(a.get(k, _ABSENT), b.get(k, _ABSENT), f"{name}.{k}" if name else k, out)
    elif a != b:
        out.append(f"{name or 'task'} (stored {_show(a)}, this run {_show(b)})")


def _show(value: Any) -> str:
    if value is _ABSENT or value is None:
        return "none"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= _LONGEST else text[:_LONGEST - 3] + "..."


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def check_same_run(stored: RunRecord, identity: dict[str, Any], run_id: str, where: str) -> None:
    """Raise ``RunConflictError`` when ``stored`` (found at ``where``) is another run than the
    one with ``identity`` and ``run_id``; the message names every field that differs."""
    if stored.run_id == run_id:
        return
    diffs = differences(stored_identity(stored), identity)
    what = (f"{_listing(diffs)} differ" if diffs
            else "the task, method, parameters, data or compute setting changed")
    raise RunConflictError(f"{where} holds a different run (run_id {stored.run_id}, this run {run_id}): {what}; "
                           f"rerun with --fresh to replace it or use another --out")


def check_same_code(stored: RunRecord, code: str | None, where: str) -> None:
    """Raise ``RunConflictError`` when ``stored`` (found at ``where``, complete or partial) was
    made by other code of its method than ``code`` (``benchmark.core.code_fingerprint``). A
    record without a fingerprint (files written before it was recorded, or a method whose
    source could not be found) is accepted, as is a method without one now."""
    before = stored.provenance.get("method_code")
    if before is None or code is None or before == code:
        return
    raise RunConflictError(
        f"method {stored.method!r} (task {stored.task}, seed {stored.seed}): its code changed since the run in "
        f"{where} was stored (method code {before} there, {code} now); rerun with --fresh to replace the stored "
        f"results, or bump the method's version and use another --out to keep both")
