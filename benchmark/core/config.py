"""Task and suite specs: frozen dataclasses loaded from versioned YAML files, validated by pydantic.

Every spec is a frozen pydantic dataclass (``pydantic.dataclasses.dataclass``): still a
dataclass, so ``dataclasses.replace``, ``asdict``, ``fields``, equality and hashing work as
for any other. This is simpler than plain dataclasses validated through a ``TypeAdapter``:
a field's type, constraints and default are declared once, in one place, and a spec built in
code is checked just like one read from YAML. Field types and constraints are pydantic's
(``Annotated`` constraints, ``Field``, validators); integers, numbers, strings and booleans
are strict (YAML's ``true`` is no integer, ``"10"`` no number), numbers finite. The same
types give the JSON Schema that ``python run_benchmark.py schema task|suite`` prints
(``json_schema``), with the docstrings below as its descriptions.

Every error is a ``ConfigError`` whose message names the file, the field (dotted path) and
what was expected, e.g. ``datasets/digits.yaml: field 'splits.labeled': expected a value
>= 1, got -3`` (``benchmark.core.validation`` phrases pydantic's errors).

Task files live in ``datasets/<name>.yaml`` (plus ``AKD_BENCH_TASK_DIRS``); suite files in
``benchmark/suites/<name>.yaml``. Both are registered by file name in ``TASKS`` / ``SUITES``.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import yaml
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass
from pydantic.types import AllowInfNan
from pydantic_core import PydanticCustomError

from benchmark.core import paths
from benchmark.core.errors import ConfigError
from benchmark.core.noise_label import task_label
from benchmark.core.registry import Registry
from benchmark.core.validation import explain

# ----------------------------------------------------------------------------- field types

Int = Annotated[int, Strict()]
Float = Annotated[float, Strict(), AllowInfNan(False)]  # an integer is taken as a number
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]
AtLeast1 = Annotated[Int, Field(ge=1)]
NonNegative = Annotated[Int, Field(ge=0)]
Positive = Annotated[Float, Field(gt=0)]
Fraction = Annotated[Float, Field(ge=0, le=1)]
Rate = Annotated[Float, Field(ge=0, lt=1)]
NoiseKind = Literal["flip_uniform", "flip_hard", "flip_pairs", "flip_informative", "flip_adaptive", "train_labels"]


def _expected(expected: str, **ctx: Any) -> PydanticCustomError:
    """An error that ``benchmark.core.validation.explain`` phrases as ``expected <expected>``."""
    return PydanticCustomError("expected", "expected {expected}", {"expected": expected, **ctx})


def _first_non_finite(value: Any, where: str = "") -> tuple[str, float] | None:
    """The path below ``value`` (``.dropout``, ``.scale[1]``) and the first NaN or inf in it."""
    if isinstance(value, float) and not math.isfinite(value):
        return where, value
    if isinstance(value, dict):
        parts = ((f"{where}.{k}", v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        parts = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    return next(filter(None, (_first_non_finite(v, w) for w, v in parts)), None)


def _finite(value: dict[str, Any]) -> dict[str, Any]:
    """Free-form parameters hold no NaN or infinite number, at any depth."""
    bad = _first_non_finite(value)
    if bad is not None:
        raise _expected("a finite number", where=bad[0], got=bad[1])
    return value


def _distinct(expected: str) -> AfterValidator:
    """A list without repeats (``uniqueItems`` in the JSON Schema); else ``expected <expected>``."""
    def check(values: list[Any]) -> list[Any]:
        if len(set(values)) != len(values):
            raise _expected(expected)
        return values

    return AfterValidator(check)


UNIQUE = Field(json_schema_extra={"uniqueItems": True})

Params = Annotated[dict[str, Any], BeforeValidator(lambda v: {} if v is None else v,
                                                   json_schema_input_type=Optional[dict[str, Any]]),
                   AfterValidator(_finite)]
"""Free-form parameters: a mapping (empty when null) holding finite numbers only."""


def _option(default: Any) -> Any:
    """The default of a field added after version 1 of the spec format: ``spec_dict`` (and so
    every content hash and run id) leaves the field out while it holds this default, so adding
    an option never invalidates stored results or cached teachers."""
    return Field(default, exclude_if=lambda v: v == default)


SPEC = ConfigDict(extra="forbid", use_attribute_docstrings=True)

# ----------------------------------------------------------------------------- specs


@dataclass(frozen=True, config=SPEC)
class ModelSpec:
    """A registered model name and its constructor parameters."""

    name: Str
    """A registered model, e.g. mlp, resnet20, hf_classifier (README: Models)."""
    params: Params = field(default_factory=dict)
    """Constructor parameters of the model, e.g. {hidden: [64], dropout: 0.1}."""


@dataclass(frozen=True, config=SPEC)
class TrainRecipe:
    """How a model is trained. ``batch_size: 0`` means full-batch.

    ``augment: crop_flip`` applies random crops (zero padding ``crop_padding``) and
    horizontal flips to image batches, as batched tensor ops on the training device;
    ``crop`` only crops (for digits, which must not be mirrored).
    ``grad_clip`` > 0 clips the gradient norm (useful for fine-tuning transformers).

    The distillation loss (Hinton et al., 2015) over labeled set L and queried set Q is
    ``(1 - w) * mean_L CE(y, f_S) + w * tau^2 * mean_Q CE(softmax(z_T / tau), softmax(z_S / tau))``
    with ``w = distill_weight`` and ``tau = temperature``.
    """

    epochs: AtLeast1 = 100
    """Passes over the training set."""
    batch_size: NonNegative = 0
    """Examples per batch; 0 trains on the whole set at once."""
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: Positive = 1e-2
    """Learning rate."""
    weight_decay: Annotated[Float, Field(ge=0.0)] = 0.0
    momentum: Fraction = 0.9
    """Momentum of sgd."""
    schedule: Literal["constant", "cosine"] = "constant"
    """Learning-rate schedule over the epochs."""
    temperature: Positive = 1.0
    """Distillation temperature tau."""
    distill_weight: Fraction = 0.5
    """Weight w of the teacher's soft labels in the loss."""
    warm_start: Bool = False
    """Continue from the previous round's student instead of a fresh one."""
    augment: Literal["none", "crop", "crop_flip"] = _option("none")
    """Image augmentation: random crops, or crops and horizontal flips."""
    crop_padding: NonNegative = _option(4)
    """Zero padding (pixels) of the random crops."""
    grad_clip: Annotated[Float, Field(ge=0.0)] = _option(0.0)
    """Largest gradient norm; 0 does not clip."""


