"""All streams of one client on one event loop, multiplexed over few connections.

A 50-task sweep opens 50 subscriptions; over WebSocket they share one socket (up to
``max_subscriptions_per_socket`` each, below the server's per-connection limit) instead of
opening 50. Over SSE (``stream_transport="sse"``, or ``"auto"`` when the server or a proxy
refuses the WebSocket upgrade) each subscription is its own response. Each connection is a thin
driver of one subscription machine (:mod:`kairos._trpc.subscriptions`), which holds all
subscription state. The manager belongs to one event loop (sockets cannot move between loops);
the client keeps one per loop, and the sync API uses the one on its background loop.

A subscription whose consumer leaves before its end (the iterator is closed or collected, its
task cancelled, the client closed) is *abandoned*: it is stopped on the server, and its
``on_abandon`` runs once (``stream_run`` cancels the simulation it created). Closing the
manager abandons every subscription still open, so a consumer still waiting gets
``APIConnectionError``, and nothing is left pending on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx

from kairos._trpc.subscriptions import Check, Delivered, Ended, Failed
from kairos._waiting import wait_within
from kairos.errors import (
    APIConnectionError,
    APIProtocolError,
    APITimeoutError,
    KairosError,
    error_from_shape,
)

from ._bridge import client_closed
from ._settings import ClientSettings
from ._sse_connection import SSEConnection
from ._stream_driver import StreamDriver
from ._ws_connection import UpgradeRefused, WSConnection

__all__ = ["Stream", "StreamManager"]

log = logging.getLogger("kairos.client")

IDLE_SOCKET_SECONDS = 5.0
"""A socket left with no subscription is closed after this long (a new one opens on demand)."""

ABANDON_SECONDS = 10.0
"""Closing the manager waits this long for abandoned subscriptions to be stopped."""

Connection = StreamDriver[Any]


@dataclass(eq=False)
class Stream:
    """A consumer's hold on one subscription: the connection it runs on and its key there."""

    connection: Connection
    key: int
    path: str
    on_abandon: Callable[[], Coroutine[Any, Any, object]] | None
    released: bool = False


def _error(event: Failed, path: str) -> KairosError:
    if event.kind == "server" and event.shape is not None:
        return error_from_shape(event.shape, http_status=None, path=path)
    if event.kind == "protocol":
        return APIProtocolError(event.message, path=path)
    return APIConnectionError(event.message)


async def _clean_up(cleanup: Coroutine[Any, Any, object] | None, path: str) -> None:
    """Run an abandoned stream's ``on_abandon`` coroutine (made by the caller: see
    :meth:`StreamManager.release`)."""
    if cleanup is None:
        return
    try:
        await cleanup
    except Exception as exc:  # the consumer has left: there is nobody to tell
        log.info("cleaning up an abandoned stream of %s failed: %s", path, exc)
    finally:
        cleanup.close()  # never started (cancelled before): no "never awaited" warning


