"""Lazy re-exports for package ``__init__`` modules (PEP 562), listed once, in a stub.

A lazy package keeps the list of its public names in ``__init__.pyi`` beside its
``__init__.py``: explicit re-exports (``from ._client import KairosClient as KairosClient``) and
declarations of what ``__init__.py`` defines itself (``__version__: str``). Type checkers read
the stub instead of ``__init__.py``; at run time :func:`exports_from_stub` reads the same stub and
imports each name's module the first time the name is read, so ``import kairos`` stays cheap (no
numpy, httpx or generated pydantic models) until something is used. Public child modules
(``kairos.engine``, ``kairos.domains.ai_safety``) are reachable as attributes without a list.

The stub is read with string operations: importing :mod:`ast` costs many times ``import kairos``.
So a stub keeps to this form, and anything else is a :class:`StubError` naming its line::

    # comments and blank lines
    from kairos.trace import Trace as Trace            # absolute, or relative (from .x, from .)
    from ._batch import (                              # parenthesised over several lines
        BatchSimulation as BatchSimulation,
        run_batch as run_batch,
    )
    __version__: str                                   # a declaration, no value
"""

import sys

# Nothing else is imported before a name is read (not typing, importlib or __future__: each
# costs more than reading the stub); hence the quoted annotations.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

FORMS = "is not `from MODULE import NAME as NAME` or `NAME: TYPE`"


class StubError(Exception):
    """A package's ``__init__.pyi`` is not in the form :func:`read_stub` reads, or declares a
    name its ``__init__.py`` does not define: a developer's mistake, in one line that names the
    file and the line."""

    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(f"{path}, line {line}: {problem}")


def exports_from_stub(
    package: str, init_file: str
) -> "tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]":
    """``(__getattr__, __dir__, __all__)`` for ``package`` from the stub beside ``init_file``
    (its ``__file__``).

    A re-exported name is imported from its module when first read; a name the stub takes from
    the package itself (``from . import errors as errors``) is that child module. Any other public
    child module is imported when first read as an attribute. ``__all__`` is every name of the
    stub, in its order; the declared ones must already be defined in ``package``.
    """
    stub = init_file.rpartition(".")[0] + ".pyi"
    entries = read_stub(stub, package)
    namespace: dict[str, Any] = sys.modules[package].__dict__
    sources: dict[str, str] = {}
    for name, source, line in entries:
        if source is not None:
            sources[name] = source
        elif name not in namespace:
            raise StubError(
                stub,
                line,
                f"{name} is declared but {package} does not define it before reading its stub",
            )

    def __getattr__(name: str) -> "Any":
        import importlib

        source = sources.get(name)
        if source == package or (source is None and is_public_child(package, name)):
            value: Any = importlib.import_module(f"{package}.{name}")
        elif source is not None:
            value = getattr(importlib.import_module(source), name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value  # the next read is an ordinary attribute
        return value

    def __dir__() -> list[str]:
        import pkgutil

        children = {child.name for child in pkgutil.iter_modules(namespace["__path__"])}
        return sorted(set(namespace) | set(sources) | {c for c in children if c[0] != "_"})

    return __getattr__, __dir__, [name for name, _, _ in entries]


def is_public_child(package: str, name: str) -> bool:
    """Whether ``package.name`` is a module whose name does not start with ``_``."""
    if not name.isidentifier() or name.startswith("_"):
        return False
    import importlib.util

    return importlib.util.find_spec(f"{package}.{name}") is not None


def read_stub(path: str, package: str) -> list[tuple[str, str | None, int]]:
    """The names the stub at ``path`` (of ``package``) makes public, in its order: ``(name,
    absolute module it comes from, line)``, the module ``None`` for a declaration."""
    entries: list[tuple[str, str | None, int]] = []
    first_seen: dict[str, int] = {}
    for line, statement in logical_lines(path):
        names: list[tuple[str, str | None]]
        if statement.startswith("from "):
            source, listed = parse_from_import(path, line, statement)
            names = [(name, resolve(path, line, source, package)) for name in listed]
        else:
            names = [(parse_declaration(path, line, statement), None)]
        for name, where in names:
            if name in first_seen:
                raise StubError(
                    path, line, f"{name} is listed twice (first on line {first_seen[name]})"
                )
            first_seen[name] = line
            entries.append((name, where, line))
    return entries


def logical_lines(path: str) -> list[tuple[int, str]]:
    """``(line number, statement)`` for each statement of the file at ``path``: comments and
    blank lines dropped, a parenthesised statement joined into one line."""
    with open(path, encoding="utf-8") as file:
        physical = file.read().splitlines()
    statements: list[tuple[int, str]] = []
    start, pending, depth = 0, "", 0
    for number, raw in enumerate(physical, 1):
        text = raw.partition("#")[0].strip()
        if not text:
            continue
        if depth == 0:
            start, pending = number, text
        else:
            pending += " " + text
        depth += text.count("(") - text.count(")")
        if depth < 0:
            raise StubError(path, number, "')' closes nothing")
        if depth == 0:
            statements.append((start, pending))
    if depth:
        raise StubError(path, start, "'(' is never closed")
    return statements


def parse_from_import(path: str, line: int, statement: str) -> tuple[str, list[str]]:
    """``(module as written, names)`` of ``from MODULE import A as A, (B as B,)``."""
    source, found, listed = statement[len("from ") :].partition(" import ")
    source, listed = source.strip(), listed.strip()
    bracketed = listed.startswith("(") and listed.endswith(")")
    if bracketed:
        listed = listed[1:-1].strip()
        if listed.endswith(","):
            listed = listed[:-1]
    if not found or not is_module(source) or not listed or "(" in listed or ")" in listed:
        raise StubError(path, line, f"`{statement}` {FORMS}")
    names = []
    for alias in listed.split(","):
        name, _, exported = alias.strip().partition(" as ")
        name, exported = name.strip(), exported.strip()
        if not name.isidentifier():
            raise StubError(path, line, f"`{statement}` {FORMS}")
        if exported != name:
            raise StubError(path, line, f"{name} must be re-exported as itself: `{name} as {name}`")
        names.append(name)
    return source, names


def parse_declaration(path: str, line: int, statement: str) -> str:
    """The name of ``NAME: TYPE``."""
    name, colon, annotation = statement.partition(":")
    name, annotation = name.strip(), annotation.strip()
    if not colon or not name.isidentifier() or not annotation or "=" in annotation:
        raise StubError(path, line, f"`{statement}` {FORMS}")
    return name


def is_module(source: str) -> bool:
    """Whether ``source`` is a module as ``from`` takes it: ``a.b``, ``.a.b``, ``..``, ``.``."""
    dotted = source.lstrip(".")
    return (not dotted and bool(source)) or all(part.isidentifier() for part in dotted.split("."))


def resolve(path: str, line: int, source: str, package: str) -> str:
    """The absolute name of ``source`` imported in ``package``'s ``__init__``."""
    dotted = source.lstrip(".")
    level = len(source) - len(dotted)
    if not level:
        return source
    parts = package.split(".")
    if level > len(parts):
        raise StubError(path, line, f"{source} is above the top-level package")
    base = ".".join(parts[: len(parts) - level + 1])
    return f"{base}.{dotted}" if dotted else base