@dataclass(frozen=True, config=SPEC)
class DataSpec:
    """A registered data source and its parameters (e.g. a folder path)."""

    source: Str
    """A registered data source, e.g. sklearn_digits, idx_folder, hf_datasets."""
    params: Params = field(default_factory=dict)
    """Parameters of the source, e.g. {path: data/fashion-mnist}."""
    dedupe: Bool = _option(False)
    """Drop test rows that copy a training row, and repeats of a training row (first copy kept),
    before the splits are drawn; either way such copies are reported in one warning line."""


@dataclass(frozen=True, config=SPEC)
class SplitSpec:
    """Split sizes. ``pool: null`` takes every point left after the other splits.

    ``test`` is drawn from the source's own test split when it has one, else from train.
    ``teacher`` > 0 reserves a labeled split that only the teacher trains on.
    """

    test: AtLeast1
    validation: AtLeast1
    labeled: AtLeast1
    """The student's initial labeled set."""
    pool: Optional[AtLeast1] = None
    """Unlabeled points the methods choose from; null: every point left."""
    teacher: NonNegative = 0
    """A labeled split only the teacher trains on (teacher.train_on: teacher_split)."""
    class_balanced: Bool = True


@dataclass(frozen=True, config=SPEC)
class NoiseSpec:
    """Controlled teacher error (``benchmark.run.noise``): ``kind`` and ``rate`` in [0, 1)."""

    kind: NoiseKind
    rate: Rate


@dataclass(frozen=True, config=SPEC)
class NoiseAxis:
    """A suite's teacher-noise grid axis: each ``kind`` (one, or a list) at each of ``rates``."""

    kind: Union[NoiseKind, list[NoiseKind]]
    rates: Annotated[list[Rate], Field(min_length=1), UNIQUE,
                     _distinct("a non-empty list of distinct rates in [0, 1)")]

    @property
    def kinds(self) -> list[str]:
        return [self.kind] if isinstance(self.kind, str) else list(dict.fromkeys(self.kind))

    def levels(self) -> list["NoiseSpec"]:
        """Every (kind, rate), kind-major."""
        return [NoiseSpec(k, float(r)) for k in self.kinds for r in self.rates]


