"""The Ray executor: every run of a grid is one Ray task; teachers are trained once, as their
own tasks; finished rounds stream to the driver, which alone writes the run files.

Layout of one grid on a cluster:

* **Teachers.** Every distinct (task, seed, teacher spec, noise level) teacher the unfinished
  runs need is one task, submitted before the runs. Its ``TeacherOutputs`` (and the teacher's
  cached weights, for methods that query new inputs) travel to the runs through Ray's object
  store, so no two workers train the same teacher and the cluster needs no shared cache.
* **Runs.** Each (task, method, seed[, noise level]) run is one task taking ``cpus_per_run``
  CPUs and ``gpus_per_run`` GPUs (a fraction packs several runs on one GPU); it computes at
  ``max(1, int(cpus_per_run))`` torch threads, so its records equal the local executor's at
  that thread count (1 by default on both). A run keeps its record in a ``DriverStore``: it
  starts from the record the driver holds for it, and ``save`` sends each finished round to
  the driver's ``RecordBox`` actor without waiting. A run whose worker died is submitted again
  by the driver (up to ``MAX_RETRIES`` times) with the latest record the driver received, so it
  resumes from the last round the driver stored. (A task never blocks on ``ray.get``: Ray
  lends a blocked task's CPU to another task, which would run more runs than CPUs and start
  extra worker processes.)
* **Driver.** It reads the existing run files at start (a killed driver restarted with the
  same command resumes the grid), drains the ``RecordBox`` twice a second, writes each record
  that adds rounds atomically with ``FileStore`` exactly as the local executor does, and keeps
  one progress bar over the rounds of the whole grid. A run whose method fails
  (``MethodFailure``) is reported and the other runs go on; any other error stops the grid
  as it does locally.

Ray is imported only when this executor runs (``import_ray``); without it the command line
says how to install it. Environment variables named ``AKD_BENCH_*`` and the Hugging Face
offline switches set on the driver are passed to the workers.
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from benchmark.core import code_fingerprint
from benchmark.core.compute import run_threads
from benchmark.core.config import ConfigError, TaskConfig, spec_dict, stable_hash
from benchmark.core.errors import MethodFailure
from benchmark.core.registry import METHODS
from benchmark.core.results import FileStore, RunRecord, run_path, set_aside

if TYPE_CHECKING:  # the driver's box actor imports this module; it needs no torch
    from benchmark.run.loop import RunSpec

INSTALL_HINT = "--executor ray needs Ray, which is not installed: pip install 'akd-bench[ray]' (or pip install 'ray>=2.9')"
MAX_RETRIES = 3  # how often a run or teacher whose worker died is started again
POLL_SECONDS = 0.5  # how often the driver drains finished rounds
ENV_PREFIXES = ("AKD_BENCH_",)
ENV_NAMES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
# Test hooks: the worker that stores round AKD_BENCH_TEST_EXIT_AFTER_ROUND of a run exits at
# once (os._exit) if it is the first to create the file AKD_BENCH_TEST_EXIT_MARKER.
TEST_EXIT_ROUND_ENV = "AKD_BENCH_TEST_EXIT_AFTER_ROUND"
TEST_EXIT_MARKER_ENV = "AKD_BENCH_TEST_EXIT_MARKER"


def import_ray() -> Any:
    """The ``ray`` module; raises ``ConfigError`` (one line: how to install it) without it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return ray


@dataclass(frozen=True)
class RayResources:
    """What one run (and one teacher) task takes: ``cpus`` > 0 (also its torch thread count,
    ``max(1, int(cpus))``) and ``gpus`` >= 0 (0.25 packs four runs on one GPU)."""

    cpus: float = 1.0
    gpus: float = 0.0

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus))


def resolve_resources(cpus_per_run: float | None, gpus_per_run: float | None, threads: int | None) -> RayResources:
    """The per-run share: ``cpus_per_run`` (default ``threads``, else 1) and ``gpus_per_run``
    (default 0). ``threads`` must agree with the CPU share when both are given, since a run
    computes at exactly its CPU share. Raises ``ConfigError`` on a bad value."""
    cpus = float(cpus_per_run) if cpus_per_run is not None else float(threads or 1)
    gpus = float(gpus_per_run or 0.0)
    if not cpus > 0:
        raise ConfigError(f"--cpus-per-run {cpus_per_run!r}: expected a number > 0, e.g. 1 or 0.5")
    if not gpus >= 0:
        raise ConfigError(f"--gpus-per-run {gpus_per_run!r}: expected a number >= 0, e.g. 0.25")
    res = RayResources(cpus, gpus)
    if threads is not None and cpus_per_run is not None and threads != res.threads:
        raise ConfigError(f"--threads {threads} disagrees with --cpus-per-run {cpus_per_run:g}: with --executor ray "
                          f"a run computes at its CPU share ({res.threads} threads); give one of them")
    return res


