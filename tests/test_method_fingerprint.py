"""The method's code is part of what a stored run records: its fingerprint ignores layout,
comments and docstrings, follows imports within the methods package, is the same on every
Python version; a rerun or resume by changed code is refused (``--fresh`` replaces), report
and compare say when seeds or results were made by different code, and a run conflict names
the fields that differ."""
from __future__ import annotations

import json
import re
import textwrap
from importlib.util import find_spec
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.core import code_fingerprint
from benchmark.core.code_fingerprint import (method_code, module_closure, normalized_tokens, source_fingerprint,
                                            text_fingerprint)
from benchmark.core.registry import METHODS
from benchmark.core.results import read_run, run_path, write_run
from benchmark.run.conflict import differences
from methods.base import AcquisitionMethod
from records import make_record, store

ROOT = Path(__file__).parents[1]
RUN = ["run", "--tasks", "digits", "--methods", "random", "--seeds", "0", "--rounds", "1", "--no-progress"]

ALGO = '''\
"""An algorithm module."""
import numpy as np

import methods.one
from methods import Two


def pick(x, k=3):
    """Return the top k."""
    if k:
        y = np.sort(x, kind="stable")[::-1]  # descending
        k = k - 1
    return y[:k] + methods.one.shift() + Two.bias
'''
# the same code: other docstrings, comments, blank lines, indentation width, line breaks
# inside brackets or after a backslash, and quote style
ALGO_RELAID = """\
'''Another module docstring.'''
import numpy as np
# a comment

import methods.one
from methods import Two



def pick(x,
         k = 3):
  '''A new docstring,
  over two lines.'''
  if k:
      y = np.sort( x, kind = 'stable' ) \\
          [ ::-1 ]
      k = k-1
  return y[:k] + methods.one.shift(
  ) + Two.bias  # trailing comment
"""
PACKAGE = {
    "__init__.py": '"""The package."""\nfrom methods.two import Two\n',
    "algo.py": ALGO,
    "one.py": "from . import three\n\n\ndef shift():\n    return three.deep()\n",
    "two.py": "class Two:\n    bias = 0\n",
    "three.py": "from .four import g\n\n\ndef deep():\n    return g(1)\n",
    "four.py": "def g(v):\n    return v + 1  # the helper two imports away\n",
    "unrelated.py": "def h():\n    return 0\n",
}


def _package(tmp_path: Path) -> Path:
    """A throwaway copy of a methods-like package named ``methods`` (never imported)."""
    pkg = tmp_path / "methods"
    pkg.mkdir()
    for name, text in PACKAGE.items():
        (pkg / name).write_text(text)
    return pkg


def _fp(pkg: Path) -> str:
    return source_fingerprint(pkg / "algo.py", "methods.algo", pkg)


def test_layout_comments_and_docstrings_do_not_count_but_code_does(tmp_path):
    pkg = _package(tmp_path)
    before = _fp(pkg)
    assert re.fullmatch(r"[0-9a-f]{16}", before)
    (pkg / "algo.py").write_text(ALGO_RELAID)
    assert _fp(pkg) == before
    (pkg / "algo.py").write_bytes(ALGO.replace("\n", "\r\n").encode())  # Windows line ends
    assert _fp(pkg) == before
    for edit in (ALGO.replace("k=3", "k=4"), ALGO.replace("[::-1]", ""),
                 # the same tokens, one statement moved out of the block
                 ALGO.replace("        k = k - 1", "    k = k - 1")):
        (pkg / "algo.py").write_text(edit)
        assert _fp(pkg) != before, edit


def test_imports_within_the_package_are_followed_transitively(tmp_path):
    pkg = _package(tmp_path)
    names = set(module_closure(pkg / "algo.py", "methods.algo", pkg))
    # import methods.one; from methods import Two (re-exported by __init__ from methods.two);
    # from . import three; from .four import g
    assert names == {"methods.algo", "methods.one", "methods.two", "methods.three", "methods.four"}
    before = _fp(pkg)
    (pkg / "unrelated.py").write_text("def h():\n    return 1\n")
    (pkg / "four.py").write_text('"""Now documented."""\n\n\ndef g(v):\n    return v + 1\n')
    assert _fp(pkg) == before
    (pkg / "four.py").write_text("def g(v):\n    return v + 2\n")
    changed = _fp(pkg)
    assert changed != before
    (pkg / "two.py").write_text("class Two:\n    bias = 1\n")
    assert _fp(pkg) not in (before, changed)


