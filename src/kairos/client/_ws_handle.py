"""One subscription as its consumer sees it: a queue of what the server sent, kept short by
per-subscription flow control.

A consumer holds at most ``QUEUE_EVENTS`` events. An event that finds its consumer full waits
for room, which slows the socket's reader (and through TCP, the server): memory stays
constant. That is harmless while the subscription has its socket to itself, but would hold back
every other subscription sharing the socket (head-of-line blocking). So when the socket is
shared (``contention`` set, at once or while waiting) and the event is tracked (the server can
resume after the previous one), the event is not queued: the subscription is *paused* (stopped on
the server) and resumed with ``lastEventId`` set to the last event queued once the consumer has
drained half of its queue. Resuming is exact, so nothing is lost or repeated; pausing only
under contention keeps re-subscriptions (which count against the server's rate limit) rare.
Deliveries go through a lock, so when a subscription moves to a new socket the old socket's
last event (possibly waiting for room) is queued before anything from the new one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from kairos._trpc.ws_common import RequestId
from kairos.errors import KairosError

if TYPE_CHECKING:
    from ._ws_connection import WSConnection

__all__ = ["Item", "SubscriptionHandle"]

QUEUE_EVENTS = 8
"""Events buffered per subscription (an event of simulation.stream holds up to 256 steps)."""

RESUME_AT = QUEUE_EVENTS // 2
"""A paused subscription is resumed when its consumer has left this many events or fewer."""


@dataclass(frozen=True)
class Item:
    """One thing for the consumer: an event's data, the end, or an error."""

    kind: Literal["data", "end", "error"]
    data: Any = None
    tracked_id: str | None = None
    error: KairosError | None = None


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Wait until the first of ``waits`` is done (the others are cancelled)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


class SubscriptionHandle:
    """A subscription the manager keeps alive across sockets until its consumer stops."""

    def __init__(
        self,
        path: str,
        input: object,
        on_abandon: Callable[[], Coroutine[Any, Any, object]] | None = None,
    ) -> None:
        self.path = path
        self.input = input
        self.on_abandon = on_abandon
        """Run once when the consumer leaves before the end (cancels what the stream owns)."""
        self.released = False
        self.last_event_id: str | None = None  # the last tracked event queued
        self.request_id: RequestId | None = None
        self.connection: WSConnection | None = None
        self.retries = 0
        self.done = False
        self.paused = False
        self.queue: asyncio.Queue[Item] = asyncio.Queue()  # bounded by pausing (module docs)
        self._room = asyncio.Event()
        self._lock = asyncio.Lock()

    @property
    def full(self) -> bool:
        return self.queue.qsize() >= QUEUE_EVENTS

    async def _put(self, item: Item) -> None:
        async with self._lock:
            self.queue.put_nowait(item)

    async def deliver_data(
        self, data: Any, tracked_id: str | None, contention: asyncio.Event | None = None
    ) -> bool:
        """Queue an event, waiting for room; False (not queued) when the consumer is full, the
        socket is shared (``contention``) and the subscription can be paused instead: the
        event is tracked and an earlier one gives a resume point."""
        async with self._lock:
            pausable = tracked_id is not None and self.last_event_id is not None
            while self.full:
                if pausable and contention is not None and contention.is_set():
                    return False
                self._room.clear()
                if pausable and contention is not None:
                    await _first(self._room.wait(), contention.wait())
                else:
                    await self._room.wait()
            self.queue.put_nowait(Item("data", data, tracked_id))
            if tracked_id is not None:
                self.last_event_id = tracked_id
            return True

    async def take(self) -> Item:
        """The next item for the consumer (waiting for one)."""
        item = await self.queue.get()
        self._room.set()
        return item

    @property
    def should_resume(self) -> bool:
        """Paused, and the consumer has drained enough to take more."""
        return self.paused and not self.done and self.queue.qsize() <= RESUME_AT

    async def deliver_end(self) -> None:
        self.done = True
        await self._put(Item("end"))

    async def deliver_error(self, error: KairosError) -> None:
        self.done = True
        await self._put(Item("error", error=error))

    def abort(self, error: KairosError) -> None:
        """End the stream now with ``error`` (not waiting for a delivery that waits for room)."""
        self.done = True
        self.queue.put_nowait(Item("error", error=error))