def worker_device(device: str, gpus: float) -> str:
    """The device name a worker resolves: ``auto`` is ``cuda`` when runs get a GPU share, else
    ``cpu``. Ray hands each task its GPUs, so ``cuda:N`` is refused; ``cuda`` needs a share."""
    if device == "auto":
        return "cuda" if gpus > 0 else "cpu"
    if device == "cuda" and not gpus > 0:
        raise ConfigError("--device cuda with --executor ray needs a GPU share per run: add --gpus-per-run, "
                          "e.g. 1 or 0.25")
    if device.startswith("cuda:"):
        raise ConfigError(f"--device {device!r}: with --executor ray each run gets its GPU from Ray; use --device "
                          f"cuda (or auto) with --gpus-per-run")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device {device!r}; valid choices: auto, cpu, cuda")
    return device


def teacher_identity(task: TaskConfig, seed: int) -> str:
    """What decides a teacher apart from the compute setting (which is one per grid): the task
    name (it seeds the teacher), its teacher spec (noise included), data and splits, and the
    seed. Equal identities have equal ``benchmark.run.teacher.teacher_key`` on the same workers."""
    return stable_hash({"task": task.name, "teacher": spec_dict(task.teacher), "data": spec_dict(task.data),
                        "splits": spec_dict(task.splits), "seed": seed})


def worker_env() -> dict[str, str]:
    """The driver's environment variables that the workers get (``AKD_BENCH_*``, HF offline),
    and the numerics pins the driver started with, so workers compute as it does."""
    from benchmark.core.numerics import worker_env as numerics_env

    own = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES) or k in ENV_NAMES}
    return {**own, **numerics_env()}


# ----------------------------------------------------------------------------- worker side


class RecordBox:
    """The Ray actor between workers and driver: the newest record of each run saved since the
    driver last drained (a record with fewer rounds than one already there, a late message
    of a dead attempt, is ignored), and the workers' log lines."""

    def __init__(self) -> None:
        self.updates: dict[str, RunRecord] = {}
        self.logs: list[str] = []

    def save(self, key: str, record: RunRecord) -> None:
        old = self.updates.get(key)
        if old is None or len(record.rounds) >= len(old.rounds):
            self.updates[key] = record

    def log(self, line: str) -> None:
        self.logs.append(line)

    def drain(self) -> tuple[dict[str, RunRecord], list[str]]:
        """The records saved and the lines logged since the last drain."""
        out = (self.updates, self.logs)
        self.updates, self.logs = {}, []
        return out


@dataclass(frozen=True)
class DriverStore:
    """A ``RunStore`` whose record lives with the driver: ``load`` is the record the driver
    held when it submitted this attempt; ``save`` sends the record to the driver's box and
    goes on at once (a message lost with its worker only means a round done again)."""

    box: Any
    key: str
    where: str
    initial: RunRecord | None

    def load(self) -> RunRecord | None:
        return self.initial

    def save(self, record: RunRecord) -> None:
        sent = self.box.save.remote(self.key, record)
        _test_exit_hook(len(record.rounds) - 1, sent)


def _test_exit_hook(stored_round: int, sent: Any) -> None:
    """Kill this worker process once round ``$AKD_BENCH_TEST_EXIT_AFTER_ROUND`` reached the
    driver's box, once per marker file (tests of the retry path)."""
    at, marker = os.environ.get(TEST_EXIT_ROUND_ENV), os.environ.get(TEST_EXIT_MARKER_ENV)
    if at is None or marker is None or stored_round != int(at):
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    import ray

    ray.get(sent)
    os._exit(17)


def _logger(box: Any):
    def log(line: str) -> None:
        box.log.remote(line)

    return log


def _register_methods(classes: dict[str, tuple[type, str | None]]) -> None:
    """Register the driver's non-built-in method classes that this worker does not know, with
    the fingerprint of their code that the driver read (a class sent by value has no source here)."""
    for name, (cls, code) in classes.items():
        if name not in METHODS:
            METHODS.add(name, cls)
            code_fingerprint.remember(cls, code)


def _teacher_weights_path(task: TaskConfig, key: str) -> Path:
    from benchmark.run.teacher import _teacher_paths

    return _teacher_paths(task, key)[1]


