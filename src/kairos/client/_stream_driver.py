"""What the two stream drivers share: one :class:`~kairos._trpc.subscriptions.SubscriptionMachine`
run on an event loop.

A driver holds a transport (one WebSocket at a time, or one SSE response) and ``self.protocol``,
the machine, as websockets' ``asyncio/connection.py`` holds its ``protocol``. It feeds the
machine what happens (a socket opened or lost, a frame, the time) and does what the machine
gives back: sends frames, wakes the consumers that have events, arms one timer, opens a socket
when one is wanted. It holds no subscription state of its own; the futures consumers wait on
are all it keeps per consumer, and only while they wait. The manager (:mod:`._streams`) adds
and removes subscriptions on the machine itself, then calls :meth:`~StreamDriver.wake`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

from kairos._trpc.subscriptions import ConsumerEvent, Output, SubscriptionMachine
from kairos._waiting import wait_within
from kairos.errors import APIConnectionError

from ._settings import ClientSettings

__all__ = ["StreamDriver"]

log = logging.getLogger("kairos.client")

SocketT = TypeVar("SocketT")


class StreamDriver(ABC, Generic[SocketT]):
    """Runs one subscription machine over sockets of type ``SocketT`` (see the module's docs)."""

    max_load: int
    """How many subscriptions one connection of this kind carries."""

    def __init__(self, settings: ClientSettings, target: str) -> None:
        self.settings = settings
        self.protocol = SubscriptionMachine(settings.policy, random.random, target=target)
        self.sockets: dict[int, SocketT] = {}
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._room = asyncio.Event()  # set while the reader may read (flow control)
        self._room.set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._establishing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- the transport -----------------------------------------------------------------------

    @abstractmethod
    async def _open_socket(self) -> SocketT:
        """Open a socket (raising :attr:`open_errors` on failure)."""

    @abstractmethod
    def _adopt(self, socket: int, sock: SocketT) -> None:
        """Start reading socket number ``socket``."""

    @abstractmethod
    async def _transmit(self, output: Output) -> None:
        """Carry out one thing the machine asks for."""

    @abstractmethod
    def _cut(self, sock: SocketT) -> None:
        """Cut a socket at once, sending nothing."""

    @abstractmethod
    async def _close_socket(self, sock: SocketT) -> None:
        """Close a socket politely."""

    open_errors: tuple[type[BaseException], ...] = (OSError, asyncio.TimeoutError)

    # -- for the manager ---------------------------------------------------------------------

    @property
    def load(self) -> int:
        """How many subscriptions this connection carries."""
        return self.protocol.load

    @property
    def usable(self) -> bool:
        """Open (or reopening) and not shut down for good."""
        return not self.protocol.closed

    async def open(self) -> None:
        """Open the first socket (retried with the client's backoff); APIConnectionError when
        the budget is spent."""
        await self._establish()
        if self.protocol.closed:
            raise APIConnectionError(self.protocol.failure or "the connection is closed")

    async def next_event(self, key: int, idle_timeout: float | None) -> ConsumerEvent:
        """The consumer's next event, waiting for it (``TimeoutError`` after ``idle_timeout``
        seconds of silence)."""
        protocol = self.protocol
        while (event := protocol.next_event(key)) is None:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters[key] = waiter
            try:
                await wait_within(waiter, idle_timeout)
            finally:
                self._waiters.pop(key, None)
        if protocol.has_output or not self._room.is_set():
            await self._after()
        return event

    async def wake(self) -> None:
        """Act on the machine's output after an input made from outside: a subscription added
        or removed, the machine closed."""
        await self._after()

    # -- driving the machine -----------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def _after(self) -> None:
        """Do what the machine asks for after an input."""
        protocol = self.protocol
        if protocol.has_output:
            for notice in protocol.notices():
                log.info(notice)
            for key in protocol.ready():
                waiter = self._waiters.get(key)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            for output in protocol.data_to_send():
                await self._transmit(output)
        if not self._room.is_set() and not protocol.reading_blocked:
            self._room.set()  # a consumer took events, or the full one was paused
        self._arm(protocol.next_deadline())
        if protocol.connect_at is not None and self._establishing is None:
            self._establishing = self._spawn(self._establish())

    def _arm(self, deadline: float | None) -> None:
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, deadline
        if deadline is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(deadline, lambda: self._spawn(self._fire()))

    async def _fire(self) -> None:
        self._timer, self._timer_at = None, None
        self.protocol.timer(self._now())
        await self._after()

    async def _establish(self) -> None:
        """Open sockets while the machine wants one (waiting as it says between attempts)."""
        self._establishing = asyncio.current_task()
        try:
            while (at := self.protocol.connect_at) is not None:
                delay = at - self._now()
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue
                try:
                    sock = await self._open_socket()
                except self.open_errors as exc:
                    self.protocol.connection_failed(self._now(), str(exc) or type(exc).__name__)
                    await self._after()
                    continue
                if self.protocol.connect_at is None:  # closed meanwhile
                    await self._close_socket(sock)
                    return
                socket = self.protocol.connection_made(self._now())
                self.sockets[socket] = sock
                self._adopt(socket, sock)
                await self._after()
        finally:
            self._establishing = None

    async def _lost(self, socket: int, reason: str) -> None:
        self.sockets.pop(socket, None)
        self.protocol.connection_lost(socket, self._now(), reason)
        await self._after()

    async def _wait_for_room(self) -> None:
        """Flow control: hold the reader while a lone consumer is full."""
        while self.protocol.reading_blocked:
            self._room.clear()
            await self._room.wait()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- closing -----------------------------------------------------------------------------

    def _shut(self) -> list[SocketT]:
        self.protocol.close()
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        socks = list(self.sockets.values())
        self.sockets.clear()
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_result(None)
        return socks

    async def aclose(self) -> None:
        """Stop every subscription and close the connection for good."""
        for sock in self._shut():
            with contextlib.suppress(Exception):
                await self._close_socket(sock)

    def abort(self) -> None:
        """Cut the connection at once, sending nothing (its loop is ending)."""
        for sock in self._shut():
            self._cut(sock)
