"""Results schema v1: round trip, validation on write and read, corrupt and truncated files."""
import json

import pytest

from benchmark.core.results import ResultsError, RoundRecord, RunRecord, normalized_auc, read_run, write_run


def _record(n_rounds=3):
    rec = RunRecord(run_id="abc", suite="s", task="digits", task_version=1, method="margin", method_label="margin",
                    method_version=1, params={}, seed=0, privileged=False, rounds_planned=n_rounds - 1,
                    queries_per_round=5, data_fingerprint="f", teacher={"validation_error": 0.1},
                    provenance={"git_sha": None})
    for r in range(n_rounds):
        rec.rounds.append(RoundRecord(round=r, n_labeled=20, n_queries=5 * r, queried=list(range(5 * r, 5 * r + 5)) if r else [],
                                      test_accuracy=0.7 + 0.05 * r, test_nll=0.5, teacher_agreement=0.8,
                                      teacher_accuracy_on_queried=0.9 if r else None, mean_gain=0.5 if r else None,
                                      select_seconds=0.01, train_seconds=0.1, method={}))
    rec.finish(1.0)
    return rec


def test_round_trip(tmp_path):
    rec = _record()
    p = tmp_path / "seed0.jsonl"
    write_run(p, rec)
    back = read_run(p)
    assert back == rec
    lines = p.read_text().splitlines()
    assert [json.loads(x)["record"] for x in lines] == ["run", "round", "round", "round", "summary"]


def test_auc_normalized():
    assert normalized_auc([0, 10, 20], [0.5, 0.7, 0.9]) == pytest.approx(0.7)
    assert normalized_auc([0, 10, 30], [0.0, 1.0, 1.0]) == pytest.approx((5 + 20) / 30)
    assert normalized_auc([0], [0.8]) == 0.8


def test_invalid_record_is_not_written(tmp_path):
    rec = _record()
    rec.rounds[1].test_accuracy = 1.5
    p = tmp_path / "x.jsonl"
    with pytest.raises(ResultsError, match="test_accuracy"):
        write_run(p, rec)
    assert not p.exists()


def test_rounds_out_of_order_rejected(tmp_path):
    rec = _record()
    rec.rounds[1].round = 2
    with pytest.raises(ResultsError, match="out of order"):
        write_run(tmp_path / "x.jsonl", rec)


@pytest.mark.parametrize("damage,match", [
    (lambda t: t[:-25], "incomplete"),
    (lambda t: t.replace('"round": 1', '"round": 1,,', 1), r"line 3: invalid JSON"),
    (lambda t: t.replace('"test_accuracy": 0.75', '"test_accuracy": "high"', 1), "test_accuracy"),
    (lambda t: "\n".join(t.splitlines()[1:]) + "\n", "no run header|unexpected record"),
    (lambda t: t.replace('"schema_version": 1', '"schema_version": 9', 1), "schema_version 9"),
    (lambda t: t.replace('"n_labeled": 20', '"n_labled": 20', 1), "missing field 'n_labeled'|unknown field"),
])
def test_corrupt_files_raise_naming_the_file(tmp_path, damage, match):
    p = tmp_path / "seed0.jsonl"
    write_run(p, _record())
    bad = damage(p.read_text())
    p.write_text(bad)
    with pytest.raises(ResultsError, match=match) as e:
        read_run(p)
    assert str(p) in str(e.value) and "left untouched" in str(e.value)
    assert p.read_text() == bad


def test_atomic_write_leaves_no_temp_files(tmp_path):
    write_run(tmp_path / "seed0.jsonl", _record())
    assert [x.name for x in tmp_path.iterdir()] == ["seed0.jsonl"]


def test_a_corrupt_file_of_another_suite_does_not_block_a_suite(tmp_path):
    from benchmark.core.results import load_records
    from tests.records import make_record, store

    store([make_record("margin", 0, [0.5, 0.6], suite="good")], tmp_path)
    bad = tmp_path / "other" / "digits" / "margin" / "seed0.jsonl"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"record": "run"')
    assert [r.suite for r in load_records(tmp_path, "good")] == ["good"]
    with pytest.raises(ResultsError, match="other"):
        load_records(tmp_path)


def test_a_diverged_student_nll_is_stored_as_null_and_reads_back(tmp_path):
    from tests.records import make_record

    rec = make_record("margin", 0, [0.1, 0.1])
    rec.rounds[1].test_nll = float("nan")
    path = tmp_path / "seed0.jsonl"
    write_run(path, rec)
    assert read_run(path).rounds[1].test_nll is None
