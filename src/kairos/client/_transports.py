"""The connections a client holds: one ``httpx.Client``, and per event loop one
``httpx.AsyncClient`` plus one :class:`~._ws_manager.WSManager`.

Async resources are bound to the loop that made them (an ``httpx.AsyncClient`` or a socket
cannot be used from another loop), so they are kept per loop: the same client works from
``asyncio.run`` called twice, from several threads each with its own loop, and from the sync
API's background loop. Copies made by ``with_options`` share these transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from dataclasses import dataclass

import httpx

from ._bridge import LoopThread
from ._http import HTTP_LIMITS
from ._settings import ClientSettings
from ._ws_manager import WSManager

__all__ = ["LoopResources", "Transports"]


@dataclass
class LoopResources:
    """What one event loop needs: async HTTP and the WebSocket manager."""

    http: httpx.AsyncClient
    ws: WSManager

    async def aclose(self) -> None:
        await self.ws.aclose()
        await self.http.aclose()


class Transports:
    """The I/O resources behind a client (thread-safe)."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.bridge = LoopThread()
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopResources] = (
            weakref.WeakKeyDictionary()
        )
        self.closed = False

    def _check(self) -> None:
        if self.closed:
            raise RuntimeError("this KairosClient is closed")

    def http(self) -> httpx.Client:
        """The blocking HTTP client (made on first use)."""
        with self._lock:
            self._check()
            if self._http is None:
                self._http = httpx.Client(
                    base_url=self.settings.trpc_url,
                    limits=HTTP_LIMITS,
                    timeout=self.settings.timeout,
                )
            return self._http

    def for_loop(self) -> LoopResources:
        """The running loop's async HTTP client and WebSocket manager (made on first use)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._check()
            resources = self._loops.get(loop)
            if resources is None:
                resources = LoopResources(
                    httpx.AsyncClient(
                        base_url=self.settings.trpc_url,
                        limits=HTTP_LIMITS,
                        timeout=self.settings.timeout,
                    ),
                    WSManager(self.settings),
                )
                self._loops[loop] = resources
            return resources

    def ws_sockets(self) -> int:
        """Open WebSocket connections on the running loop (diagnostics)."""
        with self._lock:
            resources = self._loops.get(asyncio.get_running_loop())
        return resources.ws.sockets if resources is not None else 0

    async def aclose_loop(self) -> None:
        """Close the running loop's resources."""
        with self._lock:
            resources = self._loops.pop(asyncio.get_running_loop(), None)
        if resources is not None:
            await resources.aclose()

    def close(self) -> None:
        """Close everything: the sync client, the background loop, and other loops' resources
        (scheduled on those loops when they still run)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            http, self._http = self._http, None
            loops = list(self._loops.items())
            self._loops.clear()
        if http is not None:
            http.close()
        bridge_loop = self.bridge._loop
        for loop, resources in loops:
            if loop is bridge_loop:
                continue
            if loop.is_running() and not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    asyncio.run_coroutine_threadsafe(resources.aclose(), loop)
        bridged = next((r for lp, r in loops if lp is bridge_loop), None)
        self.bridge.stop(bridged.aclose() if bridged is not None else None)
