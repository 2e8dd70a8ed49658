"""One run: (task, method, seed) -> RunRecord, round by round.

Round 0 trains the student on the labeled set alone. Each round r = 1..R builds a
``PoolState``, asks the method for ``queries_per_round`` pool indices, pays the
``TeacherOracle`` for their soft labels, retrains the student on labeled + queried, evaluates
on test, and rewrites the run file atomically. A run file that exists is resumed: its
queries are replayed into a fresh ledger and the last student is retrained
deterministically, so an interrupted and restarted run equals an uninterrupted one.

Randomness: the student's initialisation and minibatch order at round r come from
(seed, task, r) only, so every method starts each round from the same student; the
method's generator comes from (seed, task, method, params, r).

Mixed queries: when a method asks for them (``AcquisitionMethod.mix``, e.g. ``unixkd`` with
mixup), the harness builds the inputs (1 - w) x_i + w x_partner, pays the oracle for them
(the teacher model, loaded from its cache, answers; each counts as one query and consumes
x_i), and trains on those inputs. The partners and weights are stored in the round record
under ``method["mixup"]`` so that a resumed run rebuilds exactly the same inputs.

Methods that need ``initial_pool_embeddings`` get the round-0 student's features; on resume
the round-0 student is rebuilt (deterministically) for them.
"""
from __future__ import annotations

import copy
import platform
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from benchmark import paths
from benchmark.compute import compute_identity
from benchmark.config import ConfigError, MethodEntry, TaskConfig, spec_dict, stable_hash
from benchmark.data import load_data, make_splits
from benchmark.errors import RunConflictError
from benchmark.models import build_model
from benchmark.noise import OUTPUT_KINDS, flip_new_answers
from benchmark.registry import METHODS
from benchmark.results import SCHEMA_VERSION, FileStore, RoundRecord, RunRecord, RunStore, run_path
from benchmark.seeding import derive_rng, derive_seed
from benchmark.state import MC_SAMPLES, PoolState, PrecomputedFeatures, PrivilegedView, StudentFeatures
from benchmark.teacher import TeacherOracle, TeacherOutputs, frozen_array, get_teacher, load_teacher_model
from benchmark.train import accuracy, check_trainable, fit, make_train_set, new_model, nll, predict
from benchmark.errors import MethodError, MethodFailure
from methods.base import MixupPlan


@dataclass(frozen=True)
class RunSpec:
    """What to run: ``suite`` names the results folder; ``method`` carries label and params."""

    suite: str
    task: TaskConfig
    method: MethodEntry
    seed: int


def instantiate_method(entry: MethodEntry) -> Any:
    cls = METHODS.get(entry.name)
    unknown = sorted(set(entry.params) - set(cls.param_names()))
    if unknown:
        raise ConfigError(f"method {entry.name!r}: unknown parameter {unknown[0]!r}; "
                          f"valid parameters: {cls.param_names() or 'none'}")
    method = cls(**entry.params)
    method.validate_params()
    return method


@lru_cache(maxsize=1)
def _code_provenance() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(paths.REPO_ROOT), *args], capture_output=True, text=True, timeout=10)
            return out.stdout.strip() if out.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            return None

    # only a checkout of this project has a SHA: an installed package inside some other
    # repository (a venv in a project folder) must not record that repository's
    top = git("rev-parse", "--show-toplevel")
    ours = top is not None and Path(top).resolve() == paths.REPO_ROOT.resolve()
    sha = git("rev-parse", "HEAD") if ours else None
    status = git("status", "--porcelain", "--untracked-files=no") if ours else None
    versions = {}
    for pkg in ("akd-bench", "torch", "numpy", "datasets", "transformers", "pandas", "scikit-learn", "scipy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"git_sha": sha, "git_dirty": bool(status) if status is not None else None, "packages": versions,
            "python": platform.python_version(), "platform": platform.platform()}


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu ({torch.get_num_threads()} threads)"


def _compute_text(compute: dict[str, Any] | None) -> str:
    """``device cpu, 1 threads, float32, torch 2.13`` (or ``unknown`` for old run files)."""
    if not compute:
        return "unknown"
    threads = f", {compute['threads']} threads" if compute.get("threads") else ""
    return f"device {compute.get('device')}{threads}, {compute.get('precision')}, torch {compute.get('torch')}"


