"""Third-party methods through the `akd_bench.methods` entry points: a broken or clashing
plugin is skipped with one warning naming its distribution, never breaks other commands,
and is a clear error only when asked for by name. Shipped suites run built-in methods."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

ENTRY_POINTS = {
    "plug_ok": "plugmod:GoodPick",
    "plug_import": "plugmissing:Anything",
    "plug_attr": "plugmod:NoSuchClass",
    "plug_func": "plugmod:a_function",
    "plug_notmethod": "plugmod:NotAMethod",
    "margin": "plugmod:OtherPick",  # named like a built-in
    "plug_decorated": "plugmod:Decorated",  # registered by its own decorator under the same name
    "plug_alias": "plugmod:Decorated",  # ... and under another name: the entry point's name means nothing
}


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    """A folder with a module and an installed distribution 'brokenplug' declaring the entry points."""
    root = tmp_path_factory.mktemp("plugins")
    (root / "plugmod.py").write_text(textwrap.dedent('''
        from methods.base import AcquisitionMethod

        class GoodPick(AcquisitionMethod):
            def select_positions(self, state, budget, rng, *args):
                return rng.choice(state.n_unlabeled, budget, replace=False)

        class OtherPick(GoodPick):
            pass

        class NotAMethod:
            pass

        from benchmark.core.registry import register_method

        @register_method("plug_decorated")
        class Decorated(GoodPick):
            pass

        def a_function(state, budget, rng):
            return None
    '''))
    dist = root / "brokenplug-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in ENTRY_POINTS.items())
    (dist / "entry_points.txt").write_text(f"[akd_bench.methods]\n{lines}\n")
    return root


def _cli(plugin_path: Path, *args: str, tmp: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), str(ROOT)])}
    if tmp is not None:
        env["AKD_BENCH_CACHE"] = str(tmp / "cache")
    return subprocess.run([sys.executable, str(ROOT / "run_benchmark.py"), *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_list_methods_survives_broken_plugins(plugin_path):
    proc = _cli(plugin_path, "list", "methods")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert "margin" in names and "plug_ok" in names and "plug_decorated" in names
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 6  # one line per broken or clashing entry point, nothing for the good ones
    assert any("'plug_alias'" in w and "registered as 'plug_decorated'" in w for w in warnings)
    for name in ("plug_import", "plug_attr", "plug_func", "plug_notmethod", "margin", "plug_alias"):
        assert sum(f"method plugin {name!r}" in w and "from brokenplug" in w for w in warnings) == 1
    assert any("'margin'" in w and "duplicate method name 'margin'" in w for w in warnings)
    assert any("'plug_func'" in w and "not an AcquisitionMethod subclass" in w for w in warnings)


def test_a_broken_plugin_asked_for_by_name_is_one_clear_error(plugin_path, tmp_path):
    proc = _cli(plugin_path, "run", "--tasks", "digits", "--methods", "plug_import", "--seeds", "0", "--rounds", "1",
                "--out", str(tmp_path), tmp=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(err) == 1 and "method plugin 'plug_import' (plugmissing:Anything) from brokenplug" in err[0]
    assert "ModuleNotFoundError" in err[0]


def test_shipped_suites_run_built_in_methods_and_plugins_run_when_named(monkeypatch):
    from benchmark.core import registry
    from benchmark.run.runner import build_grid
    from methods.base import AcquisitionMethod

    class Extra(AcquisitionMethod):
        def select_positions(self, state, budget, rng, *args):
            return rng.choice(state.n_unlabeled, budget, replace=False)

    registry.register_method("extra_plugin")(Extra)
    try:
        quick = {r.method.name for r in build_grid(suite="quick").runs}
        assert "extra_plugin" not in quick and "margin" in quick
        named = build_grid(tasks=["digits"], methods=["margin", "extra_plugin"], seeds=[0])
        assert [r.method.name for r in named.runs] == ["margin", "extra_plugin"]
    finally:
        registry.METHODS.remove("extra_plugin")
