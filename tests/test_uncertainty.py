"""Defining properties of the score-based baselines and the shared top-k."""
import numpy as np
import pytest

from benchmark.core.registry import METHODS
from methods.topk import top_k
from methods.uncertainty import entropy_gain, least_confidence_gain, margin_gain


def test_top_k_picks_the_largest():
    s = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    assert top_k(s, 2, np.random.default_rng(0)).tolist() == [1, 3]


def test_top_k_breaks_ties_uniformly_and_by_seed():
    s = np.array([1.0, 0.5, 0.5, 0.5, 0.5, 0.0])
    counts = np.zeros(6)
    for seed in range(4000):
        counts[top_k(s, 2, np.random.default_rng(seed))] += 1
    assert counts[0] == 4000 and counts[5] == 0
    np.testing.assert_allclose(counts[1:5] / 4000, 0.25, atol=0.03)
    a = top_k(s, 3, np.random.default_rng(7))
    np.testing.assert_array_equal(a, top_k(s, 3, np.random.default_rng(7)))


def test_top_k_edges():
    s = np.arange(5.0)
    assert top_k(s, 0, np.random.default_rng(0)).size == 0
    assert sorted(top_k(s, 5, np.random.default_rng(0)).tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        top_k(s, 6, np.random.default_rng(0))


P = np.array([[0.5, 0.4, 0.1], [0.9, 0.05, 0.05], [0.34, 0.33, 0.33], [0.6, 0.2, 0.2]])


def test_gain_values():
    np.testing.assert_allclose(margin_gain(P), [0.9, 0.15, 0.99, 0.6])
    np.testing.assert_allclose(least_confidence_gain(P), [0.5, 0.1, 0.66, 0.4])
    np.testing.assert_allclose(entropy_gain(P)[2], -(0.34 * np.log(0.34) + 2 * 0.33 * np.log(0.33)))


@pytest.mark.parametrize("name,gain", [("margin", margin_gain), ("entropy", entropy_gain),
                                       ("least_confidence", least_confidence_gain)])
def test_uncertainty_methods_select_the_top_gains(name, gain, state_factory):
    state, _ = state_factory(requires=frozenset({"student_probs"}), n_pool=80)
    idx = METHODS.get(name)().select(state, 6, np.random.default_rng(0))
    g = gain(np.asarray(state.student_probs))
    chosen = g[np.searchsorted(state.unlabeled, idx)]
    assert chosen.min() >= np.sort(g)[-6] - 1e-12


@pytest.mark.parametrize("gain", [margin_gain, entropy_gain])
def test_gains_by_row_chunks_equal_the_whole_array_formula(gain, monkeypatch):
    """Chunking bounds the temporaries and changes no value: 1,003 rows in chunks of 100 give the
    bits that one pass over all rows gives."""
    import methods.uncertainty as u

    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.full(7, 0.3), size=1003).astype(np.float32)
    probs[5] = 0.0  # zeros: the log's clip
    whole = gain(probs)
    monkeypatch.setattr(u, "CHUNK_BYTES", 8 * 7 * 100)
    chunked = gain(probs)
    assert chunked.dtype == np.float64 and chunked.shape == (1003,)
    assert np.array_equal(chunked.view(np.int64), whole.view(np.int64))
    p1, p2 = u.top2(probs)
    reference = {margin_gain: (1.0 - (p1.astype(np.float64) - p2)).clip(0.0, 1.0),
                 entropy_gain: -(probs.astype(np.float64) * np.log(np.clip(probs.astype(np.float64), 1e-12, None)))
                 .sum(axis=1)}[gain]
    assert np.array_equal(chunked, reference)
