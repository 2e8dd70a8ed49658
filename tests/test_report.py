"""The report: every output file, versions and seeds in every table, byte-for-byte stability."""
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from benchmark.reporting.leaderboard import build_leaderboard, curve_table, rounds_frame
from benchmark.reporting.plots import accuracy_figure, auc_figure, teacher_figure
from benchmark.reporting.report import write_report
from benchmark.core.results import load_records
from benchmark.reporting.tables import wide_curve
from records import make_record, store

ROOT = Path(__file__).parents[1]
EXPECTED = ["accuracy_curves.png", "accuracy_curves.svg", "auc_bars.png", "auc_bars.svg", "best_set.csv", "curves.csv",
            "index.html", "leaderboard.csv", "leaderboard.md", "leaderboard.tex", "pairwise.csv", "posthoc.csv",
            "ranks.csv", "runs.csv", "teacher_on_queried.csv", "teacher_on_queried.png", "teacher_on_queried.svg",
            "win_rates.csv"]
CD = ["cd_diagram.png", "cd_diagram.svg"]  # with three or more ranked methods


def _records():
    recs = []
    for task in ("digits", "fashion"):
        for s in range(3):
            recs.append(make_record("margin", s, [0.5, 0.6 + 0.05 * s, 0.7 + 0.05 * s], task=task, tq=[0.6, 0.7]))
            recs.append(make_record("random", s, [0.5, 0.58 + 0.03 * s, 0.66 + 0.02 * s], task=task, tq=[0.9, 0.8]))
    recs += [make_record("oracle_correct_margin", s, [0.5, 0.75, 0.85], task="digits", privileged=True)
             for s in range(2)]
    return recs


def test_curve_table_values():
    recs = [make_record("margin", 0, [0.5, 0.7]), make_record("margin", 1, [0.5, 0.9]),
            make_record("random", 0, [0.5, 0.6])]
    t = curve_table(rounds_frame(recs), "test_accuracy")
    row = t[(t.method == "margin") & (t["round"] == 1)].iloc[0]
    assert row["mean"] == pytest.approx(0.8) and row.n_seeds == 2 and row.n_queries == 5
    assert row.task_version == 1 and row.method_version == 1
    assert row.ci95 == pytest.approx(12.706204736174696 * 0.2 / 2 ** 0.5 / 2 ** 0.5)  # t(0.975, 1) * sd / sqrt(n)
    header, rows = wide_curve(t)
    assert header == ["queries", "margin", "random"]
    assert rows[1][0] == "5" and rows[1][2] == "0.600" and rows[1][1].startswith("0.800 ± ")


