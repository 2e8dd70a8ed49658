#!/usr/bin/env python
"""AKD-Bench entry point: ``python run_benchmark.py --help`` (the same as ``akd-bench``)."""
import sys

from benchmark.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python run_benchmark.py"))
