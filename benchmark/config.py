"""Task and suite specs: frozen dataclasses loaded from versioned YAML files and validated.

Every error is a ``ConfigError`` whose message names the file, the field (dotted path) and
what was expected, e.g. ``datasets/digits.yaml: field 'splits.labeled': expected an
integer >= 1, got -3``.

Task files live in ``datasets/<name>.yaml`` (plus ``AKD_BENCH_TASK_DIRS``); suite files in
``benchmark/suites/<name>.yaml``. Both are registered by file name in ``TASKS`` / ``SUITES``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml

from benchmark import paths
from benchmark.errors import ConfigError
from benchmark.noise_label import task_label
from benchmark.registry import Registry


# ----------------------------------------------------------------------------- checks


def _at_least(lo: float) -> Any:
    def check(v: Any) -> str | None:
        return None if v >= lo else f"a value >= {lo}"

    return check


def _in_unit_interval(v: Any) -> str | None:
    return None if 0.0 <= v <= 1.0 else "a value in [0, 1]"


def _positive(v: Any) -> str | None:
    return None if v > 0 else "a value > 0"


def _check(fn: Any, **kw: Any) -> Any:
    return field(metadata={"check": fn}, **kw)


def _option(default: Any, check: Any = None) -> Any:
    """A field added after version 1 of the spec format: omitted from ``spec_dict`` (and so
    from every content hash and run id) while it keeps its default, so adding an option
    never invalidates stored results or cached teachers."""
    return field(default=default, metadata={"check": check, "omit_default": True})


# ----------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class ModelSpec:
    """A registered model name and its constructor parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
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

    epochs: int = _check(_at_least(1), default=100)
    batch_size: int = _check(_at_least(0), default=0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = _check(_positive, default=1e-2)
    weight_decay: float = _check(_at_least(0.0), default=0.0)
    momentum: float = _check(_in_unit_interval, default=0.9)
    schedule: Literal["constant", "cosine"] = "constant"
    temperature: float = _check(_positive, default=1.0)
    distill_weight: float = _check(_in_unit_interval, default=0.5)
    warm_start: bool = False
    augment: Literal["none", "crop", "crop_flip"] = _option("none")
    crop_padding: int = _option(4, _at_least(0))
    grad_clip: float = _option(0.0, _at_least(0.0))


@dataclass(frozen=True)
class DataSpec:
    """A registered data source and its parameters (e.g. a folder path)."""

    source: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SplitSpec:
    """Split sizes. ``pool: null`` takes every point left after the other splits.

    ``test`` is drawn from the source's own test split when it has one, else from train.
    ``teacher`` > 0 reserves a labeled split that only the teacher trains on.
    """

    test: int = _check(_at_least(1))
    validation: int = _check(_at_least(1))
    labeled: int = _check(_at_least(1))
    pool: Optional[int] = _check(lambda v: None if v is None or v >= 1 else "an integer >= 1 or null", default=None)
    teacher: int = _check(_at_least(0), default=0)
    class_balanced: bool = True


def _noise_rate(v: Any) -> str | None:
    return None if 0.0 <= v < 1.0 else "a rate in [0, 1)"


@dataclass(frozen=True)
class NoiseSpec:
    """Controlled teacher error (``benchmark.noise``): ``kind`` and ``rate`` in [0, 1)."""

    kind: Literal["flip_uniform", "flip_hard", "flip_pairs", "train_labels"]
    rate: float = _check(_noise_rate)


NoiseKind = Literal["flip_uniform", "flip_hard", "flip_pairs", "train_labels"]


@dataclass(frozen=True)
class NoiseAxis:
    """A suite's teacher-noise grid axis: each ``kind`` (one, or a list) at each of ``rates``."""

    kind: Union[NoiseKind, list[NoiseKind]]
    rates: list[float] = _check(lambda v: None if v and all(0.0 <= r < 1.0 for r in v) and len(set(v)) == len(v)
                                else "a non-empty list of distinct rates in [0, 1)")

    @property
    def kinds(self) -> list[str]:
        return [self.kind] if isinstance(self.kind, str) else list(dict.fromkeys(self.kind))

    def levels(self) -> list["NoiseSpec"]:
        """Every (kind, rate), kind-major."""
        return [NoiseSpec(k, float(r)) for k in self.kinds for r in self.rates]


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class TaskConfig:
    """One task: data, splits, teacher, student, recipe, and the query schedule."""

    name: str
    version: int = _check(_at_least(1))
    data: DataSpec
    splits: SplitSpec
    teacher: TeacherSpec
    student: ModelSpec
    train: TrainRecipe = field(default_factory=TrainRecipe)
    rounds: int = _check(_at_least(1), default=10)
    queries_per_round: int = _check(_at_least(1), default=10)
    description: str = ""
    card: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return spec_dict(self)

    def content_hash(self) -> str:
        """sha256 of the canonical JSON of the resolved spec."""
        return stable_hash(self.to_dict())

    @property
    def label(self) -> str:
        """The name its results are stored and reported under: ``digits``, or with teacher
        noise ``digits@flip_uniform-0.2`` (``benchmark.noise_label``)."""
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


@dataclass(frozen=True)
class MethodEntry:
    """A method in a suite: registered ``name``, a ``label`` for reports, and parameters."""

    name: str
    label: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)


