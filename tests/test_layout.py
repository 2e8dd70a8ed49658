"""The package layout follows the data flow, and imports never run upward: core (specs,
registries, results schema) < data < models < run (teacher, training, loop, executors) <
reporting < perf < the command line. The only import cycle is the registry's deliberate lazy
loading of the built-in ``methods`` package (whose modules import the run layer's PoolState)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
LAYERS = ["core", "data", "models", "run", "reporting", "perf", "cli"]
TOP = {"benchmark": 0, "benchmark.__main__": LAYERS.index("cli"), "benchmark.cli": LAYERS.index("cli")}
LAZY_LOADER = "benchmark.core.registry"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for folder in ("benchmark", "methods"):
        for p in (ROOT / folder).rglob("*.py"):
            found[_module_name(p)] = p
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Every project module ``path`` imports, at the top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & MODULES.keys()
            out |= subs or {node.module}
    return {m for m in out if m in MODULES}


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def layer(module: str) -> int | None:
    """The layer index of a ``benchmark`` module (None for ``methods``)."""
    if module in TOP:
        return TOP[module]
    parts = module.split(".")
    return LAYERS.index(parts[1]) if parts[0] == "benchmark" else None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for src, targets in graph.items():
        for dst in targets:
            ls, ld = layer(src), layer(dst)
            if ls is not None and ld is not None and ld > ls:
                bad.append(f"{src} ({LAYERS[ls]}) imports {dst} ({LAYERS[ld]})")
    return sorted(bad)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), without the
    registry's edges to ``methods``."""
    graph = {s: {d for d in t if not (s == LAZY_LOADER and d.split(".")[0] == "methods")} for s, t in graph.items()}
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v), on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_harness_module_sits_in_a_layer():
    stray = [m for m in MODULES if m.startswith("benchmark") and m not in TOP
             and (len(m.split(".")) < 2 or m.split(".")[1] not in LAYERS)]
    assert not stray, f"modules outside the layered subpackages: {stray}"


def test_no_import_runs_upward():
    assert upward_imports(GRAPH) == []


def test_no_import_cycle_but_the_registrys_lazy_loading():
    assert cycles(GRAPH) == []
    assert any(d.startswith("methods") for d in GRAPH[LAZY_LOADER])  # the deliberate one exists


def test_the_checks_catch_an_upward_import_and_a_cycle():
    fake = {"benchmark.core.config": {"benchmark.reporting.tables"}, "benchmark.reporting.tables": set(),
            "benchmark.run.a": {"benchmark.run.b"}, "benchmark.run.b": {"benchmark.run.a"}}
    assert upward_imports(fake) == ["benchmark.core.config (core) imports benchmark.reporting.tables (reporting)"]
    assert cycles(fake) == [["benchmark.run.a", "benchmark.run.b"]]
