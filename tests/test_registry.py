from importlib import metadata

import pytest

from benchmark.core import registry
from benchmark.core.registry import METHODS, Registry, RegistryError, UnknownNameError, register_method
from methods.base import AcquisitionMethod


def test_duplicate_name_is_an_error():
    r = Registry("widget")
    r.add("a", 1)
    with pytest.raises(RegistryError, match="duplicate widget name 'a'"):
        r.add("a", 2)


def test_duplicate_method_registration_is_an_error():
    with pytest.raises(RegistryError, match="duplicate method name 'margin'"):
        @register_method("margin")
        class Again(AcquisitionMethod):
            pass


def test_unknown_name_lists_valid_names_and_suggests_closest():
    with pytest.raises(UnknownNameError) as e:
        METHODS.get("margn")
    msg = str(e.value)
    assert "unknown method 'margn'" in msg
    assert "Did you mean 'margin'?" in msg
    for name in ("entropy", "least_confidence", "margin", "random"):
        assert name in msg


def test_unknown_name_without_close_match_has_no_suggestion():
    r = Registry("thing")
    r.add("alpha", 1)
    with pytest.raises(UnknownNameError) as e:
        r.get("zzzzzz")
    assert "Did you mean" not in str(e.value) and "alpha" in str(e.value)


def test_invalid_names_rejected():
    r = Registry("thing")
    for bad in ("", " x", 3):
        with pytest.raises(RegistryError):
            r.add(bad, 1)


def test_models_tasks_suites_use_the_same_registry_class():
    from benchmark.core.config import SUITES, TASKS
    from benchmark.core.registry import MODELS

    assert all(isinstance(r, Registry) for r in (METHODS, MODELS, TASKS, SUITES))
    assert {"mlp", "small_cnn"} <= set(MODELS.names())
    assert "digits" in TASKS and "quick" in SUITES


class _PluginMethod(AcquisitionMethod):
    """An out-of-tree method, as a third-party package would ship it."""

    def select_positions(self, state, budget, rng, *args):
        return rng.choice(state.n_unlabeled, budget, replace=False)


def test_entry_point_discovery(monkeypatch):
    ep = metadata.EntryPoint(name="plugin_pick", value=f"{__name__}:_PluginMethod",
                             group=registry.METHOD_ENTRY_POINT_GROUP)

    def fake_entry_points(group=None):
        return [ep] if group == registry.METHOD_ENTRY_POINT_GROUP else []

    monkeypatch.setattr(registry.metadata, "entry_points", fake_entry_points)
    try:
        assert registry.load_method_entry_points() == ["plugin_pick"]
        assert METHODS.get("plugin_pick") is _PluginMethod
        assert "plugin_pick" in METHODS.names()
    finally:
        METHODS.remove("plugin_pick")
    assert "plugin_pick" not in METHODS
