"""Shared fixtures: an isolated cache, a fast digits task, and synthetic PoolStates."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.core import numerics

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# The test models are tiny: one intra-op thread is as fast as several and, unlike several,
# does not collapse when other processes compete for the cores (OpenMP spin-waiting).
# The harness's own thread setting (configure_threads) reads AKD_BENCH_THREADS.
torch.set_num_threads(1)
os.environ["AKD_BENCH_THREADS"] = "1"


def pytest_configure(config):
    """The tests compute in the portable numerics mode, as the command line does. Its pins are
    read when the libraries load, so a test process started without them re-executes itself
    once with them, after giving its output back to the terminal."""
    if numerics.pins_at_start():
        return
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.stop_global_capturing()
    numerics.ensure_process("portable")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Every test session gets its own cache root, so no test reads a stale user cache."""
    old = os.environ.get("AKD_BENCH_CACHE")
    os.environ["AKD_BENCH_CACHE"] = str(tmp_path_factory.mktemp("akd-cache"))
    yield
    if old is None:
        os.environ.pop("AKD_BENCH_CACHE", None)
    else:
        os.environ["AKD_BENCH_CACHE"] = old


@pytest.fixture
def fast_task():
    """The digits task with short training and 3 rounds of 5 queries: a full run in ~1 s."""
    from benchmark.core.config import load_task

    t = load_task("digits")
    return dataclasses.replace(
        t, rounds=3, queries_per_round=5,
        train=dataclasses.replace(t.train, epochs=30),
        teacher=dataclasses.replace(t.teacher, train=dataclasses.replace(t.teacher.train, epochs=60)))


def make_state(n_pool: int = 60, n_labeled: int = 10, n_queried: int = 6, num_classes: int = 4, seed: int = 0,
               requires=frozenset({"student_probs", "student_embeddings", "student_probs_train",
                                   "student_embeddings_train", "pool_inputs", "initial_pool_embeddings",
                                   "student_mc_probs"}),
               round: int = 1):
    """A PoolState over synthetic 1x4x4 inputs with a real (untrained, seeded) MLP student.

    Returns (state, hidden) where hidden holds what the method must never see:
    pool labels (n_pool,) and teacher probs (n_pool, C)."""
    from benchmark.core.config import ModelSpec
    from benchmark.models import build_model
    from benchmark.run.state import PoolState, StudentFeatures

    rng = np.random.default_rng(seed)
    x_pool = rng.normal(size=(n_pool, 1, 4, 4)).astype(np.float32)
    x_lab = rng.normal(size=(n_labeled, 1, 4, 4)).astype(np.float32)
    y_lab = rng.integers(0, num_classes, n_labeled)
    pool_labels = rng.integers(0, num_classes, n_pool)
    logits = rng.normal(size=(n_pool, num_classes)) * 3
    teacher = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    queried = rng.choice(n_pool, n_queried, replace=False)
    unlabeled = np.setdiff1d(np.arange(n_pool), queried)
    torch.manual_seed(seed)
    student = build_model(ModelSpec("mlp", {"hidden": [8]}), (1, 4, 4), num_classes)
    initial = build_model(ModelSpec("mlp", {"hidden": [8]}), (1, 4, 4), num_classes)  # the round-0 student
    x_train = np.concatenate([x_lab, x_pool[queried]])
    state = PoolState(
        round=round, budget_left=len(unlabeled), num_classes=num_classes, pool_size=n_pool,
        labeled=np.arange(n_labeled), labeled_y=y_lab, unlabeled=unlabeled, queried=queried,
        queried_soft_labels=teacher[queried].astype(np.float32), validation_teacher_error=0.2,
        requires=frozenset(requires),
        _features=StudentFeatures(student, torch.from_numpy(x_pool), unlabeled, torch.from_numpy(x_train),
                                  torch.device("cpu"), initial_model=initial))
    return state, {"pool_labels": pool_labels, "teacher_probs": teacher.astype(np.float32)}


@pytest.fixture
def state_factory():
    return make_state


# ----------------------------------------------------------------------------- text and image fixtures

WORDS = ("good great fine superb moving funny bad awful dull boring weak flat the a film movie plot acting "
         "story is was very not quite").split()


def write_tokenizer(folder) -> str:
    """A real WordPiece tokenizer over a tiny vocabulary, saved like a hub checkpoint (offline)."""
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *[f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"],
             *"abcdefghijklmnopqrstuvwxyz.,!'"]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    import inspect

    arg = "vocab" if "vocab" in inspect.signature(BertTokenizerFast.__init__).parameters else "vocab_file"
    tok = BertTokenizerFast(**{arg: str(folder / "vocab.txt")}, do_lower_case=True)
    assert len(tok) > 50, "the tokenizer did not read its vocabulary"
    tok.save_pretrained(str(folder))
    return str(folder)


def sentiment_texts(n: int, seed: int = 0):
    """n short synthetic reviews and labels; positive words make label 1 likelier."""
    rng = np.random.default_rng(seed)
    pos, neg, filler = WORDS[:6], WORDS[6:12], WORDS[12:]
    y = rng.integers(0, 2, n)
    texts = []
    for label in y:
        k = rng.integers(3, 9)
        words = list(rng.choice(filler, k))
        cue = pos if (label == 1) == (rng.random() < 0.85) else neg
        words.insert(int(rng.integers(0, k)), str(rng.choice(cue)))
        texts.append(" ".join(words))
    return texts, y.astype(np.int64)


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory):
    return write_tokenizer(tmp_path_factory.mktemp("tok"))


@pytest.fixture(scope="session")
def tiny_bert_folder(tmp_path_factory, tiny_tokenizer):
    """A 2-layer random BERT encoder (and its tokenizer) saved to a folder: a stand-in checkpoint."""
    import shutil

    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        BertModel(cfg).save_pretrained(str(folder))
    for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (Path(tiny_tokenizer) / f).exists():
            shutil.copy(Path(tiny_tokenizer) / f, folder / f)
    return str(folder)


TINY_BERT = {"model_type": "bert", "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2,
             "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 64}
