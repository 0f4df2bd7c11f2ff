"""Exceptions the engine raises. Plain ``Exception`` subclasses: the engine imports nothing from
the client or the server, which map these onto their own error types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Issue(NamedTuple):
    """One problem with an input: where (``models[0].capabilityIndex``) and what.

    The one issue type of the SDK (``kairos.errors.Issue`` is this class). Its wire form
    (``$defs/ValidationIssue``) is :meth:`to_wire`'s ``{"path": ..., "message": ...}``.
    """

    path: str
    message: str

    def to_wire(self) -> dict[str, str]:
        """``{"path": ..., "message": ...}``, as ``scenario.validate`` and error details carry
        it."""
        return {"path": self.path, "message": self.message}


class EngineError(Exception):
    """Base class of the engine's exceptions."""


class ScenarioError(EngineError, ValueError):
    """A scenario failed validation; ``issues`` lists every problem with its wire path."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues: list[Issue] = list(issues)
        lines = [f"{issue.path}: {issue.message}" for issue in self.issues]
        count = len(self.issues)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"invalid scenario ({count} {noun}):\n  " + "\n  ".join(lines))


class EngineVersionError(EngineError, LookupError):
    """A run named an engine version that is retired or unknown."""

    def __init__(self, requested: str, active: Sequence[str], *, retired: bool) -> None:
        self.requested = requested
        self.active: list[str] = list(active)
        self.retired = retired
        status = "retired" if retired else "unknown"
        super().__init__(
            f"engine version {requested!r} is {status}; active versions: {', '.join(self.active)}"
        )


class CheckpointError(EngineError, ValueError):
    """A checkpoint cannot be resumed: malformed, another format, or another scenario."""


class BackendError(EngineError, ValueError):
    """An unknown engine backend was named, or the compiled kernel was required but cannot
    load (``backend="kernel"`` or ``KAIROS_ENGINE_BACKEND=kernel`` without numba)."""
