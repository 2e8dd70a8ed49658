"""`run_benchmark.py perf quick`: thread settings, background load, repeats, interleaving.

The quick suite itself is not run here (it takes a minute); ``time_quick`` is replaced by a
stand-in that records what it was asked and whether the load processes were running."""
import json
import os
from pathlib import Path

import pytest

from benchmark.perf import measure as perf
from benchmark.cli import build_parser, main

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


def busy_children() -> list[int]:
    """Pids of this process's children running a busy loop (from /proc/<pid>/stat and cmdline)."""
    out = []
    for d in Path("/proc").iterdir():
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (d / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"while True: pass" in cmd:
            out.append(int(d.name))
    return out


def test_parse_quick_options():
    args = build_parser().parse_args(["perf", "quick", "--threads", "1,default,2", "--load", "2", "--repeats", "3"])
    assert (args.thread_settings, args.load, args.repeats) == ([1, None, 2], 2, 3)
    args = build_parser().parse_args(["perf", "quick"])
    assert (args.thread_settings, args.load, args.repeats) == (None, 0, 1)


@pytest.mark.parametrize("argv, bad", [(["--threads", "0"], "'0'"), (["--threads", "two"], "'two'"),
                                       (["--threads", ","], "','"), (["--load", "-1"], "'-1'"),
                                       (["--repeats", "0"], "'0'")])
def test_bad_quick_options_are_one_line_errors(argv, bad, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["perf", "quick", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "perf quick: error: argument" in err and bad in err


def test_settings_interleaved_under_load(monkeypatch, capsys, tmp_path):
    calls = []

    def fake(threads):
        calls.append((threads, len(busy_children())))
        return {None: 3.0, 1: 2.0, 2: 4.0}[threads] + len(calls) / 100

    monkeypatch.setattr(perf, "time_quick", fake)
    monkeypatch.setenv("AKD_BENCH_THREADS", "1")
    out = tmp_path / "quick.json"
    assert main(["perf", "quick", "--threads", "2,default,1", "--load", "2", "--repeats", "2", "--json", str(out)]) == 0
    assert calls == [(2, 2), (None, 2), (1, 2)] * 2  # interleaved, two busy loops beside every run
    assert busy_children() == []  # killed afterwards
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    runs, summary = lines[:-1], lines[-1]
    assert [(r["threads_setting"], r["threads"], r["load"], r["repeat"]) for r in runs] == \
        [(2, 2, 2, 0), ("default", 1, 2, 0), (1, 1, 2, 0), (2, 2, 2, 1), ("default", 1, 2, 1), (1, 1, 2, 1)]
    assert summary["fastest"] == "1" and summary["median_seconds"] == {"2": 4.025, "default": 3.035, "1": 2.045}
    assert json.loads(out.read_text())["summary"] == summary


def test_one_run_without_load(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(perf, "time_quick", lambda t: calls.append((t, len(busy_children()))) or 21.0)
    assert main(["perf", "quick"]) == 0
    assert calls == [(None, 0)]
    (line,) = capsys.readouterr().out.splitlines()
    row = json.loads(line)
    assert row["seconds"] == 21.0 and row["load"] == 0 and row["threads_setting"] == "default"


def test_a_failing_run_stops_with_status_1(monkeypatch, capsys):
    def fail(threads):
        raise RuntimeError("error: the run broke\n")

    monkeypatch.setattr(perf, "time_quick", fail)
    assert main(["perf", "quick", "--load", "1"]) == 1
    assert "the run broke" in capsys.readouterr().err
    assert busy_children() == []


def test_busy_loops_run_and_are_killed():
    with perf.busy_loops(2) as procs:
        assert len(procs) == 2 and all(p.poll() is None for p in procs)
        assert sorted(busy_children()) == sorted(p.pid for p in procs)
    assert all(p.returncode is not None for p in procs)
    assert busy_children() == []
