"""Where a suite's time went, from its stored run files (never trains):

    python scripts/suite_times.py RESULTS_ROOT [--suite NAME] [--json FILE]

Prints one row per method (runs complete / stored, rounds, mean train and selection seconds
per round, summed run wall time, mean final accuracy) and the totals; ``--json`` also
writes them. Runs still in progress count with the rounds they finished.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def suite_times(records: list[Any]) -> dict[str, Any]:
    """Per method label and in total: runs, complete runs, rounds, mean train/select seconds per
    round, summed wall seconds of complete runs, mean final accuracy."""
    by_method: dict[str, list[Any]] = defaultdict(list)
    for r in records:
        by_method[r.method_label].append(r)

    def row(recs: list[Any]) -> dict[str, Any]:
        rounds = [rd for r in recs for rd in r.rounds]
        done = [r for r in recs if r.complete]
        mean = (lambda xs: round(sum(xs) / len(xs), 4) if xs else None)
        return {"runs": len(recs), "complete": len(done), "rounds": len(rounds),
                "train_s_per_round": mean([rd.train_seconds for rd in rounds]),
                "select_s_per_round": mean([rd.select_seconds for rd in rounds if rd.round > 0]),
                "train_s": round(sum(rd.train_seconds for rd in rounds), 2),
                "select_s": round(sum(rd.select_seconds for rd in rounds), 2),
                "wall_s_complete_runs": round(sum(r.summary["wall_seconds"] for r in done), 2),
                "final_accuracy": mean([r.rounds[-1].test_accuracy for r in done])}

    teachers = {f"seed{r.seed}": {k: v for k, v in r.teacher.items() if isinstance(v, (int, float))}
                for r in records}
    devices = sorted({str(r.provenance.get("device")) for r in records})
    return {"methods": {m: row(rs) for m, rs in sorted(by_method.items())}, "total": row(records),
            "teacher": teachers, "devices": devices}


def markdown(times: dict[str, Any]) -> str:
    cols = ["runs", "complete", "rounds", "train_s_per_round", "select_s_per_round", "train_s", "select_s",
            "wall_s_complete_runs", "final_accuracy"]
    lines = ["| method | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, r in [*times["methods"].items(), ("total", times["total"])]:
        lines.append(f"| {name} | " + " | ".join("–" if r[c] is None else str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from benchmark.core.errors import ResultsError
    from benchmark.core.results import load_records

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="results root (the run's --out)")
    ap.add_argument("--suite", help="only this suite's records")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    try:
        records = load_records(args.results, args.suite)
    except ResultsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not records:
        print(f"error: no run files under {args.results}" + (f" for suite {args.suite!r}" if args.suite else ""),
              file=sys.stderr)
        return 2
    times = suite_times(records)
    print(markdown(times))
    print("devices: " + ", ".join(times["devices"]))
    if args.json is not None:
        args.json.write_text(json.dumps(times, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
