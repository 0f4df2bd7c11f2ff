"""All subscriptions of one client on one event loop, multiplexed over few WebSockets.

A 50-task sweep opens 50 subscriptions; they share one socket (up to
``max_subscriptions_per_socket`` each, below the server's per-connection limit) instead of
opening 50. The manager belongs to one event loop (sockets cannot move between loops); the
client keeps one per loop, and the sync API uses the one on its background loop.

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
from typing import Any

from kairos._waiting import wait_within
from kairos.errors import APITimeoutError, KairosError

from ._bridge import client_closed
from ._settings import ClientSettings
from ._ws_connection import WSConnection
from ._ws_handle import Item, SubscriptionHandle

__all__ = ["WSManager"]

log = logging.getLogger("kairos.client")

IDLE_SOCKET_SECONDS = 5.0
"""A socket left with no subscription is closed after this long (a new one opens on demand)."""

ABANDON_SECONDS = 10.0
"""Closing the manager waits this long for abandoned subscriptions to be stopped."""


class WSManager:
    """Opens, shares and closes the WebSocket connections of one client on one event loop."""

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._connections: list[WSConnection] = []
        self._lock = asyncio.Lock()
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._live: set[SubscriptionHandle] = set()

    @property
    def sockets(self) -> int:
        """How many connections are open (for tests and diagnostics)."""
        return sum(1 for c in self._connections if c.usable)

    async def subscribe(
        self,
        path: str,
        input: object,
        *,
        on_abandon: Callable[[], Coroutine[Any, Any, object]] | None = None,
    ) -> SubscriptionHandle:
        """Start a subscription on a connection with room (opening one if needed)."""
        if self._closed:
            raise RuntimeError("the client is closed")
        handle = SubscriptionHandle(path, input, on_abandon)
        self._live.add(handle)
        try:
            await self._place(handle)
        except BaseException as exc:
            await self.release(handle, abandoned=not isinstance(exc, KairosError))
            raise
        return handle

    async def _place(self, handle: SubscriptionHandle) -> None:
        limit = self._settings.max_subscriptions_per_socket
        async with self._lock:
            self._connections = [c for c in self._connections if c.usable]
            connection = next((c for c in self._connections if c.load < limit), None)
            if connection is None:
                connection = WSConnection(self._settings, self._retry_later)
                await connection.open()
                self._connections.append(connection)
            await connection.add(handle)

    def _retry_later(self, handle: SubscriptionHandle, delay: float) -> None:
        async def again() -> None:
            await asyncio.sleep(delay)
            if handle.done:
                return
            try:
                await self._place(handle)
            except KairosError as exc:
                await handle.deliver_error(exc)

        self._spawn(again())

    async def _resume(self, handle: SubscriptionHandle) -> None:
        """Re-subscribe a paused subscription after its last queued event."""
        try:
            await self._place(handle)
        except KairosError as exc:
            await handle.deliver_error(exc)
            return
        if handle.done:  # the consumer left while it was being placed
            await self.unsubscribe(handle)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def events(
        self, handle: SubscriptionHandle, idle_timeout: float | None
    ) -> AsyncGenerator[Item, None]:
        """The data items of ``handle`` until it ends; its error is raised; a silence longer
        than ``idle_timeout`` raises APITimeoutError. Stops the subscription when left, and
        abandons it (see the module's docs) when left before its end."""
        ended = False
        try:
            while True:
                try:
                    item = await wait_within(handle.take(), idle_timeout)
                except asyncio.TimeoutError:
                    ended = True
                    raise APITimeoutError(
                        f"No event on the stream for {idle_timeout:g} s (stream_idle_timeout)",
                        path=handle.path,
                    ) from None
                if handle.should_resume:
                    handle.paused = False
                    self._spawn(self._resume(handle))
                if item.kind == "end":
                    ended = True
                    return
                if item.kind == "error":
                    assert item.error is not None
                    ended = True
                    raise item.error
                yield item
        finally:
            await self.release(handle, abandoned=not ended)

    async def release(self, handle: SubscriptionHandle, *, abandoned: bool) -> None:
        """Stop ``handle`` for good (once); when ``abandoned``, run its ``on_abandon``."""
        if handle.released:
            return
        handle.released = True
        handle.done = True
        self._live.discard(handle)
        # Made before anything is awaited: on_abandon notes synchronously what is left to do,
        # so that closing the client finishes it if this task is cancelled meanwhile.
        cleanup = handle.on_abandon() if abandoned and handle.on_abandon is not None else None
        try:
            with contextlib.suppress(Exception):
                await self.unsubscribe(handle)
            if cleanup is not None:
                try:
                    await cleanup
                except Exception as exc:  # the consumer has left: there is nobody to tell
                    log.info("cleaning up an abandoned stream of %s failed: %s", handle.path, exc)
        finally:
            if cleanup is not None:
                cleanup.close()  # never started (cancelled before): no "never awaited" warning

    async def unsubscribe(self, handle: SubscriptionHandle) -> None:
        """Stop ``handle`` (harmless when it already ended)."""
        connection = handle.connection
        if connection is None:
            return
        await connection.remove(handle)
        if connection.load == 0 and connection.usable and not self._closed:
            # A timer, not a sleeping task: a loop that ends meanwhile drops it silently.
            loop = asyncio.get_running_loop()
            loop.call_later(
                IDLE_SOCKET_SECONDS, lambda: self._spawn(self._close_if_idle(connection))
            )

    async def _close_if_idle(self, connection: WSConnection) -> None:
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
        live, self._live = list(self._live), set()
        for handle in live:
            if not handle.done:
                handle.abort(client_closed())
        if loop_ending:
            for handle in live:
                handle.released = True
                if handle.on_abandon is not None:
                    handle.on_abandon().close()  # noted, not run
        elif live:
            with contextlib.suppress(Exception):
                await wait_within(
                    asyncio.gather(
                        *(self.release(h, abandoned=True) for h in live), return_exceptions=True
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
