"""Import Great Expectations without the parts a pandas validation never uses.

GX's import takes seconds, and over a third of it goes to libraries our suites never
touch: ``scipy.stats`` and Altair (imported at module level by a few distribution
expectations and the renderers) and SQLAlchemy (imported when installed, for SQL data
sources). In a process that has not imported them yet, :func:`import_great_expectations`
gives GX a ``scipy.stats`` and an ``altair`` that load themselves on first use (so an
expectation or renderer that needs them still works) and imports GX as if SQLAlchemy were
not installed (GX's own documented fallback). Nothing changes in a process that already
has them, such as an Airflow task.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _OnFirstUse(types.ModuleType):
    """A module that imports the real one the first time one of its names is read."""

    def __getattr__(self, name: str) -> Any:
        if name == "__loader__":  # asked by the import system when it finds the module: not a use
            raise AttributeError(name)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)
        return getattr(real, name)


class _Absent(importlib.abc.MetaPathFinder):
    """Answers that the packages named are not installed."""

    def __init__(self, packages: frozenset[str]) -> None:
        self.packages = packages

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] in self.packages:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


@contextmanager
def _as_if_absent(packages: frozenset[str]) -> Iterator[None]:
    finder = _Absent(frozenset(p for p in packages if p not in sys.modules))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def _defer(name: str) -> None:
    """Put ``name`` in sys.modules as a module that loads itself on first use (if not loaded yet)."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)  # finds the file (imports the parent package only)
    if spec is None:
        return
    deferred = _OnFirstUse(name)
    deferred.__spec__ = spec  # what the import system asks of a module it finds in sys.modules
    sys.modules[name] = deferred
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, deferred)


def import_great_expectations() -> types.ModuleType:
    """``great_expectations``, imported without loading scipy.stats, Altair or SQLAlchemy up front."""
    if "great_expectations" not in sys.modules:
        _defer("scipy.stats")
        _defer("altair")
        with _as_if_absent(frozenset({"sqlalchemy"})):
            importlib.import_module("great_expectations")
    return sys.modules["great_expectations"]
