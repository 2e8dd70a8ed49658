"""The `power` command: seeds needed from a given paired SD, the per-task table of a results
folder, and one-line errors for bad input."""
from __future__ import annotations

import json

import pytest

from benchmark.cli import main
from benchmark.reporting.statistics import min_detectable_difference, seeds_needed
from records import make_record, store

BASE = [0.80, 0.81, 0.82, 0.83, 0.84]
# per seed, A - B = 0.03, -0.01, 0.03, -0.01, 0.01: mean 0.01, deviations +-0.02 and 0: SD sqrt(4 * 0.02^2 / 4) = 0.02
# A - C = 0.12, 0.04, 0.12, 0.04, 0.08: deviations +-0.04 and 0: SD 0.04; B - C = (A - C) - (A - B): SD 0.02
A_MINUS = {"A": [0.0] * 5, "B": [0.03, -0.01, 0.03, -0.01, 0.01], "C": [0.12, 0.04, 0.12, 0.04, 0.08],
           "oracle": [-0.15, 0.0, -0.15, 0.0, -0.1]}  # privileged: must not count


@pytest.fixture
def pilot(tmp_path):
    """A results root: task ``digits`` with methods A, B, C and a privileged oracle over 5 seeds
    (each run's accuracy is constant, so its AUC is that accuracy); task ``solo`` with A only."""
    recs = [make_record(m, s, [BASE[s] - d[s]] * 4, privileged=m == "oracle") for m, d in A_MINUS.items()
            for s in range(5)]
    recs += [make_record("A", s, [0.7] * 4, task="solo") for s in range(5)]
    return store(recs, tmp_path / "results")


def _json_line(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_sd_mode_by_hand(capsys):
    """Effect size 0.01 / 0.02 = 0.5: the classic paired t-test table value is 34 seeds (two-sided
    alpha 0.05, power 0.8)."""
    assert main(["power", "--sd", "0.02", "--difference", "0.01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("34 seeds detect") and _json_line(out)["seeds_needed"] == 34


def test_comparisons_divide_alpha(capsys):
    """m comparisons test at alpha/m: --comparisons 2 is --alpha 0.025 for one comparison."""
    assert main(["power", "--sd", "0.02", "--comparisons", "2"]) == 0
    family = _json_line(capsys.readouterr().out)["seeds_needed"]
    assert main(["power", "--sd", "0.02", "--alpha", "0.025"]) == 0
    assert family == _json_line(capsys.readouterr().out)["seeds_needed"] > 34


def test_results_folder_table(pilot, capsys):
    """Paired SDs of digits: A-B 0.02, B-C 0.02, A-C 0.04 -> median 0.02, 90th percentile
    0.02 + 0.8 * (0.04 - 0.02) = 0.036; 3 methods (the oracle is privileged), m = 3 pairs."""
    assert main(["power", str(pilot), "--difference", "0.01"]) == 0
    out = capsys.readouterr().out
    data = _json_line(out)
    assert (data["difference"], data["alpha"], data["power"]) == (0.01, 0.05, 0.8)
    digits, solo = data["tasks"]
    assert (digits["task"], digits["n_seeds"], digits["n_methods"], digits["n_pairs"]) == ("digits", 5, 3, 3)
    assert digits["sd_median"] == pytest.approx(0.02) and digits["sd_p90"] == pytest.approx(0.036)
    assert digits["seeds_single"] == 34
    assert digits["seeds_family"] == seeds_needed(0.02, 0.01, m=3)
    assert digits["seeds_single_p90"] == seeds_needed(0.036, 0.01) > 34
    assert digits["mdd_single"] == pytest.approx(min_detectable_difference(0.02, 5))
    assert digits["mdd_family"] == pytest.approx(min_detectable_difference(0.02, 5, m=3))
    assert solo["n_pairs"] == 0 and solo["sd_median"] is None and solo["seeds_single"] is None
    rows = [line for line in out.splitlines() if line.startswith("| digits ")]
    assert len(rows) == 1 and "| 0.0200 | 0.0360 |" in rows[0] and f"| 34 / {digits['seeds_single_p90']} |" in rows[0]


def test_help_says_what_it_computes(capsys):
    with pytest.raises(SystemExit) as e:
        main(["power", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert e.value.code == 0 and "paired SD" in text and "two-sided paired t-test at level alpha/m" in text


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


@pytest.mark.parametrize("argv,message", [
    (["--sd", "0.02", "--difference", "-0.01"], "--difference '-0.01': expected a number > 0"),
    (["--sd", "0.02", "--difference", "0"], "--difference '0': expected a number > 0"),
    (["--sd", "0.02", "--power", "1.5"], "--power '1.5': expected a number in (0, 1)"),
    (["--sd", "0.02", "--alpha", "0"], "--alpha '0': expected a number in (0, 1)"),
    (["--sd", "abc"], "--sd 'abc': expected a number >= 0"),
    (["--sd", "0.02", "--comparisons", "0"], "--comparisons '0': expected an integer >= 1"),
    ([], "power needs RESULTS_DIR"),
])
def test_bad_values_are_one_line(capsys, argv, message):
    assert message in _one_line_error(capsys, ["power", *argv])


def test_missing_folder_and_folder_without_complete_runs(tmp_path, capsys):
    assert "does not exist" in _one_line_error(capsys, ["power", str(tmp_path / "nowhere")])
    rec = make_record("A", 0, [0.5, 0.6])
    rec.summary = None  # an interrupted run
    store([rec], tmp_path / "partial")
    assert "holds no complete runs" in _one_line_error(capsys, ["power", str(tmp_path / "partial")])
    assert "not both" in _one_line_error(capsys, ["power", str(tmp_path / "partial"), "--sd", "0.02"])
