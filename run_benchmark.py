#!/usr/bin/env python
"""AKD-Bench entry point: ``python run_benchmark.py --help``."""
import sys

from benchmark.cli import main

if __name__ == "__main__":
    sys.exit(main())
