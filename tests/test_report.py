"""Report tables against hand-computed values; the report reads records only."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark.report import curve_table, mean_ci, rounds_frame, wide_table, write_report
from benchmark.results import RoundRecord, RunRecord


def _rec(method, seed, accs, tq=0.8):
    rec = RunRecord(run_id=f"{method}{seed}", suite="s", task="digits", task_version=1, method=method,
                    method_label=method, method_version=1, params={}, seed=seed, privileged=False,
                    rounds_planned=len(accs) - 1, queries_per_round=5, data_fingerprint="f", teacher={},
                    provenance={})
    for r, a in enumerate(accs):
        rec.rounds.append(RoundRecord(round=r, n_labeled=20, n_queries=5 * r, queried=[], test_accuracy=a,
                                      test_nll=0.1, teacher_agreement=0.5,
                                      teacher_accuracy_on_queried=tq if r else None, mean_gain=None,
                                      select_seconds=0.0, train_seconds=0.0))
    rec.finish(0.0)
    return rec


def test_mean_ci_matches_t_interval():
    v = [0.7, 0.8, 0.9]
    m, h = mean_ci(v)
    assert m == pytest.approx(0.8)
    assert h == pytest.approx(stats.t.ppf(0.975, 2) * 0.1 / np.sqrt(3))
    assert np.isnan(mean_ci([0.5])[1])


def test_curve_table_values():
    recs = [_rec("margin", 0, [0.5, 0.7]), _rec("margin", 1, [0.5, 0.9]), _rec("random", 0, [0.5, 0.6])]
    t = curve_table(rounds_frame(recs), "test_accuracy")
    row = t[(t.method == "margin") & (t["round"] == 1)].iloc[0]
    assert row["mean"] == pytest.approx(0.8) and row.n_seeds == 2 and row.n_queries == 5
    assert row.ci95 == pytest.approx(stats.t.ppf(0.975, 1) * np.std([0.7, 0.9], ddof=1) / np.sqrt(2))
    w = wide_table(t)
    assert w.loc[5, "random"] == "0.600" and w.loc[5, "margin"].startswith("0.800 ± ")


def test_write_report_outputs(tmp_path, capsys):
    recs = [_rec(m, s, [0.5, 0.6 + 0.1 * s]) for m in ("margin", "random") for s in (0, 1, 2)]
    files = write_report(recs, tmp_path)
    names = sorted(p.name for p in files)
    assert names == ["digits.md", "digits_accuracy.csv", "digits_accuracy.png", "digits_teacher_on_queried.csv"]
    csv = pd.read_csv(tmp_path / "digits_accuracy.csv")
    assert set(csv.columns) >= {"task", "method", "n_queries", "mean", "ci95", "n_seeds"}
    assert (tmp_path / "digits_accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "3 seeds" in out and "margin v1" in out and "0.700 ± " in out


def test_incomplete_runs_are_left_out(tmp_path):
    done = _rec("margin", 0, [0.5, 0.6])
    partial = _rec("random", 0, [0.5, 0.6])
    partial.summary = None
    write_report([done, partial], tmp_path, echo=False)
    assert "random" not in (tmp_path / "digits.md").read_text()
    with pytest.raises(ValueError, match="no complete runs"):
        write_report([partial], tmp_path, echo=False)
