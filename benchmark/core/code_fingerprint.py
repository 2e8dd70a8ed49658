"""The fingerprint of an acquisition method's code: a 16-hex-digit digest that changes when
its code changes, and not when only layout, comments or docstrings do.

What is hashed: the module that defines the method's class, plus every module of the
``methods`` package that it imports, transitively (``import methods.x``, ``from methods.x
import y``, ``from methods import x``, and inside the package ``from . import x`` and
``from .x import y``; imports inside functions count too). A name imported from the
package itself (``from methods import ScoreMethod``) is followed to the module that
``methods/__init__.py`` takes it from. Code outside ``methods/`` (the harness, numpy) is
not part of it: the run header records package versions and the git SHA for that. A
third-party plugin is fingerprinted by its own module plus what it imports from
``methods/``.

How a module is hashed: its token stream (``tokenize``), normalised so that layout does not
count: comments, blank lines, line breaks inside brackets, indentation width and docstrings
are dropped, and a plain string literal counts by its value (``'a'`` equals ``"a"``). The
logical structure stays: each statement's end and each block's start and end are kept as
bare markers, so moving a line into or out of a block changes the digest. Everything else
(names, operators, numbers, a trailing comma) counts. ``ast`` is used only to locate
docstrings, never dumped, and f-strings are taken as one token whatever the Python version
tokenizes them into, so the digest is the same on Python 3.10 to 3.13 and on any OS (files
are read with universal newlines).

A class that is not defined at the top level of a source file (one defined inside a
function, e.g. in a test) is fingerprinted by its own source (``inspect.getsource``, without
following imports). A class whose source cannot be found (defined in an interactive
session), or whose files cannot be read or parsed now, has no fingerprint: ``method_code``
returns None, and such a run's results are recorded without one. Results are cached per
class for the life of the process; an executor whose workers get a class by value, without
its source file, hands them the driver's fingerprint (``remember``).
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import io
import sys
import textwrap
import tokenize
from pathlib import Path

PACKAGE = "methods"
DIGITS = 16
_DROPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
_MARKERS = {tokenize.NEWLINE: "NEWLINE", tokenize.INDENT: "INDENT", tokenize.DEDENT: "DEDENT"}
# Python 3.12+ splits an f-string (3.14+ also a t-string) into start, middle and end tokens
_OPENERS = {getattr(tokenize, n) for n in ("FSTRING_START", "TSTRING_START") if hasattr(tokenize, n)}
_CLOSERS = {getattr(tokenize, n) for n in ("FSTRING_END", "TSTRING_END") if hasattr(tokenize, n)}
_CODES: dict[type, str | None] = {}  # the per-process cache: class -> fingerprint


def method_code(cls: type) -> str | None:
    """The fingerprint (16 hex digits) of a registered method class's code, or None when its
    source cannot be found or read. Cached per class for the life of the process."""
    if cls not in _CODES:
        _CODES[cls] = _read_method_code(cls)
    return _CODES[cls]


def remember(cls: type, code: str | None) -> None:
    """Take ``code`` as the fingerprint of ``cls`` in this process: for a class received by
    value from a process that could read its source (a Ray worker gets the driver's)."""
    _CODES[cls] = code


def _read_method_code(cls: type) -> str | None:
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    try:
        if path and path.endswith(".py") and "<locals>" not in cls.__qualname__:
            return source_fingerprint(Path(path), cls.__module__)
        return _digest([f"class {cls.__qualname__}", text_fingerprint(textwrap.dedent(inspect.getsource(cls)))])
    except (OSError, TypeError, SyntaxError, tokenize.TokenError):  # no source, or not readable as Python
        return None


def package_dir(package: str = PACKAGE) -> Path | None:
    """The folder of the package ``package`` (found without importing it), or None."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else None


def source_fingerprint(path: Path, module: str, pkg_dir: Path | None = None, package: str = PACKAGE) -> str:
    """The fingerprint of the module ``module`` (its source file ``path``) together with every
    module of ``package`` (whose folder is ``pkg_dir``, default: where it is installed) that
    it imports, transitively. Raises ``OSError`` when a file cannot be read and
    ``SyntaxError`` when one does not parse."""
    pkg_dir = pkg_dir if pkg_dir is not None else package_dir(package)
    files = module_closure(Path(path), module, pkg_dir, package)
    return _digest([f"{name} {_file_digest(files[name])}" for name in sorted(files)])


def module_closure(path: Path, module: str, pkg_dir: Path | None, package: str = PACKAGE) -> dict[str, Path]:
    """``{module name: source file}`` of ``module`` (file ``path``) and every module of
    ``package`` it imports, transitively; ``pkg_dir`` None follows nothing."""
    found, todo = {module: path}, [(module, path)]
    while todo:
        name, file = todo.pop()
        for target in _imported(_read(file), name, file.name == "__init__.py", package):
            resolved = _resolve(target, pkg_dir, package) if pkg_dir is not None else None
            if resolved is not None and resolved[0] not in found:
                found[resolved[0]] = resolved[1]
                todo.append(resolved)
    return found


def _imported(source: str, module: str, is_package: bool, package: str) -> set[str]:
    """The names of the modules of ``package`` that ``source`` (module ``module``) imports; a
    name imported from a module is ``module:name`` (``_resolve`` decides whether it is a
    submodule)."""
    base = module.split(".") if is_package else module.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            keep = len(base) - node.level + 1 if node.level else 0
            if node.level and keep < 1:
                continue  # above the top-level package
            parent = base[:keep]
            origin = ".".join([*parent, *([node.module] if node.module else [])])
            out |= {f"{origin}:{a.name}" for a in node.names}
    return {m for m in out if m.split(":")[0].split(".")[0] == package}


def _resolve(target: str, pkg_dir: Path, package: str) -> tuple[str, Path] | None:
    """The module name and source file of ``target``: a dotted module name of ``package``, or
    ``module:name`` for a name imported from ``module`` (the submodule ``module.name`` when it
    exists; else, for a package, the module its ``__init__.py`` imports the name from, or the
    package itself). None when no such file exists."""
    module, _, name = target.partition(":")
    if name:
        sub = _resolve(f"{module}.{name}", pkg_dir, package)
        if sub is not None:
            return sub
    folder = pkg_dir.joinpath(*module.split(".")[1:])
    if (folder / "__init__.py").is_file():
        init = folder / "__init__.py"
        return (_reexported(init, module, name, pkg_dir, package) if name else None) or (module, init)
    if folder.with_suffix(".py").is_file() and folder != pkg_dir:
        return module, folder.with_suffix(".py")
    return None


def _reexported(init: Path, module: str, name: str, pkg_dir: Path, package: str) -> tuple[str, Path] | None:
    """The module of ``package`` that the package ``module``'s ``__init__.py`` imports ``name``
    from, or None."""
    for target in _imported(_read(init), module, True, package):
        origin, _, imported = target.partition(":")
        if imported == name and origin != module:
            return _resolve(origin, pkg_dir, package)
    return None


def _read(path: Path) -> str:
    """A source file's text, decoded as Python decodes it, with universal newlines."""
    with tokenize.open(path) as f:
        return f.read()


def _file_digest(path: Path) -> str:
    return text_fingerprint(_read(path))


def text_fingerprint(source: str) -> str:
    """The fingerprint (16 hex digits) of one module's source text, ``normalized_tokens``'s digest."""
    return _digest(normalized_tokens(source))


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:DIGITS]