def test_the_digest_is_the_same_on_every_python_version():
    """The digest of a fixed source, checked on Python 3.10 to 3.13: f-strings (one token
    before 3.12, several after), nested quotes, prefixes, docstrings and ``;``."""
    source = textwrap.dedent('''\
        """Module doc."""
        x = f"a{b!r:>{w}} {f'{c}'}" f"""multi
        {d}
        line"""
        def g(a, b=1, *args):
            \'\'\'doc\'\'\'
            if a:
                y = 1  # c
            # comment
            return rb'\\x00' + u"é" + t
        class C:
            "doc"; z = 1
        ''')
    tokens = normalized_tokens(source)
    assert tokens[:4] == ["NAME x", "OP =", 'STRING f"a{b!r:>{w}} {f\'{c}\'}"', 'STRING f"""multi\n{d}\nline"""']
    assert tokens[-10:] == ["NAME class", "NAME C", "OP :", "NEWLINE", "INDENT", "NAME z", "OP =", "NUMBER 1",
                            "NEWLINE", "DEDENT"]  # the docstring and its ';' are gone
    assert "STRING b'\\\\x00'" in tokens and "STRING 'é'" in tokens  # literals by value
    assert text_fingerprint(source) == "0cd236d37df82f63"


def test_registered_and_locally_defined_classes():
    cls = METHODS.get("random")
    code = method_code(cls)
    assert code == source_fingerprint(ROOT / "methods" / "random_sampling.py", "methods.random_sampling")
    assert code == method_code(cls)

    class Local(AcquisitionMethod):  # defined in a function: fingerprinted by its own source
        def select_positions(self, state, budget, rng, *args):
            return rng.choice(state.n_unlabeled, budget, replace=False)

    class Other(AcquisitionMethod):
        def select_positions(self, state, budget, rng, *args):
            return rng.permutation(state.n_unlabeled)[:budget]

    assert re.fullmatch(r"[0-9a-f]{16}", method_code(Local)) and method_code(Local) != method_code(Other)
    nowhere = type("Nowhere", (AcquisitionMethod,), {"__module__": "no_such_module"})
    assert method_code(nowhere) is None


def test_a_ray_worker_takes_the_drivers_fingerprint_of_a_class_sent_by_value():
    from benchmark.run.ray_executor import _register_methods

    nowhere = type("SentByValue", (AcquisitionMethod,), {"__module__": "no_such_module"})
    _register_methods({"sent_by_value": (nowhere, "00112233aabbccdd")})
    try:
        assert METHODS.get("sent_by_value") is nowhere and method_code(nowhere) == "00112233aabbccdd"
    finally:
        METHODS.remove("sent_by_value")


def _header(path: Path) -> dict:
    return json.loads(path.read_text().splitlines()[0])


def test_changed_code_is_refused_on_rerun_and_resume_and_fresh_replaces(tmp_path, capsys, monkeypatch):
    out = ["--out", str(tmp_path)]
    assert main([*RUN, *out]) == 0
    path = run_path(tmp_path, "adhoc", "digits", "random", 0)
    assert _header(path)["provenance"]["method_code"] == method_code(METHODS.get("random"))
    assert "run_id" in _header(path) and _header(path)["run_id"] == read_run(path).run_id
    stored = path.read_bytes()
    capsys.readouterr()

    monkeypatch.setattr(code_fingerprint, "method_code", lambda cls: "0123456789abcdef")
    assert main([*RUN, *out]) == 2  # a complete run is not silently skipped
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: method 'random' (task digits, seed 0): its code changed") and str(path) in err
    assert "--fresh" in err and "version" in err
    assert path.read_bytes() == stored

    rec = read_run(path)  # a partial record (killed after round 0) is refused as well
    rec.rounds, rec.summary = rec.rounds[:1], None
    write_run(path, rec)
    assert main([*RUN, *out]) == 2
    assert "its code changed" in capsys.readouterr().err

    assert main([*RUN, *out, "--fresh"]) == 0
    assert read_run(path).complete and _header(path)["provenance"]["method_code"] == "0123456789abcdef"
    assert main([*RUN, *out]) == 0  # the same code again: already complete

    rec = read_run(path)  # a file written before the fingerprint was recorded is accepted
    del rec.provenance["method_code"]
    write_run(path, rec)
    monkeypatch.setattr(code_fingerprint, "method_code", lambda cls: "fedcba9876543210")
    capsys.readouterr()
    assert main([*RUN, *out]) == 0
    assert "already complete" in capsys.readouterr().err


