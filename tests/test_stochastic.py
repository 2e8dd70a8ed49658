"""Power and softmax acquisition (Kirsch et al., TMLR 2023): the draws follow the distribution."""
import numpy as np
import pytest
from scipy.stats import chisquare

from benchmark.core.config import ConfigError
from benchmark.core.registry import METHODS
from benchmark.run.state import PoolState
from methods.stochastic import gumbel_top_k, power_log_weights

DRAWS = 6000



def _state(probs: np.ndarray) -> PoolState:
    return PoolState.from_arrays(num_classes=probs.shape[1], unlabeled=np.arange(len(probs)),
                                 labeled_y=np.zeros(3, np.int64), student_probs=probs.astype(np.float32))


def _two_class(margins) -> np.ndarray:
    """Two-class probabilities with the given margins p_(1) - p_(2); the gain is 1 - margin."""
    m = np.asarray(margins, dtype=np.float64)
    return np.stack([(1 + m) / 2, (1 - m) / 2], axis=1)


# gains 0.9, 0.7, 0.5, 0.3, 0.1, 0 (the last point has margin 1: score 0)
MARGINS = [0.1, 0.3, 0.5, 0.7, 0.9, 1.0]
GAINS = 1 - np.array(MARGINS)
ENTROPY_PROBS = np.array([[0.5, 0.3, 0.2], [0.6, 0.3, 0.1], [0.8, 0.15, 0.05], [0.9, 0.1, 0.0], [1.0, 0.0, 0.0]])


def _entropy(p):
    q = np.where(p > 0, p, 1.0)
    return -(p * np.log(q)).sum(axis=1)


def _expected(name: str, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, their first-draw distribution) computed here from the definitions."""
    if name == "power_entropy":
        probs, s = ENTROPY_PROBS, _entropy(ENTROPY_PROBS)
        w = s ** beta
    else:
        probs, s = _two_class(MARGINS), GAINS
        w = s ** beta if name == "power_margin" else np.exp(beta * s)
    return probs, w / w.sum()


def _first_picks(name: str, probs: np.ndarray, beta: float, budget: int = 2, draws: int = DRAWS) -> np.ndarray:
    method = METHODS.get(name)(beta=beta)
    state = _state(probs)
    return np.array([method.select(state, budget, np.random.default_rng(s))[0] for s in range(draws)])


@pytest.mark.parametrize("name", ["power_margin", "power_entropy", "softmax_margin"])
@pytest.mark.parametrize("beta", [1.0, 3.0])
def test_first_pick_frequencies_match_the_distribution(name, beta):
    probs, p = _expected(name, beta)
    counts = np.bincount(_first_picks(name, probs, beta), minlength=len(p))
    support = p > 0
    assert counts[~support].sum() == 0  # weight 0 is never drawn while others remain
    assert chisquare(counts[support], DRAWS * p[support]).pvalue > 1e-3
    # the same check rejects the frequencies of a neighbouring distribution
    _, q = _expected(name, beta + 1.0)
    assert chisquare(counts[support], DRAWS * q[support]).pvalue < 1e-6


def test_second_pick_is_drawn_without_replacement():
    """Ordered pairs (i, j): P = w_i / W * w_j / (W - w_i)."""
    w = GAINS[:5]
    method = METHODS.get("power_margin")()
    state = _state(_two_class(MARGINS[:5]))
    pairs = np.array([method.select(state, 2, np.random.default_rng(s))[:2] for s in range(DRAWS)])
    assert (pairs[:, 0] != pairs[:, 1]).all()
    cells = [(i, j) for i in range(5) for j in range(5) if i != j]
    expected = np.array([w[i] / w.sum() * w[j] / (w.sum() - w[i]) for i, j in cells])
    counts = np.array([np.sum((pairs[:, 0] == i) & (pairs[:, 1] == j)) for i, j in cells])
    assert chisquare(counts, DRAWS * expected / expected.sum()).pvalue > 1e-3


@pytest.mark.parametrize("name,gain", [("power_margin", "margin"), ("power_entropy", "entropy"),
                                       ("softmax_margin", "margin")])
def test_large_beta_is_top_b(name, gain):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 5)) * 2
    probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    state = _state(probs)
    top = METHODS.get(gain)().select(state, 15, np.random.default_rng(0))
    for seed in range(5):
        got = METHODS.get(name)(beta=1e5).select(state, 15, np.random.default_rng(seed))
        assert set(got.tolist()) == set(top.tolist())


@pytest.mark.parametrize("name", ["power_margin", "power_entropy", "softmax_margin"])
def test_beta_zero_is_uniform_zero_scores_included(name):
    probs = ENTROPY_PROBS if name == "power_entropy" else _two_class(MARGINS)
    counts = np.bincount(_first_picks(name, probs, 0.0), minlength=len(probs))
    assert chisquare(counts).pvalue > 1e-3
    assert counts[-1] > 0  # the score-0 point is drawn like the others


def test_score_zero_points_come_last_and_at_random():
    """Three points of positive score, seven of score 0 (margin 1), budget 5: the three come first,
    then two distinct zero-score points, uniformly among the seven."""
    probs = _two_class([0.2, 0.4, 0.6] + [1.0] * 7)
    state = _state(probs)
    method = METHODS.get("power_margin")()
    seen = np.zeros(10, dtype=int)
    for seed in range(700):
        idx = method.select(state, 5, np.random.default_rng(seed))
        assert len(set(idx.tolist())) == 5
        assert set(idx[:3].tolist()) == {0, 1, 2}
        seen[idx[3:]] += 1
        assert method.diagnostics_["zero_weight"] == 7
    assert chisquare(seen[3:]).pvalue > 1e-3


def test_gumbel_top_k_takes_every_point_when_k_is_n():
    logw = power_log_weights(np.array([0.0, 0.5, 0.0, 1.0]), 2.0)
    assert np.isneginf(logw[[0, 2]]).all()
    got = gumbel_top_k(logw, 4, np.random.default_rng(0))
    assert sorted(got.tolist()) == [0, 1, 2, 3] and set(got[:2].tolist()) == {1, 3}


@pytest.mark.parametrize("beta", [-1.0, float("nan"), float("inf"), True, "high"])
def test_bad_beta_is_a_config_error(beta):
    state = _state(_two_class(MARGINS))
    with pytest.raises(ConfigError, match="power_margin: beta must be a finite number >= 0"):
        METHODS.get("power_margin")(beta=beta).select(state, 2, np.random.default_rng(0))
