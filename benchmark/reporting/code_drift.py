"""Which code of a method made which stored runs: the fingerprint each run header records as
``provenance["method_code"]`` (``benchmark.core.code_fingerprint``).

The seeds of one (task, method) that were made by different code do not measure one method,
and results made by other code than a reference are not the method the reference measured.
``report`` and ``compare`` say so (a warning line per (task, method), and a note in the
comparison); neither refuses. Runs without a fingerprint (older files) are left out: their
code is unknown, so they neither mix nor differ.
"""
from __future__ import annotations

import sys
from typing import Iterable

from benchmark.core.results import RunRecord


def codes(records: Iterable[RunRecord]) -> dict[str, list[int]]:
    """``{method code: sorted seeds}`` over ``records`` that hold a fingerprint."""
    out: dict[str, set[int]] = {}
    for r in records:
        code = r.provenance.get("method_code")
        if code is not None:
            out.setdefault(str(code), set()).add(r.seed)
    return {c: sorted(s) for c, s in sorted(out.items())}


def _seeds(seeds: list[int]) -> str:
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def mixed_code(records: Iterable[RunRecord], where: str = "") -> list[str]:
    """One ``warning: ...`` line per (task, method label) whose seeds among ``records`` were
    made by different code of the method; ``where`` (e.g. ``in the reference``) is added to it."""
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for r in records:
        groups.setdefault((r.task, r.method_label), []).append(r)
    lines = []
    for (task, method), group in sorted(groups.items()):
        found = codes(group)
        if len(found) > 1:
            made = "; ".join(f"code {c}: {_seeds(s)}" for c, s in found.items())
            lines.append(f"warning: method {method!r} on task {task}{' ' + where if where else ''}: its seeds were "
                         f"made by different code of the method ({made}); rerun them with --fresh so that every "
                         f"seed runs one code")
    return lines


def warn_mixed_code(records: Iterable[RunRecord], where: str = "") -> None:
    """Print ``mixed_code``'s lines on stderr."""
    for line in mixed_code(records, where):
        print(line, file=sys.stderr)


def code_note(results: Iterable[RunRecord], reference: Iterable[RunRecord]) -> str | None:
    """A note when the results of one (task, method) were made by other code of the method
    than its reference, or None (same code, or unknown on either side)."""
    res, ref = codes(results), codes(reference)
    if not res or not ref or set(res) == set(ref):
        return None
    return (f"made by other code of the method than the reference (method code {', '.join(res)} vs reference "
            f"{', '.join(ref)}): differences may come from the method's changed code")
