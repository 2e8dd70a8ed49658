"""Faults while reporting: a full disk names the file, leaves no temporary file, and stale ones
of killed writers are swept; unfinished run files left out of a report are named."""
import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.core.atomic import atomic_write
from benchmark.reporting.report import write_report
from records import make_record, store

FULL = os.strerror(errno.ENOSPC)


def _dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)


def _records():
    return [make_record(m, s, [0.5, 0.6 + 0.01 * s, 0.7]) for m in ("margin", "random") for s in range(2)]


@pytest.fixture
def full_disk(monkeypatch):
    """Every ``Path.write_bytes`` writes half its bytes, then fails as write(2) does on a full
    disk (errno ENOSPC, no file name)."""
    real = Path.write_bytes

    def half_then_full(self, data):
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, FULL)

    monkeypatch.setattr(Path, "write_bytes", half_then_full)


@pytest.mark.parametrize("stage", ["write", "fsync", "rename"])
def test_an_os_error_names_the_target_and_keeps_its_errno(tmp_path, monkeypatch, stage):
    target = tmp_path / "leaderboard.csv"
    fail = OSError(errno.ENOSPC, FULL)
    if stage == "fsync":
        monkeypatch.setattr("benchmark.core.atomic.os.fsync", lambda fd: (_ for _ in ()).throw(fail))
    if stage == "rename":
        monkeypatch.setattr("benchmark.core.atomic.os.replace", lambda a, b: (_ for _ in ()).throw(fail))

    def write(tmp):
        tmp.write_text("half")
        if stage == "write":
            raise fail

    with pytest.raises(OSError) as caught:
        atomic_write(target, write)
    assert (caught.value.errno, caught.value.strerror, caught.value.filename) == (errno.ENOSPC, FULL, str(target))
    assert caught.value.__cause__ is fail and list(tmp_path.iterdir()) == []


def test_a_missing_folder_stays_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        atomic_write(tmp_path / "gone" / "x.csv", lambda tmp: tmp.write_text("x"))
    assert caught.value.filename == str(tmp_path / "gone" / "x.csv")


def test_report_on_a_full_disk_names_the_file_and_leaves_no_temporary(tmp_path, capsys, full_disk):
    results, board = store(_records(), tmp_path / "results"), tmp_path / "board"
    assert main(["report", "--out", str(results), "--suite", "s", "--leaderboard-dir", str(board)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: cannot write: {board / 'accuracy_curves.png'}: {FULL}; the results stored so far are intact\n"
    assert list(board.iterdir()) == []


def test_report_sweeps_the_temporaries_of_killed_writers(tmp_path):
    dead = _dead_pid()
    stale = [tmp_path / f".leaderboard.csv.{dead}.tmp.csv", tmp_path / f".auc_bars.png.{dead}.tmp.png"]
    live = tmp_path / f".runs.csv.{os.getppid()}.tmp.csv"
    for p in (*stale, live):
        p.write_text("half")
    written = write_report(_records(), tmp_path, echo=False)
    assert not any(p.exists() for p in stale) and live.exists()
    assert sorted(tmp_path.iterdir()) == sorted([*written, live])


def test_report_names_the_unfinished_run_files_it_leaves_out(tmp_path, capsys):
    unfinished = [make_record("entropy", s, [0.5, 0.6]) for s in range(5)]
    for r in unfinished:
        r.summary = None
    write_report(_records() + unfinished, tmp_path, echo=False)
    assert capsys.readouterr().err == (
        "warning: 5 unfinished run files left out of the report: s/digits/entropy/seed0.jsonl, "
        "s/digits/entropy/seed1.jsonl, s/digits/entropy/seed2.jsonl and 2 more; run the suite again to finish them\n")
    write_report(_records() + unfinished[3:4], tmp_path, echo=False)
    assert capsys.readouterr().err == ("warning: 1 unfinished run file left out of the report: "
                                       "s/digits/entropy/seed3.jsonl; run the suite again to finish it\n")
    write_report(_records(), tmp_path, echo=False)
    assert capsys.readouterr().err == ""
