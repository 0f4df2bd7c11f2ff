"""The connections a client holds: one ``httpx.Client``, and per event loop one
``httpx.AsyncClient`` plus one :class:`~._streams.StreamManager`.

Async resources are bound to the loop that made them (an ``httpx.AsyncClient`` or a socket
cannot be used from another loop), so they are kept per loop: the same client works from
``asyncio.run`` called twice, from several threads each with its own loop, and from the sync
API's background loop. Copies made by ``with_options`` share these connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

import httpx

from kairos_api import SimulationIdInput
from kairos_api.procedures import SIMULATION_CANCEL

from ._bridge import shared_loop
from ._exit import CLIENTS, at_exit
from ._http import HTTP_LIMITS, drive_sync
from ._machine import call_machine
from ._settings import ClientSettings
from ._streams import StreamManager

__all__ = ["Connections", "LoopResources"]

log = logging.getLogger("kairos.client")


@dataclass
class LoopResources:
    """What one event loop needs: async HTTP and the stream manager."""

    http: httpx.AsyncClient
    streams: StreamManager
    closed: bool = False
    guard: AsyncGenerator[None, None] | None = None
    _started: asyncio.Future[None] | None = None

    async def aclose(self, *, loop_ending: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        await self.streams.aclose(loop_ending=loop_ending)
        await self.http.aclose()

    def close_with_loop(self) -> None:
        """Be closed when the running loop ends, if not before (client never closed).

        An async generator left suspended is what a loop finalizes as it ends
        (``asyncio.run`` calls ``shutdown_asyncgens``): the guard is one, and closes these
        resources from its ``finally``, so their sockets do not outlive the loop."""

        async def guard() -> AsyncGenerator[None, None]:
            try:
                yield
            finally:
                await self.aclose(loop_ending=True)

        self.guard = guard()
        self._started = asyncio.ensure_future(self.guard.__anext__())


_open: weakref.WeakSet[Connections] = weakref.WeakSet()
_open_lock = threading.Lock()
_hooked = False


def _close_open() -> None:
    """At interpreter exit: close what clients never closed (see :mod:`._exit`)."""
    with _open_lock:
        left = list(_open)
    for connections in left:
        with contextlib.suppress(Exception):
            connections.close()


class Connections:
    """The I/O resources behind a client (thread-safe); ``close()`` closes them and then runs
    ``on_close`` (the embedded server's release), once.

    Closed when collected, too: whatever can still use the resources (the client, a copy from
    ``with_options``, its namespaces, an open stream) refers to this object, so nothing can use
    them any more then, and no socket, loop thread or embedded server is left behind.
    """

    def __init__(
        self, settings: ClientSettings, on_close: Callable[[], None] | None = None
    ) -> None:
        global _hooked
        self.settings = settings
        self._held = _Held(settings)
        self.bridge = self._held.bridge
        self._finalizer = weakref.finalize(self, self._held.close, on_close)
        self._finalizer.atexit = False  # the exit hook closes them first (see _exit)
        with _open_lock:
            first, _hooked = not _hooked, True
            _open.add(self)
        if first:
            at_exit(CLIENTS, _close_open)

    @property
    def closed(self) -> bool:
        return self._held.closed

    def http(self) -> httpx.Client:
        """The blocking HTTP client (made on first use)."""
        return self._held.http()

    def for_loop(self) -> LoopResources:
        """The running loop's async HTTP client and stream manager (made on first use)."""
        return self._held.for_loop()

    async def aclose_loop(self) -> None:
        """Close the running loop's resources."""
        await self._held.aclose_loop()

    def note_abandoned(self, simulation_id: str) -> None:
        """A stream that owns ``simulation_id`` was abandoned: it is to be cancelled."""
        self._held.note_abandoned(simulation_id)

    def cancelled(self, simulation_id: str) -> None:
        """The abandoned ``simulation_id`` has been cancelled."""
        self._held.cancelled(simulation_id)

    def close(self) -> None:
        """Close everything: the sync client, what it holds on the shared loop thread, and
        other loops' resources (scheduled on those loops when they still run); then
        ``on_close``."""
        self._finalizer()


class _Held:
    """What :class:`Connections` holds, apart from it so that it can be closed on collection."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.bridge = shared_loop()
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopResources] = (
            weakref.WeakKeyDictionary()
        )
        self.closed = False
        self._abandoned: set[str] = set()

    def note_abandoned(self, simulation_id: str) -> None:
        """A stream that owns ``simulation_id`` was abandoned: it is to be cancelled."""
        with self._lock:
            self._abandoned.add(simulation_id)

    def cancelled(self, simulation_id: str) -> None:
        """The abandoned ``simulation_id`` has been cancelled."""
        with self._lock:
            self._abandoned.discard(simulation_id)

    def _cancel_abandoned(self, http: httpx.Client) -> None:
        """Cancel what abandoned streams could not (their loop ended first)."""
        with self._lock:
            left, self._abandoned = sorted(self._abandoned), set()
        for simulation_id in left:
            machine = call_machine(
                SIMULATION_CANCEL, SimulationIdInput(id=simulation_id), self.settings
            )
            try:
                drive_sync(machine, http)
            except Exception as exc:  # closing must not fail
                log.info("could not cancel %s, left by an abandoned stream: %s", simulation_id, exc)

    def _check(self) -> None:
        if self.closed:
            raise RuntimeError("this KairosClient is closed")

    def http(self) -> httpx.Client:
        """The blocking HTTP client (made on first use)."""
        with self._lock:
            self._check()
            if self._http is None:
                self._http = self._new_http()
            return self._http

    def _new_http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.settings.trpc_url, limits=HTTP_LIMITS, timeout=self.settings.timeout
        )

    def for_loop(self) -> LoopResources:
        """The running loop's async HTTP client and stream manager (made on first use)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._check()
            resources = self._loops.get(loop)
            if resources is None:
                http = httpx.AsyncClient(
                    base_url=self.settings.trpc_url,
                    limits=HTTP_LIMITS,
                    timeout=self.settings.timeout,
                )
                resources = LoopResources(http, StreamManager(self.settings, http))
                resources.close_with_loop()
                self._loops[loop] = resources
            return resources

    async def aclose_loop(self) -> None:
        """Close the running loop's resources."""
        with self._lock:
            resources = self._loops.pop(asyncio.get_running_loop(), None)
        if resources is not None:
            await resources.aclose()

    def close(self, on_close: Callable[[], None] | None = None) -> None:
        try:
            self._close()
        finally:
            if on_close is not None:
                on_close()

    def _close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            http, self._http = self._http, None
            loops = list(self._loops.items())
            self._loops.clear()
        bridge_loop = self.bridge.current
        for loop, resources in loops:
            if loop is bridge_loop:
                continue
            if loop.is_running() and not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    asyncio.run_coroutine_threadsafe(resources.aclose(), loop)
        bridged = next((r for lp, r in loops if lp is bridge_loop), None)
        if bridged is not None and bridge_loop is not None:
            with contextlib.suppress(Exception):  # closing must not fail
                done = asyncio.run_coroutine_threadsafe(bridged.aclose(), bridge_loop)
                if not self.bridge.on_its_thread:
                    done.result(timeout=30)
        if self._abandoned:
            if http is None:
                http = self._new_http()
            self._cancel_abandoned(http)
        if http is not None:
            http.close()
