"""The README's first command leaves the checkout clean, and the committed leaderboards are
exactly what their committed reference run files give."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmark.cli import main
from checkout import ROOT, git_checkout_of_working_tree

COMMITTED_LEADERBOARDS = sorted(p.name for p in (ROOT / "results" / "leaderboard").iterdir() if p.is_dir())


@pytest.mark.slow
def test_a_run_with_its_report_leaves_the_checkout_clean(tmp_path):
    repo = git_checkout_of_working_tree(tmp_path / "repo")
    env = {**os.environ, "AKD_BENCH_CACHE": str(tmp_path / "cache")}
    env.pop("PYTHONPATH", None)
    res = subprocess.run([sys.executable, "run_benchmark.py", "run", "--suite", "quick", "--seeds", "0", "--rounds", "1",
                          "--methods", "random", "--report", "--no-progress"],
                         cwd=repo, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (repo / "results" / "runs" / "leaderboard" / "quick" / "leaderboard.csv").exists()
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True,
                            check=True).stdout
    assert status == "", f"the run changed the checkout:\n{status}"


@pytest.mark.parametrize("suite", COMMITTED_LEADERBOARDS)
def test_committed_leaderboard_is_regenerated_from_its_reference(suite, tmp_path, capsys):
    """`report --out results/reference --suite S --leaderboard-dir results/leaderboard/S` gives
    the committed tables byte for byte (plots are left out: their pixels depend on the
    matplotlib and FreeType versions)."""
    out = tmp_path / suite
    assert main(["report", "--out", str(ROOT / "results" / "reference"), "--suite", suite,
                 "--leaderboard-dir", str(out)]) == 0
    capsys.readouterr()
    committed = ROOT / "results" / "leaderboard" / suite
    tables = sorted(p.name for p in out.iterdir() if p.suffix in (".csv", ".md", ".tex"))
    assert tables and tables == sorted(p.name for p in committed.iterdir() if p.suffix in (".csv", ".md", ".tex"))
    stale = [name for name in tables if (out / name).read_bytes() != (committed / name).read_bytes()]
    assert not stale, (f"results/leaderboard/{suite}/ differs from its reference in {stale}; regenerate it (README, "
                       f"'The leaderboard')")
