"""RAD: the closed form, water-filling against a linear-programming solver, the sampler,
property tests, and the registered method's edge cases and diagnostics."""
import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from benchmark.core.config import ConfigError, MethodEntry
from benchmark.run.loop import RunSpec, execute_run, instantiate_method
from methods.depround import dep_round
from methods.rad import (RAD, rad_distribution, rad_inclusion_probabilities, systematic_sample,
                         worst_case_value)
from methods.uncertainty import margin_gain


def lp_optimum(g: np.ndarray, k: int, b: int) -> float:
    """max sum g pi - k lam - sum mu  s.t. mu_i >= g_i pi_i - lam, mu, lam >= 0, 0 <= pi <= 1,
    sum pi = b  (variables [pi (n), lam, mu (n)])."""
    n = len(g)
    c = np.concatenate([-g, [k], np.ones(n)])
    A_ub = np.hstack([np.diag(g), -np.ones((n, 1)), -np.eye(n)])
    A_eq = np.concatenate([np.ones(n), [0.0], np.zeros(n)])[None]
    bounds = [(0, 1)] * n + [(0, None)] + [(0, None)] * n
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(n), A_eq=A_eq, b_eq=[b], bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return -res.fun


def _instances(count=360, seed=0):
    rng = np.random.default_rng(seed)
    kinds = ["uniform", "ties", "near_zero", "equal", "zeros", "one_big"]
    for i in range(count):
        kind = kinds[i % len(kinds)]
        n = 1 if i % 37 == 0 else int(rng.integers(2, 26))
        if kind == "uniform":
            g = rng.random(n)
        elif kind == "ties":
            g = np.round(rng.random(n), 1) + 0.05
        elif kind == "near_zero":
            g = np.where(rng.random(n) < 0.5, rng.random(n) * 1e-6, rng.random(n))
        elif kind == "equal":
            g = np.full(n, rng.random() + 0.01)
        elif kind == "zeros":
            g = np.where(rng.random(n) < 0.4, 0.0, rng.random(n))
        else:
            g = np.concatenate([[1.0], rng.random(n - 1) * 0.05])
        g = np.maximum(g, 1e-12)
        b = int(rng.integers(1, n + 1)) if i % 5 else n  # every fifth instance: b = n
        k = [0, int(rng.integers(0, n + 3)), b, b + 1, n + 2][i % 5]
        yield kind, g, min(k, n - 1), b


@pytest.mark.parametrize("chunk", range(6))
def test_matches_linear_program(chunk):
    """>= 300 instances: ties, gains near 0, k = 0, k >= b, b = n and n = 1."""
    seen = set()
    for i, (kind, g, k, b) in enumerate(_instances()):
        if i % 6 != chunk:
            continue
        pi = rad_inclusion_probabilities(g, k, b)
        assert np.all(pi >= -1e-12) and np.all(pi <= 1 + 1e-12)
        assert pi.sum() == pytest.approx(b, abs=1e-9)
        got, want = worst_case_value(pi, g, k), lp_optimum(g, k, b)
        assert got == pytest.approx(want, abs=1e-7), (kind, g.tolist(), k, b)
        seen.add((kind, k == 0, k >= b, b == len(g), len(g) == 1))
    assert any(s[1] for s in seen) and any(s[2] for s in seen) and any(s[3] for s in seen)


def test_instance_families_cover_the_edge_cases():
    inst = list(_instances())
    assert len(inst) >= 300
    assert any(len(g) == 1 for _, g, _, _ in inst)
    assert any(k == 0 for _, _, k, _ in inst) and any(k >= b for _, _, k, b in inst)
    assert any(b == len(g) for _, g, _, b in inst)


def test_closed_form_properties():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(2, 40))
        g = np.maximum(rng.random(n), 1e-12)
        k = int(rng.integers(0, n))
        p = rad_distribution(g, k)
        assert p.sum() == pytest.approx(1.0)
        support = p > 0
        w = p[support] * g[support]
        np.testing.assert_allclose(w, w[0], rtol=1e-9)  # the adversary is indifferent
        v = w[0] * (support.sum() - k) / support.sum() if False else worst_case_value(p, g, k)
        # game value v* = V(m*) = p_i g_i (m* - k) ... equals the worst case of p*
        order = np.sort(g)[::-1]
        S = np.cumsum(1 / order)
        V = (np.arange(1, n + 1) - k) / S
        v_star = V[k:].max()
        assert v == pytest.approx(v_star, rel=1e-9)
        assert np.all(g[g > v_star * (1 + 1e-9)] > 0) and support[g > v_star * (1 + 1e-9)].all()
        assert not support[g < v_star * (1 - 1e-9)].any()
        # V rises then falls: one scan after the sort finds m*
        d = np.sign(np.diff(V[k:]))
        d = d[d != 0]
        assert np.all(np.diff(d) <= 0)


