"""A small registry like the one the capture fixture of trpc-protocol.md serves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Proc:
    kind: str
    input_model: object | None = "a parser"  # None: the procedure takes no input


REGISTRY: Mapping[str, Proc] = {
    "greet": Proc("query"),
    "post.byId": Proc("query"),
    "fail": Proc("query"),
    "add": Proc("mutation"),
    "count": Proc("subscription"),
    "ping": Proc("query", input_model=None),
}


@pytest.fixture
def registry() -> Mapping[str, Proc]:
    return REGISTRY
