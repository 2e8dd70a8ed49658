"""report and compare refuse runs of one task with different budgets or configurations."""
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.reporting.leaderboard import LeaderboardError, check_consistent
from records import make_record, store

SIX = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8]
TRAIN = {"train": {"epochs": 150, "lr": 0.01}}
TRAIN_SHORT = {"train": {"epochs": 100, "lr": 0.01}}

# field -> (margin's runs, random's runs, the expected message), each side consistent on its own
MIXES = {
    "rounds": (dict(accs=SIX), dict(accs=SIX[:2]),
               "runs digits/margin/seed0 and digits/random/seed0 differ in rounds: 6 vs 1"),
    "queries per round": (dict(accs=SIX, queries=10), dict(accs=SIX, queries=5),
                          "runs digits/margin/seed0 and digits/random/seed0 differ in queries per round: 10 vs 5"),
    "task config": (dict(accs=SIX, config=TRAIN_SHORT), dict(accs=SIX, config=TRAIN),
                    "runs digits/margin/seed0 and digits/random/seed0 differ in task config field train.epochs: "
                    "100 vs 150"),
}


def _mixed(field: str) -> list:
    margin, random, _ = MIXES[field]
    return [make_record("margin", s, **margin) for s in (0, 1)] + [make_record("random", s, **random) for s in (0, 1)]


def _clean() -> list:
    return [make_record(m, s, SIX, config=TRAIN) for m in ("margin", "random") for s in (0, 1)]


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err
    return err


@pytest.mark.parametrize("field", list(MIXES))
def test_report_refuses_mixed_budgets(tmp_path, capsys, field):
    out = store(_mixed(field), tmp_path / "runs")
    assert main(["report", "--out", str(out)]) == 2
    assert MIXES[field][2] in _one_line_error(capsys)
    assert not (out / "leaderboard").exists() and not list(out.rglob("leaderboard.csv"))


@pytest.mark.parametrize("side", ["results", "reference"])
@pytest.mark.parametrize("field", list(MIXES))
def test_compare_refuses_mixed_budgets_on_either_side(tmp_path, capsys, field, side):
    mixed, clean = store(_mixed(field), tmp_path / "mixed"), store(_clean(), tmp_path / "clean")
    argv = [str(mixed), str(clean)] if side == "results" else [str(clean), str(mixed)]
    assert main(["compare", *argv]) == 2
    err = _one_line_error(capsys)
    assert f"the {side} cannot be compared: " in err and MIXES[field][2] in err


def test_seeds_of_one_method_with_different_rounds_are_refused(tmp_path, capsys):
    """Seed 1 of margin ran 1 round, seed 0 ran 6: their mean would blend two budgets."""
    recs = [make_record("margin", 0, SIX), make_record("margin", 1, SIX[:2])]
    out = store(recs, tmp_path / "runs")
    assert main(["report", "--out", str(out)]) == 2
    msg = "runs digits/margin/seed0 and digits/margin/seed1 differ in rounds: 6 vs 1"
    assert msg in _one_line_error(capsys)
    ref = store([make_record("margin", s, SIX) for s in (0, 1)], tmp_path / "ref")
    assert main(["compare", str(out), str(ref)]) == 2
    assert msg in _one_line_error(capsys)


def test_compare_checks_every_seed_not_only_the_lowest(tmp_path, capsys):
    """Seed 0 matches the reference; seed 1 ran other parameters and is named."""
    ref = store([make_record("margin", s, SIX) for s in (0, 1)], tmp_path / "ref")
    res = store([make_record("margin", 0, SIX), make_record("margin", 1, SIX, params={"k": 2})], tmp_path / "res")
    assert main(["compare", str(res), str(ref)]) == 2
    err = _one_line_error(capsys)
    assert 'runs digits/margin/seed0 and digits/margin/seed1 differ in params: {} vs {"k": 2}' in err
    # every seed differs from the reference the same way: incomparable, as before
    res = store([make_record("margin", s, SIX, params={"k": 2}) for s in (0, 1)], tmp_path / "res2")
    assert main(["compare", str(res), str(ref)]) == 1
    assert 'configuration differs: params {"k": 2} vs reference {}' in capsys.readouterr().out


def test_other_tasks_and_documentation_fields_do_not_count():
    recs = [make_record("margin", 0, SIX, config={"description": "a", "card": {"size": "1"}}),
            make_record("random", 0, SIX, config={"description": "b", "card": {"size": "2"}}),
            make_record("margin", 0, SIX[:3], task="other", queries=7)]
    check_consistent(recs)
    unrecorded = make_record("random", 1, SIX)
    del unrecorded.provenance["task_config"]
    with pytest.raises(LeaderboardError, match=r"digits/random/seed1 differ in task config field name: digits vs "
                                               r"\(not recorded\)"):
        check_consistent(recs + [unrecorded])


def test_incomplete_runs_are_ignored(tmp_path):
    partial = make_record("random", 2, SIX[:2])
    partial.summary = None
    check_consistent(_clean() + [partial])
