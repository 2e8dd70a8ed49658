"""Portable numerics: another CPU, simulated on this one, computes the same results.

A CPU with a smaller instruction set is simulated by masking what each library sees:
glibc's hwcaps (libm), NumPy's dispatch targets, ATen's capability, oneDNN's ISA, MKL's
instructions and OpenBLAS's core type. In the portable mode the masked process must compute
bit for bit what this machine computes; in the fast mode it must not (so the test can fail).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.core import numerics

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "tests" / "numerics_probe.py"
# an x86-64 CPU without AVX2, FMA or AVX-512, as each library would see it
OLDER_CPU = {
    "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX2,-FMA,-FMA4",
    "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
    "ATEN_CPU_CAPABILITY": "default",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
    "OPENBLAS_CORETYPE": "Nehalem",
}
# the probes each pin holds to one result across CPUs (torch's matmul and convolution run
# through ATen's kernels too)
PIN_PROBES = {"GLIBC_TUNABLES": {"libm"}, "NPY_DISABLE_CPU_FEATURES": {"numpy_simd"},
              "OPENBLAS_CORETYPE": {"openblas"}, "ATEN_CPU_CAPABILITY": {"aten", "mkl", "conv"}}


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any numerics pin (as a fresh shell has it)."""
    env = {k: v for k, v in os.environ.items()
           if k not in (*numerics.PINNED_NAMES, numerics.PINS_MARK, numerics.EXEC_GUARD, numerics.MODE_ENV,
                        "MKL_ENABLE_INSTRUCTIONS")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def probe(mode: str, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, str(PROBE), mode], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine_has(*flags: str) -> bool:
    return set(flags) <= set(numerics.cpu_info()["isa"])


needs_avx2 = pytest.mark.skipif(not machine_has("avx2", "fma"), reason="simulating an older CPU needs AVX2 and FMA here")


@needs_avx2
def test_portable_results_are_the_same_on_a_simulated_older_cpu():
    here, older = probe("portable", clean_env()), probe("portable", clean_env(**OLDER_CPU))
    assert here["identity"] == older["identity"] == "portable"
    assert here["probes"] == older["probes"]


@needs_avx2
def test_fast_results_differ_on_a_simulated_older_cpu():
    here, older = probe("fast", clean_env()), probe("fast", clean_env(**OLDER_CPU))
    assert here["identity"].startswith("fast-") and older["identity"].startswith("fast-default-")
    assert here["identity"] != older["identity"]
    differing = {k for k in here["probes"] if here["probes"][k] != older["probes"][k]}
    assert differing == set(here["probes"]), f"the mask left {set(here['probes']) - differing} unchanged"


@needs_avx2
@pytest.mark.parametrize("pin", sorted(PIN_PROBES))
def test_each_pin_holds_its_library(pin):
    """The pins without ``pin`` (set by hand, so no re-execution adds it back): that library's
    result now follows the simulated CPU."""
    pins = {k: v for k, v in numerics.pinned_env(os.environ).items() if k not in (pin, numerics.PINS_MARK)}
    older = {**OLDER_CPU, **pins}
    if pin in OLDER_CPU:
        older[pin] = OLDER_CPU[pin]
    here = probe("fast", clean_env(**pins))
    there = probe("fast", clean_env(**older))
    names = PIN_PROBES[pin]
    assert all(here["probes"][k] != there["probes"][k] for k in names)
    assert {k: v for k, v in here["probes"].items() if k not in names} == \
        {k: v for k, v in there["probes"].items() if k not in names}


def test_mkl_reads_its_reproducibility_pin():
    """MKL picks its path by CPU vendor and model and cannot be masked on every CPU; what can
    be shown on any machine is that MKL_CBWR is read: its result changes with the pin."""
    pins = numerics.pinned_env(os.environ)
    without = {k: v for k, v in pins.items() if k not in ("MKL_CBWR", numerics.PINS_MARK)}
    assert probe("portable", clean_env())["probes"]["mkl"] != probe("fast", clean_env(**without))["probes"]["mkl"]


def test_fast_mode_drops_only_the_pins_this_module_set():
    pinned = numerics.target_env("portable", {"GLIBC_TUNABLES": "glibc.malloc.check=3", "PATH": "/bin"})
    assert pinned["GLIBC_TUNABLES"] == "glibc.malloc.check=3:glibc.cpu.hwcaps=-AVX512F,-AVX2,-FMA,-FMA4,-AVX"
    assert numerics.pins_at_start(pinned)
    fast = numerics.target_env("fast", pinned)
    assert not set(numerics.PINNED_NAMES) & set(fast) and fast["PATH"] == "/bin"
    own = numerics.target_env("fast", {"ATEN_CPU_CAPABILITY": "avx2"})  # the user's, not ours
    assert own["ATEN_CPU_CAPABILITY"] == "avx2"


def test_masks_a_user_set_are_kept():
    env = numerics.target_env("portable", {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512VL",
                                           "NPY_DISABLE_CPU_FEATURES": "AVX512F"})
    assert env["GLIBC_TUNABLES"].startswith("glibc.cpu.hwcaps=-AVX512VL,-AVX512F")
    assert env["NPY_DISABLE_CPU_FEATURES"].split()[0] == "AVX512F"


def test_unknown_mode_names_the_choices(monkeypatch):
    with pytest.raises(ValueError, match="'turbo' is not one of portable, fast"):
        numerics.resolve_mode("turbo")
    from benchmark.cli import main

    monkeypatch.setenv(numerics.MODE_ENV, "turbo")
    assert main(["run", "--suite", "ci"]) == 2


def test_the_test_process_computes_portably():
    """conftest re-executes pytest with the pins: every in-process run here is portable."""
    import torch

    from benchmark.core.compute import compute_identity

    assert compute_identity(torch.device("cpu"))["numerics"] == "portable"


def test_command_line_reexecutes_into_the_mode_asked(tmp_path):
    code = ("import sys; from benchmark.core import numerics; numerics.ensure_process(sys.argv[1]); "
            "import torch; print(numerics.numerics_identity(), torch.backends.cpu.get_cpu_capability())")
    for mode, want in (("portable", "portable DEFAULT"), ("fast", "fast-")):
        # from a pinned parent too: fast must shed the pins it inherits
        for parent in (clean_env(), numerics.target_env("portable", clean_env())):
            out = subprocess.run([sys.executable, "-c", code, mode], env=parent, capture_output=True, text=True,
                                 timeout=120)
            assert out.returncode == 0 and out.stdout.startswith(want), out.stderr


def records(out: Path) -> dict[str, list[dict]]:
    """Every run file under ``out``: its round and summary lines, without wall times."""
    found = {}
    for f in sorted(out.rglob("seed*.jsonl")):
        lines = [json.loads(line) for line in f.read_text().splitlines()]
        found[str(f.relative_to(out))] = [{k: v for k, v in line.items() if "seconds" not in k}
                                          for line in lines if line.get("record") != "run"]
    return found


def run_grid(out: Path, mode: str, cpu: dict[str, str], *grid: str) -> dict[str, list[dict]]:
    cmd = [sys.executable, str(ROOT / "run_benchmark.py"), "run", *grid, "--numerics", mode, "--out", str(out),
           "--no-progress"]
    env = clean_env(AKD_BENCH_CACHE=str(out / "cache"), TQDM_DISABLE="1", **cpu)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    return records(out)


@pytest.mark.slow
@needs_avx2
def test_ci_suite_records_are_the_same_on_a_simulated_older_cpu(tmp_path):
    here = run_grid(tmp_path / "here", "portable", {}, "--suite", "ci")
    older = run_grid(tmp_path / "older", "portable", OLDER_CPU, "--suite", "ci")
    assert len(here) == 15 and here == older


@pytest.mark.slow
@needs_avx2
def test_fast_records_differ_on_a_simulated_older_cpu(tmp_path):
    grid = ("--tasks", "digits_ci", "--methods", "margin,coreset", "--seeds", "0")
    here = run_grid(tmp_path / "here", "fast", {}, *grid)
    older = run_grid(tmp_path / "older", "fast", OLDER_CPU, *grid)
    assert len(here) == 2 and set(here) == set(older)
    assert all(here[k] != older[k] for k in here)


def reference_versions_differ(suite: str) -> list[str]:
    """The packages whose installed version differs from the one the suite's reference was made with."""
    from importlib import metadata

    header = json.loads(next((ROOT / "results" / "reference" / suite).rglob("seed*.jsonl")).open().readline())
    differ = []
    for pkg in ("torch", "numpy", "scipy", "scikit-learn"):
        stored = header["provenance"]["packages"].get(pkg)
        try:
            here = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            here = None
        if stored != here:
            differ.append(f"{pkg} {here} (reference: {stored})")
    return differ


@pytest.mark.slow
@needs_avx2
def test_ci_reference_reproduces_exactly_on_a_simulated_older_cpu(tmp_path):
    """What a user on another CPU runs: ``reproduce --suite ci --exact`` against the committed
    reference (made on this project's machine), here on a CPU without AVX2, FMA or AVX-512."""
    differ = reference_versions_differ("ci")
    if differ:
        pytest.skip(f"bit-identity needs the reference's package versions: {', '.join(differ)}")
    cmd = [sys.executable, str(ROOT / "run_benchmark.py"), "reproduce", "--suite", "ci", "--exact", "--no-progress"]
    env = clean_env(AKD_BENCH_CACHE=str(tmp_path / "cache"), TQDM_DISABLE="1", **OLDER_CPU)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "compare: PASSED" in proc.stdout


def test_fast_identity_names_what_steers_the_code_paths():
    """Two fast processes whose libraries were steered differently (here glibc's libm, with
    the same ATen capability) must not share an identity, so never a run id or a cache key."""
    here = probe("fast", clean_env())
    masked = probe("fast", clean_env(GLIBC_TUNABLES="glibc.cpu.hwcaps=-AVX2,-FMA"))
    assert here["identity"].split("-")[:2] == masked["identity"].split("-")[:2]
    assert here["identity"] != masked["identity"]


def test_portable_mode_drops_numpys_enable_list():
    """NumPy refuses NPY_ENABLE_CPU_FEATURES next to NPY_DISABLE_CPU_FEATURES."""
    env = numerics.target_env("portable", {"NPY_ENABLE_CPU_FEATURES": "AVX2"})
    assert "NPY_ENABLE_CPU_FEATURES" not in env
    assert probe("portable", clean_env(NPY_ENABLE_CPU_FEATURES="AVX2"))["identity"] == "portable"


def test_a_reference_is_written_only_in_the_portable_mode(tmp_path, monkeypatch, capsys):
    """In-process runs here are portable (conftest); fast mode is simulated by the identity."""
    from benchmark.cli import main
    from benchmark.core import numerics as mod

    monkeypatch.setattr(mod, "numerics_identity", lambda: "fast-avx2-0123abcd")
    ref = tmp_path / "ref"
    assert main(["reproduce", "--suite", "ci", "--update-reference", "--reference", str(ref), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "portable numerics mode only" in err[0] and "'fast-avx2-0123abcd'" in err[0]
    assert not ref.exists()


def test_command_line_called_from_python_says_portable_is_not_in_force(monkeypatch, capsys, tmp_path):
    from benchmark.cli import main
    from benchmark.core import numerics as mod

    monkeypatch.setattr(mod, "pins_at_start", lambda env=None: False)
    assert main(["run", "--suite", "nope-no-such-suite", "--out", str(tmp_path)]) == 2
    assert "portable numerics were asked for, but this process did not start with their pins" in \
        capsys.readouterr().err