@pytest.mark.skipif(find_spec("ray") is None, reason="needs Ray: pip install -e '.[ray]'")
def test_the_ray_executor_refuses_a_complete_run_made_by_other_code(tmp_path, capsys):
    out = ["--out", str(tmp_path)]
    assert main([*RUN, *out]) == 0
    path = run_path(tmp_path, "adhoc", "digits", "random", 0)
    rec = read_run(path)  # the workers fingerprint the files they run, so the stored code is changed
    rec.provenance["method_code"] = "0123456789abcdef"
    write_run(path, rec)
    stored = path.read_bytes()
    capsys.readouterr()
    assert main([*RUN, *out, "--executor", "ray", "--cpus-per-run", "1"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "method 'random' (task digits, seed 0): its code changed" in err[0]
    assert path.read_bytes() == stored


def test_a_conflict_names_the_fields_that_differ(tmp_path, capsys):
    out = ["--out", str(tmp_path)]
    assert main([*RUN, *out]) == 0
    capsys.readouterr()
    argv = [*RUN, *out]
    argv[argv.index("--rounds") + 1] = "2"
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds a different run" in err
    assert ": rounds (stored 1, this run 2) differ; rerun with --fresh" in err
    assert "compute" not in err


def test_differences_name_nested_and_missing_fields():
    stored = {"task": {"rounds": 1, "train": {"epochs": 5}}, "params": {}, "seed": 0, "compute": None}
    planned = {"task": {"rounds": 1, "train": {"epochs": 6}}, "params": {"k": 2}, "seed": 0,
               "compute": {"threads": 1}}
    assert differences(stored, planned) == ["compute (stored none, this run {\"threads\": 1})",
                                            "params.k (stored none, this run 2)",
                                            "train.epochs (stored 5, this run 6)"]
    assert differences(planned, planned) == []


def _coded(method: str, seed: int, code: str | None, accs=(0.5, 0.7)):
    rec = make_record(method, seed, [accs[0], accs[1] + 0.01 * seed])
    if code is not None:
        rec.provenance["method_code"] = code
    return rec


def test_report_warns_once_per_method_whose_seeds_ran_different_code(tmp_path, capsys):
    records = [_coded("random", 0, "a" * 16), _coded("random", 1, "a" * 16), _coded("random", 2, "b" * 16),
               *(_coded("margin", s, "c" * 16) for s in range(3)), _coded("margin", 3, None)]
    store(records, tmp_path)
    assert main(["report", "--out", str(tmp_path)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: method 'random' on task digits: its seeds were made by different code of the "
                        f"method (code {'a' * 16}: seeds 0, 1; code {'b' * 16}: seed 2); rerun them with --fresh so "
                        f"that every seed runs one code"]


def test_compare_warns_on_mixed_code_and_notes_code_other_than_the_reference(tmp_path, capsys):
    ref = store([_coded(m, s, "a" * 16) for m in ("random", "margin") for s in range(2)], tmp_path / "ref")
    res = store([_coded("random", 0, "a" * 16), _coded("random", 1, "b" * 16),
                 *(_coded("margin", s, "a" * 16) for s in range(2))], tmp_path / "res")
    assert main(["compare", str(res), str(ref)]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "method 'random' on task digits in the results" in warnings[0]
    notes = [line for line in captured.out.splitlines() if "other code of the method than the reference" in line]
    assert len(notes) == 1 and notes[0].startswith("note: digits/random: made by other code")
    assert f"{'a' * 16}, {'b' * 16} vs reference {'a' * 16}" in notes[0]
