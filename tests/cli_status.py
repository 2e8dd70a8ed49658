"""The exit status of one command line run in this process, argparse's errors included."""
from __future__ import annotations

from benchmark.cli import main


def exit_status(argv: list[str]) -> int:
    """``main(argv)``'s return value, or the status of the ``SystemExit`` argparse raised."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code
