"""Per-request plumbing shared by the HTTP and WebSocket endpoints: who is calling, whether the
rate limit allows it, validating inputs against the registry's models, and running a handler
so that nothing but a :class:`TRPCError` ever reaches the wire."""

from __future__ import annotations

import logging
import math
import secrets
import traceback
from collections.abc import Sequence
from typing import Any

import pydantic

from kairos._trpc import ABSENT, TRPCError
from kairos.server._auth import ANONYMOUS, KeyRing, RateLimiter, bearer_token, fingerprint
from kairos.server._details import rate_limit_error, validation_error
from kairos.server._service import Caller, Service
from kairos_api import Procedure

log = logging.getLogger("kairos.server")


def request_id() -> str:
    return "req_" + secrets.token_hex(8)


def authenticate(
    keyring: KeyRing, authorization: str | None, engine_version: str | None
) -> Caller | TRPCError:
    """The caller behind an ``Authorization`` value, or the UNAUTHORIZED to answer."""
    if not keyring.enabled:
        return Caller(owner=ANONYMOUS, organization_id=None, engine_version=engine_version)
    token = bearer_token(authorization)
    if token is None:
        return TRPCError("UNAUTHORIZED", "an API key is required: Authorization: Bearer <key>")
    organization = keyring.organization_of(token)
    if organization is None:
        return TRPCError("UNAUTHORIZED", "the API key is not valid")
    return Caller(owner=organization, organization_id=organization, engine_version=engine_version)


def caller_ident(keyring: KeyRing, authorization: str | None, client_host: str | None) -> str:
    """The rate-limit bucket: a configured key's fingerprint, else the client's address.

    A key that is not configured counts against the address: bucketing by whatever token was
    presented would let a caller dodge the limit (and grow the limiter) with made-up keys.
    """
    token = bearer_token(authorization)
    if token and keyring.organization_of(token) is not None:
        return fingerprint(token)
    return f"addr:{client_host or 'unknown'}"


def rate_limited(limiter: RateLimiter | None, ident: str) -> TRPCError | None:
    if limiter is None:
        return None
    wait = limiter.acquire(ident)
    if wait <= 0:
        return None
    retry_after = max(1, math.ceil(wait))
    return rate_limit_error(retry_after)


def validate_input(procedure: Procedure[Any, Any], raw: object) -> Any:
    """The input as the procedure's model, or a BAD_REQUEST naming every bad field."""
    model = procedure.input_model
    if model is None:
        return None
    if raw is ABSENT or raw is None:
        raw = {}
    try:
        return model.model_validate(raw)
    except pydantic.ValidationError as exc:
        issues = [
            {"path": wire_path(error["loc"]) or "(input)", "message": error["msg"]}
            for error in exc.errors(include_url=False)
        ]
        summary = "; ".join(f"{i['path']}: {i['message']}" for i in issues[:5])
        more = f" (and {len(issues) - 5} more)" if len(issues) > 5 else ""
        raise validation_error(
            f"invalid input for {procedure.path}: {summary}{more}", issues
        ) from None


def wire_path(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a wire path: ``scenario.models[0].capabilityIndex``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "tagged-union", "union")):
            continue
        else:
            out += f".{part}" if out else part
    return out


async def run_call(
    service: Service,
    procedure: Procedure[Any, Any],
    caller: Caller,
    raw_input: object,
    *,
    dev: bool,
) -> Any:
    """Validate and run a query or mutation; every failure comes out as a TRPCError."""
    try:
        handler = service.handlers[procedure.path]
        answer = await handler(caller, validate_input(procedure, raw_input))
        if isinstance(answer, pydantic.BaseModel):
            return answer.model_dump(mode="json", by_alias=True)
        return answer
    except TRPCError as exc:
        raise exc.with_path(procedure.path) from None
    except Exception as exc:
        raise internal_error(exc, procedure.path, dev=dev) from None


class _ErrorWithStack(TRPCError):
    """An INTERNAL_SERVER_ERROR of a server in development mode: its shape carries the stack."""

    def __init__(self, message: str, *, path: str | None, stack: str) -> None:
        super().__init__("INTERNAL_SERVER_ERROR", message, path=path)
        self.stack = stack

    def with_path(self, path: str | None) -> TRPCError:
        return self

    def shape(
        self, *, request_id: str | None = None, stack: str | None = None
    ) -> dict[str, object]:
        return super().shape(request_id=request_id, stack=stack or self.stack)


def internal_error(exc: BaseException, path: str | None, *, dev: bool) -> TRPCError:
    """An unexpected failure: logged with its traceback, answered without one (the message and
    the stack reach the client only in development mode)."""
    log.exception("internal error in %s", path or "request", exc_info=exc)
    if dev:
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        message = f"Internal server error: {type(exc).__name__}: {exc}"
        return _ErrorWithStack(message, path=path, stack=stack)
    return TRPCError("INTERNAL_SERVER_ERROR", "Internal server error", path=path)
