"""``python -m benchmark``: the AKD-Bench command line (the same as ``akd-bench``)."""
import sys

from benchmark.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m benchmark"))
