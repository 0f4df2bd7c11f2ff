"""tRPC over WebSocket on ``/trpc``: queries, mutations and subscriptions on one socket.

Each connection has one writer task draining a bounded queue, so frames never interleave and a
slow client slows its own subscriptions (backpressure) instead of growing the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect

from kairos._trpc import TRPCError
from kairos._trpc.json_values import RawJSON
from kairos._trpc.ws_common import PONG, Ping, RequestId
from kairos._trpc.ws_server import (
    FrameRejected,
    Messages,
    NullIdRequest,
    WSRequest,
    WSStop,
    encode_data,
    encode_error,
    encode_reconnect,
    encode_result,
    encode_started,
    encode_stopped,
    parse_client_frame,
    parse_connection_params,
    resolve_ws_procedure,
)
from kairos._trpc.ws_state import ServerSubscriptions
from kairos._waiting import wait_within
from kairos.server._auth import bearer_token
from kairos.server._context import (
    authenticate,
    caller_ident,
    internal_error,
    rate_limited,
    request_id,
    run_call,
    validate_input,
)
from kairos.server._details import limit_error
from kairos.server._service import Caller
from kairos_api import PROCEDURES

if TYPE_CHECKING:
    from kairos.server._state import ServerState

log = logging.getLogger("kairos.server")

CONNECTION_PARAMS_TIMEOUT = 10.0
_CLOSE = object()


class Connection:
    """One client socket: its caller, subscriptions, tasks and outgoing queue."""

    def __init__(self, websocket: WebSocket, state: ServerState) -> None:
        self.websocket = websocket
        self.state = state
        self.caller: Caller | None = None
        self.token: str | None = None
        """The API key the socket authenticated with, re-checked when the keys change."""
        self.revoked = False
        self.ident = "ws"
        self.subscriptions = ServerSubscriptions()
        self.sub_tasks: dict[RequestId, asyncio.Task[None]] = {}
        self.call_tasks: set[asyncio.Task[None]] = set()
        self.outbox: asyncio.Queue[object] = asyncio.Queue(maxsize=64)
        self.call_slots = asyncio.Semaphore(state.config.max_calls_in_flight_per_connection)
        self.reader: asyncio.Task[None] | None = None

    async def send(self, frame: str) -> None:
        await self.outbox.put(frame)

    async def writer(self) -> None:
        while True:
            frame = await self.outbox.get()
            if frame is _CLOSE:
                await self.websocket.close()
                return
            assert isinstance(frame, str)
            await self.websocket.send_text(frame)

    def check_key(self) -> None:
        """After the API keys changed: close the socket if its key was revoked."""
        if self.caller is None or self.revoked or not self.state.keyring.enabled:
            return
        if self.state.keyring.organization_of(self.token) == self.caller.owner:
            return
        self.revoked = True
        log.info("closing a WebSocket whose API key was revoked (%s)", self.ident)
        error = TRPCError("UNAUTHORIZED", "the API key has been revoked")
        try:
            self.outbox.put_nowait(encode_error(None, error))
            self.outbox.put_nowait(_CLOSE)
        except asyncio.QueueFull:
            # The client is not reading: drop the socket without the courtesy frame.
            if self.reader is not None:
                self.reader.cancel()

    async def reconnect(self, timeout: float) -> None:
        """Tell the client to move to a new socket (server shutting down). A full outbox gets
        ``timeout`` seconds to make room; a client that reads nothing in that time gets no
        notice (it will see the socket close and reconnect on its own)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await wait_within(self.outbox.put(encode_reconnect()), timeout)


