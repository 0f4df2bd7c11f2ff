"""The call machine: every decision of one query or mutation, with no I/O.

A call is a generator. It yields actions (:class:`Send` a request, :class:`Sleep` before a
retry) and is sent back what happened (:class:`Received` a response, or :class:`Failed` with no
response); it returns the decoded output or raises a :mod:`kairos.errors` exception. Encoding,
the idempotency key (minted once, before the first attempt, so every retry repeats it), the
retry decision (:class:`kairos._trpc.retry.RetryPolicy`) and error mapping all live here, so
the sync driver over ``httpx.Client`` and the async driver over ``httpx.AsyncClient``
(:mod:`._http`) only move bytes and sleep, and cannot disagree.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import pydantic

from kairos._trpc import ABSENT, Err, Malformed, Ok
from kairos._trpc.http_client import RequestSpec, build_request, parse_response
from kairos._trpc.http_client import request_id_from_headers as _request_id
from kairos._trpc.json_values import JSONEncodeError
from kairos._trpc.retry import (
    ConnectionFailed,
    GiveUp,
    Outcome,
    StatusOutcome,
    TimedOut,
    parse_retry_after,
    retry_after_from_shape,
)
from kairos.errors import (
    APIConnectionError,
    APIProtocolError,
    APITimeoutError,
    Issue,
    KairosError,
    ValidationError,
    error_from_malformed,
    error_from_shape,
    redact,
)
from kairos_api import Procedure

from ._settings import ClientSettings

__all__ = ["Action", "Failed", "Machine", "Received", "Send", "Sleep", "call_machine"]

log = logging.getLogger("kairos.client")

OutputT = TypeVar("OutputT", bound=pydantic.BaseModel)

RETRY_COUNT_HEADER = "x-kairos-retry-count"


@dataclass(frozen=True)
class Send:
    """Send ``request`` (relative to the tRPC base URL) and answer with what came back."""

    request: RequestSpec
    headers: Mapping[str, str]
    timeout: float


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds``, then answer with None."""

    seconds: float


@dataclass(frozen=True)
class Received:
    """A response arrived (any status)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Failed:
    """No response: the connection failed or broke (``connection``), or time ran out."""

    kind: Literal["connection", "timeout"]
    error: BaseException


Action = Send | Sleep
ResultT = TypeVar("ResultT")
Machine = Generator[Action, "Received | Failed | None", ResultT]


def encode_input(
    procedure: Procedure[Any, Any], input: pydantic.BaseModel | None, settings: ClientSettings
) -> object:
    """The wire input: the model's JSON form, plus the client's engine pin and an idempotency
    key when the procedure has those fields and the caller left them out."""
    if input is None:
        return ABSENT
    payload: dict[str, Any] = input.model_dump(mode="json", by_alias=True, exclude_none=True)
    if settings.engine_version is not None and _has_wire_field(procedure, "engineVersion"):
        payload.setdefault("engineVersion", settings.engine_version)
    field = procedure.idempotency_key_field
    if field is not None and field not in payload:
        payload[field] = f"kairos-{uuid.uuid4().hex}"
    return payload


def _has_wire_field(procedure: Procedure[Any, Any], wire_name: str) -> bool:
    model = procedure.input_model
    if model is None:
        return False
    return any((f.alias or name) == wire_name for name, f in model.model_fields.items())


def call_machine(
    procedure: Procedure[Any, OutputT],
    input: pydantic.BaseModel | None,
    settings: ClientSettings,
    *,
    allow_unsafe_retry: bool | None = None,
    rng: Callable[[], float] = random.random,
    clock: Callable[[], float] = time.time,
) -> Machine[OutputT]:
    """Run one query or mutation (see the module docs for the protocol of the generator).

    ``allow_unsafe_retry`` overrides ``settings.retry_create_on_connection_error`` for this
    call; it only matters for procedures the registry marks not retry-safe.
    """
    if procedure.kind == "subscription":
        raise ValueError(f"{procedure.path} is a subscription; use subscribe()")
    kind: Literal["query", "mutation"] = procedure.kind
    unsafe_ok = (
        settings.retry_create_on_connection_error
        if allow_unsafe_retry is None
        else allow_unsafe_retry
    )
    payload = encode_input(procedure, input, settings)
    try:
        request = build_request(procedure.path, kind, payload)
    except JSONEncodeError as exc:
        raise ValidationError([Issue("(input)", str(exc))]) from None
    base_headers = {**settings.headers(), **dict(request.headers)}
    policy = settings.policy
    waited = 0.0
    attempt = 0
    while True:
        headers = {**base_headers, RETRY_COUNT_HEADER: str(attempt)}
        log.debug("%s %s (attempt %d)", request.method, procedure.path, attempt + 1)
        reply = yield Send(request, headers, settings.timeout)
        outcome: Outcome
        error: KairosError
        if isinstance(reply, Failed):
            cause = reply.error
            if reply.kind == "timeout":
                outcome = TimedOut()
                error = APITimeoutError(path=procedure.path, cause=cause)
            else:
                outcome = ConnectionFailed()
                error = APIConnectionError(path=procedure.path, cause=cause)
        elif isinstance(reply, Received):
            request_id = _request_id(reply.headers)
            log.debug("%s -> HTTP %d (request id %s)", procedure.path, reply.status, request_id)
            [result] = parse_response(reply.status, reply.body)
            header_hint = parse_retry_after(_header(reply.headers, "retry-after"), now=clock())
            if isinstance(result, Ok):
                return _decode_output(procedure, result.data, request_id)
            if isinstance(result, Err):
                hint = (
                    header_hint if header_hint is not None else retry_after_from_shape(result.shape)
                )
                outcome = StatusOutcome(result.http_status, hint)
                error = error_from_shape(
                    result.shape,
                    http_status=result.http_status,
                    path=procedure.path,
                    request_id=request_id,
                    retry_after=hint,
                )
            else:
                assert isinstance(result, Malformed)
                outcome = StatusOutcome(result.http_status, header_hint)
                error = error_from_malformed(
                    result.http_status,
                    result.reason,
                    result.body_excerpt,
                    path=procedure.path,
                    request_id=request_id,
                    retry_after=header_hint,
                )
        else:
            raise RuntimeError(f"the call machine was sent {reply!r}, not a response")
        decision = policy.decide(
            attempt,
            outcome,
            retry_safe=procedure.retry_safe,
            allow_unsafe_retry=unsafe_ok,
            rng_value=rng(),
            spent=waited,
        )
        if isinstance(decision, GiveUp):
            log.debug("%s: not retried: %s", procedure.path, decision.reason)
            raise error
        log.info(
            "retrying %s in %.2f s after %s",
            procedure.path,
            decision.delay,
            redact(str(error)),
        )
        yield Sleep(decision.delay)
        waited += decision.delay
        attempt += 1


def _decode_output(
    procedure: Procedure[Any, OutputT], data: object, request_id: str | None
) -> OutputT:
    try:
        return procedure.output_model.model_validate(None if data is ABSENT else data)
    except pydantic.ValidationError as exc:
        raise APIProtocolError(
            f"the server's answer to {procedure.path} does not match the API schema: "
            f"{exc.error_count()} problem(s), first: {exc.errors(include_url=False)[0]['msg']}",
            path=procedure.path,
            request_id=request_id,
        ) from None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
