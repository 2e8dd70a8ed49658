"""The on-disk data cache: processes that load the same uncached data at once do not collide."""
import gzip
import os
import subprocess
import sys

import numpy as np

from benchmark.core.config import DataSpec
from benchmark.data import base, load_data

LOAD = ("import sys; from benchmark.core.config import DataSpec; from benchmark.data import load_data; "
        "load_data(DataSpec('idx_folder', {'path': sys.argv[1]}))")


def _idx_folder(folder):
    rng = np.random.default_rng(0)
    for name, shape in [("train-images-idx3-ubyte", (20, 4, 4)), ("train-labels-idx1-ubyte", (20,)),
                        ("t10k-images-idx3-ubyte", (8, 4, 4)), ("t10k-labels-idx1-ubyte", (8,))]:
        arr = rng.integers(0, 10, shape).astype(np.uint8)
        header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
        with gzip.open(folder / f"{name}.gz", "wb") as f:
            f.write(header + arr.tobytes())


def test_two_processes_caching_the_same_data_at_once(tmp_path, monkeypatch):
    """While this process has written its cache file but not yet renamed it, a second process
    loads and caches the same data from scratch; both finish and the cache is whole."""
    data_dir, cache = tmp_path / "idx", tmp_path / "cache"
    data_dir.mkdir()
    _idx_folder(data_dir)
    monkeypatch.setenv("AKD_BENCH_CACHE", str(cache))
    savez = np.savez

    def savez_then_the_other_process(file, **arrays):
        savez(file, **arrays)
        env = {**os.environ, "AKD_BENCH_CACHE": str(cache)}
        other = subprocess.run([sys.executable, "-c", LOAD, str(data_dir)], env=env, capture_output=True, text=True)
        assert other.returncode == 0, other.stderr[-2000:]

    monkeypatch.setattr(base.np, "savez", savez_then_the_other_process)
    monkeypatch.setattr(base, "_MEMORY", {})
    first = load_data(DataSpec("idx_folder", {"path": str(data_dir)}))
    monkeypatch.setattr(base.np, "savez", savez)
    monkeypatch.setattr(base, "_MEMORY", {})
    (cached,) = (cache / "data").iterdir()  # one file, no temporary left behind
    assert cached.suffix == ".npz"
    again = load_data(DataSpec("idx_folder", {"path": str(data_dir)}))
    assert again.fingerprint == first.fingerprint
    np.testing.assert_array_equal(again.x, first.x)
