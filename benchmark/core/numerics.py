"""Portable CPU numerics: the same floating-point results on every x86-64 CPU.

torch, NumPy, MKL, OpenBLAS, oneDNN and glibc's libm each choose a code path by the CPU's
instruction set (SSE4, AVX2, FMA, AVX-512, AMX), and the paths round differently: the same
training run on two CPUs ends in different weights, selections and accuracies. In the
``portable`` mode (the default) every such choice is pinned to a path that every x86-64-v2
CPU (SSE4.2, 2009 and later) runs identically:

===========================  =====================================  ===========================
library                      pin                                    read
===========================  =====================================  ===========================
ATen's vectorized kernels    ``ATEN_CPU_CAPABILITY=default``        first torch kernel
MKL (torch's BLAS)           ``MKL_CBWR=COMPATIBLE``                MKL's first call
oneDNN                       ``ONEDNN_MAX_CPU_ISA=SSE41``, and off  torch import / runtime
                             in torch (``torch.backends.mkldnn``)
NNPACK (CPU convolutions)    off in torch                           runtime
NumPy's SIMD dispatch        ``NPY_DISABLE_CPU_FEATURES`` = every   NumPy import
                             dispatch target above the baseline
OpenBLAS (NumPy, SciPy)      ``OPENBLAS_CORETYPE=Nehalem``          library load
glibc libm (exp, log, ...)   ``GLIBC_TUNABLES=glibc.cpu.hwcaps=``   process start
                             ``-AVX512F,-AVX2,-FMA,-FMA4,-AVX``
===========================  =====================================  ===========================

Most of these are read once, when a library loads, so they must be in the environment
before the process starts: ``ensure_process(mode)`` re-executes the running program once
with them (the command line calls it before importing torch). The ``fast`` mode leaves
every library to choose its fastest path; its results are tied to the CPU.

``numerics_identity()`` says which mode is *in force* in this process, judged from what the
process started with and what the libraries report, not from what was asked: ``"portable"``,
or ``"fast-<ATen capability>-<CPU digest>"``. It is part of ``compute_identity`` and so of
every run id and teacher/encoder cache key; ``provenance()`` adds the CPU model, its ISA
flags and the pins to each run header. The guarantee covers Linux with glibc on x86-64; GPU
results are per device model (``compute_identity`` names it).
"""
from __future__ import annotations

import hashlib
import os
import platform
import sys
from functools import lru_cache
from typing import Any, Mapping

MODES = ("portable", "fast")
DEFAULT_MODE = "portable"
MODE_ENV = "AKD_BENCH_NUMERICS"
PINS_MARK = "AKD_BENCH_NUMERICS_PINNED"  # "1": the pins in this environment were set by this module
EXEC_GUARD = "AKD_BENCH_NUMERICS_EXEC_PID"  # the pid that re-executed itself: never twice

HWCAPS_MASK = ("-AVX512F", "-AVX2", "-FMA", "-FMA4", "-AVX")
FIXED_PINS = {
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_CBWR": "COMPATIBLE",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "DNNL_MAX_CPU_ISA": "SSE41",
    "OPENBLAS_CORETYPE": "Nehalem",
}
PINNED_NAMES = (*FIXED_PINS, "NPY_DISABLE_CPU_FEATURES", "GLIBC_TUNABLES")
# what else steers a library's code path; part of a fast identity (NumPy refuses both of its
# variables at once, so the portable mode drops NPY_ENABLE_CPU_FEATURES)
STEERING_NAMES = (*PINNED_NAMES, "MKL_ENABLE_INSTRUCTIONS", "NPY_ENABLE_CPU_FEATURES")
PLATFORMS = ({"x86_64", "AMD64"}, "glibc")  # where the portable guarantee holds
_ISA_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "fma4", "f16c", "avx512f", "avx512bw", "avx512vl",
              "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def resolve_mode(mode: str | None = None) -> str:
    """``mode``, else ``$AKD_BENCH_NUMERICS``, else ``portable``.

    Raises ``ValueError`` naming the bad value and the valid modes."""
    mode = mode or os.environ.get(MODE_ENV, "").strip() or DEFAULT_MODE
    if mode not in MODES:
        raise ValueError(f"numerics mode {mode!r} is not one of {', '.join(MODES)}")
    return mode


def _numpy_dispatch_targets() -> list[str]:
    """Every SIMD target NumPy's build dispatches to above its baseline, e.g. ``["X86_V3",
    "X86_V4", ...]``: the same list on every CPU (disabling one a CPU lacks is a no-op)."""
    from numpy._core import _multiarray_umath as mu

    return list(getattr(mu, "__cpu_dispatch__", []))


def _hwcaps(tunables: str) -> list[str]:
    """The ``glibc.cpu.hwcaps`` items of a GLIBC_TUNABLES value, e.g. ``["-AVX2", "-FMA"]``."""
    items = [p.split("=", 1)[1] for p in tunables.split(":") if p.startswith("glibc.cpu.hwcaps=")]
    return [x for item in items for x in item.split(",") if x]


def _glibc_tunables(current: str) -> str:
    """``current`` GLIBC_TUNABLES with the hwcaps mask added (other tunables and masks kept)."""
    parts = [p for p in current.split(":") if p and not p.startswith("glibc.cpu.hwcaps=")]
    caps = _hwcaps(current)
    caps += [c for c in HWCAPS_MASK if c not in caps]
    return ":".join([*parts, "glibc.cpu.hwcaps=" + ",".join(caps)])