def _round_state(r: int, oracle: TeacherOracle, num_classes: int, pool_size: int, y_lab: np.ndarray,
                 soft_parts: list[np.ndarray], val_err: float, requires: frozenset[str], device: torch.device,
                 features: StudentFeatures, initial: dict[str, np.ndarray]) -> PoolState:
    """Round ``r``'s ``PoolState``. The fields the method requires are computed here, before it
    runs, into read-only copies: the state holds no reference to the student, its inputs or
    any other harness object, so nothing a method does to what it is given reaches the run."""
    per_round = set(requires) - {"initial_pool_embeddings"}
    arrays = {k: frozen_array(v) for k, v in features.compute(per_round).items()}
    if "initial_pool_embeddings" in requires:
        if not initial:
            initial.update({k: frozen_array(v) for k, v in features.compute({"initial_pool_embeddings"}).items()})
        arrays.update(initial)
    return PoolState(round=r, budget_left=oracle.budget_left, num_classes=num_classes, pool_size=pool_size,
                     labeled=np.arange(len(y_lab)), labeled_y=y_lab, unlabeled=oracle.unqueried(),
                     queried=oracle.queried(), queried_soft_labels=np.concatenate(soft_parts),
                     validation_teacher_error=val_err, requires=requires, device=str(device),
                     _features=PrecomputedFeatures(arrays))


def _ask_method(method: Any, state: PoolState, budget: int, rng: np.random.Generator, view: Any,
                where: str) -> tuple[np.ndarray, MixupPlan | None, dict[str, Any]]:
    """The method's selection, mixing plan and diagnostics for one round. Whatever goes wrong
    inside the method (an exception or a bad answer) becomes one ``MethodFailure`` that names
    the method and ``where`` (task, seed, round)."""
    try:
        idx = method.select(state, budget, rng, privileged=view)
        diag = dict(getattr(method, "diagnostics_", {}))
        if "mixup" in diag:
            raise MethodError("the diagnostics key 'mixup' is reserved for the harness's record of mixed queries")
        return idx, getattr(method, "mixup_", None), diag
    except Exception as e:  # noqa: BLE001  (a faulty method must not take the grid down)
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MethodFailure(f"method {method.name!r} ({where}): {type(e).__name__}: {reason}"
                            if not isinstance(e, MethodError) else f"method {method.name!r} ({where}): {reason}") from e


def _plan_from_record(diag: dict[str, Any]) -> MixupPlan | None:
    """The mixed-query plan a finished round stored, or None for plain queries."""
    mix = diag.get("mixup")
    if mix is None:
        return None
    return MixupPlan(np.asarray(mix["partners"], dtype=np.int64), np.asarray(mix["weights"], dtype=np.float64))


