"""tRPC subscriptions over Server-Sent Events (``httpSubscriptionLink``): ``GET /trpc/<path>``.

As @trpc/server 11.25.2 answers them: a 200 ``text/event-stream`` whose first event is
``connected`` (with ``reconnectAfterInactivityMs``), then one event per value with the tracked id
in the ``id:`` field, ``ping`` events while nothing else is sent, and ``return`` when the
subscription ends, or ``serialized-error`` when it fails (auth, input, limits and NOT_FOUND
included, as tRPC sends every error but an unknown path inside the stream). A resumed request
(``Last-Event-ID`` header or ``lastEventId`` input) gets the steps after that tick, exactly once,
from the store. ``sse_max_duration_seconds``, a server shutdown and a revoked key end the stream
without ``return``, so the client reconnects and resumes (a revoked key after a
``serialized-error`` UNAUTHORIZED, which it does not retry).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from kairos._trpc import TRPCError
from kairos._trpc.http_server import VARY, Call, ParsedRequest
from kairos._trpc.json_values import RawJSON
from kairos._trpc.sse import (
    SSE_HEADERS,
    encode_connected,
    encode_message,
    encode_ping,
    encode_return,
    encode_serialized_error,
)
from kairos.server._auth import bearer_token
from kairos.server._context import authenticate, caller_ident, internal_error, validate_input
from kairos.server._details import limit_error
from kairos.server._service import Caller, Tracked
from kairos_api import PROCEDURES

if TYPE_CHECKING:
    from kairos.server._state import ServerState


class SSEStream:
    """One open SSE subscription, known to the server so that a revoked key or a shutdown can
    end it."""

    def __init__(self, state: ServerState, ident: str, token: str | None, caller: Caller) -> None:
        self.state = state
        self.ident = ident
        self.token = token
        self.caller = caller
        self.ended = asyncio.Event()
        self.error: TRPCError | None = None

    def check_key(self) -> None:
        """After the API keys changed: end the stream (UNAUTHORIZED) if its key was revoked."""
        keyring = self.state.keyring
        if not keyring.enabled or keyring.organization_of(self.token) == self.caller.owner:
            return
        self.error = TRPCError("UNAUTHORIZED", "the API key has been revoked")
        self.ended.set()

    def end(self) -> None:
        """End the stream without ``return``: the client reconnects and resumes."""
        self.ended.set()


def sse_response(
    request: Request, state: ServerState, parsed: ParsedRequest, request_id: str
) -> Response:
    """The SSE stream answering a single subscription call."""
    call = parsed.calls[0]
    authorization = request.headers.get("authorization")
    if parsed.connection_params is not None and "authorization" in parsed.connection_params:
        authorization = parsed.connection_params["authorization"]  # as over the WebSocket
    caller = authenticate(
        state.keyring, authorization, request.headers.get("x-kairos-engine-version")
    )
    ident = caller_ident(
        state.keyring, authorization, request.client.host if request.client else None
    )
    headers = dict([VARY, *SSE_HEADERS, ("x-request-id", request_id)])
    return StreamingResponse(
        _events(state, call, caller, ident, bearer_token(authorization), request_id),
        status_code=200,
        headers=headers,
    )


async def _events(
    state: ServerState,
    call: Call,
    caller: Caller | TRPCError,
    ident: str,
    token: str | None,
    request_id: str,
) -> AsyncIterator[str]:
    config = state.config
    connected = encode_connected(
        {"reconnectAfterInactivityMs": round(config.sse_reconnect_after_inactivity_seconds * 1000)}
    )
    refusal = call.error or (caller if isinstance(caller, TRPCError) else None)
    limit = config.max_sse_streams_per_key
    if refusal is None and sum(1 for s in state.sse_streams if s.ident == ident) >= limit:
        refusal = limit_error(
            "TOO_MANY_REQUESTS",
            f"at most {limit} SSE subscriptions per API key",
            "max_sse_streams_per_key",
            limit,
        )
    if refusal is not None:
        yield connected
        yield encode_serialized_error(refusal.with_path(call.path), request_id=request_id)
        return
    assert isinstance(caller, Caller)
    # Counted from the generator's first step (no await before it), so that the count is exact
    # and the `finally` always runs.
    stream = SSEStream(state, ident, token, caller)
    state.sse_streams.add(stream)
    frames = _serve(stream, call, request_id)
    try:
        yield connected
        async for frame in frames:
            yield frame
    finally:
        state.sse_streams.discard(stream)
        await frames.aclose()


async def _serve(stream: SSEStream, call: Call, request_id: str) -> AsyncGenerator[str, None]:
    state, config = stream.state, stream.state.config

    def failed(error: TRPCError) -> str:
        return encode_serialized_error(error.with_path(call.path), request_id=request_id)

    try:
        subscribe = state.service.subscriptions[call.path]
        events = subscribe(stream.caller, validate_input(PROCEDURES[call.path], call.input))
    except TRPCError as exc:
        yield failed(exc)
        return
    iterator = aiter(events)
    loop = asyncio.get_running_loop()
    deadline = (
        loop.time() + config.sse_max_duration_seconds
        if config.sse_max_duration_seconds is not None
        else None
    )
    ended: asyncio.Future[object] = asyncio.ensure_future(stream.ended.wait())
    pending: asyncio.Future[Tracked] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            timeout = config.sse_ping_seconds
            if deadline is not None:
                timeout = min(timeout, deadline - loop.time())
                if timeout <= 0:
                    return  # max duration: no `return` event, the client resumes
            waiting: set[asyncio.Future[object]] = {pending, ended}  # type: ignore[arg-type]
            done, _ = await asyncio.wait(
                waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if ended in done:
                if stream.error is not None:
                    yield failed(stream.error)
                return
            if pending not in done:
                if deadline is None or loop.time() < deadline:
                    yield encode_ping()
                continue
            finished, pending = pending, None
            try:
                event = finished.result()
            except StopAsyncIteration:
                yield encode_return()
                return
            except TRPCError as exc:
                yield failed(exc)
                return
            except Exception as exc:
                yield failed(internal_error(exc, call.path, dev=config.dev))
                return
            yield encode_message(RawJSON(event.data_json), tracked_id=event.id)
    finally:
        ended.cancel()
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
        close = getattr(events, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
