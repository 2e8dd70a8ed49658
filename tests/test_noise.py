"""Teacher-noise kinds: each changes the top class on the stated fraction of points, keeps the
confidence where it says so, is a function of (seed, task, kind, rate, split), and at rate 0
is bitwise the noiseless teacher."""
import numpy as np
import pytest

from benchmark.run.noise import n_affected, noisy_labels, output_swaps, pair_map


def _probs(n=500, c=10, seed=0):
    z = np.random.default_rng(seed).normal(size=(n, c)) * 3
    p = np.exp(z - z.max(1, keepdims=True))
    return (p / p.sum(1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("kind", ["flip_uniform", "flip_hard", "flip_pairs"])
@pytest.mark.parametrize("rate", [0.0, 0.1, 0.37])
def test_flip_kinds_move_the_top_class_on_rate_of_points_keeping_confidence(kind, rate):
    p = _probs()
    noisy = output_swaps(p, kind, rate, 3, "digits", "pool").apply(p)
    changed = noisy.argmax(1) != p.argmax(1)
    assert abs(changed.sum() - rate * len(p)) <= 1
    np.testing.assert_array_equal(noisy.max(1), p.max(1))  # confidence kept
    np.testing.assert_array_equal(np.sort(noisy, 1), np.sort(p, 1))  # a permutation of each row
    again = output_swaps(p, kind, rate, 3, "digits", "pool").apply(p)
    np.testing.assert_array_equal(again, noisy)
    if rate == 0:
        assert noisy.tobytes() == p.tobytes()


def test_levels_and_splits_draw_independently():
    p = _probs()
    a = output_swaps(p, "flip_uniform", 0.2, 0, "digits", "pool").rows
    assert not np.array_equal(a, output_swaps(p, "flip_uniform", 0.2, 1, "digits", "pool").rows)
    assert not np.array_equal(a, output_swaps(p, "flip_uniform", 0.2, 0, "digits", "test").rows)


def test_flip_hard_takes_the_smallest_margins():
    p = _probs()
    rows = output_swaps(p, "flip_hard", 0.1, 0, "digits", "pool").rows
    s = np.sort(p, 1)
    margin = s[:, -1] - s[:, -2]
    assert margin[rows].max() <= np.sort(margin)[len(rows) - 1]


def test_flip_pairs_answers_each_class_as_one_fixed_other_class():
    p = _probs()
    sw = output_swaps(p, "flip_pairs", 0.3, 0, "digits", "pool")
    pi = pair_map(10, 0, "digits")
    assert not np.any(pi == np.arange(10))
    noisy = sw.apply(p)
    np.testing.assert_array_equal(noisy.argmax(1)[sw.rows], pi[p.argmax(1)[sw.rows]])


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5])
def test_train_labels_flip_rate_of_the_labels_to_other_classes(rate):
    y = np.arange(200) % 10
    noisy = noisy_labels(y, 10, rate, 0, "digits")
    assert (noisy != y).sum() == n_affected(200, rate)
    assert noisy.min() >= 0 and noisy.max() <= 9
    np.testing.assert_array_equal(noisy, noisy_labels(y, 10, rate, 0, "digits"))
