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

Student-gain teacher noise (``flip_informative``, ``flip_adaptive``; ``benchmark.run.gain_noise``):
after round 0's training the harness places the teacher's mistakes by the round-0 student's
gain (pool, validation, test); under ``flip_adaptive`` it places them again on the unqueried
pool and the validation split after every later round's training, by the student that selects
next. The oracle answers from the placement in force when a point is bought; each round record
keeps the placement's audit (``teacher_noise``), from which a resumed run replays the answers
it paid for, and the round-0 student is rebuilt on resume to place the rest.

Structure: ``execute_run`` plans the run (``_plan_run``: method, data, splits, run id), looks
for a stored record (``_stored_record``), gets the teacher, and hands over to a ``_RunLoop``,
which holds the run's state and plays its steps: ``resume``, then per round ``select``, ``pay``,
``train``, ``evaluate`` and ``record_round``.
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
from typing import Any, Callable, Iterator

import numpy as np
import torch

from benchmark.core import code_fingerprint, paths
from benchmark.core.compute import compute_identity
from benchmark.core.numerics import provenance as numerics_provenance
from benchmark.core.config import ConfigError, MethodEntry, TaskConfig, spec_dict, stable_hash
from benchmark.data import LoadedData, Splits, load_data, make_splits
from benchmark.core.errors import ResultsError, RunConflictError
from benchmark.models import build_model
from benchmark.run.conflict import check_same_code, check_same_run
from benchmark.run.gain_noise import GainNoise
from benchmark.run.noise import FLIP_KINDS, STUDENT_KINDS, flip_new_answers
from benchmark.core.registry import METHODS
from benchmark.core.results import SCHEMA_VERSION, FileStore, RoundRecord, RunRecord, RunStore, run_path
from benchmark.core.seeding import derive_rng, derive_seed
from benchmark.run.state import MC_SAMPLES, PoolState, PrecomputedFeatures, PrivilegedView, StudentFeatures
from benchmark.run.teacher import TeacherOracle, TeacherOutputs, frozen_array, get_teacher, load_teacher_model
from benchmark.run.stacked import FitJob
from benchmark.run.train import accuracy, check_trainable, make_train_set, new_model, nll, predict
from benchmark.core.errors import MethodError, MethodFailure
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


@dataclass(frozen=True)
class _RunPlan:
    """What a run is, fixed before anything is read from its store or paid to the teacher.

    ``method`` is the instantiated (validated) method; ``privileged`` and ``requires`` come from
    its registered class, so nothing the method does at run time changes what it may see.
    ``run_id`` (20 hex digits) is the hash of ``identity``, the run's configuration: task,
    method and version, parameters, seed, data fingerprint and compute setting.
    ``method_code`` is the fingerprint of the method's code (``benchmark.core.code_fingerprint``;
    None when its source cannot be found); it is recorded in the run header but is not part of
    the run id, so a changed method is refused where it meets its stored results
    (``benchmark.run.conflict.check_same_code``) instead of silently starting a second run."""

    spec: RunSpec
    method: Any
    privileged: bool
    requires: frozenset[str]
    data: LoadedData
    splits: Splits
    params: dict[str, Any]
    compute: dict[str, Any]
    identity: dict[str, Any]
    run_id: str
    method_code: str | None


def _plan_run(spec: RunSpec, device: torch.device) -> _RunPlan:
    """Instantiate the method, load the data and split it for the seed, and derive the run id.

    Raises ``ConfigError`` for an unknown or invalid method parameter and for a task whose
    ``rounds x queries_per_round`` exceeds the pool."""
    task, seed = spec.task, spec.seed
    method = instantiate_method(spec.method)
    registered = METHODS.get(spec.method.name)
    data = load_data(task.data)
    splits = make_splits(data, task.splits, seed)
    n_pool, q = len(splits.pool), task.queries_per_round
    if task.rounds * q > n_pool:
        raise ConfigError(f"task {task.name!r}: rounds x queries_per_round = {task.rounds} x {q} = "
                          f"{task.rounds * q} exceeds the pool of {n_pool} points")
    params = method.get_params()
    compute = compute_identity(device)
    identity = {"schema": SCHEMA_VERSION, "task": task.to_dict(), "method": spec.method.name,
                "method_version": method.version, "params": params, "seed": seed, "data": data.fingerprint,
                "compute": compute}
    return _RunPlan(spec, method, bool(registered.privileged), frozenset(registered.requires), data, splits,
                    params, compute, identity, stable_hash(identity, length=20),
                    code_fingerprint.method_code(registered))


