"""Vision and text models: the Classifier interface, paper parameter counts, shortcut
options, padding invariance, batched augmentation, uint8 inputs and the recipe options."""
import dataclasses

import numpy as np
import pytest
import torch

from benchmark.run.augment import crop_flip
from benchmark.core.config import ModelSpec, TrainRecipe, load_task
from benchmark.models import build_model
from benchmark.run.train import as_input, fit, make_train_set, predict

CPU = torch.device("cpu")
TEXT = {"vocab_size": 50}


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_cifar_resnets_have_the_papers_sizes():
    # He et al. 2016, Table 6: ResNet-20 0.27M, ResNet-56 0.85M parameters
    assert round(n_params(build_model(ModelSpec("resnet20"), (3, 32, 32), 10)) / 1e6, 2) == 0.27
    assert round(n_params(build_model(ModelSpec("resnet56"), (3, 32, 32), 10)) / 1e6, 2) == 0.85
    a = build_model(ModelSpec("resnet_cifar", {"depth": 20, "shortcut": "A"}), (3, 32, 32), 10)
    b = build_model(ModelSpec("resnet_cifar", {"depth": 20, "shortcut": "B"}), (3, 32, 32), 10)
    assert n_params(b) > n_params(a)  # option B adds 1x1 projections
    with pytest.raises(ValueError, match="depth must be 6n"):
        build_model(ModelSpec("resnet_cifar", {"depth": 21}), (3, 32, 32), 10)


@pytest.mark.parametrize("name,params,shape,d", [
    ("resnet20", {}, (3, 32, 32), 64), ("resnet56", {"width": 8}, (1, 28, 28), 32),
    ("mobilenetv2", {}, (3, 32, 32), 320), ("embedding_bag", {"hidden": [16]}, (12,), 16),
    ("tiny_transformer", {"dim": 16, "heads": 2, "ff": 32}, (12,), 16),
])
def test_classifier_interface(name, params, shape, d):
    torch.manual_seed(0)
    m = build_model(ModelSpec(name, params), shape, 7, TEXT).eval()
    x = torch.rand(3, *shape) if len(shape) == 3 else torch.randint(0, 50, (3, *shape))
    h = m.embed(x)
    assert h.shape == (3, d) and m(x).shape == (3, 7)
    torch.testing.assert_close(m.head(h), m(x))


@pytest.mark.parametrize("name", ["embedding_bag", "tiny_transformer"])
def test_text_models_ignore_padding_width(name):
    torch.manual_seed(0)
    m = build_model(ModelSpec(name), (20,), 3, TEXT).eval()
    x = torch.tensor([[5, 6, 7] + [-1] * 17, [8] * 10 + [-1] * 10])
    torch.testing.assert_close(m(x), m(x[:, :10]))
    with pytest.raises(ValueError, match="vocab_size is unknown"):
        build_model(ModelSpec(name), (20,), 3)


def test_crop_flip_is_a_batched_shift_and_mirror():
    x = torch.rand(64, 3, 8, 8)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, b = crop_flip(x, 2, g1), crop_flip(x, 2, g2)
    torch.testing.assert_close(a, b)  # deterministic per generator
    assert a.shape == x.shape and not torch.equal(a, x)
    for i in range(64):  # every output is the input shifted by <= 2 pixels, maybe mirrored
        ok = False
        for img in (x[i], x[i].flip(2)):
            p = torch.nn.functional.pad(img, (2, 2, 2, 2))
            ok |= any(torch.equal(a[i], p[:, dy:dy + 8, dx:dx + 8]) for dy in range(5) for dx in range(5))
        assert ok, i
    no_flip = crop_flip(x, 0, torch.Generator().manual_seed(0), flip=False)
    assert torch.equal(no_flip, x)


def test_uint8_inputs_predict_like_floats():
    torch.manual_seed(0)
    m = build_model(ModelSpec("small_cnn"), (1, 8, 8), 4)
    u = np.random.default_rng(0).integers(0, 256, (20, 1, 8, 8), dtype=np.uint8)
    p_u, _ = predict(m, u, CPU)
    p_f, _ = predict(m, u.astype(np.float32) / 255, CPU)
    np.testing.assert_allclose(p_u, p_f, atol=1e-6)
    assert as_input(torch.tensor([255], dtype=torch.uint8)).item() == 1.0


def test_augmented_fit_is_deterministic_on_cpu():
    rng = np.random.default_rng(0)
    x = rng.random((40, 3, 16, 16), dtype=np.float32)
    y = rng.integers(0, 3, 40)
    r = TrainRecipe(epochs=2, batch_size=16, optimizer="sgd", lr=0.05, augment="crop_flip", grad_clip=1.0)

    def run():
        torch.manual_seed(0)
        m = build_model(ModelSpec("small_cnn", {"channels": [8]}), (3, 16, 16), 3)
        fit(m, make_train_set(x, y, None, None, 3, r, CPU), r, 7, CPU)
        return predict(m, x, CPU)[0]

    np.testing.assert_array_equal(run(), run())


def test_new_recipe_options_leave_existing_hashes_unchanged():
    t = load_task("digits")
    d = t.to_dict()
    assert "augment" not in d["train"] and "grad_clip" not in d["teacher"]["train"]
    changed = dataclasses.replace(t, train=dataclasses.replace(t.train, augment="crop_flip"))
    assert changed.to_dict()["train"]["augment"] == "crop_flip" and changed.content_hash() != t.content_hash()


def test_teacher_used_as_loaded_is_not_trained(fast_task, tmp_path, monkeypatch):
    from benchmark.core.config import MethodEntry
    from benchmark.run.loop import RunSpec, execute_run

    task = dataclasses.replace(fast_task, rounds=1, teacher=dataclasses.replace(fast_task.teacher, train_on="none"))
    rec = execute_run(RunSpec("t", task, MethodEntry("random"), 0), tmp_path, CPU)
    assert rec.teacher["train_on"] == "none" and rec.teacher["validation_error"] > 0.5  # an untrained MLP
