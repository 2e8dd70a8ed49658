"""One generic name -> object registry, used for methods, models, data sources, tasks and suites.

Registration is by decorator (``@register_method("margin")``) or by ``Registry.add``. A
duplicate name is an error. An unknown name raises ``UnknownNameError`` with the list of
valid names and the closest match. Third-party acquisition methods are discovered through
the entry-point group ``akd_bench.methods``; each entry point names a class (or a module
whose import registers classes).
"""
from __future__ import annotations

import difflib
from importlib import metadata
from typing import Callable, Generic, Iterator, TypeVar

from benchmark.errors import RegistryError, UnknownNameError

T = TypeVar("T")

METHOD_ENTRY_POINT_GROUP = "akd_bench.methods"


class Registry(Generic[T]):
    """A named collection of objects of one kind (``kind`` is used in error messages)."""

    def __init__(self, kind: str, loader: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._loader = loader
        self._loaded = loader is None

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

    def get(self, name: str) -> T:
        self._ensure_loaded()
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


def load_method_entry_points() -> list[str]:
    """Import every entry point in the group ``akd_bench.methods``; returns their names.

    An entry point may name an ``AcquisitionMethod`` subclass that is not yet registered
    (it is registered under its ``name`` attribute) or a module whose import registers
    methods itself.
    """
    loaded = []
    for ep in metadata.entry_points(group=METHOD_ENTRY_POINT_GROUP):
        obj = ep.load()
        if isinstance(obj, type):
            name = getattr(obj, "name", None) or ep.name
            if name not in METHODS._items:
                obj.name = name
                METHODS.add(name, obj)
        loaded.append(ep.name)
    return loaded


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
