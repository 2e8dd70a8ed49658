"""One generic name -> object registry, used for methods, models, data sources, tasks and suites.

Registration is by decorator (``@register_method("margin")``) or by ``Registry.add``. A
duplicate name is an error. An unknown name raises ``UnknownNameError`` with the list of
valid names and the closest match. Third-party acquisition methods are discovered through
the entry-point group ``akd_bench.methods``; each entry point names a class (or a module
whose import registers classes). A broken or clashing plugin is skipped with one warning
(``load_method_entry_points``); built-in methods are listed by ``builtin_method_names``.
"""
from __future__ import annotations

import difflib
import sys
import types
from importlib import metadata
from typing import Callable, Generic, Iterator, TypeVar

from benchmark.core.errors import RegistryError, UnknownNameError

T = TypeVar("T")

METHOD_ENTRY_POINT_GROUP = "akd_bench.methods"


class Registry(Generic[T]):
    """A named collection of objects of one kind (``kind`` is used in error messages)."""

    def __init__(self, kind: str, loader: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._loader = loader
        self._loaded = loader is None
        self._broken: dict[str, str] = {}

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._loaded = True
            assert self._loader is not None
            self._loader()

    def add(self, name: str, obj: T) -> T:
        if not isinstance(name, str) or not name or name != name.strip():
            raise RegistryError(f"invalid {self.kind} name {name!r}: use a non-empty string")
        if name in self._items:
            raise RegistryError(
                f"duplicate {self.kind} name {name!r}: already registered as {self._items[name]!r}"
            )
        self._items[name] = obj
        return obj

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of ``add``."""

        def deco(obj: T) -> T:
            return self.add(name, obj)

        return deco

    def remove(self, name: str) -> T:
        """Remove and return an entry (used by tests that register temporary objects)."""
        self._ensure_loaded()
        return self._items.pop(name)

    def mark_broken(self, name: str, reason: str) -> None:
        """Remember why ``name`` could not be registered; ``get(name)`` then raises it."""
        self._broken[name] = reason

    def get(self, name: str) -> T:
        self._ensure_loaded()
        if name not in self._items and name in self._broken:
            raise RegistryError(self._broken[name])
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        valid = sorted(self._items)
        close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Valid {self.kind}s: {', '.join(valid) or '(none)'}"

    def names(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        self._ensure_loaded()
        return sorted(self._items.items())


def _load_methods() -> None:
    import methods  # noqa: F401  (importing the package registers the built-in methods)

    load_method_entry_points()


def builtin_method_names() -> list[str]:
    """The methods of this package's ``methods`` folder (what a suite's ``methods: all``
    runs); plugins and methods registered elsewhere run only when named."""
    return [n for n, cls in METHODS.items() if cls.__module__.split(".")[0] == "methods"]


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def load_method_entry_points(warn: Callable[[str], None] = _warn) -> list[str]:
    """Import every entry point in the group ``akd_bench.methods``; returns the names loaded.

    An entry point names an ``AcquisitionMethod`` subclass (registered under its own ``name``,
    else the entry point's) or a module whose import registers methods itself. One rule for
    every name: the first registration of a name wins and a second one is refused. In code
    (``register_method``) that refusal is a ``RegistryError``; an installed plugin cannot be
    fixed by the user of this package, so a plugin that clashes, fails to import, or names
    anything else is skipped with one ``warn`` line naming its distribution and entry point,
    and asking for it by name gives that reason as a clear error.
    """
    loaded = []
    for ep in metadata.entry_points(group=METHOD_ENTRY_POINT_GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", None) or "an unknown distribution"
        try:
            _register_entry_point(ep)
        except Exception as e:  # noqa: BLE001  (a broken plugin must not break other commands)
            reason = str(e).splitlines()[0] if str(e) else ""
            problem = (f"method plugin {ep.name!r} ({ep.value}) from {dist} was skipped: "
                       f"{type(e).__name__}{': ' + reason if reason else ''}")
            METHODS.mark_broken(ep.name, problem)
            warn(problem)
            continue
        loaded.append(ep.name)
    return loaded


def _register_entry_point(ep: metadata.EntryPoint) -> None:
    from methods.base import AcquisitionMethod

    obj = ep.load()
    if isinstance(obj, types.ModuleType):
        return  # its import registered its methods
    if not (isinstance(obj, type) and issubclass(obj, AcquisitionMethod)):
        what = "a class" if isinstance(obj, type) else f"a {type(obj).__name__}"
        raise RegistryError(f"{ep.value} is {what}, not an AcquisitionMethod subclass")
    name = obj.__dict__.get("name") or ep.name
    if METHODS._items.get(name) is obj:
        if name != ep.name:  # the entry point's name would silently mean nothing
            raise RegistryError(f"the class is registered as {name!r} by its own decorator; name the entry point "
                                f"{name!r} too, or ask for --methods {name}")
        return  # registered by its own decorator on import
    METHODS.add(name, obj)
    obj.name = name


METHODS: Registry = Registry("method", loader=_load_methods)
MODELS: Registry = Registry("model", loader=lambda: __import__("benchmark.models"))
DATA_SOURCES: Registry = Registry("data source", loader=lambda: __import__("benchmark.data"))


def register_method(name: str) -> Callable[[type], type]:
    """Register an ``AcquisitionMethod`` subclass; sets its ``name`` attribute."""

    def deco(cls: type) -> type:
        cls.name = name
        return METHODS.add(name, cls)

    return deco


def register_model(name: str) -> Callable[[T], T]:
    """Register a model factory ``f(in_shape, num_classes, **params) -> nn.Module``."""
    return MODELS.register(name)


def register_data_source(name: str) -> Callable[[T], T]:
    """Register a data-source loader ``f(**params) -> LoadedData``."""
    return DATA_SOURCES.register(name)
