"""Handlers imported at their first call: a route table names them without loading them.

The API's and the dashboard's modules are ~1 MB that a server serving only sites never
uses (idle memory, issue 22); `lazy_module("fazt.api.keys").create_key` stands for the
function until a request calls it (or asks it for an attribute), then imports its module.
"""

import importlib
from typing import Any


class LazyFunction:
    """`module.name`, imported when first called or asked for an attribute."""

    def __init__(self, module: str, name: str) -> None:
        self._where = (module, name)
        self._fn: Any = None
        # What adapters name endpoints by, without importing anything.
        self.__module__, self.__qualname__ = module, name

    def resolve(self) -> Any:
        if self._fn is None:
            module, name = self._where
            self._fn = getattr(importlib.import_module(module), name)
        return self._fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:  # only for names the instance lacks
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self.resolve(), attr)


class LazyModule:
    """A module's functions as LazyFunctions; the module is imported at the first call."""

    def __init__(self, module: str) -> None:
        self._module = module

    def __getattr__(self, name: str) -> LazyFunction:
        if name.startswith("__"):
            raise AttributeError(name)
        return LazyFunction(self._module, name)


def lazy_module(module: str) -> LazyModule:
    return LazyModule(module)
