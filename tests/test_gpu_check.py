"""The GPU check's pieces that run anywhere: the gpu-fashion suite and task, the selection
parity script (CPU against CPU, and against CUDA where there is one), the tiny copy of the
suite that ``TINY=1 scripts/gpu_check.sh`` runs, and the suite time breakdown."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.core.config import DataSpec, load_suite, load_task, load_task_file
from benchmark.data import load_data
from test_tasks import check_splits, labels_only

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
# Data dirs holding fashion-mnist/: the Debian package's parent folder, or the folder that
# scripts/prepare_device.sh fills for the GPU machine.
FASHION_PARENT = next((str(d) for d in (Path("/usr/share/datasets"), ROOT / "device_carry")
                       if (d / "fashion-mnist").is_dir()), None)


def test_gpu_fashion_suite_and_task_load_with_the_protocol_sizes():
    suite = load_suite("gpu-fashion")
    assert suite.tasks == ["fashion_mnist_gpu"] and suite.seeds == [0, 1, 2]
    assert [m.name for m in suite.methods] == ["random", "margin", "entropy", "coreset", "badge", "rad"]
    t = load_task("fashion_mnist_gpu")
    assert t.data.source == "idx_folder" and not Path(t.data.params["path"]).is_absolute()
    assert (t.teacher.model.name, t.teacher.train_on, t.student.name) == ("resnet56", "labeled", "resnet20")
    r = t.train
    assert (r.batch_size, r.optimizer, r.momentum, r.schedule, r.augment) == (512, "sgd", 0.9, "cosine", "crop_flip")
    s = check_splits(labels_only(t.card["rows"], t.card["classes"]), t)
    assert (len(s.labeled), len(s.validation), len(s.pool)) == (6000, 5000, 49000)
    assert t.rounds == 10 and t.queries_per_round == len(s.pool) // 20  # 5% of the pool per round


def test_idx_folder_path_is_relative_to_the_data_dir(tmp_path, monkeypatch):
    from test_data import _write_idx

    folder = tmp_path / "carry" / "fashion-mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    _write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (20, 4, 4)))
    _write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(20) % 10)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AKD_BENCH_DATA_DIR", str(tmp_path / "carry"))
    d = load_data(DataSpec("idx_folder", {"path": "fashion-mnist"}))
    assert d.x.shape == (20, 1, 4, 4)
    monkeypatch.setenv("AKD_BENCH_DATA_DIR", str(tmp_path))  # same relative path, another data dir
    with pytest.raises(Exception, match="does not exist"):
        load_data(DataSpec("idx_folder", {"path": "fashion-mnist"}))


@pytest.mark.skipif(FASHION_PARENT is None, reason="apt-get install dataset-fashion-mnist")
def test_gpu_fashion_task_reads_the_debian_files_through_the_data_dir(monkeypatch):
    monkeypatch.setenv("AKD_BENCH_DATA_DIR", FASHION_PARENT)
    t = load_task("fashion_mnist_gpu")
    d = load_data(t.data)
    assert d.x.shape == (60000, 1, 28, 28) and d.num_classes == 10
    assert check_splits(d, t).test_from_test_split


def test_gpu_parity_tiny_cpu_against_cpu_is_identical(capsys):
    from benchmark.perf.gpu_parity import DEFAULT_METHODS, main

    assert main(["--tiny", "--device", "cpu"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    parity = {r["method"]: r for r in rows if r["what"] == "parity"}
    assert set(parity) == set(DEFAULT_METHODS) >= {"coreset", "badge", "margin", "entropy", "least_confidence", "rad"}
    for r in parity.values():
        assert r["equal"] and r["same_set"] and r["n_differ"] == 0 and r["first_diff_at"] is None
        assert r["max_score_diff"] == 0.0 and r["diagnostics_cpu"] == r["diagnostics_device"]


def test_gpu_parity_reports_a_different_selection(monkeypatch, capsys):
    """A device side that selects differently is reported with its count and exit status 1."""
    import benchmark.perf.gpu_parity as gp

    real, calls = gp._select, []

    def device_side_reseeded(cls, state, view, budget, seed):  # the second call is the device side
        calls.append(state)
        return real(cls, state, view, budget, seed + (len(calls) % 2 == 0))

    monkeypatch.setattr(gp, "_select", device_side_reseeded)
    assert gp.main(["--tiny", "--device", "cpu", "--methods", "badge"]) == 1
    out = capsys.readouterr().out
    row = json.loads(out.splitlines()[1])
    assert row["method"] == "badge" and not row["equal"] and row["n_differ"] > 0
    assert row["first_diff_at"] is not None
    assert "0/1 methods identical" in out


def test_gpu_parity_bad_arguments_are_one_line_errors(capsys):
    from benchmark.perf.gpu_parity import main

    assert main(["--device", "cpu", "--methods", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nosuch" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_parity_cuda_matches_cpu_tiny(capsys):
    from benchmark.perf.gpu_parity import main

    rc = main(["--tiny", "--device", "cuda"])
    out = capsys.readouterr().out
    assert rc == 0, out


def test_tiny_copy_of_the_gpu_suite_keeps_its_methods_and_recipe(tmp_path):
    from tiny_suite import write_tiny

    path = write_tiny(tmp_path)
    tiny, real = load_suite(path), load_suite("gpu-fashion")
    assert tiny.methods == real.methods and tiny.seeds == [0]
    (task_path,) = tiny.tasks
    t, full = load_task_file(task_path), load_task("fashion_mnist_gpu")
    assert (t.data, t.student, t.teacher.model) == (full.data, full.student, full.teacher.model)
    assert t.rounds == 1 and t.train.epochs == 1 and t.teacher.train.epochs == 1 and t.splits.pool == 400
    assert t.train.optimizer == full.train.optimizer and t.train.augment == full.train.augment


def test_suite_times_breaks_down_stored_runs(tmp_path, capsys):
    from records import make_record, store
    from suite_times import main

    for method in ("margin", "random"):
        for seed in (0, 1):
            store([make_record(method, seed, [0.5, 0.6, 0.7])], tmp_path)
    assert main([str(tmp_path), "--json", str(tmp_path / "t.json")]) == 0
    times = json.loads((tmp_path / "t.json").read_text())
    assert set(times["methods"]) == {"margin", "random"}
    assert times["total"]["runs"] == 4 and times["methods"]["margin"]["complete"] == 2
    assert "| margin |" in capsys.readouterr().out
    assert main([str(tmp_path / "empty")]) == 2