def test_closed_form_k0_is_the_top_gain_point():
    g = np.array([0.2, 0.9, 0.5])
    np.testing.assert_array_equal(rad_distribution(g, 0), [0, 1, 0])


def test_closed_form_used_when_feasible():
    g = np.linspace(0.1, 1.0, 50)
    p = rad_distribution(g, 20)
    b = int(1 / p.max())
    np.testing.assert_allclose(rad_inclusion_probabilities(g, 20, b), b * p)


def test_k0_batch_is_top_b():
    g = np.array([0.3, 0.9, 0.1, 0.7, 0.5])
    np.testing.assert_allclose(rad_inclusion_probabilities(g, 0, 3), [0, 1, 0, 1, 1], atol=1e-12)


def test_all_equal_and_zero_gains():
    for g in (np.full(10, 0.4), np.zeros(10)):
        pi = rad_inclusion_probabilities(g, 3, 4)
        np.testing.assert_allclose(pi, 0.4)


def test_budget_equal_to_n():
    g = np.random.default_rng(0).random(12)
    np.testing.assert_allclose(rad_inclusion_probabilities(g, 5, 12), 1.0)


def test_dominates_top_b_and_uniform():
    rng = np.random.default_rng(3)
    for _ in range(100):
        n = int(rng.integers(2, 50))
        g = rng.random(n)
        b, k = int(rng.integers(1, n + 1)), int(rng.integers(0, n))
        v = worst_case_value(rad_inclusion_probabilities(g, k, b), g, k)
        gs = np.sort(g)[::-1]
        top_b = gs[k:b].sum() if k < b else 0.0
        uniform = b / n * gs[k:].sum()
        assert v >= top_b - 1e-9 and v >= uniform - 1e-9


def test_systematic_sampler_frequencies_and_exact_size():
    rng = np.random.default_rng(0)
    pi = rad_inclusion_probabilities(rng.random(30), 6, 8)
    draws = 20000
    counts = np.zeros(30)
    for _ in range(draws):
        s = systematic_sample(pi, rng)
        assert len(s) == 8 and len(np.unique(s)) == 8
        counts[s] += 1
    tol = 5 * np.sqrt(pi * (1 - pi) / draws) + 1e-3
    assert np.all(np.abs(counts / draws - pi) <= tol)


def test_sampler_catches_a_biased_sampler():
    """The frequency check above would fail for a sampler that ignores pi."""
    pi = np.array([0.9, 0.1, 0.5, 0.5])
    rng = np.random.default_rng(0)
    counts = np.zeros(4)
    for _ in range(4000):
        counts[rng.choice(4, 2, replace=False)] += 1
    assert np.any(np.abs(counts / 4000 - pi) > 5 * np.sqrt(pi * (1 - pi) / 4000) + 1e-3)


def test_sampler_certain_points_and_bad_input():
    s = systematic_sample(np.array([1.0, 1.0, 0.5, 0.5]), np.random.default_rng(0))
    assert {0, 1} <= set(s.tolist()) and len(s) == 3
    with pytest.raises(ValueError):
        systematic_sample(np.array([1.5, 0.5]), np.random.default_rng(0))


gains_st = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=30).map(np.array)


@settings(max_examples=150, deadline=None)
@given(g=gains_st, data=st.data())
def test_property_feasible_and_optimal(g, data):
    n = len(g)
    b = data.draw(st.integers(1, n))
    k = data.draw(st.integers(0, n + 3))
    pi = rad_inclusion_probabilities(g, k, b)
    assert np.all(pi >= -1e-12) and np.all(pi <= 1 + 1e-12) and pi.sum() == pytest.approx(b, abs=1e-9)
    kk = min(k, n - 1)
    assert worst_case_value(pi, g, kk) == pytest.approx(lp_optimum(np.maximum(g, 1e-12), kk, b), abs=1e-7)