def execute_run(spec: RunSpec, out: Path, device: torch.device, fresh: bool = False,
                on_round: Callable[[RunRecord], None] | None = None,
                log: Callable[[str], None] = lambda s: None, store: RunStore | None = None,
                teacher: TeacherOutputs | None = None) -> RunRecord:
    """Run (or resume, or skip if finished) one run and return its complete record.

    ``store`` keeps the record between rounds (default: the run file under ``out``);
    ``teacher`` gives the teacher's outputs when an executor computed them elsewhere
    (default: ``get_teacher``, from the cache or trained here)."""
    task, seed = spec.task, spec.seed
    method = instantiate_method(spec.method)
    # What a method may see is fixed here, from its registered class, before the first round:
    # nothing the method does at run time (setting ``privileged`` or ``requires``) changes it.
    registered = METHODS.get(spec.method.name)
    privileged, requires = bool(registered.privileged), frozenset(registered.requires)
    data = load_data(task.data)
    splits = make_splits(data, task.splits, seed)
    n_pool, C = len(splits.pool), data.num_classes
    q = task.queries_per_round
    if task.rounds * q > n_pool:
        raise ConfigError(f"task {task.name!r}: rounds x queries_per_round = {task.rounds} x {q} = "
                          f"{task.rounds * q} exceeds the pool of {n_pool} points")
    params = method.get_params()
    compute = compute_identity(device)
    run_id = stable_hash({"schema": SCHEMA_VERSION, "task": task.to_dict(), "method": spec.method.name,
                          "method_version": method.version, "params": params, "seed": seed,
                          "data": data.fingerprint, "compute": compute}, length=20)
    store = store if store is not None else FileStore(run_path(out, spec.suite, task.label, spec.method.label, seed))
    record: RunRecord | None = None
    existing = None if fresh else store.load()  # a corrupt file raises here and is left untouched
    if existing is not None:
        if existing.run_id != run_id:
            raise RunConflictError(
                f"{store.where} holds a different run (run_id {existing.run_id}, this run {run_id}: the task, method "
                f"parameters, data or compute setting ({_compute_text(compute)}; stored: "
                f"{_compute_text(existing.provenance.get('compute'))}) changed); rerun with --fresh to replace "
                f"it or use another --out")
        if existing.complete:
            return existing
        record = existing
        log(f"resuming {store.where} after round {len(record.rounds) - 1}")

    if len(splits.labeled) < 2:  # a student that cannot train on the labeled set fails before the teacher is paid
        check_trainable(new_model(lambda: build_model(task.student, data.input_shape, C, data.meta), 0),
                        len(splits.labeled), f"task {task.name!r}: the labeled set")
    if teacher is None:
        teacher = get_teacher(task, data, splits, seed, device, log=log)
    x_pool, y_pool = splits.xy(data, "pool")
    x_lab, y_lab = splits.xy(data, "labeled")
    _, y_val = splits.xy(data, "validation")
    x_test, y_test = splits.xy(data, "test")
    val_err = teacher.validation_error(y_val)
    teacher_pool_pred = teacher.pool_probs.argmax(axis=1)

    if record is None:
        record = RunRecord(
            run_id=run_id, suite=spec.suite, task=task.label, task_version=task.version, method=spec.method.name,
            method_label=spec.method.label, method_version=method.version, params=params, seed=seed,
            privileged=privileged, rounds_planned=task.rounds, queries_per_round=q,
            data_fingerprint=data.fingerprint,
            teacher={"model": task.teacher.model.name, "train_on": task.teacher.train_on,
                     "validation_error": val_err, "test_accuracy": accuracy(teacher.test_probs, y_test),
                     "pool_accuracy": float((teacher_pool_pred == y_pool).mean()),
                     **({"noise": spec_dict(task.teacher.noise)} if task.teacher.noise is not None else {})},
            provenance={**_code_provenance(), "device": _device_name(device), "compute": compute,
                        "task_config": task.to_dict(),
                        "label_names": list(data.label_names),  # class i of the run is label_names[i] in the data
                        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "wall_seconds": 0.0},
        )
    session_start, wall_before = time.perf_counter(), float(record.provenance.get("wall_seconds", 0.0))

    teacher_model: list[torch.nn.Module] = []

    mixed_calls = [0]

    def answer_inputs(x: np.ndarray) -> np.ndarray:
        """The teacher's logits on new inputs (mixed queries only), under the task's teacher
        noise like every other answer; its model is loaded on first use."""
        if not teacher_model:
            teacher_model.append(load_teacher_model(task, data, splits, seed, device, log=log))
        logits = predict(teacher_model[0], x, device, logits=True)[0]
        noise = task.teacher.noise
        if noise is None or noise.kind not in OUTPUT_KINDS:
            return logits
        mixed_calls[0] += 1  # the k-th call of a run: a resumed run replays the calls in order
        return flip_new_answers(logits, noise.kind, noise.rate, C, seed, task.name, f"mixed-{mixed_calls[0]}")

    oracle = TeacherOracle(teacher.pool_logits, budget=task.rounds * q, answer_inputs=answer_inputs)
    soft_parts: list[np.ndarray] = [np.zeros((0, C), np.float32)]
    x_parts: list[np.ndarray] = [x_pool[:0]]  # the inputs trained on for the queried points, in query order
    x_pool_t = torch.from_numpy(x_pool)
    if device.type == "cuda":  # keep the pool resident on the GPU for the per-round passes
        x_pool_t = x_pool_t.to(device)
    need_initial = "initial_pool_embeddings" in requires
    mc_samples = max(MC_SAMPLES, int(getattr(method, "mc_samples", 0) or 0))  # the passes a method asks for
    initial: dict[str, np.ndarray] = {}  # the round-0 student's pool features, computed once per run
    student0: torch.nn.Module | None = None

    def pay(idx: np.ndarray, plan: MixupPlan | None) -> np.ndarray:
        """Query the teacher on this round's points (or on the mixed inputs built from them);
        returns the soft labels (b, C) and stores them with the inputs to train on."""
        if plan is None:
            soft, x_q = oracle.query(idx), x_pool[idx]
        else:
            if not np.issubdtype(x_pool.dtype, np.floating):
                raise ConfigError(f"method {spec.method.name!r} mixes inputs, but task {task.name!r} has "
                                  f"{x_pool.dtype} inputs; mixing needs real-valued inputs")
            w = plan.weights.astype(x_pool.dtype).reshape(-1, *([1] * (x_pool.ndim - 1)))
            x_q = (1 - w) * x_pool[idx] + w * x_pool[plan.partners]
            soft = oracle.query(idx, inputs=x_q, use_inputs=plan.mixed)
        soft_parts.append(soft)
        x_parts.append(x_q)
        return soft

    def build() -> torch.nn.Module:
        return build_model(task.student, data.input_shape, C, data.meta)

    def train_round(r: int, prev: torch.nn.Module | None) -> torch.nn.Module:
        queried = oracle.queried()
        ts = make_train_set(x_lab, y_lab, np.concatenate(x_parts) if len(queried) else None,
                            oracle.answered_logits() if len(queried) else None, C, task.train, device)
        if task.train.warm_start and prev is not None:
            model = prev
        else:
            model = new_model(build, derive_seed(seed, task.name, "student-init", r))
        return fit(model, ts, task.train, derive_seed(seed, task.name, "student-train", r), device)

    # Resume: replay the paid queries of finished rounds and retrain the last student (every
    # student of the chain when warm-starting); training is deterministic, so this is exact.
    student = None
    n_done = len(record.rounds)
    for r in range(n_done):
        if r > 0:
            done = record.rounds[r]
            pay(np.asarray(done.queried, dtype=np.int64), _plan_from_record(done.method))
        if task.train.warm_start or r == n_done - 1 or (r == 0 and need_initial):
            student = train_round(r, student)
        if r == 0 and need_initial:
            student0 = copy.deepcopy(student) if task.train.warm_start else student
    sel_seed = stable_hash(params)
    for r in range(len(record.rounds), task.rounds + 1):
        select_s, t_acc_q, gain, diag = 0.0, None, None, {}
        idx = np.zeros(0, dtype=np.int64)
        if r > 0:
            t0 = time.perf_counter()
            state = _round_state(r, oracle, C, n_pool, y_lab, soft_parts, val_err, requires, device,
                                 StudentFeatures(student, x_pool_t, oracle.unqueried(),
                                                 torch.from_numpy(np.concatenate([x_lab, *x_parts[1:]])), device,
                                                 initial_model=student0, mc_samples=mc_samples,
                                                 mc_seed=derive_seed(seed, task.name, "student_mc_probs", r)), initial)
            view = PrivilegedView(y_pool, teacher.pool_probs) if privileged else None
            rng = derive_rng(seed, task.name, spec.method.name, sel_seed, "select", r)
            idx, plan, diag = _ask_method(method, state, q, rng, view, f"task {task.label}, seed {seed}, round {r}")
            select_s = time.perf_counter() - t0
            soft = pay(idx, plan)
            if plan is None:
                t_acc_q = float((teacher_pool_pred[idx] == y_pool[idx]).mean())
            else:  # a mixed input's dominant component is the queried point (weights <= 0.5)
                diag["mixup"] = {"partners": plan.partners.tolist(), "weights": plan.weights.tolist()}
                t_acc_q = float((soft.argmax(axis=1) == y_pool[idx]).mean())
            p_sel, _ = predict(student, x_pool_t, device, index=idx)
            p_sorted = np.sort(p_sel, axis=1)
            gain = float((1.0 - (p_sorted[:, -1] - p_sorted[:, -2])).mean()) if C > 1 else 0.0
        t0 = time.perf_counter()
        student = train_round(r, student)
        train_s = time.perf_counter() - t0
        if r == 0 and need_initial:
            student0 = copy.deepcopy(student) if task.train.warm_start else student
        p_test, _ = predict(student, x_test, device)
        record.rounds.append(RoundRecord(
            round=r, n_labeled=len(y_lab), n_queries=oracle.n_queries, queried=[int(i) for i in idx],
            test_accuracy=accuracy(p_test, y_test), test_nll=nll(p_test, y_test),
            teacher_agreement=float((p_test.argmax(1) == teacher.test_probs.argmax(1)).mean()),
            teacher_accuracy_on_queried=t_acc_q, mean_gain=gain, select_seconds=select_s,
            train_seconds=train_s, method=diag))
        record.provenance["wall_seconds"] = wall_before + time.perf_counter() - session_start
        if r == task.rounds:
            record.finish(record.provenance["wall_seconds"])
        store.save(record)
        if on_round is not None:
            on_round(record)
    return record
