"""Fixtures of the engine tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from .scenarios import SCHEMA


@pytest.fixture(scope="session")
def schema_validator() -> Callable[[str], Draft202012Validator]:
    """A validator for ``$defs/<name>`` resolved through a registry over the schema file."""
    resource = Resource.from_contents(SCHEMA)
    registry: Registry = Registry().with_resource(SCHEMA["$id"], resource)

    def make(name: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{SCHEMA['$id']}#/$defs/{name}"}, registry=registry)

    return make