def test_write_report_outputs(tmp_path, capsys):
    files = write_report(_records(), tmp_path)
    assert sorted(p.name for p in files) == EXPECTED
    lb = pd.read_csv(tmp_path / "leaderboard.csv")
    assert {"task", "task_version", "method", "method_version", "n_seeds", "rank", "auc_mean", "auc_ci95",
            "final_accuracy_mean", "gain_auc_mean", "gain_auc_ci95", "teacher_acc_queried_mean", "select_seconds_mean",
            "train_seconds_mean", "teacher_queries_mean", "teacher_test_accuracy_mean",
            "teacher_validation_error_mean"} <= set(lb.columns)
    assert (lb["teacher_test_accuracy_mean"] == 0.9).all() and (lb["teacher_validation_error_mean"] == 0.1).all()
    assert len(lb) == 5 and lb[lb.method == "oracle_correct_margin"]["rank"].isna().all()
    curves = pd.read_csv(tmp_path / "curves.csv")
    assert {"task", "task_version", "method", "method_version", "n_queries", "mean", "ci95", "n_seeds"} <= set(curves)
    for png in ("accuracy_curves.png", "auc_bars.png", "teacher_on_queried.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for svg in ("accuracy_curves.svg", "auc_bars.svg", "teacher_on_queried.svg"):
        assert b"<svg" in (tmp_path / svg).read_bytes()[:1000]
    md = (tmp_path / "leaderboard.md").read_text()
    # every table carries task and method versions and the number of seeds
    assert md.count("task digits v1; 2–3 seeds; mean ± 95% CI; teacher test accuracy 0.900, validation error "
                    "0.100 over seeds; methods: margin v1, random v1, oracle_correct_margin v1 (privileged)") == 3
    assert "| task | task v | method | method v | seeds | rank |" in md
    assert "| digits | 1 | oracle_correct_margin | 1 | 2 | privileged |" in md
    assert "| method | method v | rank on digits | rank on fashion | average rank | tasks | seeds |" in md
    assert md.count("tasks: digits v1, fashion v1; methods: margin v1, random v1; 3 seeds per (task, method)") == 2
    tex = (tmp_path / "leaderboard.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 5 and r"oracle\_correct\_margin" in tex and "task v" in tex
    out = capsys.readouterr().out
    assert "| queries | margin | oracle_correct_margin | random |" in out and "index.html" in out


def _noise_records():
    """Two teacher-noise levels of one task: the report adds its robustness files."""
    return [make_record(m, s, [0.5, a - rate + 0.01 * s], noise=("flip_uniform", rate), tq=[0.9 - rate],
                        teacher={"pool_accuracy": 0.92 - rate - 0.01 * s}, privileged=m.startswith("oracle"))
            for rate in (0.1, 0.3) for s in range(3)
            for m, a in (("rad", 0.8), ("margin", 0.75), ("random", 0.7), ("oracle_correct_margin", 0.9))]


ROBUSTNESS = ["robustness.csv", "robustness.png", "robustness.svg", "robustness_pairs.csv"]


@pytest.mark.parametrize("records, expected", [(_records, EXPECTED), (_noise_records, sorted(EXPECTED + ROBUSTNESS + CD))],
                         ids=["plain", "noise-levels"])
def test_report_is_byte_for_byte_stable(tmp_path, records, expected):
    """Same records -> identical bytes, figures included: twice in this process, and once from
    the CLI in a fresh interpreter with another hash seed."""
    root = store(records(), tmp_path / "runs")
    write_report(load_records(root), tmp_path / "a", echo=False)
    write_report(load_records(root), tmp_path / "b", echo=False)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, str(ROOT / "run_benchmark.py"), "report", "--out", str(root)], check=True,
                   env=env, cwd=ROOT, capture_output=True)
    c = root / "leaderboard" / "s"
    for name in expected:
        a = (tmp_path / "a" / name).read_bytes()
        assert a == (tmp_path / "b" / name).read_bytes(), name
        assert a == (c / name).read_bytes(), name
    assert sorted(p.name for p in c.iterdir()) == expected


