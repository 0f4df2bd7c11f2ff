"""The errors the server answers with, their ``data.kairos`` details built with the generated
models of ``$defs/ErrorData``, so that the schema decides their wire shape on both sides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kairos._trpc import ErrorKey, TRPCError
from kairos_api import models
from kairos_api._base import KairosModel


def detail(model: KairosModel) -> dict[str, object]:
    """A detail model in wire form (camelCase, JSON types)."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def limit_error(
    code: ErrorKey,
    message: str,
    limit: str,
    maximum: float,
    *,
    actual: float | None = None,
    path: str | None = None,
) -> TRPCError:
    """A request over one of the server's limits (``LimitErrorDetail``)."""
    model = models.LimitErrorDetail(kind="limit", limit=limit, maximum=maximum, actual=actual)
    return TRPCError(code, message, path=path, kairos=detail(model))


def rate_limit_error(retry_after: int) -> TRPCError:
    """429 with ``Retry-After`` (``RateLimitErrorDetail``)."""
    model = models.RateLimitErrorDetail(kind="rate_limit", retry_after=retry_after)
    return TRPCError(
        "TOO_MANY_REQUESTS",
        f"rate limit exceeded; retry after {retry_after} s",
        kairos=detail(model),
        headers={"retry-after": str(retry_after)},
    )


def validation_error(message: str, issues: Sequence[Mapping[str, object]]) -> TRPCError:
    """400 listing every problem of an input (``ValidationErrorDetail``)."""
    model = models.ValidationErrorDetail(
        kind="validation",
        issues=[models.ValidationIssue.model_validate(issue) for issue in issues],
    )
    return TRPCError("BAD_REQUEST", message, kairos=detail(model))


def simulation_error(simulation_id: str, reason: str, message: str) -> TRPCError:
    """A simulation that failed or was cancelled (``SimulationErrorDetail``)."""
    model = models.SimulationErrorDetail(
        kind="simulation", simulation_id=simulation_id, reason=reason
    )
    return TRPCError("UNPROCESSABLE_CONTENT", message, kairos=detail(model))


def engine_version_error(message: str, requested: str, active: Sequence[str]) -> TRPCError:
    """A retired or unknown engine version (``EngineVersionErrorDetail``)."""
    model = models.EngineVersionErrorDetail(
        kind="engine_version", requested=requested, active=list(active)
    )
    return TRPCError("PRECONDITION_FAILED", message, kairos=detail(model))


def decree_error(simulation_id: str, status: str, reason: str, message: str) -> TRPCError:
    """A decree the simulation can no longer take (``DecreeErrorDetail``): CONFLICT."""
    model = models.DecreeErrorDetail.model_validate(
        {"kind": "decree", "simulationId": simulation_id, "status": status, "reason": reason}
    )
    return TRPCError("CONFLICT", message, kairos=detail(model))
