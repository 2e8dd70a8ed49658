"""A non-editable install works: build the wheel, install it into a fresh virtual
environment and use it from an empty folder (no checkout on the path).

The venv sees the site-packages of the interpreter running the tests (a plain venv, a
pyenv or a system Python alike) through a ``.pth`` file that lists them, so torch and the
other dependencies come from there (``--no-deps``); nothing is downloaded. Their ``.pth``
files are not run, so an editable install of this project there does not reach the venv.
The build runs offline (``--no-index --no-build-isolation``), with the setuptools of the
running interpreter.
"""
from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from setuptools import find_packages

from checkout import ROOT, copy_source_tree

pytestmark = pytest.mark.slow


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_package_list_holds_every_package():
    """pyproject.toml lists its packages by hand (two are folders mapped into the package):
    a new subpackage must be added there, or the wheel would lack it."""
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = set(find_packages(str(ROOT), include=["benchmark*", "methods*"]))
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages in pyproject.toml"
    assert not (ROOT / "datasets" / "__init__.py").exists()  # would shadow Hugging Face datasets


def _site_dirs() -> list[str]:
    """The running interpreter's site-packages folders (a venv's own, and the base ones where
    it sees them; the user's where Python uses it), in search order."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A venv with the freshly built wheel installed; returns its bin folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = copy_source_tree(tmp / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "--no-build-isolation",
                    "-w", str(tmp / "dist"), str(src)], check=True, capture_output=True)
    (wheel,) = (tmp / "dist").glob("akd_bench-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")], check=True, capture_output=True)
    bin_dir = tmp / "venv" / ("Scripts" if os.name == "nt" else "bin")
    inner = subprocess.run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                           check=True, capture_output=True, text=True).stdout.strip()
    # plain folder lines: appended to sys.path after the venv's own site-packages, their .pth files not run
    (Path(inner) / "running_interpreter.pth").write_text("".join(f"{d}\n" for d in _site_dirs()))
    # the running interpreter's pip, run by the venv's interpreter, installs into the venv; the
    # project installed where the tests run stays (--ignore-installed) and is shadowed by the wheel
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--ignore-installed", str(wheel)], check=True, capture_output=True)
    return bin_dir


def _run(bin_dir: Path, cwd: Path, *cmd: str, shell: bool = False, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environ.update(env, PATH=f"{bin_dir}{os.pathsep}{environ.get('PATH', '')}")
    return subprocess.run(cmd[0] if shell else list(cmd), cwd=cwd, env=environ, capture_output=True, text=True,
                          shell=shell)


def test_the_checkout_does_not_leak_into_the_venv(venv, tmp_path):
    """Neither an editable finder of this project nor the checkout's folder is on the venv's
    import path, so the tests below exercise the wheel; the running interpreter's packages are."""
    found = _run(venv, tmp_path, "python", "-c", "import json, sys; print(json.dumps({'path': sys.path, "
                 "'hooks': [repr(f) for f in (*sys.meta_path, *sys.path_hooks)]}))")
    assert found.returncode == 0, found.stderr
    seen = json.loads(found.stdout)
    assert not [h for h in seen["hooks"] if "__editable__" in h and "akd_bench" in h], seen["hooks"]
    assert ROOT not in [Path(p).resolve() for p in seen["path"] if p], seen["path"]
    assert set(_site_dirs()) <= set(seen["path"])
    imported = _run(venv, tmp_path, "python", "-c", "import pandas, pydantic, torch")
    assert imported.returncode == 0, imported.stderr[-2000:]


def test_installed_wheel_works_from_an_empty_folder(venv, tmp_path):
    where = _run(venv, tmp_path, "python", "-c", "import benchmark, methods; print(benchmark.__file__); "
                 "print(methods.__file__)")
    files = where.stdout.split()
    assert len(files) == 2 and all(Path(f).is_relative_to(venv.parent) for f in files), where  # the wheel, not the checkout

    tasks = _run(venv, tmp_path, "akd-bench", "list", "tasks")
    assert tasks.returncode == 0, tasks.stderr
    listed = {line.split()[0] for line in tasks.stdout.splitlines()}
    assert listed == {p.stem for p in (ROOT / "datasets").glob("*.yaml")}

    version = _run(venv, tmp_path, "akd-bench", "--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"akd-bench {_pyproject()['project']['version']}")

    helped = _run(venv, tmp_path, "python", "-m", "benchmark", "--help")
    assert helped.returncode == 0 and helped.stdout.startswith("usage: python -m benchmark"), helped.stderr
    assert "akd-bench [-h]" in _run(venv, tmp_path, "akd-bench", "--help").stdout

    piped = _run(venv, tmp_path, "akd-bench list suites | head -1", shell=True, PYTHONUNBUFFERED="1")
    assert piped.stdout.startswith("ci ") and piped.stderr == ""


def test_installed_wheel_reproduces_the_ci_suite(venv, tmp_path):
    """The wheel ships the ci reference: reproduce finds and matches it (about 20 s)."""
    res = _run(venv, tmp_path, "akd-bench", "reproduce", "--suite", "ci", "--no-progress",
               AKD_BENCH_CACHE=str(tmp_path / "cache"))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "site-packages" in res.stdout  # the reference it compared with is the installed one
    assert {p.name for p in tmp_path.iterdir()} <= {"cache"}  # nothing written to the working folder


def test_installed_wheel_renders_the_html_leaderboard_from_its_templates(venv, tmp_path):
    """The leaderboard page's templates ship in the wheel and are the ones it renders with."""
    templates = ROOT / "benchmark" / "reporting" / "templates"
    found = _run(venv, tmp_path, "python", "-c", "from benchmark.reporting.html import PAGE_TEMPLATE, environment; "
                 "env = environment(); print(env.get_template(PAGE_TEMPLATE).filename); "
                 "print(*sorted(env.list_templates()))")
    assert found.returncode == 0, found.stderr
    where, listed = found.stdout.splitlines()
    assert Path(where).is_relative_to(venv.parent) and listed.split() == sorted(p.name for p in templates.iterdir())

    res = _run(venv, tmp_path, "akd-bench", "report", "--out", str(ROOT / "results" / "reference"), "--suite", "ci",
               "--leaderboard-dir", str(tmp_path / "ci"))
    assert res.returncode == 0, res.stderr[-3000:]
    page = (tmp_path / "ci" / "index.html").read_text(encoding="utf-8")
    assert f"<style>\n{(templates / 'leaderboard.css').read_text(encoding='utf-8')}</style>\n" in page
    assert f"<script>\n{(templates / 'leaderboard.js').read_text(encoding='utf-8')}</script>\n" in page
