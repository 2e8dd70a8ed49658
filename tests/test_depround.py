"""Dependent rounding (DepRound): inclusion frequencies equal pi, exactly b distinct points,
0/1 entries, floating error, bad input; RAD's ``sampler`` option."""
import numpy as np
import pytest

from benchmark.core.config import ConfigError, MethodEntry
from benchmark.run.loop import instantiate_method
from methods.depround import dep_round
from methods.rad import RAD, rad_inclusion_probabilities


def frequencies(sample, pi: np.ndarray, draws: int, seed: int = 0) -> np.ndarray:
    """Inclusion frequencies (n,) of ``sample(pi, rng)`` over ``draws`` draws; checks on every
    draw that it returns exactly round(sum pi) distinct positions in [0, n)."""
    rng = np.random.default_rng(seed)
    b, counts = int(round(pi.sum())), np.zeros(len(pi))
    for _ in range(draws):
        s = sample(pi, rng)
        assert len(s) == b and len(np.unique(s)) == b and (b == 0 or (s.min() >= 0 and s.max() < len(pi)))
        counts[s] += 1
    return counts / draws


def off_by(freq: np.ndarray, pi: np.ndarray, draws: int, z: float = 5.0) -> np.ndarray:
    """Entries whose frequency is more than z binomial standard errors from pi (plus 1e-12)."""
    return np.flatnonzero(np.abs(freq - pi) > z * np.sqrt(pi * (1 - pi) / draws) + 1e-12)


def _rad_pi(n: int, b: int, k: int, seed: int) -> np.ndarray:
    return rad_inclusion_probabilities(np.random.default_rng(seed).random(n), k, b)