def test_teacher_accuracy_per_round_is_pooled_with_wilson_intervals(tmp_path):
    # 3 seeds of 5 queries per round: 1, 5 and 2 correct teacher labels in round 1. A t interval
    # over the seeds would read 0.533 ± 1.0; the Wilson interval of 8 / 15 stays inside [0, 1].
    recs = [make_record("margin", s, [0.5, 0.6, 0.7], tq=[t, 1.0]) for s, t in enumerate([0.2, 1.0, 0.4])]
    write_report(recs, tmp_path, echo=False)
    t = pd.read_csv(tmp_path / "teacher_on_queried.csv")
    assert list(t["n_queries"]) == [5, 10] and list(t["queried"]) == [15, 15] and list(t["n_seeds"]) == [3, 3]
    first, last = t.iloc[0], t.iloc[1]
    assert first["correct"] == pytest.approx(8) and first["accuracy"] == pytest.approx(8 / 15)
    ci = stats.binomtest(8, 15).proportion_ci(0.95, method="wilson")
    assert (first["ci_low"], first["ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-6)
    assert last["accuracy"] == 1.0 and last["ci_high"] == 1.0 and 0.7 < last["ci_low"] < 0.8
    assert ((t["ci_low"] >= 0) & (t["ci_high"] <= 1)).all() and "ci95" not in t
    md = (tmp_path / "leaderboard.md").read_text()
    assert f"| 5 | 0.533 [{ci.low:.3f}, {ci.high:.3f}] |" in md and "95% Wilson score interval" in md


def _many():
    """Five methods, random and an oracle on one task; AUC rises with the position in NAMES."""
    names = ["badge", "entropy", "margin", "rad", "unixkd"]
    recs = [make_record(m, s, [0.5, 0.6 + 0.02 * i + 0.01 * s, 0.7 + 0.02 * i]) for i, m in enumerate(names)
            for s in range(3)]
    recs += [make_record("random", s, [0.5, 0.6, 0.7 + 0.01 * s]) for s in range(3)]
    recs += [make_record("oracle_correct_margin", s, [0.5, 0.8, 0.9], privileged=True) for s in range(3)]
    return build_leaderboard(recs)


def _dashed_black(ax):
    return [ln for ln in ax.get_lines() if ln.get_color() == "black" and ln.get_linestyle() == "--"]


def test_curves_are_small_multiples_against_random_the_best_and_the_teacher():
    import matplotlib.pyplot as plt

    lb = _many()
    for make, value in ((accuracy_figure, "AUC"), (teacher_figure, "pooled")):
        fig = make(lb)
        axes = [ax for ax in fig.get_axes() if ax.get_visible()]
        # one panel per method but random, in rank order, the oracle last
        assert [ax.get_title() for ax in axes] == ["#1 unixkd", "#2 rad", "#3 margin", "#4 entropy", "#5 badge",
                                                   "oracle_correct_margin (privileged)"]
        for ax in axes:
            assert len(_dashed_black(ax)) == 1  # random, the baseline, in every panel
            teacher = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":" and list(ln.get_ydata()) == [0.9, 0.9]]
            assert len(teacher) == 1  # the teacher's test accuracy
            assert any(t.get_text().startswith(value) for t in ax.texts)
        # the best-ranked method (grey) is drawn in every panel but its own
        assert [sum(ln.get_color() == "0.55" for ln in ax.get_lines()) for ax in axes] == [0, 1, 1, 1, 1, 1]
        assert {ax.get_xlabel() for ax in axes if ax.get_xlabel()} == {"teacher queries"}
        xs = {tuple(ln.get_xdata()) for ln in _dashed_black(axes[0])}
        assert xs == ({(0.0, 5.0, 10.0)} if make is accuracy_figure else {(5.0, 10.0)})  # queries, not rounds
        plt.close(fig)


def test_auc_is_a_sorted_dot_plot_without_bars():
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig = auc_figure(_many())
    ax = fig.get_axes()[0]
    ticks = sorted(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]), reverse=True)
    assert [label for _, label in ticks] == ["1. unixkd", "2. rad", "3. margin", "4. entropy", "5. badge",
                                             "6. random", "oracle_correct_margin (privileged)"]  # top to bottom
    assert not [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(_dashed_black(ax)) == 1  # random's mean AUC
    lo, hi = ax.get_xlim()
    assert 0.5 < lo < hi < 0.8  # no bars, so no zero baseline is needed
    plt.close(fig)


def test_incomplete_runs_are_left_out(tmp_path):
    done = make_record("margin", 0, [0.5, 0.6])
    partial = make_record("random", 0, [0.5, 0.6])
    partial.summary = None
    write_report([done, partial], tmp_path, echo=False)
    md = (tmp_path / "leaderboard.md").read_text()
    assert "| random |" not in md and "incomplete runs left out: digits/random/seed0" in md
    with pytest.raises(ValueError, match="no complete runs"):
        write_report([partial], tmp_path, echo=False)
