"""perf numerics: both modes timed, interleaved, and their ratio reported."""
from __future__ import annotations

import json

from benchmark.perf.numerics_cost import perf_numerics


def test_modes_are_interleaved_and_the_ratio_is_portable_over_fast(capsys):
    calls = []

    def timer(suite, mode, extra):
        calls.append(mode)
        return {"portable": 3.0, "fast": 2.0}[mode] + len(calls) / 100

    assert perf_numerics("quick", repeats=2, extra=["--seeds", "0"], timer=timer) == 0
    assert calls == ["portable", "fast", "portable", "fast"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["numerics"] for r in lines[:4]] == calls and lines[0]["args"] == ["--seeds", "0"]
    summary = lines[-1]
    assert summary["median_seconds"] == {"portable": 3.02, "fast": 2.03}
    assert summary["ratio"] == round(3.02 / 2.03, 3)


def test_a_failed_run_prints_its_error_and_exits_1(capsys):
    def timer(suite, mode, extra):
        raise RuntimeError("error: boom\n")

    assert perf_numerics("quick", timer=timer) == 1
    assert "boom" in capsys.readouterr().err


def test_command_line_times_both_modes_of_a_real_suite_slice(capsys, tmp_path):
    from benchmark.cli import main

    out = tmp_path / "perf.json"
    assert main(["perf", "numerics", "--suite", "ci", "--seeds", "0", "--methods", "random", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())["summary"]
    assert set(summary["median_seconds"]) == {"portable", "fast"} and summary["ratio"] > 0