@dataclass(frozen=True)
class SuiteConfig:
    """A frozen grid of tasks x methods x seeds (x teacher-noise levels). ``methods: all``
    means every built-in non-privileged method, resolved when the suite runs, and with
    ``include_privileged: true`` also the privileged analysis methods (reported, never ranked)."""

    name: str
    version: int = _check(_at_least(1))
    tasks: list[str] = _check(lambda v: None if v else "a non-empty list of task names")
    methods: Union[Literal["all"], list[MethodEntry]] = "all"
    seeds: list[int] = _check(lambda v: None if v else "a non-empty list of integer seeds", default_factory=lambda: [0])
    rounds: Optional[int] = _check(lambda v: None if v is None or v >= 1 else "an integer >= 1 or null", default=None)
    description: str = ""
    teacher_noise: Optional[NoiseAxis] = None
    include_privileged: bool = False


def spec_dict(obj: Any) -> Any:
    """``dataclasses.asdict`` that drops ``_option`` fields still at their default."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if f.metadata.get("omit_default") and v == f.default:
                continue
            out[f.name] = spec_dict(v)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(spec_dict(v) for v in obj)
    if isinstance(obj, dict):
        return {k: spec_dict(v) for k, v in obj.items()}
    return obj


# ----------------------------------------------------------------------------- parsing


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    if tp is Any:
        return "any value"
    if origin is Literal:
        return repr(args[0]) if len(args) == 1 else "one of " + ", ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _describe(a) for a in args)
    if tp is MethodEntry:
        return "a method name or a mapping with keys ['name', 'label', 'params']"
    if origin is list:
        inner = _describe(args[0]).replace("a method name or a mapping", "method names or mappings")
        return f"a list of {inner.removeprefix('a ').removeprefix('an ')}" + ("s" if inner == _describe(args[0]) else "")
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        names = [f.name for f in dataclasses.fields(tp)]
        return f"a mapping with keys {names}"
    return str(tp)


class _NonFinite(ConfigError):
    """A NaN or infinite number: wrong under every alternative of a union type."""


def _convert(tp: Any, value: Any, where: str, file: str) -> Any:
    def fail(expected: str | None = None) -> ConfigError:
        return ConfigError(f"{file}: field '{where}': expected {expected or _describe(tp)}, got {value!r}")

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        _check_finite(value, where, file)
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # Optional[X]: X's own error names the inner field
            return _convert(options[0], value, where, file)
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(a, value, where, file)
            except _NonFinite:
                raise
            except ConfigError:
                continue
        raise fail()
    if origin is Literal:
        if value in args:
            return value
        raise fail()
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise fail()
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise fail()
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise _NonFinite(f"{file}: field '{where}': expected a finite number, got {value!r}")
            return float(value)
        raise fail()
    if tp is str:
        if isinstance(value, str):
            return value
        raise fail()
    if origin is list:
        if not isinstance(value, list):
            raise fail()
        return [_convert(args[0], v, f"{where}[{i}]", file) for i, v in enumerate(value)]
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise fail()
        _check_finite(value, where, file)
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if tp is MethodEntry and isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, dict):
            raise fail()
        return build(tp, value, file, where)
    raise TypeError(f"unsupported config type {tp!r}")  # a bug in a spec class, not user input


def _check_finite(value: Any, where: str, file: str) -> None:
    """A NaN or infinite number anywhere in a free-form value (model or method parameters, data
    source parameters) is a ConfigError naming its dotted path, e.g. ``student.params.dropout``."""
    if isinstance(value, float) and not math.isfinite(value):
        raise _NonFinite(f"{file}: field '{where}': expected a finite number, got {value!r}")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{where}.{k}", file)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(v, f"{where}[{i}]", file)


def build(cls: type, data: dict[str, Any], file: str, prefix: str = "") -> Any:
    """Build the frozen dataclass ``cls`` from a mapping, validating every field."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(f"{file}: field '{where}': unknown field; valid fields are {sorted(fields)}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        where = f"{prefix}.{name}" if prefix else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{file}: field '{where}': missing; expected {_describe(hints[name])}")
            continue
        value = _convert(hints[name], data[name], where, file)
        check = f.metadata.get("check")
        if check is not None and value is not None:
            problem = check(value)
            if problem:
                raise ConfigError(f"{file}: field '{where}': expected {problem}, got {data[name]!r}")
        kwargs[name] = value
    return cls(**kwargs)


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
    if len(set(cfg.seeds)) != len(cfg.seeds):
        raise ConfigError(f"{path}: field 'seeds': expected distinct seeds, got {cfg.seeds}")
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
