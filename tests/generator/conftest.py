"""Helpers for generator tests: generate a package into a temporary directory and import it."""

from __future__ import annotations

import importlib
import itertools
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from codegen import generate, write_or_check

FIXTURES = Path(__file__).parent / "fixtures"
ZOO_SCHEMA = FIXTURES / "zoo.schema.json"
_counter = itertools.count()


def generate_package(schema: Path, parent: Path) -> ModuleType:
    """Generate a package from ``schema`` under ``parent`` with a unique name and import it."""
    name = f"generated_pkg_{next(_counter)}"
    write_or_check(generate(schema), parent / name, check=False)
    sys.path.insert(0, str(parent))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(parent))


@pytest.fixture
def import_generated(tmp_path: Path) -> Iterator[Callable[[Path], ModuleType]]:
    names: list[str] = []

    def _import(schema: Path) -> ModuleType:
        module = generate_package(schema, tmp_path)
        names.append(module.__name__)
        return module

    yield _import
    for name in names:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]


@pytest.fixture(scope="session")
def zoo_files() -> dict[str, str]:
    return {f.path: f.content for f in generate(ZOO_SCHEMA)}


class RecordingRuntime:
    """A runtime that records what the stubs hand it and answers with canned wire data."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, Any]] = []

    def _answer(self, procedure: Any, input: Any) -> Any:
        self.calls.append((procedure.path, input))
        return procedure.output_model.model_validate(self.answers[procedure.path])

    def call(self, procedure: Any, input: Any) -> Any:
        return self._answer(procedure, input)

    async def acall(self, procedure: Any, input: Any) -> Any:
        return self._answer(procedure, input)

    def subscribe(self, procedure: Any, input: Any) -> Iterator[Any]:
        self.calls.append((procedure.path, input))
        for event in self.answers[procedure.path]:
            yield procedure.output_model.model_validate(event)

    async def asubscribe(self, procedure: Any, input: Any) -> AsyncIterator[Any]:
        for event in self.subscribe(procedure, input):
            yield event