class StreamManager:
    """Opens, shares and closes the stream connections of one client on one event loop."""

    def __init__(self, settings: ClientSettings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http
        self._sse = settings.stream_transport == "sse"
        self._connections: list[Connection] = []
        self._lock = asyncio.Lock()
        self._closed = False
        self._loop_ending = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._live: set[Stream] = set()

    @property
    def sockets(self) -> int:
        """How many connections are open (for tests and diagnostics)."""
        return sum(1 for c in self._connections if c.usable)

    @property
    def transport(self) -> str:
        """``"ws"`` or ``"sse"``: what new streams use."""
        return "sse" if self._sse else "ws"

    async def subscribe(
        self,
        path: str,
        input: object,
        *,
        last_event_id: str | None = None,
        check: Check | None = None,
        on_abandon: Callable[[], Coroutine[Any, Any, object]] | None = None,
    ) -> Stream:
        """Start a subscription on a connection with room (opening one if needed), resuming
        after ``last_event_id`` when given."""
        if self._closed:
            raise RuntimeError("the client is closed")
        try:
            async with self._lock:
                connection = await self._connection()
                protocol = connection.protocol
                key = protocol.subscribe(path, input, last_event_id=last_event_id, check=check)
                await connection.wake()
        except BaseException as exc:
            abandoned = on_abandon is not None and not isinstance(exc, KairosError)
            await _clean_up(on_abandon() if abandoned and on_abandon else None, path)
            raise
        stream = Stream(connection, key, path, on_abandon)
        self._live.add(stream)
        return stream

    async def _connection(self) -> Connection:
        self._connections = [c for c in self._connections if c.usable]
        connection = next((c for c in self._connections if c.load < c.max_load), None)
        if connection is not None:
            return connection
        if not self._sse:
            auto = self._settings.stream_transport == "auto"
            ws = WSConnection(self._settings, refused_upgrade_raises=auto)
            try:
                await ws.open()
            except UpgradeRefused as exc:
                log.info("%s; streaming over SSE instead", exc)
                self._sse = True
            else:
                self._connections.append(ws)
                return ws
        sse = SSEConnection(self._settings, self._http)
        await sse.open()
        self._connections.append(sse)
        return sse

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def events(
        self, stream: Stream, idle_timeout: float | None
    ) -> AsyncGenerator[Delivered, None]:
        """The data events of ``stream`` until it ends; its error is raised; a silence longer
        than ``idle_timeout`` raises APITimeoutError. Stops the subscription when left, and
        abandons it (see the module's docs) when left before its end."""
        ended = False
        connection, key = stream.connection, stream.key
        try:
            while True:
                try:
                    event = await connection.next_event(key, idle_timeout)
                except asyncio.TimeoutError:
                    ended = True
                    raise APITimeoutError(
                        f"No event on the stream for {idle_timeout:g} s (stream_idle_timeout)",
                        path=stream.path,
                    ) from None
                if isinstance(event, Delivered):
                    yield event
                elif isinstance(event, Ended):
                    ended = True
                    return
                else:
                    # A failure because this manager is closing abandons the stream (what it
                    # owns is cancelled), whether this consumer or aclose() releases it first.
                    ended = not self._closed
                    raise _error(event, stream.path)
        finally:
            await self.release(stream, abandoned=not ended)

    async def release(self, stream: Stream, *, abandoned: bool) -> None:
        """Stop ``stream`` for good (once); when ``abandoned``, run its ``on_abandon``."""
        if stream.released:
            return
        stream.released = True
        self._live.discard(stream)
        # Made before anything is awaited: on_abandon notes synchronously what is left to do,
        # so that closing the client finishes it if this task is cancelled meanwhile.
        cleanup = stream.on_abandon() if abandoned and stream.on_abandon is not None else None
        if cleanup is not None and self._loop_ending:
            cleanup.close()  # noted, not run: the client's close finishes it
            cleanup = None
        try:
            with contextlib.suppress(Exception):
                await self._unsubscribe(stream)
        finally:
            await _clean_up(cleanup, stream.path)

    async def _unsubscribe(self, stream: Stream) -> None:
        connection = stream.connection
        connection.protocol.unsubscribe(stream.key)  # a no-op once it has ended
        await connection.wake()
        if connection.load == 0 and connection.usable and not self._closed:
            # A timer, not a sleeping task: a loop that ends meanwhile drops it silently.
            loop = asyncio.get_running_loop()
            loop.call_later(
                IDLE_SOCKET_SECONDS, lambda: self._spawn(self._close_if_idle(connection))
            )

    async def _close_if_idle(self, connection: Connection) -> None:
        if self._closed:
            return
        async with self._lock:
            if connection.load == 0 and connection in self._connections:
                self._connections.remove(connection)
                await connection.aclose()

    async def aclose(self, *, loop_ending: bool = False) -> None:
        """Abandon the subscriptions still open, then close every connection.

        ``loop_ending``: the loop is being finalized, so nothing more is sent (the sockets are
        cut; the server stops their subscriptions) and what abandoned streams own is left noted
        for the client's close (see :meth:`release`)."""
        self._closed = True
        self._loop_ending = loop_ending
        live, self._live = list(self._live), set()
        message = str(client_closed())
        for connection in self._connections:
            connection.protocol.close(message)
            await connection.wake()
        if loop_ending:
            for stream in live:
                stream.released = True
                if stream.on_abandon is not None:
                    stream.on_abandon().close()  # noted, not run
        elif live:
            with contextlib.suppress(Exception):
                await wait_within(
                    asyncio.gather(
                        *(self.release(s, abandoned=True) for s in live), return_exceptions=True
                    ),
                    ABANDON_SECONDS,
                )
        for task in list(self._tasks):
            task.cancel()
        connections, self._connections = self._connections, []
        for connection in connections:
            if loop_ending:
                connection.abort()
            else:
                with contextlib.suppress(Exception):
                    await connection.aclose()