def _stored_record(plan: _RunPlan, store: RunStore, log: Callable[[str], None]) -> RunRecord | None:
    """Resume, first half: the record ``store`` holds for this run (complete or partial), or None.

    Logs ``resuming <where> after round k`` for a partial record. Raises ``RunConflictError``
    when the store holds a different run (another run id; the message names the fields that
    differ) or a run made by other code of the method (a record without a code fingerprint,
    written before it was recorded, is accepted), and whatever ``store.load`` raises for a
    corrupt record (the stored file is left untouched)."""
    existing = store.load()
    if existing is None:
        return None
    check_same_run(existing, plan.identity, plan.run_id, store.where)
    check_same_code(existing, plan.method_code, store.where)
    if not existing.complete:
        log(f"resuming {store.where} after round {len(existing.rounds) - 1}")
    return existing


def _build_student(plan: _RunPlan) -> torch.nn.Module:
    """A new, untrained student for the task (initialised from torch's current RNG)."""
    task, data = plan.spec.task, plan.data
    return build_model(task.student, data.input_shape, data.num_classes, data.meta)


def _check_labeled_set(plan: _RunPlan) -> None:
    """Raise ``ConfigError`` if the student cannot train on a labeled set of fewer than two
    examples (BatchNorm), so that such a run fails before the teacher is trained or paid."""
    n_labeled = len(plan.splits.labeled)
    if n_labeled < 2:
        check_trainable(new_model(lambda: _build_student(plan), 0), n_labeled,
                        f"task {plan.spec.task.name!r}: the labeled set")


class _MixedAnswers:
    """The teacher's logits on new inputs (mixed queries only): ``(k, ...) -> (k, C)``.

    The ``TeacherOracle`` calls it for the mixed inputs it is paid for. The teacher model is
    loaded from its cache on the first call; the task's teacher noise applies as to every other
    answer, keyed by the call's number within the run (a resumed run replays the calls in order).
    A new input has no rank among a split's points, so under ``flip_hard`` and the student-gain
    kinds each answer is flipped with probability ``rate``, as under ``flip_uniform``."""

    def __init__(self, plan: _RunPlan, device: torch.device, log: Callable[[str], None]) -> None:
        self._plan, self._device, self._log = plan, device, log
        self._model: torch.nn.Module | None = None
        self._calls = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        p, task, seed = self._plan, self._plan.spec.task, self._plan.spec.seed
        if self._model is None:
            self._model = load_teacher_model(task, p.data, p.splits, seed, self._device, log=self._log)
        logits = predict(self._model, x, self._device, logits=True)[0]
        noise = task.teacher.noise
        if noise is None or noise.kind not in FLIP_KINDS:
            return logits
        self._calls += 1  # the k-th call of a run
        return flip_new_answers(logits, noise.kind, noise.rate, p.data.num_classes, seed, task.name,
                                f"mixed-{self._calls}")


@dataclass
class _Query:
    """One round's paid query as recorded: the queried pool indices ``idx`` (b,), the method's
    diagnostics (plus ``mixup`` for mixed queries), the seconds the selection took, the
    teacher's accuracy on the queried points and the student's mean margin gain on them
    (None in round 0, which queries nothing), and the audit of a student-gain teacher noise
    (``RoundRecord.teacher_noise``; None otherwise)."""

    idx: np.ndarray
    diag: dict[str, Any]
    select_seconds: float = 0.0
    teacher_accuracy: float | None = None
    mean_gain: float | None = None
    noise_audit: dict[str, Any] | None = None


