"""Selection parity between a device and the CPU: ``python -m benchmark.perf.gpu_parity [--device cuda] [--tiny]``.

Each method selects once on the CPU and once with ``PoolState.device`` set to the device,
from the same synthetic inputs (``benchmark.perf.measure.synthetic_state``: Gaussian features,
softmax probabilities of Gaussian logits, built on the host exactly as a round's student
outputs are) and the same seeded generator. The selection kernels of the geometric
methods (k-center for coreset and pcoreset, k-means++ seeding for badge, nearest-centroid
assignment for cluster_margin) run in torch on that device; the uncertainty scores and
RAD run in numpy on the host whatever the device, so for them the check guards the
plumbing only. The default sizes are round 1 of the ``gpu-fashion`` suite: 49,000
unqueried points, 6,000 labeled, 2,450 queries, 64-d ResNet-20 embeddings, 10 classes.

Per method it prints one JSON line: ``equal`` (the same indices in the same order),
``same_set``, ``n_differ`` (indices chosen on one side only), ``first_diff_at`` (the first
position where the orders part; greedy methods diverge from there on),
``max_score_diff`` (the largest absolute difference, device minus CPU, of the quantity the
method ranks by; see ``ranking_quantity``), the selection times and the method's
diagnostics on each side. A final line gives the verdict. Exit status 0 when every method
selects identical indices, 1 otherwise (or when a method fails), 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from typing import Any

import numpy as np
import torch

DEFAULT_METHODS = ("coreset", "pcoreset", "badge", "cluster_margin", "margin", "entropy", "least_confidence", "rad")
FULL = {"n": 49000, "dim": 64, "classes": 10, "budget": 2450, "initial": 6000}
TINY = {"n": 400, "dim": 8, "classes": 4, "budget": 40, "initial": 50}
TEACHER_ERROR = 0.1  # RAD's adversary budget k = 0.1 n, so it samples instead of taking the top b


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def make_state(method_cls: type, device: str, sizes: dict[str, int], seed: int) -> tuple[Any, Any]:
    """A synthetic PoolState with the fields ``method_cls`` requires, for ``device``; the
    arrays depend only on ``sizes`` and ``seed``, never on the device."""
    from benchmark.perf.measure import synthetic_state

    state, view = synthetic_state(frozenset(method_cls.requires), method_cls.privileged, sizes["n"], sizes["dim"],
                                  sizes["classes"], sizes["initial"], device, seed)
    return dataclasses.replace(state, validation_teacher_error=TEACHER_ERROR), view


def _rows(x: torch.Tensor, rows: int = 4096):
    for s in range(0, len(x), rows):
        yield x[s:s + rows]


def ranking_quantity(name: str, state: Any) -> tuple[str, np.ndarray]:
    """What ``name``'s rule ranks by, recomputed here with plain torch operations in float32
    (the precision of the selection kernels' inputs) on ``state.device``: (description, (n,)
    float64). It measures how far the device's arithmetic drifts from the CPU's on these
    inputs, independently of how a method's kernel is written.

    coreset / pcoreset: squared distance of every unqueried point to its nearest initial
    center. badge: squared distance of every gradient embedding (onehot(argmax p) - p) ⊗ h to
    the one of largest norm (its first pick). rad and cluster_margin: the margin gain they rank
    by. Other score methods: their score."""
    from methods.kcenter import KCenterMethod
    from methods.uncertainty import GAINS
    from benchmark.core.registry import METHODS

    cls = METHODS.get(name)
    dev = torch.device(state.device)

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float32)).to(dev)

    if issubclass(cls, KCenterMethod):
        x, c = t(getattr(state, cls.points_field)), t(getattr(state, cls.centers_field))
        mu = torch.cat([x, c]).mean(dim=0)
        x, c = x - mu, c - mu
        d = torch.cat([torch.cdist(xb, c).square().min(dim=1).values for xb in _rows(x)])
        return f"squared distance to the nearest center ({cls.points_field})", d.double().cpu().numpy()
    if name == "badge":
        p, h = t(state.student_probs), t(state.student_embeddings)
        a = -p
        a[torch.arange(len(p), device=dev), p.argmax(dim=1)] += 1.0
        h = h - h.mean(dim=0)
        g2 = (a * a).sum(dim=1) * (h * h).sum(dim=1)
        j = int(g2.argmax())
        d = (g2 + g2[j] - 2.0 * (a @ a[j]) * (h @ h[j])).clamp(min=0.0)
        return "squared gradient-embedding distance to the first pick", d.double().cpu().numpy()
    if name in ("rad", "cluster_margin"):
        return "margin gain", np.asarray(GAINS["margin"](np.asarray(state.student_probs)), dtype=np.float64)
    score = getattr(cls(), "score", None)
    if score is not None:
        return "score", np.asarray(score(state), dtype=np.float64)
    return "none", np.zeros(0)


def _select(cls: type, state: Any, view: Any, budget: int, seed: int) -> tuple[np.ndarray, float, dict[str, Any]]:
    method = cls()
    _sync(state.device)
    t0 = time.perf_counter()
    idx = method.select(state, budget, np.random.default_rng(seed), privileged=view)
    _sync(state.device)
    return np.asarray(idx), time.perf_counter() - t0, dict(getattr(method, "diagnostics_", {}))


def compare_method(name: str, device: str, sizes: dict[str, int], seed: int = 0) -> dict[str, Any]:
    """Select with ``name`` on the CPU and on ``device`` from the same inputs; the JSON-able
    comparison (see the module docstring)."""
    from benchmark.core.registry import METHODS

    cls = METHODS.get(name)
    ref_state, view = make_state(cls, "cpu", sizes, seed)
    dev_state, dev_view = make_state(cls, device, sizes, seed)
    ref, ref_s, ref_diag = _select(cls, ref_state, view, sizes["budget"], seed)
    got, got_s, got_diag = _select(cls, dev_state, dev_view, sizes["budget"], seed)
    what, q_ref = ranking_quantity(name, ref_state)
    _, q_dev = ranking_quantity(name, dev_state)
    parted = np.flatnonzero(ref != got)
    return {"what": "parity", "method": name, "device": device, "equal": bool(np.array_equal(ref, got)),
            "same_set": bool(set(ref.tolist()) == set(got.tolist())),
            "n_differ": int(len(np.setdiff1d(ref, got))),
            "first_diff_at": int(parted[0]) if len(parted) else None,
            "max_score_diff": float(np.abs(q_dev - q_ref).max()) if q_ref.size else 0.0, "score": what,
            "seconds_cpu": round(ref_s, 4), "seconds_device": round(got_s, 4),
            "diagnostics_cpu": ref_diag, "diagnostics_device": got_diag}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmark.perf.gpu_parity", description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="the device compared with the CPU: cuda, cuda:N or cpu "
                                                     "(cpu against cpu checks the script) (default: %(default)s)")
    ap.add_argument("--tiny", action="store_true", help=f"small sizes {TINY} instead of {FULL}")
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                    help="comma-separated registered methods (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the inputs and the selection (default: 0)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from benchmark.core.errors import ConfigError
    from benchmark.core.registry import METHODS
    from benchmark.run.train import resolve_device

    args = parse_args(argv)
    names = [m for m in args.methods.split(",") if m]
    try:
        device = str(resolve_device(args.device))
        for name in names:
            METHODS.get(name)
    except (ConfigError, LookupError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sizes = TINY if args.tiny else FULL
    print(json.dumps({"what": "setup", "device": device, "torch": torch.__version__, **sizes}), flush=True)
    failed = []
    for name in names:
        try:
            row = compare_method(name, device, sizes, args.seed)
        except Exception as e:  # report every method, then fail
            row = {"what": "parity", "method": name, "device": device, "equal": False,
                   "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(row, default=str), flush=True)
        if not row["equal"]:
            failed.append(name)
    verdict = "identical" if not failed else f"different or failing: {', '.join(failed)}"
    print(f"selection parity {device} vs cpu: {len(names) - len(failed)}/{len(names)} methods identical"
          + ("" if not failed else f"; {verdict}"), flush=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