def teacher_task(task: TaskConfig, seed: int, device: str, threads: int, box: Any) -> tuple[Any, bytes | None]:
    """Train (or load from this worker's cache) one teacher; returns its ``TeacherOutputs`` and
    the bytes of its cached weights (None when it has none, e.g. a pretrained teacher)."""
    from benchmark.data import load_data, make_splits
    from benchmark.run.teacher import get_teacher
    from benchmark.run.train import resolve_device

    dev = resolve_device(device)
    with run_threads(threads if dev.type == "cpu" else None):
        data = load_data(task.data)
        splits = make_splits(data, task.splits, seed)
        outputs = get_teacher(task, data, splits, seed, dev, log=_logger(box))
    weights = _teacher_weights_path(task, outputs.key)
    return outputs, (weights.read_bytes() if weights.exists() else None)


def _install_teacher_weights(task: TaskConfig, key: str, weights_ref: list[Any]) -> None:
    """Put the teacher's weights into this worker's cache unless they are there (a worker on
    another machine than the teacher's), so that a method querying new inputs finds the
    teacher instead of training it again."""
    import ray

    from benchmark.core.atomic import atomic_write

    path = _teacher_weights_path(task, key)
    if path.exists() or not weights_ref:
        return
    blob = ray.get(weights_ref[0])
    if blob is not None:
        atomic_write(path, lambda tmp: tmp.write_bytes(blob))


def run_task(spec: RunSpec, out: str, device: str, threads: int, compile_models: bool, teacher: Any,
             weights_ref: list[Any], store: DriverStore, classes: dict[str, tuple[type, str | None]]) -> RunRecord:
    """One run on a worker: ``execute_run`` with the driver's store and the given teacher."""
    from benchmark.run.loop import execute_run
    from benchmark.run.train import RUNTIME, resolve_device

    _register_methods(classes)
    RUNTIME.compile = compile_models
    dev = resolve_device(device)
    with run_threads(threads if dev.type == "cpu" else None):
        if teacher is not None:
            _install_teacher_weights(spec.task, teacher.key, weights_ref)
        return execute_run(spec, Path(out), dev, store=store, teacher=teacher, log=_logger(store.box))


# ----------------------------------------------------------------------------- driver side


def _extra_method_classes(specs: list[RunSpec]) -> dict[str, tuple[type, str | None]]:
    """The grid's methods that are not this package's (plugins, methods registered in this
    process), pickled by value so that workers need not have their code installed, each with
    the fingerprint of its code (``benchmark.core.code_fingerprint``)."""
    import ray

    classes = {}
    for spec in specs:
        cls = METHODS.get(spec.method.name)
        if cls.__module__.split(".")[0] != "methods":
            module = sys.modules.get(cls.__module__)
            if module is not None and module.__name__ != "__main__":
                ray.cloudpickle.register_pickle_by_value(module)
            classes[spec.method.name] = (cls, code_fingerprint.method_code(cls))
    return classes


WORKER_NICENESS = 0  # Ray's default, 15, lets any other process on the machine starve the runs


def start_local(ray: Any, num_cpus: int | None = None) -> None:
    """Start a local Ray instance (``num_cpus`` None: every core) whose workers run at the
    driver's priority. Ray starts workers at niceness 15 by default, so that on a machine
    shared with other jobs each run would get a small fraction of a core (about 1/30 next
    to one busy process) while the local executor gets a full one; workers at niceness 0
    compete as the local executor does. (On a cluster, start each node with
    ``RAY_worker_niceness=0 ray start ...`` for the same.)"""
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, logging_level=logging.ERROR,
             _system_config={"worker_niceness": WORKER_NICENESS})


def _connect(ray: Any, address: str | None) -> bool:
    """Start a local Ray instance (``address`` None) or join a cluster (``auto``, ``host:port``,
    ``ray://...``), giving the workers ``worker_env()``; True when this call started or joined
    it (and so must shut it down). A local instance's workers inherit this process's
    environment, so the workers Ray starts with it serve the first tasks. A Ray already
    initialised in this process is used as it is (False): then each task carries the
    variables itself."""
    if ray.is_initialized():
        return False
    if address is None:
        start_local(ray)
    else:
        ray.init(address=address, logging_level=logging.ERROR, runtime_env={"env_vars": worker_env()})
    return True