@dataclass(frozen=True, config=SPEC)
class TeacherSpec:
    """The teacher: its model, training recipe, and what it is trained on.

    ``train_on: labeled`` is the paper's semi-supervised setting (teacher and student share
    the labeled set); ``teacher_split`` trains it on a separate split the student never sees;
    ``none`` uses the model as loaded (a pretrained classifier whose labels match the task's).
    A pretrained encoder that is fine-tuned, or frozen with a trained head, is a model
    spec (``hf_classifier``, ``frozen_encoder``) trained with ``labeled`` or ``teacher_split``.
    """

    model: ModelSpec
    train: TrainRecipe = field(default_factory=TrainRecipe)
    train_on: Literal["labeled", "teacher_split", "none"] = "labeled"
    noise: Optional[NoiseSpec] = _option(None)
    """Controlled error in the teacher's answers; null: as trained."""


@dataclass(frozen=True, config=SPEC)
class TaskConfig:
    """One task: data, splits, teacher, student, recipe, and the query schedule."""

    name: Str
    """The file name without .yaml."""
    version: AtLeast1
    """Raise it whenever the task changes; results of different versions are never mixed."""
    data: DataSpec
    splits: SplitSpec
    teacher: TeacherSpec
    student: ModelSpec
    train: TrainRecipe = field(default_factory=TrainRecipe)
    """How the student is trained."""
    rounds: AtLeast1 = 10
    """Query rounds after round 0 (the student on the labeled set alone)."""
    queries_per_round: AtLeast1 = 10
    """Teacher labels bought per round."""
    description: Str = ""
    card: Params = field(default_factory=dict)
    """Free-form dataset card: source, license, size, splits."""

    def to_dict(self) -> dict[str, Any]:
        return spec_dict(self)

    def content_hash(self) -> str:
        """sha256 of the canonical JSON of the resolved spec."""
        return stable_hash(self.to_dict())

    @property
    def label(self) -> str:
        """The name its results are stored and reported under: ``digits``, or with teacher
        noise ``digits@flip_uniform-0.2`` (``benchmark.core.noise_label``)."""
        noise = self.teacher.noise
        return task_label(self.name, noise.kind, noise.rate) if noise is not None else self.name

    def with_noise(self, noise: "NoiseSpec | None") -> "TaskConfig":
        """The same task with the teacher's outputs under ``noise`` (None: as trained)."""
        return dataclasses.replace(self, teacher=dataclasses.replace(self.teacher, noise=noise))

    def with_rounds(self, rounds: int | None) -> "TaskConfig":
        if rounds is None:
            return self
        if rounds < 1:
            raise ConfigError(f"--rounds: expected an integer >= 1, got {rounds}")
        return dataclasses.replace(self, rounds=rounds)


@dataclass(frozen=True, config=SPEC)
class MethodEntry:
    """A method in a suite: registered ``name``, a ``label`` for reports, and parameters."""

    name: Str
    """A registered method (see `list methods`)."""
    label: Str = ""
    """The name its results are stored and reported under (default: the method name)."""
    params: Params = field(default_factory=dict)
    """Parameters of the method."""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)


# a method name alone stands for {name: <it>}
MethodItem = Annotated[MethodEntry, BeforeValidator(lambda v: {"name": v} if isinstance(v, str) else v,
                                                    json_schema_input_type=Union[str, MethodEntry])]