SMALL = {
    "halves": np.array([0.5, 0.5, 0.5, 0.5]),
    "uneven": np.array([0.9, 0.1, 0.25, 0.75, 0.6, 0.4]),
    "with_0_and_1": np.array([1.0, 0.0, 0.3, 0.7, 1.0, 0.0, 0.45, 0.55]),
    "tiny_entries": np.array([0.98, 0.01, 0.01, 0.33, 0.33, 0.34]),
    "rad_30": _rad_pi(30, 8, 6, 0),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_inclusion_frequencies_equal_pi(name):
    pi, draws = SMALL[name], 20_000
    freq = frequencies(dep_round, pi, draws)
    assert off_by(freq, pi, draws).size == 0, (freq, pi)
    assert np.all(freq[pi == 0] == 0) and np.all(freq[pi == 1] == 1)


def test_inclusion_frequencies_long_vector():
    """n = 1000, b = 50: RAD's probabilities, with zeros outside the support. Every entry within
    5 standard errors, and the pooled frequency of each decile of pi within 5 of its errors."""
    pi, draws = _rad_pi(1000, 50, 100, 1), 4_000
    assert (pi == 0).any() and ((pi > 0) & (pi < 1)).sum() > 200
    freq = frequencies(dep_round, pi, draws, seed=1)
    assert off_by(freq, pi, draws).size == 0
    assert np.all(freq[pi == 0] == 0)
    live = np.flatnonzero(pi > 0)
    for group in np.array_split(live[np.argsort(pi[live])], 10):  # each decile: a sum of many entries
        got, want = freq[group].sum(), pi[group].sum()
        assert abs(got - want) <= 5 * np.sqrt(want / draws) + 1e-12, (got, want)


def _reference_dep_round(pi: np.ndarray, rng: np.random.Generator, up) -> np.ndarray:
    """The textbook rule on the first two fractional entries, with P(up) = ``up(alpha, beta)``."""
    p = pi.astype(float).copy()
    while True:
        f = np.flatnonzero((p > 1e-9) & (p < 1 - 1e-9))
        if len(f) < 2:
            break
        i, j = f[:2]
        alpha, beta = min(1 - p[i], p[j]), min(p[i], 1 - p[j])
        if rng.random() < up(alpha, beta):
            p[i], p[j] = p[i] + alpha, p[j] - alpha
        else:
            p[i], p[j] = p[i] - beta, p[j] + beta
    return np.flatnonzero(p > 0.5)


def test_the_frequency_check_catches_a_fair_coin():
    """Moving up with probability 1/2 instead of beta / (alpha + beta) keeps |S| = b but not the
    marginals; the check above rejects it, and accepts the correct coin."""
    pi, draws = SMALL["uneven"], 20_000
    right = frequencies(lambda p, r: _reference_dep_round(p, r, lambda a, b: b / (a + b)), pi, draws)
    wrong = frequencies(lambda p, r: _reference_dep_round(p, r, lambda a, b: 0.5), pi, draws)
    assert off_by(right, pi, draws).size == 0
    assert off_by(wrong, pi, draws).size > 0


def test_selections_are_negatively_correlated():
    """P(i and j) <= pi_i pi_j (Gandhi et al.): with pi = 1/2 on 4 points and b = 2, an
    independent draw of two distinct points gives P(i and j) = 1/6 < 1/4; DepRound pairs."""
    pi, draws = np.full(4, 0.5), 20_000
    rng = np.random.default_rng(2)
    joint = np.zeros((4, 4))
    for _ in range(draws):
        s = dep_round(pi, rng)
        joint[np.ix_(s, s)] += 1
    joint /= draws
    off = ~np.eye(4, dtype=bool)
    assert np.all(joint[off] <= 0.25 + 5 * np.sqrt(0.25 * 0.75 / draws))


def test_degenerate_pi_returns_exactly_the_ones_and_draws_nothing():
    pi = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    np.testing.assert_array_equal(dep_round(pi, rng), [1, 2, 4])
    assert rng.bit_generator.state == before
    assert dep_round(np.zeros(3), rng).size == 0 and dep_round(np.zeros(0), rng).size == 0


def test_sorted_int64_and_reproducible_for_a_seed():
    pi = _rad_pi(200, 20, 30, 3)
    a = dep_round(pi, np.random.default_rng(7))
    assert a.dtype == np.int64 and np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(a, dep_round(pi, np.random.default_rng(7)))
    assert not np.array_equal(a, dep_round(pi, np.random.default_rng(8)))


def test_entries_within_1e_9_of_0_or_1_snap():
    pi = np.array([1 - 1e-12, 1e-12, 0.5, 0.5, 0.0, 1 + 1e-10])
    for seed in range(50):
        s = dep_round(pi, np.random.default_rng(seed)).tolist()
        assert len(s) == 3 and {0, 5} <= set(s) and 1 not in s and 4 not in s
    rng = np.random.default_rng(0)  # snapped entries are not fractional: nothing is drawn
    before = rng.bit_generator.state
    np.testing.assert_array_equal(dep_round(np.array([1 - 1e-10, 1e-10, 1.0, 0.0]), rng), [0, 2])
    assert rng.bit_generator.state == before


def test_a_sum_off_by_floating_error_gives_exactly_b():
    pi = np.full(10, 0.3)  # sums to 2.9999999999999996
    assert pi.sum() != 3.0
    for seed in range(200):
        assert len(dep_round(pi, np.random.default_rng(seed))) == 3
    for dev in (1e-8, -1e-8):  # sum 3 +- 7e-8: absorbed by the last fractional entry, rounded
        pi = np.full(7, 3 / 7 + dev)
        for seed in range(200):
            assert len(dep_round(pi, np.random.default_rng(seed))) == 3


@pytest.mark.parametrize("pi,match", [
    (np.array([0.5, 1.5]), r"pi must lie in \[0, 1\], got entries in \[0.5, 1.5\]"),
    (np.array([-0.1, 0.6, 0.5]), r"pi must lie in \[0, 1\]"),
    (np.array([0.5, np.nan]), "pi must be finite"),
    (np.full((2, 2), 0.5), r"pi must be a 1-D array, got shape \(2, 2\)"),
    (np.array([0.5, 0.5, 0.5]), "pi must sum to an integer .* got 1.5"),
    (np.array([0.5, 0.5 + 1e-4]), "pi must sum to an integer"),
])
def test_bad_pi_raises(pi, match):
    with pytest.raises(ValueError, match=match):
        dep_round(pi, np.random.default_rng(0))




# ----------------------------------------------------------------------------- RAD's sampler option


def test_rad_with_deprnd_selects_budget_distinct_unlabeled_points_reproducibly(state_factory):
    state, _ = state_factory(requires=frozenset({"student_probs"}), n_pool=80)
    m = RAD(sampler="deprnd")
    a = m.select(state, 9, np.random.default_rng(5))
    assert a.dtype == np.int64 and len(a) == len(np.unique(a)) == 9
    assert np.isin(a, state.unlabeled).all() and not np.isin(a, state.queried).any()
    assert m.diagnostics_["k_used"] == round(0.2 * state.n_unlabeled)
    np.testing.assert_array_equal(a, RAD(sampler="deprnd").select(state, 9, np.random.default_rng(5)))


def test_rad_sampler_chooses_the_draw(state_factory, monkeypatch):
    """``sampler`` decides which function draws the batch (the default stays systematic)."""
    import methods.rad as rad

    state, _ = state_factory(requires=frozenset({"student_probs"}))
    calls = []
    for name in ("systematic", "deprnd"):
        monkeypatch.setitem(rad.SAMPLERS, name, lambda pi, rng, name=name: calls.append(name) or np.arange(4))
    RAD().select(state, 4, np.random.default_rng(0))
    RAD(sampler="deprnd").select(state, 4, np.random.default_rng(0))
    assert calls == ["systematic", "deprnd"]


def test_rad_deprnd_frequencies_follow_pi(state_factory):
    """Over many rounds with fresh seeds, RAD with deprnd takes each point about pi_i of the time."""
    state, _ = state_factory(requires=frozenset({"student_probs"}), n_pool=40, n_queried=0)
    m, draws = RAD(sampler="deprnd", k_mode="fixed", k=8), 4_000
    from methods.uncertainty import margin_gain

    pi = rad_inclusion_probabilities(margin_gain(np.asarray(state.student_probs)), 8, 6)
    counts = np.zeros(state.n_unlabeled)
    for seed in range(draws):
        counts[np.searchsorted(state.unlabeled, m.select(state, 6, np.random.default_rng(seed)))] += 1
    assert off_by(counts / draws, pi, draws).size == 0


def test_default_sampler_leaves_params_and_run_ids_unchanged():
    """``sampler`` joined RAD after its first results: while systematic it is not in the
    parameters (which make the run id and the selection seed), so those runs keep their ids."""
    before = {"gain": "margin", "k_mode": "validation", "k": None, "fraction": None, "k_scale": 1.0}
    assert RAD().get_params() == before
    assert instantiate_method(MethodEntry("rad", params={"sampler": "systematic"})).get_params() == before
    assert RAD(sampler="deprnd").get_params() == {**before, "sampler": "deprnd"}


@pytest.mark.parametrize("bad", ["depround", "", None])
def test_bad_sampler_is_a_config_error_naming_the_choices(bad):
    with pytest.raises(ConfigError, match=rf"method 'rad': sampler {bad!r} is not one of systematic, deprnd$"):
        instantiate_method(MethodEntry("rad", params={"sampler": bad}))
