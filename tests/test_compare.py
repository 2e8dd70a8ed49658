"""compare: planted regressions fail, unchanged results pass, bad input is a one-line error."""
import shutil
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.core.config import load_suite
from benchmark.reporting.compare import (CompareError, FINGERPRINT_FLOOR, compare_records, format_comparison,
                               load_folder)
from benchmark.reporting.leaderboard import run_row
from benchmark.reporting.metrics import welch_tolerance
from benchmark.core.results import read_run, write_run
from records import make_record, store

ROOT = Path(__file__).parents[1]
CI_REFERENCE = ROOT / "results" / "reference" / "ci"


def _lower(folder: Path, method: str, delta: float) -> None:
    """Lower every round's test accuracy of ``method`` by ``delta`` in a copy of run files."""
    for p in sorted(folder.rglob(f"{method}/seed*.jsonl")):
        rec = read_run(p)
        for r in rec.rounds:
            r.test_accuracy = max(0.0, r.test_accuracy - delta)
        rec.finish(rec.summary["wall_seconds"])
        write_run(p, rec)


def _auc_tolerance(folder: Path, method: str) -> float:
    aucs = [run_row(read_run(p))["auc"] for p in sorted(folder.rglob(f"{method}/seed*.jsonl"))]
    return welch_tolerance(aucs, aucs, level=0.99, floor=0.005).tol


def test_committed_reference_passes_against_itself():
    ref = load_folder(CI_REFERENCE, "reference")
    comp = compare_records(ref, ref, exact=True)
    assert not comp.failed and all(c.status == "ok" for g in comp.groups for c in g.checks)
    suite_methods = {m.label for m in load_suite("ci").methods}
    assert {g.method for g in comp.groups} == suite_methods and "random" in suite_methods


def test_planted_accuracy_regression_fails(tmp_path, capsys):
    """A copy of the ci reference with margin's accuracy lowered beyond the tolerance fails;
    lowered by half the tolerance it passes (the threshold is the tolerance, not a constant)."""
    tol = _auc_tolerance(CI_REFERENCE, "margin")
    assert 0.005 <= tol < 0.2
    for factor, expect in ((1.3, 1), (0.5, 0)):
        copy = tmp_path / f"x{factor}"
        shutil.copytree(CI_REFERENCE, copy)
        _lower(copy, "margin", factor * tol)
        assert main(["compare", str(copy), str(CI_REFERENCE)]) == expect
        out = capsys.readouterr().out
        if expect:
            assert "digits_ci        margin               auc" in out and "REGRESSION" in out
            n = len(load_suite("ci").methods)
            assert f"compare: FAILED: 1 of {n} (task, method) pairs: digits_ci/margin (regression)" in out
        else:
            assert "compare: PASSED" in out


def test_improvement_passes_and_selection_change_fails():
    ref = [make_record(m, s, [0.5, 0.7 + 0.01 * s], gain=g) for m, g in (("margin", 0.9), ("random", 0.2))
           for s in range(3)]
    better = [make_record(m, s, [0.5, 0.9 + 0.01 * s], gain=g) for m, g in (("margin", 0.9), ("random", 0.2))
              for s in range(3)]
    comp = compare_records(better, ref)
    assert not comp.failed and {c.status for g in comp.groups for c in g.checks if c.metric == "auc"} == {"improved"}
    # margin now picks like random: same accuracy, but the selection fingerprint moved
    swapped = [make_record(m, s, [0.5, 0.7 + 0.01 * s], gain=0.2) for m in ("margin", "random") for s in range(3)]
    comp = compare_records(swapped, ref)
    bad = [(g.method, c.metric) for g in comp.groups for c in g.checks if c.status == "changed"]
    assert comp.failed and bad == [("margin", "mean_gain")]
    # a fingerprint move within the resolution floor passes
    near = [make_record(m, s, [0.5, 0.7 + 0.01 * s], gain=g - FINGERPRINT_FLOOR / 2)
            for m, g in (("margin", 0.9), ("random", 0.2)) for s in range(3)]
    assert not compare_records(near, ref).failed


def test_missing_new_and_incomparable_methods():
    ref = [make_record(m, s, [0.5, 0.7]) for m in ("margin", "random") for s in range(2)]
    res = [make_record(m, s, [0.5, 0.7]) for m in ("random", "entropy") for s in range(2)]
    comp = compare_records(res, ref)
    status = {g.method: g.status for g in comp.groups}
    assert status == {"margin": "missing", "random": "ok", "entropy": "new"} and comp.failed
    text = format_comparison(comp, "R", "F")
    assert "FAIL: digits/margin: in the reference (seeds [0, 1]) but not in the results" in text
    assert "note: digits/entropy: not in the reference" in text
    res = [make_record("margin", s, [0.5, 0.7], method_version=2) for s in range(2)]
    comp = compare_records(res, ref[:2])
    assert comp.groups[0].status == "incomparable" and "method version 2 vs reference 1" in comp.groups[0].problems[0]
    hint = format_comparison(comp, "R", "F").splitlines()[-1]
    assert "rerun the results with the reference's settings" in hint and "--update-reference" in hint


def test_exact_mode_compares_selected_indices():
    ref = [make_record("margin", s, [0.5, 0.7, 0.8]) for s in range(2)]
    res = [make_record("margin", s, [0.5, 0.7, 0.8], shift=3 if s == 1 else 0) for s in range(2)]
    loose = compare_records(res, ref)
    assert not loose.failed and any("not bit-identical" in n for n in loose.groups[0].notes)
    strict = compare_records(res, ref, exact=True)
    assert strict.failed
    assert strict.groups[0].problems == ["seed 1: round 1 selected different pool indices (3 of 5 differ; first ones "
                                         "[1003, 1004, 1005, 1006, 1007] vs reference [1000, 1001, 1002, 1003, 1004])"]
    assert not compare_records(ref, ref, exact=True).failed


def test_bad_input_is_a_one_line_error(tmp_path, capsys):
    good = store([make_record("margin", 0, [0.5, 0.7])], tmp_path / "good")
    assert main(["compare", str(good), str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "reference folder" in err and "nope" in err and "does not exist" in err
    corrupt = tmp_path / "bad" / "s" / "digits" / "margin" / "seed0.jsonl"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text('{"record": "run"')
    assert main(["compare", str(tmp_path / "bad"), str(good)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(corrupt) in err
    store([make_record("margin", 0, [0.5, 0.7], suite="other")], tmp_path / "good")
    with pytest.raises(CompareError, match="several suites; choose one with --suite \\(valid choices: other, s\\)"):
        load_folder(good, "results")
    assert main(["compare", str(good), str(good), "--suite", "nosuch"]) == 2
    assert "no records of suite 'nosuch'; valid choices: other, s" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compare", str(good), str(good), "--level", "1.5"])
