"""The GPU speed check, as one script: ``python -m benchmark.perf.gpu`` (or ``--tiny`` on CPU).

Target (paper-scale suites): one ResNet-20 student round of 20 epochs on 25,000
CIFAR-shaped examples (5,000 labeled + 20,000 teacher soft labels, the last round of
``paper-cifar10``) in <= 10 s on one H200, with the task's recipe: SGD + cosine schedule,
batched crop+flip on the device, bf16 autocast, channels-last, device-resident tensors.

It prints one JSON line per measurement and a verdict line:

1. ``student_round``: ``fit`` of a fresh ResNet-20 (the timed figure against the target);
   with ``--compile`` the model is wrapped in ``torch.compile`` (its compile time is
   reported separately, from a warm-up fit);
2. ``pool_pass``: one no-grad pass over a 40,000-example pool with embeddings (what
   uncertainty and embedding methods need each round);
3. ``teacher_epoch``: one epoch of the ResNet-56 teacher on the 5,000 labeled examples;
4. ``throughput``: samples/s of every registered model (as ``run_benchmark.py perf train``).

``--tiny`` shrinks every size (for checking the script on a CPU); ``--skip-throughput``
skips (4). Data are random (speed does not depend on pixel values).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import numpy as np
import torch

from benchmark.core.config import ModelSpec, TrainRecipe
from benchmark.models import build_model
from benchmark.run.train import RUNTIME, configure_threads, fit, make_train_set, predict, resolve_device

TARGET_S = 10.0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def student_recipe(epochs: int, batch_size: int) -> TrainRecipe:
    """The paper-cifar10 student recipe (datasets/cifar10.yaml)."""
    from benchmark.core.config import load_task

    r = load_task("cifar10").train
    return dataclasses.replace(r, epochs=epochs, batch_size=batch_size)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--tiny", action="store_true", help="small sizes, for a CPU check of the script")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (CUDA only)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None, help="default: the cifar10 task's student batch size")
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    if device.type == "cpu":
        configure_threads()
    else:
        torch.backends.cudnn.benchmark = True
    RUNTIME.compile = args.compile
    n_lab, n_soft, n_pool, epochs = (200, 800, 1000, 1) if args.tiny else (5000, 20000, 40000, 20)
    epochs = args.epochs or epochs
    from benchmark.core.config import load_task

    recipe = student_recipe(epochs, args.batch_size or load_task("cifar10").train.batch_size)
    rng = np.random.default_rng(0)
    x = rng.random((n_lab + n_soft, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, n_lab)
    soft = rng.dirichlet(np.ones(10), n_soft).astype(np.float32)
    info = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
            "torch": torch.__version__, "compile": args.compile, "tiny": args.tiny}
    print(json.dumps({"what": "setup", **info}), flush=True)

    _sync(device)
    t0 = time.perf_counter()
    ts = make_train_set(x[:n_lab], y, x[n_lab:], soft, 10, recipe, device)
    _sync(device)
    to_device_s = time.perf_counter() - t0

    def student() -> torch.nn.Module:
        torch.manual_seed(0)
        return build_model(ModelSpec("resnet20"), (3, 32, 32), 10)

    warm = dataclasses.replace(recipe, epochs=1)
    _sync(device)
    t0 = time.perf_counter()
    fit(student(), ts, warm, 0, device)  # cuDNN autotuning, allocator warm-up, compilation
    _sync(device)
    warm_s = time.perf_counter() - t0

    model = student()
    _sync(device)
    t0 = time.perf_counter()
    fit(model, ts, recipe, 1, device)
    _sync(device)
    round_s = time.perf_counter() - t0
    n = len(ts)
    print(json.dumps({"what": "student_round", "model": "resnet20", "examples": n, "epochs": epochs,
                      "batch_size": recipe.batch_size, "augment": recipe.augment, "seconds": round(round_s, 3),
                      "samples_per_s": round(n * epochs / round_s, 1), "warmup_epoch_seconds": round(warm_s, 3),
                      "host_to_device_seconds": round(to_device_s, 3)}), flush=True)

    pool = torch.from_numpy(rng.random((n_pool, 3, 32, 32), dtype=np.float32))
    if device.type == "cuda":
        pool = pool.to(device)
    predict(model, pool[:1024], device, embeddings=True)
    _sync(device)
    t0 = time.perf_counter()
    predict(model, pool, device, embeddings=True)
    _sync(device)
    pool_s = time.perf_counter() - t0
    print(json.dumps({"what": "pool_pass", "examples": n_pool, "seconds": round(pool_s, 3),
                      "samples_per_s": round(n_pool / pool_s, 1)}), flush=True)

    from benchmark.core.config import load_task

    t_recipe = dataclasses.replace(load_task("cifar10").teacher.train, epochs=1)
    ts_t = make_train_set(x[:n_lab], y, None, None, 10, t_recipe, device)
    torch.manual_seed(0)
    teacher = build_model(ModelSpec("resnet56"), (3, 32, 32), 10)
    fit(teacher, ts_t, t_recipe, 0, device)
    _sync(device)
    t0 = time.perf_counter()
    fit(teacher, ts_t, t_recipe, 1, device)
    _sync(device)
    t_s = time.perf_counter() - t0
    print(json.dumps({"what": "teacher_epoch", "model": "resnet56", "examples": n_lab, "seconds": round(t_s, 3),
                      "samples_per_s": round(n_lab / t_s, 1)}), flush=True)

    if not args.skip_throughput:
        from benchmark.perf.training import default_cases, measure

        for case in default_cases(scale=0.25 if args.tiny else 8.0 if device.type == "cuda" else 1.0):
            if device.type == "cuda":
                case = dataclasses.replace(case, batch_size=case.batch_size * 4)
            r = measure(case, device)
            print(json.dumps({"what": "throughput", **r}), flush=True)

    full = not args.tiny and epochs == 20 and n == 25000
    verdict = "PASS" if round_s <= TARGET_S else "FAIL"
    print(f"student round (ResNet-20, {epochs} epochs x {n:,} examples): {round_s:.2f} s on {info['device']}"
          + (f" -> {verdict} (target <= {TARGET_S:.0f} s)" if full else " (not the target size)"), flush=True)
    return 0 if (not full or round_s <= TARGET_S) else 1


if __name__ == "__main__":
    sys.exit(main())