class _RunLoop:
    """The state of one run between rounds, and its steps.

    Holds the run's record, the ``TeacherOracle`` (the ledger of paid queries), the inputs and
    soft labels paid for so far (in query order), the current student and, for methods that
    require ``initial_pool_embeddings``, the round-0 student and its pool features. Pool labels
    and teacher outputs stay here: a method sees only the read-only ``PoolState`` that
    ``select`` builds (and a ``PrivilegedView`` if its class is privileged), and the oracle
    hands out only answers that were paid for.

    ``run`` plays the steps: ``resume`` (replay a partial record), then per round ``select``,
    ``pay``, ``train``, ``evaluate`` and ``record``."""

    def __init__(self, plan: _RunPlan, record: RunRecord | None, teacher: TeacherOutputs, device: torch.device,
                 store: RunStore, on_round: Callable[[RunRecord], None] | None, log: Callable[[str], None]) -> None:
        self.plan, self.task, self.seed = plan, plan.spec.task, plan.spec.seed
        self.teacher, self.device, self.store, self.on_round = teacher, device, store, on_round
        data, splits, self.C = plan.data, plan.splits, plan.data.num_classes
        self.x_pool, self.y_pool = splits.xy(data, "pool")
        self.x_lab, self.y_lab = splits.xy(data, "labeled")
        self.x_val, self.y_val = splits.xy(data, "validation")
        self.x_test, self.y_test = splits.xy(data, "test")
        self.val_err = teacher.validation_error(self.y_val)
        self.teacher_pool_pred = teacher.pool_probs.argmax(axis=1)
        noise = self.task.teacher.noise
        self.gain_noise = (GainNoise(noise, teacher, self.C, self.seed, self.task.name)
                           if noise is not None and noise.kind in STUDENT_KINDS else None)
        self.record = record if record is not None else self._new_record()
        self.wall_before = float(self.record.provenance.get("wall_seconds", 0.0))
        self.busy_seconds, self.busy_since = 0.0, time.perf_counter()  # this run's own time (see steps)
        self.oracle = TeacherOracle(teacher.pool_logits, budget=self.task.rounds * self.task.queries_per_round,
                                    answer_inputs=_MixedAnswers(plan, device, log))
        self.soft_parts: list[np.ndarray] = [np.zeros((0, self.C), np.float32)]
        self.x_parts: list[np.ndarray] = [self.x_pool[:0]]  # the inputs trained on for the queried points
        self.x_pool_t = torch.from_numpy(self.x_pool)
        if device.type == "cuda":  # keep the pool resident on the GPU for the per-round passes
            self.x_pool_t = self.x_pool_t.to(device)
        self.need_initial = "initial_pool_embeddings" in plan.requires
        self.mc_samples = max(MC_SAMPLES, int(getattr(plan.method, "mc_samples", 0) or 0))  # the passes asked for
        self.initial: dict[str, np.ndarray] = {}  # the round-0 student's pool features, computed once per run
        self.student: torch.nn.Module | None = None
        self.student0: torch.nn.Module | None = None
        self.select_seed = stable_hash(plan.params)

    def _new_record(self) -> RunRecord:
        """The empty record of a run that starts from round 0, with the teacher's scores and the
        run's provenance (code, device, compute setting, task, start time)."""
        p, spec, task = self.plan, self.plan.spec, self.task
        noise = {"noise": spec_dict(task.teacher.noise)} if task.teacher.noise is not None else {}
        return RunRecord(
            run_id=p.run_id, suite=spec.suite, task=task.label, task_version=task.version, method=spec.method.name,
            method_label=spec.method.label, method_version=p.method.version, params=p.params, seed=self.seed,
            privileged=p.privileged, rounds_planned=task.rounds, queries_per_round=task.queries_per_round,
            data_fingerprint=p.data.fingerprint,
            teacher={"model": task.teacher.model.name, "train_on": task.teacher.train_on, **self._teacher_quality(),
                     **noise},
            provenance={**_code_provenance(), "device": _device_name(self.device), "compute": p.compute,
                        "method_code": p.method_code,  # not in the run id: see _RunPlan
                        "numerics": numerics_provenance(),
                        "task_config": task.to_dict(),
                        "label_names": list(p.data.label_names),  # class i of the run is label_names[i] in the data
                        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "wall_seconds": 0.0},
        )

    def _teacher_quality(self) -> dict[str, float]:
        """The teacher as it answers now: validation error, test and pool accuracy."""
        return {"validation_error": self.val_err, "test_accuracy": accuracy(self.teacher.test_probs, self.y_test),
                "pool_accuracy": float((self.teacher_pool_pred == self.y_pool).mean())}

    def _serve(self, teacher: TeacherOutputs) -> None:
        """Make ``teacher`` the teacher that answers from now on: the oracle's answers to later
        queries, the validation error methods see, and the hidden scores the harness records."""
        self.teacher = teacher
        self.oracle.set_answers(teacher.pool_logits)
        self.val_err = teacher.validation_error(self.y_val)
        self.teacher_pool_pred = teacher.pool_probs.argmax(axis=1)

    def place_noise(self, r: int) -> None:
        """After round ``r``'s training, place a student-gain teacher noise for round r + 1's
        queries by the student just trained: after round 0 for both kinds (every split), after
        every later round but the last for ``flip_adaptive`` (pool and validation). A new run
        records the teacher it first serves in its header. No-op for the other kinds."""
        gn = self.gain_noise
        if gn is None or r >= self.task.rounds or (r > 0 and not gn.adaptive):
            return
        inputs = {"pool": self.x_pool_t, "validation": self.x_val, "test": self.x_test}
        self._serve(gn.place(r + 1, self.student, inputs, self.oracle.unqueried(), self.device))
        if r == 0 and not self.record.rounds:
            self.record.teacher.update(self._teacher_quality())

    def _replay_answers(self, done: RoundRecord) -> None:
        """Before a recorded round's queries are paid again on resume: the oracle answers as it
        did then (the recorded flipped points flipped, the rest clean). Raises ``ResultsError``
        when the round lacks the record of a student-gain noise."""
        if self.gain_noise is None:
            return
        if done.teacher_noise is None or "flipped_queried" not in done.teacher_noise:
            raise ResultsError(f"{self.store.where}: round {done.round} has no teacher_noise record, which the "
                               f"{self.task.teacher.noise.kind} noise needs to resume; --fresh runs it again")
        self.oracle.set_answers(self.gain_noise.replayed(np.asarray(done.teacher_noise["flipped_queried"])))

    def run(self) -> RunRecord:
        """Resume, then play every round not yet recorded, training each student here; returns
        the complete record."""
        for job in self.steps():
            job.run_alone()
        return self.record

    def steps(self) -> Iterator[FitJob]:
        """The run as a sequence of training jobs: resume, then play every round not yet
        recorded. Each yielded ``FitJob`` must be trained (``fit``, or ``fit_many`` with other
        runs' jobs) before the run goes on; the record is complete once it is exhausted.

        The run's recorded wall time counts its own work and each job's ``seconds`` (its share
        of a stacked training), not the time it waits while other runs of a cohort play."""
        for job in self._all_steps():
            self.busy_seconds += time.perf_counter() - self.busy_since
            yield job
            self.busy_seconds += job.seconds
            self.busy_since = time.perf_counter()

    def _all_steps(self) -> Iterator[FitJob]:
        yield from self.resume()
        for r in range(len(self.record.rounds), self.task.rounds + 1):
            yield from self.play_round(r)

    def resume(self) -> Iterator[FitJob]:
        """Replay the paid queries of the recorded rounds into the fresh oracle and retrain the
        last student (every student of the chain when warm-starting, and the round-0 student
        for ``initial_pool_embeddings`` and for a student-gain teacher noise, whose recorded
        answers are replayed as they were given); training is deterministic, so this is exact.
        No-op for a new record."""
        n_done = len(self.record.rounds)
        need_first = self.need_initial or self.gain_noise is not None
        for r in range(n_done):
            if r > 0:
                done = self.record.rounds[r]
                self._replay_answers(done)
                self.pay(np.asarray(done.queried, dtype=np.int64), _plan_from_record(done.method))
            if self.task.train.warm_start or r == n_done - 1 or (r == 0 and need_first):
                yield from self.train(r)
            self._keep_initial_student(r)
            if r == 0 or r == n_done - 1:
                self.place_noise(r)
        if self.gain_noise is not None:  # the replayed answers gave way to the placement in force
            self.oracle.set_answers(self.teacher.pool_logits)

    def play_round(self, r: int) -> Iterator[FitJob]:
        """Round ``r``: query (``select`` and ``pay``; nothing in round 0), ``train``, ``evaluate``
        and ``record``. Raises ``MethodFailure`` when the method fails; the rounds recorded
        before stay in the store for a resume."""
        query = self.query(r) if r > 0 else _Query(np.zeros(0, dtype=np.int64), {})
        job = yield from self.train(r)
        self._keep_initial_student(r)
        self.place_noise(r)
        self.record_round(r, query, self.evaluate(), job.seconds)

    def query(self, r: int) -> _Query:
        """Round ``r``'s paid query: ``select``, ``pay``, then score what was bought: the
        teacher's accuracy on the queried points (for a mixed input, the teacher's answer on it
        against the queried point's label: its weight is at least 0.5) and the current
        student's mean margin gain on them; under a student-gain noise, the audit of its placement."""
        t0 = time.perf_counter()
        idx, mix, diag = self.select(r)
        select_seconds = time.perf_counter() - t0
        audit = None
        if self.gain_noise is not None:
            flipped = self.gain_noise.pool_flipped
            from_pool = idx if mix is None else idx[~mix.mixed]
            audit = {"flipped_queried": [int(i) for i in np.sort(from_pool[flipped[from_pool]])],
                     "flipped_unqueried": int(flipped[self.oracle.unqueried()].sum()),
                     "validation_error": self.val_err}
        soft = self.pay(idx, mix)
        if mix is None:
            teacher_accuracy = float((self.teacher_pool_pred[idx] == self.y_pool[idx]).mean())
        else:
            diag["mixup"] = {"partners": mix.partners.tolist(), "weights": mix.weights.tolist()}
            teacher_accuracy = float((soft.argmax(axis=1) == self.y_pool[idx]).mean())
        p_sel, _ = predict(self.student, self.x_pool_t, self.device, index=idx)
        p_sorted = np.sort(p_sel, axis=1)
        gain = float((1.0 - (p_sorted[:, -1] - p_sorted[:, -2])).mean()) if self.C > 1 else 0.0
        return _Query(idx, diag, select_seconds, teacher_accuracy, gain, audit)

    def pool_state(self, r: int) -> PoolState:
        """Round ``r``'s ``PoolState``. The fields the method requires are computed here, before
        it runs, into read-only copies: the state holds no reference to the student, its inputs
        or any other harness object, so nothing a method does to what it is given reaches the run.
        The round-0 student's pool features are computed once, on first request."""
        requires, task = self.plan.requires, self.task
        features = StudentFeatures(self.student, self.x_pool_t, self.oracle.unqueried(),
                                   torch.from_numpy(np.concatenate([self.x_lab, *self.x_parts[1:]])), self.device,
                                   initial_model=self.student0, mc_samples=self.mc_samples,
                                   mc_seed=derive_seed(self.seed, task.name, "student_mc_probs", r))
        arrays = {k: frozen_array(v) for k, v in features.compute(set(requires) - {"initial_pool_embeddings"}).items()}
        if "initial_pool_embeddings" in requires:
            if not self.initial:
                self.initial.update({k: frozen_array(v)
                                     for k, v in features.compute({"initial_pool_embeddings"}).items()})
            arrays.update(self.initial)
        return PoolState(round=r, budget_left=self.oracle.budget_left, num_classes=self.C,
                         pool_size=len(self.plan.splits.pool), labeled=np.arange(len(self.y_lab)),
                         labeled_y=self.y_lab, unlabeled=self.oracle.unqueried(), queried=self.oracle.queried(),
                         queried_soft_labels=np.concatenate(self.soft_parts), validation_teacher_error=self.val_err,
                         requires=requires, device=str(self.device), _features=PrecomputedFeatures(arrays))

    def select(self, r: int) -> tuple[np.ndarray, MixupPlan | None, dict[str, Any]]:
        """Ask the method for round ``r``'s ``queries_per_round`` pool indices, with its mixing
        plan (or None) and diagnostics. Its generator comes from (seed, task, method, params, r).
        Raises ``MethodFailure`` naming the method, task, seed and round if the method fails."""
        spec, task = self.plan.spec, self.task
        state = self.pool_state(r)
        view = PrivilegedView(self.y_pool, self.teacher.pool_probs) if self.plan.privileged else None
        rng = derive_rng(self.seed, task.name, spec.method.name, self.select_seed, "select", r)
        return _ask_method(self.plan.method, state, task.queries_per_round, rng, view,
                           f"task {task.label}, seed {self.seed}, round {r}")

    def pay(self, idx: np.ndarray, mix: MixupPlan | None) -> np.ndarray:
        """Query the teacher on the pool points ``idx`` (b,), or on the mixed inputs
        (1 - w) x_i + w x_partner built from them; returns the soft labels (b, C) and keeps them
        with the inputs to train on. Raises ``ConfigError`` for mixing non-real-valued inputs
        and whatever the oracle raises for a bad or over-budget query."""
        if mix is None:
            soft, x_q = self.oracle.query(idx), self.x_pool[idx]
        else:
            x_pool = self.x_pool
            if not np.issubdtype(x_pool.dtype, np.floating):
                raise ConfigError(f"method {self.plan.spec.method.name!r} mixes inputs, but task {self.task.name!r} "
                                  f"has {x_pool.dtype} inputs; mixing needs real-valued inputs")
            w = mix.weights.astype(x_pool.dtype).reshape(-1, *([1] * (x_pool.ndim - 1)))
            x_q = (1 - w) * x_pool[idx] + w * x_pool[mix.partners]
            soft = self.oracle.query(idx, inputs=x_q, use_inputs=mix.mixed)
        self.soft_parts.append(soft)
        self.x_parts.append(x_q)
        return soft

    def train(self, r: int) -> Iterator[FitJob]:
        """Round ``r``'s student, trained on the labeled set plus every paid answer (the
        teacher's logits on the inputs paid for), made the current student once the yielded
        job is trained; returns the job. It starts from the previous student when warm-starting,
        else from an initialisation seeded by (seed, task, r); its minibatch order comes from
        (seed, task, r)."""
        task, seed, has_queries = self.task, self.seed, len(self.oracle.queried()) > 0
        ts = make_train_set(self.x_lab, self.y_lab, np.concatenate(self.x_parts) if has_queries else None,
                            self.oracle.answered_logits() if has_queries else None, self.C, task.train, self.device)
        if task.train.warm_start and self.student is not None:
            model = self.student
        else:
            model = new_model(lambda: _build_student(self.plan), derive_seed(seed, task.name, "student-init", r))
        job = FitJob(model, ts, task.train, derive_seed(seed, task.name, "student-train", r), self.device)
        yield job
        self.student = job.model
        return job

    def _keep_initial_student(self, r: int) -> None:
        """After round 0's training, keep the round-0 student for ``initial_pool_embeddings``
        (a copy when warm-starting, since later rounds train it further)."""
        if r == 0 and self.need_initial:
            self.student0 = copy.deepcopy(self.student) if self.task.train.warm_start else self.student

    def evaluate(self) -> dict[str, float]:
        """The current student on the test split: accuracy, NLL and agreement with the teacher."""
        p_test, _ = predict(self.student, self.x_test, self.device)
        return {"test_accuracy": accuracy(p_test, self.y_test), "test_nll": nll(p_test, self.y_test),
                "teacher_agreement": float((p_test.argmax(1) == self.teacher.test_probs.argmax(1)).mean())}

    def record_round(self, r: int, query: _Query, scores: dict[str, float], train_seconds: float) -> None:
        """Append round ``r`` to the record, update its wall clock (finishing it after the last
        round), save it to the store (atomically) and report it to ``on_round``. Raises what
        the store raises when it cannot write."""
        rec = self.record
        rec.rounds.append(RoundRecord(
            round=r, n_labeled=len(self.y_lab), n_queries=self.oracle.n_queries, queried=[int(i) for i in query.idx],
            **scores, teacher_accuracy_on_queried=query.teacher_accuracy, mean_gain=query.mean_gain,
            select_seconds=query.select_seconds, train_seconds=train_seconds, method=query.diag,
            teacher_noise=query.noise_audit))
        rec.provenance["wall_seconds"] = self.wall_before + self.busy_seconds + time.perf_counter() - self.busy_since
        if r == self.task.rounds:
            rec.finish(rec.provenance["wall_seconds"])
        self.store.save(rec)
        if self.on_round is not None:
            self.on_round(rec)


