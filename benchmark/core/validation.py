"""A pydantic ``ValidationError`` as one line: the dotted field and what was expected.

``explain(error, schema)`` turns the error to report of a ``ValidationError`` into
``("splits.labeled", "expected a value >= 1, got -3")``; ``benchmark.core.config`` and
``benchmark.core.results`` prefix the file. What was expected is read from ``schema``, the JSON
Schema of the validated type (the one ``python run_benchmark.py schema`` prints), so a
message and an editor's hint say the same thing.

A validator of this project that pydantic cannot phrase raises
``PydanticCustomError("expected", ..., ctx)`` with ``ctx["expected"]`` (the expectation in
words) and optionally ``ctx["where"]`` (a path below the field, e.g. ``.dropout``) and
``ctx["got"]`` (the bad value found there).

This module imports nothing from pydantic: it reads ``ValidationError.errors()`` only.
"""
from __future__ import annotations

from typing import Any

_UNKNOWN = {"unexpected_keyword_argument", "extra_forbidden", "invalid_key"}  # a field no spec has
_BOUNDS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
_WORDS = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
          "null": "null", "object": "a mapping"}


def explain(error: Any, schema: dict[str, Any]) -> tuple[str, str]:
    """``(dotted field, "expected ..., got ...")`` for the error of ``error`` (a pydantic
    ``ValidationError``) to report, with ``schema`` the JSON Schema of the validated type."""
    e = _pick(error.errors())
    loc, kind, ctx = e["loc"], e["type"], e.get("ctx") or {}
    if kind in _UNKNOWN:
        path, parent = _walk(schema, loc[:-1])
        fields = sorted({k for alt in _alternatives(schema, parent) for k in alt.get("properties", {})})
        return f"{path}.{loc[-1]}" if path else str(loc[-1]), f"unknown field; valid fields are {fields}"
    path, node = _walk(schema, loc)
    if kind == "missing":
        return path, f"missing; expected {describe(schema, node)}"
    got = ctx.get("got", e["input"])
    if kind == "expected":
        path, expected = path + ctx.get("where", ""), ctx["expected"]
    elif kind in _BOUNDS:
        expected = f"a value {_range(schema, node)}"
    elif kind == "finite_number":
        expected = "a finite number"
    elif kind == "too_short" and ctx.get("min_length") == 1:
        expected = "a non-empty " + describe(schema, node, bounds=False).removeprefix("a ")
    else:
        expected = describe(schema, node, bounds=False)
    return path, f"expected {expected}, got {got!r}"


def describe(schema: dict[str, Any], node: dict[str, Any], bounds: bool = True) -> str:
    """The schema ``node`` in words: ``an integer >= 1``, ``one of 'adam', 'sgd'``, ``a mapping
    with keys ['name', 'params']``, ``'all' or a list of ...``; ``bounds=False`` leaves out
    the range of a number."""
    node = _deref(schema, node)
    alternatives = node.get("anyOf") or node.get("oneOf")
    if alternatives:
        return " or ".join(describe(schema, a, bounds) for a in alternatives)
    if "const" in node:
        return repr(node["const"])
    if "enum" in node:
        return "one of " + ", ".join(map(repr, node["enum"]))
    if "properties" in node:
        return f"a mapping with keys {list(node['properties'])}"
    if node.get("type") == "array":
        return "a list of " + _plural(schema, node.get("items", {}))
    words = _WORDS.get(node.get("type"), "any value")
    limits = _range(schema, node) if bounds else ""
    return f"{words} {limits}" if limits else words


def _pick(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The error to report. An unknown field comes first (most often a misspelt one). Of a
    union's members, one whose shape fitted the value and that failed inside it is reported
    instead of those whose shape did not fit; when none fitted, the union itself is."""
    went_inside = {e["loc"][:i] for e in errors for i, part in enumerate(e["loc"][:-1]) if _is_tag(part)}
    kept = [e for e in errors if not (e["loc"] and _is_tag(e["loc"][-1]) and e["loc"][:-1] in went_inside)]
    return sorted(kept, key=lambda e: e["type"] not in _UNKNOWN)[0]


def _is_tag(part: Any) -> bool:
    """A union member's name in a pydantic error location (``list[...]``), not a field."""
    return isinstance(part, str) and not part.isidentifier()


def _walk(schema: dict[str, Any], loc: tuple) -> tuple[str, dict[str, Any]]:
    """The dotted path of an error location and the schema node there."""
    path, node = "", schema
    for part in loc:
        if part == "[key]":  # the key of a mapping entry, not its value
            node = {"type": "string"}
        elif not _is_tag(part):
            node = _child(schema, node, part)
            path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else part
    return path, node


def _child(schema: dict[str, Any], node: dict[str, Any], part: str | int) -> dict[str, Any]:
    for alt in _alternatives(schema, node):
        if isinstance(part, int) and "items" in alt:
            return alt["items"]
        if part in alt.get("properties", {}):
            return alt["properties"][part]
    return {}


def _alternatives(schema: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
    """``node`` and, for a union (``anyOf``/``oneOf``, e.g. ``X or null``), each of its members."""
    node = _deref(schema, node)
    return [node, *(_deref(schema, a) for a in node.get("anyOf") or node.get("oneOf") or [])]


def _deref(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _range(schema: dict[str, Any], node: dict[str, Any]) -> str:
    """The bounds of a number in words: ``>= 1``, ``> 0``, ``in [0, 1)``; empty without."""
    for alt in _alternatives(schema, node):
        lo = ("[", alt["minimum"]) if "minimum" in alt else ("(", alt.get("exclusiveMinimum"))
        hi = ("]", alt["maximum"]) if "maximum" in alt else (")", alt.get("exclusiveMaximum"))
        if lo[1] is not None and hi[1] is not None:
            return f"in {lo[0]}{lo[1]}, {hi[1]}{hi[0]}"
        if lo[1] is not None:
            return f"{'>=' if lo[0] == '[' else '>'} {lo[1]}"
        if hi[1] is not None:
            return f"{'<=' if hi[0] == ']' else '<'} {hi[1]}"
    return ""


def _plural(schema: dict[str, Any], items: dict[str, Any]) -> str:
    """What a list holds: its items' ``title`` made plural (``task names``), else their
    description made plural (``strings or mappings with keys [...]``)."""
    if "title" in items:
        return items["title"] + "s"
    words = []
    for alt in _alternatives(schema, items)[1:] or [_deref(schema, items)]:
        text = describe(schema, alt)
        article, _, rest = text.partition(" ")
        noun, _, tail = rest.partition(" ")
        words.append(f"{noun}s {tail}".rstrip() if article in ("a", "an") else f"items each {text}")
    return " or ".join(words)