def _check_feasible(ray: Any, res: RayResources) -> None:
    """Refuse a per-run share that no node of the cluster can give (the tasks would wait forever)."""
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    if any(r.get("CPU", 0) >= res.cpus and r.get("GPU", 0) >= res.gpus for r in nodes):
        return
    have = ", ".join(f"{r.get('CPU', 0):g} CPU + {r.get('GPU', 0):g} GPU" for r in nodes) or "none"
    raise ConfigError(f"no Ray node can give a run {res.cpus:g} CPU + {res.gpus:g} GPU (nodes: {have}); lower "
                      f"--cpus-per-run or --gpus-per-run, or add nodes")


@dataclass
class _Slot:
    """One run of the grid on the driver: the record written for it, and its attempts."""

    spec: RunSpec
    path: Path
    record: RunRecord | None
    complete_before: bool
    attempts: int = 0

    @property
    def rounds(self) -> int:
        return len(self.record.rounds) if self.record is not None else 0

    @property
    def name(self) -> str:
        return f"run {self.spec.task.label} / {self.spec.method.label} / seed {self.spec.seed}"


def _prepare(grid: Any, out: Path, fresh: bool) -> list[_Slot]:
    """Set aside runs for ``fresh`` (as the local executor does) and read every existing run
    file (a corrupt one raises ``ResultsError`` before anything runs)."""
    slots = []
    for spec in grid.runs:
        path = run_path(out, spec.suite, spec.task.label, spec.method.label, spec.seed)
        if fresh and path.exists():
            set_aside(path)
        existing = FileStore(path).load()
        slots.append(_Slot(spec, path, existing, bool(existing and existing.complete)))
    return slots


def run_all_ray(grid: Any, out: Path, device: str = "auto", fresh: bool = False, progress: bool = True,
                threads: int | None = None, address: str | None = None, cpus_per_run: float | None = None,
                gpus_per_run: float | None = None) -> tuple[list[RunRecord], int, list[str]]:
    """Run ``grid`` on Ray; returns (the records in grid order, how many runs were complete
    before, one line per run whose method failed or whose worker died ``MAX_RETRIES + 1``
    times). Errors other than a method's stop the grid and are raised (the rounds received so
    far are written first). ``address``: None starts a local Ray instance; ``auto``,
    ``host:port`` or ``ray://host:10001`` joins a cluster."""
    ray = import_ray()
    res = resolve_resources(cpus_per_run, gpus_per_run, threads)
    wdev = worker_device(device, res.gpus)
    from benchmark.run.train import RUNTIME

    slots = _prepare(grid, Path(out), fresh)
    started = _connect(ray, address)
    try:
        _check_feasible(ray, res)
        total = ray.cluster_resources()
        print(f"ray: {total.get('CPU', 0):g} CPUs, {total.get('GPU', 0):g} GPUs; each run takes {res.cpus:g} CPU "
              f"({res.threads} torch threads) and {res.gpus:g} GPU", file=sys.stderr)
        driver = _Driver(ray, grid.suite, slots, Path(out), wdev, res, RUNTIME.compile, progress,
                         env_per_task=not started)
        return driver.run()
    finally:
        if started:
            ray.shutdown()


