#!/usr/bin/env python
"""AKD-Bench entry point: ``python run_benchmark.py --help``."""
import os
import sys

from benchmark.cli import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into a reader that closed early, e.g. `| head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
