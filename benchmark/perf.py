"""Performance measurements that are scripts, not tests: ``run_benchmark.py perf quick``.

``perf quick`` times the whole quick suite (teacher training included, on an empty cache)
plus its report, in a subprocess, and prints one JSON line.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark import paths


def perf_quick(json_path: Path | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="akd-perf-") as tmp:
        env = {**os.environ, "AKD_BENCH_CACHE": str(Path(tmp) / "cache")}
        cmd = [sys.executable, str(paths.REPO_ROOT / "run_benchmark.py"), "run", "--suite", "quick", "--report",
               "--out", str(Path(tmp) / "runs"), "--no-progress"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        return proc.returncode
    import torch

    result = {"what": "quick suite + report, empty cache", "seconds": round(seconds, 2),
              "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    print(json.dumps(result))
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    return 0
