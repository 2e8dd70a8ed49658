"""reproduce: an unchanged harness reproduces its reference; a method swapped for random fails."""
import shutil
from pathlib import Path

import pytest
import yaml

from benchmark.reporting.compare import CompareError, load_folder
from benchmark.core.config import load_suite, load_task
from benchmark.core.registry import METHODS
from benchmark.reporting.reproduce import reproduce

ROOT = Path(__file__).parents[1]


def make_suite(folder: Path, seeds: list[int]) -> Path:
    """A suite YAML over a short digits task (random and margin, 2 rounds x 20 queries)."""
    task = yaml.safe_load((ROOT / "datasets" / "digits_ci.yaml").read_text())
    task.update(name="digits_tiny", rounds=2, queries_per_round=20)
    task["train"]["epochs"] = 60
    task["teacher"]["train"]["epochs"] = 40
    task_path = folder / "digits_tiny.yaml"
    task_path.write_text(yaml.safe_dump(task))
    suite_path = folder / "tiny.yaml"
    suite_path.write_text(yaml.safe_dump({"name": "tiny", "version": 1, "tasks": [str(task_path)],
                                          "methods": ["random", "margin"], "seeds": seeds}))
    return suite_path


def test_reproduce_then_planted_swap(tmp_path, capsys, monkeypatch):
    tiny_suite = make_suite(tmp_path, [0, 1, 2])
    ref = tmp_path / "reference" / "tiny"
    with pytest.raises(CompareError, match="no reference results for suite 'tiny'.*--update-reference"):
        reproduce(str(tiny_suite), reference=ref, progress=False)
    assert reproduce(str(tiny_suite), reference=ref, update=True, progress=False) == 0
    assert sorted(p.relative_to(ref).as_posix() for p in ref.rglob("*.jsonl")) == [
        f"digits_tiny/{m}/seed{s}.jsonl" for m in ("margin", "random") for s in (0, 1, 2)]
    capsys.readouterr()

    # the unchanged harness reproduces the reference exactly
    assert reproduce(str(tiny_suite), reference=ref, exact=True, progress=False) == 0
    out = capsys.readouterr().out
    assert "compare: PASSED: 2 (task, method) pairs, 8 checks" in out and "bit-identical" in out

    # margin now selects like random: the statistical check alone catches it
    monkeypatch.setattr(METHODS.get("margin"), "select_positions", METHODS.get("random").select_positions)
    assert reproduce(str(tiny_suite), reference=ref, progress=False) == 1
    out = capsys.readouterr().out
    assert "digits_tiny/margin (regression)" in out and "digits_tiny/random" not in out.split("FAILED")[1]
    assert any(line.startswith("digits_tiny") and "margin" in line and "mean_gain" in line and "CHANGED" in line
               for line in out.splitlines())


def test_update_reference_replaces_the_folder(tmp_path):
    tiny_suite = make_suite(tmp_path, [0])
    ref = tmp_path / "ref"
    stale = ref / "digits_tiny" / "entropy" / "seed9.jsonl"
    stale.parent.mkdir(parents=True)
    stale.write_text("stale\n")
    out = tmp_path / "runs"
    assert reproduce(str(tiny_suite), out=out, reference=ref, update=True, progress=False, use_cache=True) == 0
    assert not stale.exists() and len(load_folder(ref, "reference")) == 2
    assert len(list((out / "tiny").rglob("seed*.jsonl"))) == 2  # --out keeps the new runs
    assert not list(tmp_path.glob(".ref.*"))


def test_committed_ci_reference_covers_the_ci_suite():
    """The reference under results/reference/ci is the whole ci grid, complete, at current versions."""
    suite = load_suite("ci")
    recs = load_folder(ROOT / "results" / "reference" / "ci", "reference")
    assert all(r.complete and r.suite == "ci" for r in recs)
    grid = {(t, m.label, s) for t in suite.tasks for m in suite.methods for s in suite.seeds}
    assert {(r.task, r.method_label, r.seed) for r in recs} == grid
    for r in recs:
        assert r.task_version == load_task(r.task).version
        assert r.method_version == METHODS.get(r.method).version


@pytest.mark.parametrize("threads", [1, 2])
def test_reproduce_runs_with_the_requested_threads(tmp_path, monkeypatch, threads):
    """The thread count changes floating-point results, so reproduce must impose its own,
    whatever the environment asks for."""
    import benchmark.run.runner as runner

    seen = []
    monkeypatch.setenv("AKD_BENCH_THREADS", "7")
    real = runner.run_threads
    monkeypatch.setattr(runner, "run_threads", lambda n=None: seen.append(n) or real(n))
    tiny_suite = make_suite(tmp_path, [0])
    reproduce(str(tiny_suite), reference=tmp_path / "ref", update=True, progress=False, threads=threads)
    assert seen == [threads]


def test_reference_and_tasks_default_to_the_checkouts_folders():
    from benchmark.core import paths
    from benchmark.reporting.reproduce import reference_dir

    assert reference_dir("ci") == ROOT / "results" / "reference" / "ci"
    assert paths.TASKS_DIR == ROOT / "datasets"


def test_an_installed_package_uses_its_shipped_copies(tmp_path, monkeypatch):
    """In a wheel, datasets/ and results/reference/ are benchmark/tasks/ and benchmark/reference/
    (the folder above the package is site-packages, which holds Hugging Face's `datasets`)."""
    from benchmark.core import paths

    monkeypatch.setattr(paths, "PACKAGE_DIR", tmp_path / "benchmark")
    checkout = tmp_path / "datasets"
    assert paths._shipped("tasks", checkout) == checkout
    (tmp_path / "benchmark" / "tasks").mkdir(parents=True)
    assert paths._shipped("tasks", checkout) == tmp_path / "benchmark" / "tasks"