async def ws_endpoint(websocket: WebSocket) -> None:
    state: ServerState = websocket.app.state.kairos
    await websocket.accept()
    connection = Connection(websocket, state)
    writer = asyncio.create_task(connection.writer())
    state.connections.add(connection)
    try:
        if await _open(connection):
            # The socket ends when the client leaves, or when the writer stops (it closed the
            # socket, or sending failed): then nobody drains the outbox, and a reader blocked
            # on it would otherwise wait forever.
            connection.reader = asyncio.create_task(_serve(connection))
            await asyncio.wait({connection.reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            if not connection.reader.done():
                connection.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connection.reader
        else:
            # Refused: let the writer send the error and the close frame before it stops.
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await wait_within(asyncio.shield(writer), 5)
    except WebSocketDisconnect:
        pass
    finally:
        state.connections.discard(connection)
        if connection.reader is not None:
            connection.reader.cancel()
        for task in [*connection.sub_tasks.values(), *connection.call_tasks]:
            task.cancel()
        connection.subscriptions.close()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer


async def _open(connection: Connection) -> bool:
    """Establish the caller: from the upgrade request's headers, or from the connectionParams
    frame when the URL asks for one. False when the connection is refused (and closing)."""
    websocket, state = connection.websocket, connection.state
    authorization = websocket.headers.get("authorization")
    if websocket.query_params.get("connectionParams") == "1":
        try:
            frame = await wait_within(websocket.receive_text(), CONNECTION_PARAMS_TIMEOUT)
        except asyncio.TimeoutError:
            return await _refuse(connection, TRPCError("TIMEOUT", "no connectionParams frame"))
        params = parse_connection_params(frame)
        if isinstance(params, FrameRejected):
            return await _refuse(connection, params.error)
        if params.params is not None and "authorization" in params.params:
            authorization = params.params["authorization"]
    connection.ident = caller_ident(
        state.keyring, authorization, websocket.client.host if websocket.client else None
    )
    caller = authenticate(
        state.keyring, authorization, websocket.headers.get("x-kairos-engine-version")
    )
    if isinstance(caller, TRPCError):
        return await _refuse(connection, caller)
    connection.caller = caller
    connection.token = bearer_token(authorization)
    return True


async def _refuse(connection: Connection, error: TRPCError) -> bool:
    await connection.send(encode_error(None, error))
    await connection.outbox.put(_CLOSE)
    return False


async def _serve(connection: Connection) -> None:
    limit = connection.state.config.max_ws_message_bytes
    while not connection.revoked:
        message = await connection.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        frame = message.get("text")
        if frame is None:
            frame = (message.get("bytes") or b"").decode("utf-8", "replace")
        if len(frame) > limit:
            await connection.send(
                encode_error(
                    None,
                    limit_error(
                        "PAYLOAD_TOO_LARGE",
                        f"message exceeds this server's limit of {limit} bytes",
                        "max_ws_message_bytes",
                        limit,
                    ),
                )
            )
            continue
        parsed = parse_client_frame(frame)
        if isinstance(parsed, FrameRejected):
            await connection.send(encode_error(None, parsed.error))
        elif isinstance(parsed, Messages):
            for item in parsed.items:
                await _dispatch(connection, item)
        elif isinstance(parsed, Ping):
            await connection.send(PONG)


async def _dispatch(connection: Connection, item: WSRequest | WSStop | NullIdRequest) -> None:
    if isinstance(item, NullIdRequest):
        await connection.send(encode_error(None, item.error, jsonrpc=item.jsonrpc))
        return
    if isinstance(item, WSStop):
        if connection.subscriptions.stop(item.id):
            task = connection.sub_tasks.pop(item.id, None)
            if task is not None:
                task.cancel()
            await connection.send(encode_stopped(item.id, jsonrpc=item.jsonrpc))
        return
    if connection.revoked:
        return
    limited = rate_limited(connection.state.limiter, connection.ident)
    if limited is not None:
        await connection.send(
            encode_error(item.id, limited.with_path(item.path), jsonrpc=item.jsonrpc)
        )
        return
    procedure = resolve_ws_procedure(PROCEDURES, item)
    if isinstance(procedure, TRPCError):
        await connection.send(encode_error(item.id, procedure, jsonrpc=item.jsonrpc))
        return
    if item.method == "subscription":
        await _subscribe(connection, item)
    else:
        await connection.call_slots.acquire()  # backpressure: stop reading while at the limit
        task = asyncio.create_task(_call(connection, item))
        connection.call_tasks.add(task)

        def done(task: asyncio.Task[None]) -> None:
            connection.call_tasks.discard(task)
            connection.call_slots.release()

        task.add_done_callback(done)


async def _call(connection: Connection, item: WSRequest) -> None:
    assert connection.caller is not None
    try:
        output = await run_call(
            connection.state.service,
            PROCEDURES[item.path],
            connection.caller,
            item.input,
            dev=connection.state.config.dev,
        )
        frame = encode_result(item.id, output, jsonrpc=item.jsonrpc)
    except TRPCError as exc:
        frame = encode_error(item.id, exc, jsonrpc=item.jsonrpc, request_id=request_id())
    await connection.send(frame)


async def _subscribe(connection: Connection, item: WSRequest) -> None:
    config = connection.state.config
    if len(connection.subscriptions) >= config.max_subscriptions_per_connection:
        error = limit_error(
            "TOO_MANY_REQUESTS",
            f"at most {config.max_subscriptions_per_connection} subscriptions per connection",
            "max_subscriptions_per_connection",
            config.max_subscriptions_per_connection,
            path=item.path,
        )
        await connection.send(encode_error(item.id, error, jsonrpc=item.jsonrpc))
        return
    duplicate = connection.subscriptions.start(item.id)
    if duplicate is not None:
        await connection.send(
            encode_error(item.id, duplicate.with_path(item.path), jsonrpc=item.jsonrpc)
        )
        return
    task = asyncio.create_task(_stream(connection, item))
    connection.sub_tasks[item.id] = task


async def _stream(connection: Connection, item: WSRequest) -> None:
    assert connection.caller is not None
    state = connection.state
    procedure = PROCEDURES[item.path]
    stopped_by_server = True
    try:
        subscribe = state.service.subscriptions[item.path]
        events = subscribe(connection.caller, validate_input(procedure, item.input))
        await connection.send(encode_started(item.id, jsonrpc=item.jsonrpc))
        async for event in events:
            await connection.send(
                encode_data(
                    item.id, RawJSON(event.data_json), tracked_id=event.id, jsonrpc=item.jsonrpc
                )
            )
    except asyncio.CancelledError:
        stopped_by_server = False  # stopped by the client or the socket closed
        raise
    except TRPCError as exc:
        await connection.send(
            encode_error(
                item.id, exc.with_path(item.path), jsonrpc=item.jsonrpc, request_id=request_id()
            )
        )
    except Exception as exc:
        error = internal_error(exc, item.path, dev=state.config.dev)
        await connection.send(encode_error(item.id, error, jsonrpc=item.jsonrpc))
    finally:
        if stopped_by_server and connection.subscriptions.stop(item.id):
            connection.sub_tasks.pop(item.id, None)
            await connection.send(encode_stopped(item.id, jsonrpc=item.jsonrpc))
