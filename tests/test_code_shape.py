"""Code shape: no function or method in the listed modules is longer than MAX_LINES, so that
each can be read at once. A definition's length runs from its ``def`` line to its last line
(decorators excluded, docstring and nested definitions included)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 50
MODULES = ["benchmark/run/loop.py"]  # paths relative to the repository root


def long_functions(source: str, max_lines: int = MAX_LINES) -> list[tuple[str, int, int]]:
    """(qualified name, first line, length in lines) of every function or method in ``source``
    longer than ``max_lines``, nested ones included, in source order."""
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    length = child.end_lineno - child.lineno + 1
                    if length > max_lines:
                        found.append((name, child.lineno, length))
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


@pytest.mark.parametrize("module", MODULES)
def test_no_function_is_longer_than_the_limit(module):
    path = REPO_ROOT / module
    too_long = long_functions(path.read_text(encoding="utf-8"))
    assert not too_long, f"{module}: functions over {MAX_LINES} lines: " + ", ".join(
        f"{name} (line {line}, {n} lines)" for name, line, n in too_long)


def test_the_check_finds_long_functions_methods_and_nested_ones():
    body = "".join(f"    x{i} = {i}\n" for i in range(50))  # 50 statements: 51 lines with the def
    source = (f"def long():\n{body}\n"
              f"def short():\n    return 1\n\n"
              f"class C:\n    def method(self):\n{body.replace('    ', '        ')}\n"
              f"def outer():\n    def inner():\n{body.replace('    ', '        ')}    return inner\n")
    names = [(name, n) for name, _, n in long_functions(source)]
    assert names == [("long", 51), ("C.method", 51), ("outer", 53), ("outer.inner", 51)]
    assert long_functions(source, max_lines=60) == []