@pytest.mark.parametrize("sampler", [systematic_sample, dep_round], ids=["systematic", "deprnd"])
@settings(max_examples=100, deadline=None)
@given(g=gains_st, seed=st.integers(0, 2**32 - 1), data=st.data())
def test_property_sampler_returns_b_distinct(sampler, g, seed, data):
    n = len(g)
    b = data.draw(st.integers(1, n))
    pi = rad_inclusion_probabilities(g, data.draw(st.integers(0, n)), b)
    s = sampler(pi, np.random.default_rng(seed))
    assert len(s) == b and len(np.unique(s)) == b and s.min() >= 0 and s.max() < n
    assert np.all(pi[s] > 0) and np.all(np.isin(np.flatnonzero(pi >= 1 - 1e-9), s))


@settings(max_examples=100, deadline=None)
@given(g=st.lists(st.floats(1e-6, 1.0), min_size=2, max_size=40).map(np.array), data=st.data())
def test_property_closed_form(g, data):
    k = data.draw(st.integers(0, len(g) - 1))
    p = rad_distribution(g, k)
    s = p > 0
    np.testing.assert_allclose(p[s] * g[s], (p[s] * g[s])[0], rtol=1e-9)
    assert p.sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- the method


def test_method_k0_selects_exactly_top_b_margin(state_factory):
    state, _ = state_factory(requires=frozenset({"student_probs"}), n_pool=80)
    idx = RAD(k_mode="fixed", k=0).select(state, 7, np.random.default_rng(0))
    g = margin_gain(np.asarray(state.student_probs))
    want = state.unlabeled[np.argsort(-g, kind="stable")[:7]]
    assert set(idx.tolist()) == set(want.tolist())


def test_method_k_at_least_n_and_full_budget(state_factory):
    state, _ = state_factory(requires=frozenset({"student_probs"}))
    m = RAD(k_mode="fixed", k=10_000)
    idx = m.select(state, 5, np.random.default_rng(0))
    assert len(set(idx.tolist())) == 5 and m.diagnostics_["k_used"] == state.n_unlabeled - 1
    all_idx = RAD().select(state, state.n_unlabeled, np.random.default_rng(0))
    assert sorted(all_idx.tolist()) == sorted(state.unlabeled.tolist())


def test_method_k_modes(state_factory):
    state, _ = state_factory(requires=frozenset({"student_probs"}))
    n = state.n_unlabeled
    assert RAD().adversary_budget(state) == round(0.2 * n)
    assert RAD(k_scale=2.0).adversary_budget(state) == round(0.4 * n)
    assert RAD(k_scale=0.0).adversary_budget(state) == 0
    assert RAD(k_mode="fixed", k=3).adversary_budget(state) == 3
    assert RAD(k_mode="fraction", fraction=0.5).adversary_budget(state) == round(0.5 * n)


@pytest.mark.parametrize("params,match", [
    ({"gain": "variance"}, "gain 'variance' is not one of margin, entropy, least_confidence"),
    ({"k_mode": "auto"}, "k_mode 'auto' is not one of validation, fixed, fraction"),
    ({"k_mode": "fixed"}, "k_mode 'fixed' needs an integer k >= 0"),
    ({"k_mode": "fraction", "fraction": 2}, "needs fraction in \\[0, 1\\]"),
    ({"k_scale": -1}, "k_scale must be a number >= 0"),
])
def test_bad_parameters_fail_before_the_run(params, match):
    with pytest.raises(ConfigError, match=match):
        instantiate_method(MethodEntry("rad", params=params))


@pytest.mark.parametrize("gain", ["margin", "entropy", "least_confidence"])
def test_gains(gain, state_factory):
    state, _ = state_factory(requires=frozenset({"student_probs"}))
    m = RAD(gain=gain)
    assert len(m.select(state, 4, np.random.default_rng(0))) == 4


def test_diagnostics_in_run_records(fast_task, tmp_path):
    rec = execute_run(RunSpec("t", fast_task, MethodEntry("rad"), 0), tmp_path, torch.device("cpu"))
    for r in rec.rounds[1:]:
        assert set(r.method) >= {"k_used", "support_size", "game_value"}
        assert r.method["support_size"] >= fast_task.queries_per_round and r.method["game_value"] > 0
        assert r.teacher_accuracy_on_queried is not None
    assert rec.rounds[1].method["k_used"] == round(rec.teacher["validation_error"] * 1077)


def test_rad_is_covered_by_the_contract_template():
    from tests.test_contract import ALL

    assert "rad" in ALL
