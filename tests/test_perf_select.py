"""`run_benchmark.py perf select`: one JSON line per selection; the memory probe itself."""
import json

import numpy as np
import pytest

from benchmark.cli import main
from benchmark.perf.measure import PeakMemory, measure_select, synthetic_state
from benchmark.core.registry import METHODS


@pytest.mark.parametrize("method", METHODS.names())
def test_perf_select_every_method(method, capsys):
    rc = main(["perf", "select", "--method", method, "--n", "400", "--dim", "8", "--classes", "5", "--budget", "20",
               "--initial", "30", "--device", "cpu"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip())
    assert out["method"] == method and out["device"] == "cpu" and out["budget"] == 20
    assert out["seconds"] > 0 and out["peak_mb"] >= 0


def test_perf_select_errors(capsys):
    assert main(["perf", "select", "--method", "corset"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Did you mean 'coreset'?" in err
    assert main(["perf", "select", "--method", "margin", "--n", "10", "--budget", "11"]) == 2
    assert "--budget 11 exceeds --n 10" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["perf", "select"])
    with pytest.raises(SystemExit):
        main(["perf", "select", "--method", "margin", "--n", "0"])


def test_peak_memory_sees_a_large_allocation():
    with PeakMemory() as mem:
        block = np.ones(50_000_000, dtype=np.float32)  # 200 MB, touched
        del block
    assert mem.extra_mb > 150
    with PeakMemory() as quiet:
        np.ones(1000)
    assert quiet.extra_mb < 20


def test_badge_never_materializes_gradient_embeddings():
    """n x C·d float32 would be 2,000 x 100 x 256 x 4 B = 205 MB; BADGE stays far below."""
    cls = METHODS.get("badge")
    state, _ = synthetic_state(frozenset(cls.requires), False, 2000, 256, 100, 0)
    assert measure_select(cls(), state, 50)["peak_mb"] < 60


def test_coreset_memory_is_linear():
    """n x n float32 distances would be 400 MB at n = 10,000; coreset needs O(n·d)."""
    cls = METHODS.get("coreset")
    state, _ = synthetic_state(frozenset(cls.requires), False, 10_000, 16, 10, 500)
    assert measure_select(cls(), state, 200)["peak_mb"] < 60
