"""One subscription as its consumer sees it: a bounded queue of what the server sent.

The queue is bounded, so a consumer that reads slowly slows its socket's reader (and through
TCP, the server) instead of growing memory: that is what keeps ``stream_run`` in constant memory.
Deliveries go through a lock, so when a subscription moves to a new socket the old socket's
last event (possibly waiting for room) is queued before anything from the new one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from kairos._trpc.ws_common import RequestId
from kairos.errors import KairosError

if TYPE_CHECKING:
    from ._ws_connection import WSConnection

__all__ = ["Item", "SubscriptionHandle"]

QUEUE_EVENTS = 8
"""Events buffered per subscription (an event of simulation.stream holds up to 256 steps)."""


@dataclass(frozen=True)
class Item:
    """One thing for the consumer: an event's data, the end, or an error."""

    kind: Literal["data", "end", "error"]
    data: Any = None
    tracked_id: str | None = None
    error: KairosError | None = None


class SubscriptionHandle:
    """A subscription the manager keeps alive across sockets until its consumer stops."""

    def __init__(self, path: str, input: object, last_event_id: str | None) -> None:
        self.path = path
        self.input = input
        self.last_event_id = last_event_id
        self.request_id: RequestId | None = None
        self.connection: WSConnection | None = None
        self.retries = 0
        self.done = False
        self.queue: asyncio.Queue[Item] = asyncio.Queue(QUEUE_EVENTS)
        self._lock = asyncio.Lock()

    async def _put(self, item: Item) -> None:
        async with self._lock:
            await self.queue.put(item)

    async def deliver_data(self, data: Any, tracked_id: str | None) -> None:
        await self._put(Item("data", data, tracked_id))

    async def deliver_end(self) -> None:
        self.done = True
        await self._put(Item("end"))

    async def deliver_error(self, error: KairosError) -> None:
        self.done = True
        await self._put(Item("error", error=error))
