"""All subscriptions of one client on one event loop, multiplexed over few WebSockets.

A 50-task sweep opens 50 subscriptions; they share one socket (up to
``max_subscriptions_per_socket`` each, below the server's per-connection limit) instead of
opening 50. The manager belongs to one event loop (sockets cannot move between loops); the
client keeps one per loop, and the sync API uses the one on its background loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from kairos.errors import APITimeoutError, KairosError

from ._settings import ClientSettings
from ._ws_connection import WSConnection
from ._ws_handle import Item, SubscriptionHandle

__all__ = ["WSManager"]

log = logging.getLogger("kairos.client")

IDLE_SOCKET_SECONDS = 5.0
"""A socket left with no subscription is closed after this long (a new one opens on demand)."""


class WSManager:
    """Opens, shares and closes the WebSocket connections of one client on one event loop."""

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._connections: list[WSConnection] = []
        self._lock = asyncio.Lock()
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def sockets(self) -> int:
        """How many connections are open (for tests and diagnostics)."""
        return sum(1 for c in self._connections if c.usable)

    async def subscribe(
        self, path: str, input: object, *, last_event_id: str | None = None
    ) -> SubscriptionHandle:
        """Start a subscription on a connection with room (opening one if needed)."""
        if self._closed:
            raise RuntimeError("the client is closed")
        handle = SubscriptionHandle(path, input, last_event_id)
        await self._place(handle)
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
    ) -> AsyncIterator[Item]:
        """The data items of ``handle`` until it ends; its error is raised; a silence longer
        than ``idle_timeout`` raises APITimeoutError. Stops the subscription when left."""
        try:
            while True:
                try:
                    item = await asyncio.wait_for(handle.take(), idle_timeout)
                except asyncio.TimeoutError:
                    raise APITimeoutError(
                        f"No event on the stream for {idle_timeout:g} s (stream_idle_timeout)",
                        path=handle.path,
                    ) from None
                if handle.should_resume:
                    handle.paused = False
                    self._spawn(self._resume(handle))
                if item.kind == "end":
                    return
                if item.kind == "error":
                    assert item.error is not None
                    raise item.error
                yield item
        finally:
            handle.done = True
            await self.unsubscribe(handle)

    async def unsubscribe(self, handle: SubscriptionHandle) -> None:
        """Stop ``handle`` (harmless when it already ended)."""
        connection = handle.connection
        if connection is None:
            return
        await connection.remove(handle)
        if connection.load == 0 and connection.usable:
            self._spawn(self._close_if_idle(connection))

    async def _close_if_idle(self, connection: WSConnection) -> None:
        await asyncio.sleep(IDLE_SOCKET_SECONDS)
        async with self._lock:
            if connection.load == 0 and connection in self._connections:
                self._connections.remove(connection)
                await connection.aclose()

    async def aclose(self) -> None:
        """Close every connection (their subscriptions end)."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(Exception):
                await connection.aclose()
