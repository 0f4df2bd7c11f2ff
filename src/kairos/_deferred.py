"""Lazy re-exports for package ``__init__`` modules (PEP 562).

A package lists where each public name lives; the module is imported the first time the name
is read, so ``import kairos`` stays cheap (no numpy, httpx or generated pydantic models) until
something is used. Type checkers read the same names from ``if TYPE_CHECKING:`` imports.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing itself is not imported: ``import kairos`` stays cheap
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any


def lazy_exports(
    package: str, modules: Mapping[str, str], submodules: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``modules`` maps each module (absolute, or
    relative to ``package`` when it starts with ``.``) to the public names it defines,
    separated by spaces; ``submodules`` are child modules reachable as attributes."""
    names = {name: module for module, listed in modules.items() for name in listed.split()}
    children = frozenset(submodules)
    namespace: dict[str, Any] = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        if name in children:
            value: Any = importlib.import_module(f"{package}.{name}")
        elif name in names:
            value = getattr(importlib.import_module(names[name], package), name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value  # the next read is an ordinary attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names) | children)

    return __getattr__, __dir__