@dataclass(frozen=True, config=SPEC)
class SuiteConfig:
    """A frozen grid of tasks x methods x seeds (x teacher-noise levels). ``methods: all``
    means every built-in non-privileged method, resolved when the suite runs, and with
    ``include_privileged: true`` also the privileged analysis methods (reported, never ranked)."""

    name: Str
    """The file name without .yaml."""
    version: AtLeast1
    """Raise it whenever the suite changes."""
    tasks: Annotated[list[Annotated[Str, Field(title="task name")]], Field(min_length=1)]
    """Task names (see `list tasks`) or paths to task YAML files."""
    methods: Union[Literal["all"], list[MethodItem]] = "all"
    """all, or method names and {name, label, params} mappings."""
    seeds: Annotated[list[Annotated[Int, Field(title="seed")]], Field(min_length=1), UNIQUE,
                     _distinct("distinct seeds")] = field(default_factory=lambda: [0])
    rounds: Optional[AtLeast1] = None
    """Override the rounds of every task; null: each task's own."""
    description: Str = ""
    teacher_noise: Optional[NoiseAxis] = None
    """Run every task at each of these teacher-noise levels."""
    include_privileged: Bool = False
    """With methods: all, also the privileged analysis methods (reported, never ranked)."""


@functools.cache
def _adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


def spec_dict(obj: Any) -> Any:
    """The spec as plain data (``dataclasses.asdict``), without the fields added after
    version 1 that still hold their default (``_option``); what content hashes are taken of."""
    return _adapter(type(obj)).dump_python(obj)


def json_schema(cls: type) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a YAML file of ``cls`` (``TaskConfig`` or ``SuiteConfig``)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **_adapter(cls).json_schema()}


def build(cls: type, data: dict[str, Any], file: str) -> Any:
    """Validate the mapping ``data`` read from ``file`` into the spec ``cls``; any defect is a
    one-line ``ConfigError`` naming the file, the dotted field and what was expected."""
    try:
        return _adapter(cls).validate_python(data)
    except ValidationError as e:
        where, problem = explain(e, _adapter(cls).json_schema())
        raise ConfigError(f"{file}: field '{where}': {problem}") from None


# ----------------------------------------------------------------------------- parsing


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file or malformed YAML is a ``ConfigError``."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        loc = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}: malformed YAML{loc}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a YAML mapping at the top level, got {type(data).__name__}")
    return data


def _check_name(cfg: Any, path: Path, kind: str) -> None:
    if cfg.name != path.stem:
        raise ConfigError(f"{path}: field 'name': expected {path.stem!r} (the file name), got {cfg.name!r}")


def load_task_file(path: Path | str) -> TaskConfig:
    path = Path(path)
    cfg = build(TaskConfig, read_yaml(path), str(path))
    _check_name(cfg, path, "task")
    s = cfg.splits
    if cfg.teacher.train_on == "teacher_split" and s.teacher < 1:
        raise ConfigError(
            f"{path}: field 'splits.teacher': expected an integer >= 1 when teacher.train_on is "
            f"'teacher_split', got {s.teacher}"
        )
    if s.pool is not None and cfg.rounds * cfg.queries_per_round > s.pool:
        raise ConfigError(
            f"{path}: field 'queries_per_round': rounds x queries_per_round = "
            f"{cfg.rounds} x {cfg.queries_per_round} exceeds the pool of {s.pool} points"
        )
    return cfg


def load_suite_file(path: Path | str) -> SuiteConfig:
    path = Path(path)
    cfg = build(SuiteConfig, read_yaml(path), str(path))
    _check_name(cfg, path, "suite")
    if cfg.methods != "all":
        labels = [m.label for m in cfg.methods]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ConfigError(f"{path}: field 'methods': expected distinct labels, got {dup[0]!r} twice")
    return cfg


def _scan(dirs: list[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in dirs:
        for p in sorted(Path(d).glob("*.yaml")):
            found.setdefault(p.stem, p)
    return found


def _load_tasks() -> None:
    for name, p in _scan(paths.task_dirs()).items():
        TASKS.add(name, p)


def _load_suites() -> None:
    for name, p in _scan([paths.SUITES_DIR]).items():
        SUITES.add(name, p)


TASKS: Registry = Registry("task", loader=_load_tasks)
SUITES: Registry = Registry("suite", loader=_load_suites)


def load_task(name_or_path: str | Path) -> TaskConfig:
    """A registered task name or a path to a task YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        return load_task_file(p)
    return load_task_file(TASKS.get(str(name_or_path)))


def load_suite(name_or_path: str | Path) -> SuiteConfig:
    """A registered suite name or a path to a suite YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        return load_suite_file(p)
    return load_suite_file(SUITES.get(str(name_or_path)))


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hex sha256 prefix of the canonical JSON encoding of ``obj``."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]
