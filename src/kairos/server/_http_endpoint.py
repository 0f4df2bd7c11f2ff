"""tRPC over HTTP: ``/trpc/<path>`` for queries (GET) and mutations (POST), with batching,
streamed batches (JSON Lines) and subscriptions over SSE (:mod:`._sse`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from kairos._trpc import Ok, TRPCError
from kairos._trpc.http_server import (
    VARY,
    Call,
    ImmediateResponse,
    ResponseSpec,
    build_http_response,
    error_response,
    parse_http_request,
)
from kairos._trpc.jsonl import JSONLBatchEncoder
from kairos._waiting import wait_within
from kairos.server._context import (
    authenticate,
    caller_ident,
    rate_limited,
    request_id,
    run_call,
)
from kairos.server._details import limit_error
from kairos.server._sse_endpoint import sse_response
from kairos_api import PROCEDURES

if TYPE_CHECKING:
    from kairos.server._state import ServerState

BASE = "/trpc"


async def http_endpoint(request: Request) -> Response:
    state: ServerState = request.app.state.kairos
    rid = request_id()
    headers = request.headers
    authorization = headers.get("authorization")

    limited = rate_limited(
        state.limiter,
        caller_ident(state.keyring, authorization, request.client.host if request.client else None),
    )
    if limited is not None:
        return _send(error_response(limited, request_id=rid))

    try:
        body = await wait_within(
            _read_body(request, state.config.max_body_bytes), state.config.body_timeout_seconds
        )
    except asyncio.TimeoutError:
        body = TRPCError(
            "TIMEOUT",
            f"the request body did not arrive within {state.config.body_timeout_seconds:g} s",
        )
    if isinstance(body, TRPCError):
        return _send(error_response(body, request_id=rid))

    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    path = raw_path.decode("latin-1").split("?", 1)[0].removeprefix(BASE)
    parsed = parse_http_request(
        request.method,
        path,
        request.scope.get("query_string", b""),
        dict(headers),
        body,
        PROCEDURES,
        max_batch_size=state.config.max_batch_size,
    )
    if isinstance(parsed, ImmediateResponse):
        return _send(parsed.response)
    if parsed.is_subscription:
        return sse_response(request, state, parsed, rid)

    caller = authenticate(state.keyring, authorization, headers.get("x-kairos-engine-version"))

    async def one(call: Call) -> Ok | TRPCError:
        if call.error is not None:
            return call.error
        if isinstance(caller, TRPCError):
            return caller
        try:
            procedure = PROCEDURES[call.path]
            return Ok(
                await run_call(state.service, procedure, caller, call.input, dev=state.config.dev)
            )
        except TRPCError as exc:
            return exc

    if parsed.jsonl:
        return StreamingResponse(
            _jsonl(parsed.calls, one, rid),
            status_code=200,
            headers={"vary": VARY[1], "content-type": "application/json", "x-request-id": rid},
        )
    results = await asyncio.gather(*(one(call) for call in parsed.calls))
    response = build_http_response(
        results, parsed.is_batch, paths=[c.path for c in parsed.calls], request_id=rid
    )
    return _send(response)


async def _jsonl(
    calls: Sequence[Call],
    run: Callable[[Call], Awaitable[Ok | TRPCError]],
    rid: str,
) -> AsyncIterator[str]:
    """A streamed batch (``httpBatchStreamLink``): the head at once, then each call's lines as
    it completes. Errors are per call, inside the 200 stream, as in @trpc/server."""
    encoder = JSONLBatchEncoder(len(calls))
    yield encoder.head()

    async def indexed(index: int, call: Call) -> tuple[int, Ok | TRPCError]:
        return index, await run(call)

    tasks = [asyncio.ensure_future(indexed(i, call)) for i, call in enumerate(calls)]
    try:
        for next_done in asyncio.as_completed(tasks):
            index, result = await next_done
            yield encoder.settle(index, result, path=calls[index].path, request_id=rid)
    finally:
        for task in tasks:
            task.cancel()


async def _read_body(request: Request, limit: int) -> bytes | TRPCError:
    too_large = limit_error(
        "PAYLOAD_TOO_LARGE",
        f"request body exceeds this server's limit of {limit} bytes",
        "max_body_bytes",
        limit,
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _send(spec: ResponseSpec) -> Response:
    response = Response(content=spec.body, status_code=spec.status)
    for name, value in spec.headers:
        response.headers[name] = value
    return response