class _Driver:
    """Submits the teachers and runs of one grid and collects them (see the module docstring)."""

    def __init__(self, ray: Any, suite: str, slots: list[_Slot], out: Path, device: str, res: RayResources,
                 compile_models: bool, progress: bool, env_per_task: bool) -> None:
        self.ray, self.slots, self.out, self.device, self.res = ray, slots, out, device, res
        self.compile_models = compile_models
        opts: dict[str, Any] = {"num_cpus": res.cpus, "num_gpus": res.gpus}
        if env_per_task:
            opts["runtime_env"] = {"env_vars": worker_env()}
        self.remote_teacher = ray.remote(teacher_task).options(num_returns=2, max_retries=MAX_RETRIES, **opts)
        self.remote_run = ray.remote(run_task).options(max_retries=0, **opts)  # retried here, see _lost
        self.box = ray.remote(RecordBox).options(num_cpus=0).remote()
        self.classes = _extra_method_classes([s.spec for s in slots])
        self.teachers: dict[str, tuple[Any, Any]] = {}
        self.pending: dict[Any, int] = {}
        self.results: dict[int, RunRecord] = {}
        self.failures: list[str] = []
        self.bar = tqdm(total=sum(s.spec.task.rounds + 1 for s in slots), initial=sum(s.rounds for s in slots),
                        desc=f"suite {suite}", unit="round", disable=not progress, file=sys.stderr)

    def run(self) -> tuple[list[RunRecord], int, list[str]]:
        try:
            for s in self.slots:  # every teacher first, then the runs
                if not s.complete_before:
                    self._teacher(s)
            for i in range(len(self.slots)):
                self._submit(i)
            while self.pending:
                ready, _ = self.ray.wait(list(self.pending), num_returns=1, timeout=POLL_SECONDS)
                self._drain()
                for ref in ready:
                    self._collect(ref)
                self._settle_finished()
        finally:
            self._stop()
        reused = sum(s.complete_before for s in self.slots)
        return [self.results[i] for i in sorted(self.results)], reused, self.failures

    def _teacher(self, slot: _Slot) -> tuple[Any, Any]:
        tid = teacher_identity(slot.spec.task, slot.spec.seed)
        if tid not in self.teachers:
            self.teachers[tid] = self.remote_teacher.remote(slot.spec.task, slot.spec.seed, self.device,
                                                            self.res.threads, self.box)
        return self.teachers[tid]

    def _submit(self, i: int) -> None:
        """Submit run ``i`` from the record the driver holds for it (a complete run only has its
        identity checked, so it needs no teacher)."""
        s = self.slots[i]
        outputs, weights = self._teacher(s) if not s.complete_before else (None, None)
        store = DriverStore(self.box, str(s.path), str(s.path), s.record)
        ref = self.remote_run.remote(s.spec, str(self.out), self.device, self.res.threads, self.compile_models,
                                     outputs, [weights] if weights is not None else [], store, self.classes)
        self.pending[ref] = i

    def _drain(self, timeout: float | None = None) -> None:
        """Write every record that adds rounds to what is stored, and print the workers' lines."""
        updates, logs = self.ray.get(self.box.drain.remote(), timeout=timeout)
        for line in logs:
            self.bar.write(line)
        by_path = {str(s.path): s for s in self.slots}
        for key, record in updates.items():
            self._store(by_path[key], record)

    def _store(self, slot: _Slot, record: RunRecord) -> None:
        if len(record.rounds) > slot.rounds:
            FileStore(slot.path).save(record)
            self.bar.update(len(record.rounds) - slot.rounds)
            slot.record = record

    def _collect(self, ref: Any) -> None:
        """The outcome of one finished run task: its record, a method's failure, a lost worker
        (submitted again) or an error that stops the grid."""
        i = self.pending.pop(ref)
        slot = self.slots[i]
        try:
            self.results[i] = self.ray.get(ref)
            self._store(slot, self.results[i])
        except self.ray.exceptions.RayTaskError as e:
            cause = getattr(e, "cause", None)
            if not isinstance(cause, MethodFailure):
                raise (cause if isinstance(cause, Exception) else e) from e
            self._fail(str(cause))
        except self.ray.exceptions.RayError as e:  # the worker (or its node) died
            self._lost(i, e)
        self.bar.set_postfix_str(f"{len(self.results) + len(self.failures)}/{len(self.slots)} runs")

    def _settle_finished(self) -> None:
        """A run whose complete record the driver already stored is finished, whether or not
        Ray ever reports its task as done (a lost worker's task can stay pending without end
        on a heavily loaded node): take the stored record and cancel the task."""
        for ref, i in list(self.pending.items()):
            slot = self.slots[i]  # a run complete before the grid started still has its identity checked
            if not slot.complete_before and slot.record is not None and slot.record.complete:
                self.pending.pop(ref)
                self.results[i] = slot.record
                self.ray.cancel(ref, force=False)
                self.bar.set_postfix_str(f"{len(self.results) + len(self.failures)}/{len(self.slots)} runs")

    def _lost(self, i: int, error: Exception) -> None:
        """Run ``i``'s worker died: submit it again from the last round the driver received."""
        slot = self.slots[i]
        slot.attempts += 1
        reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        if slot.attempts > MAX_RETRIES:
            self._fail(f"{slot.name}: its worker died {slot.attempts} times (last: {reason})")
            return
        self._drain()
        self.bar.write(f"{slot.name}: its worker died ({reason}); starting it again at round {slot.rounds}")
        self._submit(i)

    def _fail(self, line: str) -> None:
        self.failures.append(line)
        self.bar.write(f"error: {line}; the other runs go on")

    def _stop(self) -> None:
        """Stopped early (an error or an interrupt): cancel what runs, keep what arrived."""
        if self.pending:
            for ref in self.pending:
                self.ray.cancel(ref, force=True)
            try:
                self._drain(timeout=10)
            except Exception:  # noqa: BLE001  (the original error matters more)
                pass
        self.bar.close()