def pinned_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables the portable mode sets, given the environment ``env`` it starts from
    (features ``env`` already disables for NumPy stay disabled)."""
    disabled = env.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split()
    disabled += [t for t in _numpy_dispatch_targets() if t not in disabled]
    return {**FIXED_PINS, "NPY_DISABLE_CPU_FEATURES": " ".join(disabled),
            "GLIBC_TUNABLES": _glibc_tunables(env.get("GLIBC_TUNABLES", "")), PINS_MARK: "1"}


def target_env(mode: str, env: Mapping[str, str]) -> dict[str, str]:
    """``env`` as a process of numerics ``mode`` must start with: the pins added (portable),
    or removed where this module set them (fast, e.g. in a child of a portable process)."""
    out = dict(env)
    if mode == "portable":
        out.update(pinned_env(env))
        out.pop("NPY_ENABLE_CPU_FEATURES", None)
    elif env.get(PINS_MARK):
        for name in (*PINNED_NAMES, PINS_MARK):
            out.pop(name, None)
    out[MODE_ENV] = mode
    return out


def _initial_environ() -> dict[str, str]:
    """The environment this process started with (Linux: ``/proc/self/environ``, which later
    ``os.environ`` changes do not touch); elsewhere ``os.environ``."""
    try:
        with open("/proc/self/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return dict(os.environ)
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def pins_at_start(env: Mapping[str, str] | None = None) -> bool:
    """True if ``env`` (default: what this process started with) holds every pin."""
    env = _initial_environ() if env is None else env
    fixed = all(env.get(k) == v for k, v in FIXED_PINS.items())
    npy = set(env.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split())
    return fixed and set(HWCAPS_MASK) <= set(_hwcaps(env.get("GLIBC_TUNABLES", ""))) and \
        set(_numpy_dispatch_targets()) <= npy


def ensure_process(mode: str | None = None) -> None:
    """Make this process compute in numerics ``mode``: where the environment it started with
    does not match, re-execute the same command line (``sys.orig_argv``) with the matching
    environment. Call it before torch does any work; it returns where no re-execution is
    needed, and in a process that already re-executed itself (no loop).

    Raises ``ValueError`` for an unknown mode."""
    mode = resolve_mode(mode)
    os.environ[MODE_ENV] = mode
    started = _initial_environ()
    ours = bool(started.get(PINS_MARK))
    matches = pins_at_start(started) if mode == "portable" else not ours
    if matches or started.get(EXEC_GUARD) == str(os.getpid()):
        return
    env = {**target_env(mode, started), EXEC_GUARD: str(os.getpid())}
    sys.stdout.flush()
    sys.stderr.flush()
    argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
    os.execve(sys.executable, argv, env)


def apply_runtime() -> None:
    """The pins torch takes at run time: oneDNN and NNPACK off in the portable mode (both pick
    kernels by CPU). Call it once torch is imported; a no-op in the fast mode."""
    import torch

    if resolve_mode() == "portable":
        torch.backends.mkldnn.enabled = False
        torch.backends.nnpack.set_flags(False)


def _in_force() -> bool:
    """True when every pin holds here: an x86-64 glibc system, started with the pins, NumPy's
    dispatch targets off, torch on its default kernels with oneDNN off."""
    import torch

    from numpy._core import _multiarray_umath as mu

    machines, libc = PLATFORMS
    platform_ok = platform.machine() in machines and platform.libc_ver()[0] == libc
    numpy_off = not any(mu.__cpu_features__.get(t) for t in _numpy_dispatch_targets())
    return (platform_ok and pins_at_start() and numpy_off and torch.backends.cpu.get_cpu_capability() == "DEFAULT"
            and not torch.backends.mkldnn.enabled)


@lru_cache(maxsize=1)
def cpu_info() -> dict[str, Any]:
    """``{"model": ..., "isa": [...]}``: the CPU's model name and the ISA flags that the
    libraries above dispatch on (from ``/proc/cpuinfo``; platform data elsewhere)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model in ("", platform.processor(), platform.machine()):
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return {"model": model, "isa": [f for f in _ISA_FLAGS if f in flags]}


def numerics_identity() -> str:
    """``"portable"`` when every pin holds in this process, else ``"fast-<ATen capability>-<8
    hex digits>"``, a digest of what picks the code paths: the machine, CPU model and ISA
    flags, the code-path variables the process started with (``STEERING_NAMES``) and
    whether oneDNN is on."""
    import torch

    apply_runtime()
    if _in_force():
        return "portable"
    info, env = cpu_info(), _initial_environ()
    steering = {k: env[k] for k in STEERING_NAMES if k in env}
    key = [platform.machine(), info["model"], info["isa"], steering, torch.backends.mkldnn.enabled]
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:8]
    return f"fast-{torch.backends.cpu.get_cpu_capability().lower()}-{digest}"


def provenance() -> dict[str, Any]:
    """What a run header records about the numerics: mode in force, CPU model and ISA flags,
    the pins it started with, and the C library."""
    env = _initial_environ()
    libc = " ".join(platform.libc_ver()).strip()
    return {"mode": numerics_identity(), "requested": resolve_mode(), "cpu": cpu_info(),
            "pins": {k: env[k] for k in PINNED_NAMES if k in env}, "libc": libc or None}


def worker_env() -> dict[str, str]:
    """The pins a worker process must start with to compute as this one does (Ray)."""
    env = _initial_environ()
    names = (*PINNED_NAMES, PINS_MARK, MODE_ENV)
    return {k: env[k] for k in names if k in env}