def normalized_tokens(source: str) -> list[str]:
    """The tokens of ``source`` that carry meaning, as ``KIND text`` strings: layout,
    comments and docstrings dropped, statement and block boundaries as bare markers, plain
    string literals by value, each f-string as one token. Raises ``SyntaxError`` (or
    ``tokenize.TokenError``) for source that does not parse."""
    lines = source.splitlines(keepends=True)
    docstrings = _docstring_spans(source, lines)
    out: list[str] = []
    depth, opened, skip_end = 0, (0, 0), False
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if depth:  # inside an f-string: wait for its end
            depth += (tok.type in _OPENERS) - (tok.type in _CLOSERS)
            if not depth:
                out.append(f"STRING {_segment(lines, opened, tok.end)}")
            continue
        if tok.type in _OPENERS:
            depth, opened = 1, tok.start
        elif skip_end and (tok.type == tokenize.NEWLINE or tok.string == ";"):
            skip_end = False
        elif tok.type == tokenize.STRING and any(a <= tok.start < b for a, b in docstrings):
            skip_end = True  # the docstring statement's end goes with it
        elif tok.type in _MARKERS:
            out.append(_MARKERS[tok.type])
        elif tok.type not in _DROPPED:
            skip_end = False
            out.append(f"{tokenize.tok_name[tok.type]} {_literal(tok)}")
    return out


def _literal(tok: tokenize.TokenInfo) -> str:
    """A string token by its value (quote style and prefix case do not count); others as written."""
    if tok.type != tokenize.STRING or "f" in tok.string.split(tok.string[-1])[0].lower():
        return tok.string
    try:
        return repr(ast.literal_eval(tok.string))
    except (ValueError, SyntaxError):
        return tok.string


def _segment(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    """The source text from ``start`` to ``end`` ((row from 1, column) as tokenize gives)."""
    (r0, c0), (r1, c1) = start, end
    if r0 == r1:
        return lines[r0 - 1][c0:c1]
    return lines[r0 - 1][c0:] + "".join(lines[r0:r1 - 1]) + lines[r1 - 1][:c1]


def _docstring_spans(source: str, lines: list[str]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """((row, column), (row, column)) start and end of every docstring in ``source``, in
    tokenize's character columns (``ast`` counts UTF-8 bytes)."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                spans.append(((first.lineno, _chars(lines[first.lineno - 1], first.col_offset)),
                              (first.end_lineno, _chars(lines[first.end_lineno - 1], first.end_col_offset))))
    return spans


def _chars(line: str, byte_col: int) -> int:
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))