def open_run(spec: RunSpec, out: Path, device: torch.device, fresh: bool = False,
             on_round: Callable[[RunRecord], None] | None = None,
             log: Callable[[str], None] = lambda s: None, store: RunStore | None = None,
             teacher: TeacherOutputs | None = None) -> RunRecord | _RunLoop:
    """Plan one run and find its stored record: the record when the run is complete, else the
    ``_RunLoop`` that plays the rest of it (``run()``, or ``steps()`` for an executor that
    trains the students of several runs together). Arguments and errors as ``execute_run``."""
    plan = _plan_run(spec, device)
    if store is None:
        store = FileStore(run_path(out, spec.suite, spec.task.label, spec.method.label, spec.seed))
    record = None if fresh else _stored_record(plan, store, log)  # a corrupt file raises and is left untouched
    if record is not None and record.complete:
        return record
    _check_labeled_set(plan)
    if teacher is None:
        teacher = get_teacher(spec.task, plan.data, plan.splits, spec.seed, device, log=log)
    return _RunLoop(plan, record, teacher, device, store, on_round, log)


def execute_run(spec: RunSpec, out: Path, device: torch.device, fresh: bool = False,
                on_round: Callable[[RunRecord], None] | None = None,
                log: Callable[[str], None] = lambda s: None, store: RunStore | None = None,
                teacher: TeacherOutputs | None = None) -> RunRecord:
    """Run (or resume, or skip if finished) one run and return its complete record.

    ``store`` keeps the record between rounds (default: the run file under ``out``);
    ``teacher`` gives the teacher's outputs when an executor computed them elsewhere
    (default: ``get_teacher``, from the cache or trained here). ``on_round`` gets the record
    after each round is saved; ``log`` gets one line per notable event (resuming, training
    the teacher). ``fresh`` ignores (and will overwrite) a stored record.

    Raises ``ConfigError`` (bad method parameter, budget over the pool, untrainable labeled
    set, mixing non-real inputs), ``RunConflictError`` (the store holds another run),
    ``MethodFailure`` (the method failed; finished rounds stay stored) and the store's errors."""
    opened = open_run(spec, out, device, fresh, on_round, log, store, teacher)
    return opened if isinstance(opened, RunRecord) else opened.run()
