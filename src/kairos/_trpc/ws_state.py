"""Per-connection bookkeeping of requests and subscriptions, for each end of the WebSocket.

:class:`ServerSubscriptions` is the server's set of running subscription ids (a second
subscription with a running id is refused with "Duplicate id N"). :class:`ClientSession` is the
client's: request ids from 1 up, the queries and mutations awaiting an answer, and the
subscriptions that must survive a lost socket. On a new socket every kept subscription is sent
again with a new id and ``lastEventId`` set to the last tracked id it received, as wsLink does.
Frames for ids that are finished (stopped, failed, unsubscribed) are ignored: tRPC sends
``stopped`` after a subscription's error, and the client must not report it twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .envelopes import TRPCError
from .json_values import ABSENT
from .ws_client import (
    Data,
    Error,
    ProtocolViolation,
    Result,
    ServerEvent,
    Started,
    Stopped,
    decode_server_frame,
    encode_request,
    encode_stop,
)
from .ws_common import RequestId

__all__ = ["ClientSession", "PendingCall", "ServerSubscriptions", "Subscription"]


class ServerSubscriptions:
    """The subscriptions running on one server connection."""

    def __init__(self) -> None:
        self._active: set[RequestId] = set()

    def start(self, id: RequestId) -> TRPCError | None:
        """Register subscription ``id``, or the BAD_REQUEST to answer when it is already running."""
        if id in self._active:
            return TRPCError("BAD_REQUEST", f"Duplicate id {id}")
        self._active.add(id)
        return None

    def stop(self, id: RequestId) -> bool:
        """Forget ``id``; True when it was running (the caller then aborts it and sends stopped)."""
        if id in self._active:
            self._active.discard(id)
            return True
        return False

    def __contains__(self, id: object) -> bool:
        return id in self._active

    def __len__(self) -> int:
        return len(self._active)

    def close(self) -> list[RequestId]:
        """The socket closed: every running subscription, to abort; the set is emptied."""
        active = list(self._active)
        self._active.clear()
        return active


@dataclass(frozen=True)
class PendingCall:
    """A query or mutation awaiting its answer."""

    id: int
    method: Literal["query", "mutation"]
    path: str


@dataclass
class Subscription:
    """A subscription the client keeps alive across sockets.

    ``key`` never changes; ``id`` is the request id on the current socket. ``last_event_id`` is
    the last tracked id received, sent as ``lastEventId`` when the subscription is re-sent.
    """

    key: int
    id: int
    path: str
    input: object = field(default=ABSENT)
    last_event_id: str | None = None
    started: bool = False


class ClientSession:
    """The client's view of one logical WebSocket connection (it outlives single sockets)."""

    def __init__(self) -> None:
        self._next_id = 1
        self._next_key = 1
        self._calls: dict[RequestId, PendingCall] = {}
        self._subscriptions: dict[RequestId, Subscription] = {}

    def _take_id(self) -> int:
        id = self._next_id
        self._next_id += 1
        return id

    @property
    def pending_calls(self) -> list[PendingCall]:
        """Queries and mutations sent and not yet answered."""
        return list(self._calls.values())

    @property
    def subscriptions(self) -> list[Subscription]:
        """Subscriptions that have not ended."""
        return list(self._subscriptions.values())

    def call(
        self, method: Literal["query", "mutation"], path: str, input: object = ABSENT
    ) -> tuple[int, str]:
        """Start a query or mutation: its id and the frame to send."""
        id = self._take_id()
        self._calls[id] = PendingCall(id, method, path)
        return id, encode_request(id, method, path, input)

    def subscribe(
        self, path: str, input: object = ABSENT, *, last_event_id: str | None = None
    ) -> tuple[Subscription, str]:
        """Start a subscription: its record and the frame to send."""
        subscription = Subscription(self._next_key, self._take_id(), path, input, last_event_id)
        self._next_key += 1
        self._subscriptions[subscription.id] = subscription
        return subscription, self._frame(subscription)

    def _frame(self, subscription: Subscription) -> str:
        return encode_request(
            subscription.id,
            "subscription",
            subscription.path,
            subscription.input,
            last_event_id=subscription.last_event_id,
        )

    def unsubscribe(self, id: RequestId) -> str | None:
        """Stop subscription ``id``: the stop frame, or None if it had already ended.

        Later frames for ``id`` (a last value, ``stopped``) are ignored.
        """
        if self._subscriptions.pop(id, None) is None:
            return None
        return encode_stop(id)

    def cancel_call(self, id: RequestId) -> bool:
        """Give up on a query or mutation (e.g. on a timeout); its answer will be ignored."""
        return self._calls.pop(id, None) is not None

    def receive(self, frame: str | bytes) -> ServerEvent | None:
        """Decode a server frame and update the bookkeeping; None for a frame to ignore.

        Data for a query or mutation is reported as :class:`Result`; an error ends its call or
        subscription. A connection-level error (id null), a reconnect request, PING/PONG and
        protocol violations pass through unchanged.
        """
        event = decode_server_frame(frame)
        if not isinstance(event, Data | Started | Stopped | Error):
            return event
        id = event.id
        if id is None:
            return event
        if id in self._calls:
            if isinstance(event, Data):
                del self._calls[id]
                return Result(id, event.data)
            if isinstance(event, Error):
                del self._calls[id]
                return event
            return ProtocolViolation(f"{type(event).__name__.lower()} for a query or mutation", "")
        subscription = self._subscriptions.get(id)
        if subscription is None:
            return None
        if isinstance(event, Started):
            subscription.started = True
        elif isinstance(event, Data):
            if event.tracked_id is not None:
                subscription.last_event_id = event.tracked_id
        else:
            del self._subscriptions[id]
        return event

    def connection_lost(self) -> None:
        """The socket is gone: its queries and mutations are forgotten (they failed with it);
        subscriptions are kept for :meth:`resubscribe` on the next socket."""
        self._calls.clear()
        for subscription in self._subscriptions.values():
            subscription.started = False

    def resubscribe(self) -> list[tuple[int, Subscription, str]]:
        """Move every kept subscription to a new id: ``(old_id, subscription, frame)`` each."""
        moved: list[tuple[int, Subscription, str]] = []
        old = list(self._subscriptions.values())
        self._subscriptions.clear()
        for subscription in old:
            old_id = subscription.id
            subscription.id = self._take_id()
            subscription.started = False
            self._subscriptions[subscription.id] = subscription
            moved.append((old_id, subscription, self._frame(subscription)))
        return moved
