"""One logical tRPC WebSocket connection: many subscriptions over one socket at a time.

It outlives single sockets. When a socket breaks, it opens a new one (at once, then with the
client's retry backoff) and re-sends every kept subscription with a new id and ``lastEventId``
set to the last tracked id received, exactly as wsLink does (the bookkeeping is
:class:`kairos._trpc.ws_state.ClientSession`). When the server asks clients to reconnect
(graceful shutdown), it opens the new socket first, moves the subscriptions across and only then
stops them on the old one; frames still arriving on the old socket belong to ids the session
has forgotten and are ignored, and the consumer's :class:`~kairos._trpc.resume.StreamResume`
drops any step it already delivered. A connection-level error (``id: null``, e.g. a rejected
API key) fails every subscription: reconnecting would not fix it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from kairos._trpc.retry import ConnectionFailed, GiveUp, outcome_for_key, retry_after_from_shape
from kairos._trpc.ws_client import (
    Data,
    Error,
    ProtocolViolation,
    ReconnectRequested,
    Stopped,
    encode_connection_params,
    encode_stop,
)
from kairos._trpc.ws_common import PONG, Ping, RequestId
from kairos._trpc.ws_state import ClientSession
from kairos.errors import APIConnectionError, KairosError, error_from_shape

from ._settings import ClientSettings, user_agent
from ._ws_handle import SubscriptionHandle

__all__ = ["WSConnection"]

log = logging.getLogger("kairos.client")

RetryHook = Callable[[SubscriptionHandle, float], None]


class WSConnection:
    """A socket (replaced as needed) carrying the subscriptions of :attr:`handles`."""

    def __init__(self, settings: ClientSettings, on_retry: RetryHook) -> None:
        self._settings = settings
        self._on_retry = on_retry
        self.session = ClientSession()
        self.handles: dict[RequestId, SubscriptionHandle] = {}
        self.contention = asyncio.Event()
        """Set while several subscriptions share the socket (see :mod:`._ws_handle`)."""
        self.ws: ClientConnection | None = None
        self.closed = False
        self._leaving: ClientConnection | None = None  # the socket a move is leaving
        self._switching = asyncio.Lock()  # one recovery or move at a time
        self._failed_episodes = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def load(self) -> int:
        """How many subscriptions this connection carries."""
        return len(self.handles)

    @property
    def usable(self) -> bool:
        """Open (or reopening) and not shut down for good."""
        return not self.closed

    # -- opening ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the first socket (retried with the client's backoff); APIConnectionError when
        the budget is spent."""
        self._adopt(await self._connect())

    def _adopt(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._spawn(self._read(ws))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self) -> ClientConnection:
        policy = self._settings.policy
        attempt, waited = 0, 0.0
        while True:
            try:
                return await self._connect_once()
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as exc:
                last: BaseException = exc
            decision = policy.decide(
                attempt,
                ConnectionFailed(),
                retry_safe=True,
                rng_value=random.random(),
                spent=waited,
            )
            if isinstance(decision, GiveUp):
                raise APIConnectionError(
                    f"Could not open the WebSocket to {self._settings.url} ({decision.reason})",
                    cause=last,
                )
            log.info("WebSocket connection failed (%s); retrying in %.2f s", last, decision.delay)
            await asyncio.sleep(decision.delay)
            waited += decision.delay
            attempt += 1

    async def _connect_once(self) -> ClientConnection:
        settings = self._settings
        headers = settings.headers()
        headers.pop("authorization", None)  # sent in connectionParams, as tRPC v11 does
        headers.pop("user-agent", None)
        ws = await connect(
            settings.ws_url,
            additional_headers=headers,
            user_agent_header=user_agent(),
            open_timeout=settings.timeout,
            compression=None,
            max_size=None,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=2,
        )
        params = settings.connection_params()
        if params is not None:
            await ws.send(encode_connection_params(params))
        return ws

    # -- subscriptions ----------------------------------------------------------------------

    async def add(self, handle: SubscriptionHandle) -> None:
        """Start ``handle``'s subscription here (resuming after its last tracked id)."""
        sub, frame = self.session.subscribe(
            handle.path, handle.input, last_event_id=handle.last_event_id
        )
        self.handles[sub.id] = handle
        handle.request_id = sub.id
        handle.connection = self
        if len(self.handles) > 1:
            self.contention.set()
        await self._send(frame)

    def _settle(self) -> None:
        """After a subscription left: a socket carrying one or none is not contended."""
        if len(self.handles) <= 1:
            self.contention.clear()

    async def remove(self, handle: SubscriptionHandle) -> None:
        """Stop ``handle``'s subscription (a no-op once it has ended)."""
        if handle.request_id is None or self.handles.get(handle.request_id) is not handle:
            return
        del self.handles[handle.request_id]
        self._settle()
        frame = self.session.unsubscribe(handle.request_id)
        if frame is not None:
            await self._send(frame)

    async def pause(self, handle: SubscriptionHandle) -> None:
        """Stop ``handle``'s subscription because its consumer is full; the manager resumes it
        (on any connection) after its last queued event once the consumer has room."""
        if handle.request_id is None or self.handles.get(handle.request_id) is not handle:
            return
        del self.handles[handle.request_id]
        self._settle()
        frame = self.session.unsubscribe(handle.request_id)
        handle.request_id, handle.connection, handle.paused = None, None, True
        log.debug("pausing a subscription to %s: its consumer is full", handle.path)
        if frame is not None:
            await self._send(frame)

    async def _send(self, frame: str) -> None:
        # A send on a broken socket is not an error here: the reader sees the break and the
        # recovery re-sends every kept subscription.
        ws = self.ws
        if ws is None:
            return
        with contextlib.suppress(websockets.exceptions.ConnectionClosed, OSError):
            await ws.send(frame)

    # -- reading ----------------------------------------------------------------------------

    async def _read(self, ws: ClientConnection) -> None:
        cause: BaseException | None = None
        try:
            async for frame in ws:
                await self._dispatch(frame, ws)
        except (websockets.exceptions.ConnectionClosed, OSError) as exc:
            cause = exc
        # The socket a move is leaving may close (that is expected); any other current socket
        # that closes is recovered, including the one a move just adopted.
        if ws is self.ws and ws is not self._leaving and not self.closed:
            await self._recover(ws, cause)

    async def _dispatch(self, frame: str | bytes, ws: ClientConnection) -> None:
        event = self.session.receive(frame)
        if event is None:
            return
        if isinstance(event, Ping):
            with contextlib.suppress(websockets.exceptions.ConnectionClosed):
                await ws.send(PONG)
        elif isinstance(event, ReconnectRequested):
            if self._leaving is None and ws is self.ws:
                self._leaving = ws
                self._spawn(self._move(ws))
        elif isinstance(event, ProtocolViolation):
            log.warning("ignoring a WebSocket frame that is not tRPC: %s", event.reason)
        elif isinstance(event, Error) and event.id is None:
            await self._fail_all(error_from_shape(event.shape, http_status=None))
            self.closed = True
            await ws.close()
        elif isinstance(event, Data | Error | Stopped):
            handle = self.handles.get(event.id) if event.id is not None else None
            if handle is None:
                return
            if isinstance(event, Data):
                self._failed_episodes = 0
                handle.retries = 0  # it works again: a later failure gets a fresh budget
                if not await handle.deliver_data(event.data, event.tracked_id, self.contention):
                    await self.pause(handle)
            elif isinstance(event, Error):
                del self.handles[event.id]  # type: ignore[arg-type]
                self._settle()
                await self._error(handle, event.shape)
            else:
                del self.handles[event.id]
                self._settle()
                await handle.deliver_end()

    async def _error(self, handle: SubscriptionHandle, shape: Any) -> None:
        error = error_from_shape(shape, http_status=None, path=handle.path)
        outcome = outcome_for_key(getattr(error, "code", None), retry_after_from_shape(shape))
        decision = self._settings.policy.decide(
            handle.retries, outcome, retry_safe=True, rng_value=random.random()
        )
        if isinstance(decision, GiveUp):
            await handle.deliver_error(error)
        else:
            handle.retries += 1
            log.info("re-subscribing to %s in %.2f s after %s", handle.path, decision.delay, error)
            self._on_retry(handle, decision.delay)

    # -- recovery ---------------------------------------------------------------------------

    async def _recover(self, lost: ClientConnection, cause: BaseException | None) -> None:
        async with self._switching:
            if lost is self.ws and not self.closed:
                await self._replace(cause)

    async def _replace(self, cause: BaseException | None) -> None:
        self.ws = None
        self.session.connection_lost()
        if not self.handles:
            self.closed = True
            return
        self._failed_episodes += 1
        if self._failed_episodes > self._settings.policy.max_retries + 1:
            await self._fail_all(
                APIConnectionError("The WebSocket keeps closing without delivering", cause=cause)
            )
            return
        if self._failed_episodes > 1:
            await asyncio.sleep(self._settings.policy.backoff_delay(self._failed_episodes - 2, 0))
        log.info("WebSocket lost (%s); reconnecting %d subscription(s)", cause, self.load)
        try:
            ws = await self._connect()
        except APIConnectionError as exc:
            await self._fail_all(exc)
            return
        self._adopt(ws)
        await self._resubscribe()

    async def _move(self, old: ClientConnection) -> None:
        """The server asked for a reconnect: new socket first, then move, then drain the old."""
        log.info("server asked to reconnect; moving %d subscription(s)", self.load)
        try:
            async with self._switching:
                if old is not self.ws:
                    return  # the old socket was lost and has been replaced already
                try:
                    ws = await self._connect()
                except APIConnectionError as exc:
                    await self._fail_all(exc)
                    return
                if self.closed:
                    await ws.close()
                    return
                self._adopt(ws)
                self._leaving = None
                moved = await self._resubscribe()
        finally:
            self._leaving = None
        for old_id in moved:
            with contextlib.suppress(websockets.exceptions.ConnectionClosed, OSError):
                await old.send(encode_stop(old_id))
        with contextlib.suppress(Exception):
            await old.close()

    async def _resubscribe(self) -> list[RequestId]:
        moved: list[RequestId] = []
        for old_id, subscription, frame in self.session.resubscribe():
            handle = self.handles.pop(old_id, None)
            if handle is None:
                continue
            self.handles[subscription.id] = handle
            handle.request_id = subscription.id
            moved.append(old_id)
            await self._send(frame)
        return moved

    async def _fail_all(self, error: KairosError) -> None:
        handles = list(self.handles.values())
        self.handles.clear()
        for handle in handles:
            self.session.unsubscribe(handle.request_id or 0)
            await handle.deliver_error(error)
        self.closed = True

    async def aclose(self) -> None:
        """Stop every subscription and close the socket for good."""
        self.closed = True
        ws, self.ws = self.ws, None
        for task in list(self._tasks):
            task.cancel()
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    def abort(self) -> None:
        """Cut the socket at once, sending nothing (its loop is ending)."""
        self.closed = True
        ws, self.ws = self.ws, None
        for task in list(self._tasks):
            task.cancel()
        if ws is not None:
            ws.transport.abort()
