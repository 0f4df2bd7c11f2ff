"""The client's subscriptions over one stream connection, as one sans-I/O state machine.

In the shape of websockets' ``protocol.py``: the driver feeds it what happened (a connection
made or lost, a frame or a decoded server event, the time) and reads back what to do (requests
to send, events for each consumer, when to wake it next, whether a connection is wanted). It
owns every subscription of the connection, which outlives single sockets:

* the request ids (from 1 up, new ones on every socket) and, per subscription, the ONE last
  tracked event id: that of the last event accepted for its consumer. It is what a
  re-subscription sends as ``lastEventId``, after a lost socket, a server's reconnect notice, a
  pause or a retry alike;
* flow control: a consumer holds at most :data:`QUEUE_EVENTS` events. An event for a full
  consumer is accepted all the same while the subscription has the socket to itself, and the
  driver stops reading (:attr:`SubscriptionMachine.reading_blocked`: TCP then slows the
  server). When the socket is shared, that would hold back every other subscription, so a
  tracked subscription is *paused* instead (stopped on the server, the event dropped) and
  resumed after its last accepted event once its consumer has drained to :data:`RESUME_AT`;
* recovery: a lost socket is replaced (at once, then with the retry policy's backoff; given up
  after ``max_retries + 1`` losses in a row without data); a server's reconnect notice moves
  every subscription to a new socket before the old one is stopped and closed;
* PING is answered with PONG; an error with a null id (a rejected API key, say) fails every
  subscription; a subscription's error is retried or reported as the retry policy decides
  (:mod:`.retry`, a pure function);
* an optional per-subscription ``check`` (:func:`.resume.check_chunk` for trace streams) that
  cuts re-sent steps and reports holes, so every step reaches its consumer exactly once.

Transitions of a subscription are stated once, in :data:`TRANSITIONS` (as h11's ``_state.py``
does); anything else is a bug and raises. The machine reads no clock and draws no random number
by itself: both come in (``now`` arguments, the ``rng`` callable).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .json_values import ABSENT
from .resume import Deliver, Gap, Violation
from .retry import ConnectionFailed, GiveUp, RetryPolicy, outcome_for_key, retry_after_from_shape
from .ws_client import (
    Data,
    Error,
    ProtocolViolation,
    ReconnectRequested,
    ServerEvent,
    Started,
    Stopped,
    decode_server_frame,
    encode_request,
    encode_stop,
)
from .ws_common import PONG, Ping, RequestId

__all__ = [
    "QUEUE_EVENTS",
    "RESUME_AT",
    "TRANSITIONS",
    "Check",
    "Close",
    "ConsumerEvent",
    "Delivered",
    "Ended",
    "Failed",
    "Output",
    "SendPong",
    "Stop",
    "Subscribe",
    "SubscriptionMachine",
]

QUEUE_EVENTS: Final = 8
"""Events buffered per consumer (an event of simulation.stream holds up to 256 steps)."""

RESUME_AT: Final = QUEUE_EVENTS // 2
"""A paused subscription is resumed when its consumer has left this many events or fewer."""

Check = Callable[[Any, "str | None", "str | None"], "Deliver | Gap | Violation"]
"""``(data, tracked_id, last_event_id)`` -> the event cut to what is new, or why it is wrong."""


# -- what consumers get ------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """An event's data; ``tracked_id`` is set for a tracked event."""

    data: Any
    tracked_id: str | None = None


@dataclass(frozen=True)
class Ended:
    """The subscription finished (the server stopped it); nothing follows."""


@dataclass(frozen=True)
class Failed:
    """The subscription failed; nothing follows.

    ``kind`` is ``"server"`` for an error shape the server sent (``shape``), ``"connection"``
    when no socket could be kept open, ``"protocol"`` when the server broke the protocol.
    """

    kind: Literal["server", "connection", "protocol"]
    message: str
    shape: Mapping[str, object] | None = None


ConsumerEvent = Delivered | Ended | Failed


# -- what the driver sends ---------------------------------------------------------------------


@dataclass(frozen=True)
class Subscribe:
    """Start subscription ``id`` on socket ``socket`` (``last_event_id``: resume after it)."""

    socket: int
    id: int
    path: str
    input: object
    last_event_id: str | None

    @property
    def frame(self) -> str:
        """As a tRPC WebSocket frame."""
        return encode_request(
            self.id, "subscription", self.path, self.input, last_event_id=self.last_event_id
        )


@dataclass(frozen=True)
class Stop:
    """Stop subscription ``id`` on socket ``socket``."""

    socket: int
    id: int

    @property
    def frame(self) -> str:
        """As a tRPC WebSocket frame."""
        return encode_stop(self.id)


@dataclass(frozen=True)
class SendPong:
    """Answer a PING on socket ``socket``."""

    socket: int

    @property
    def frame(self) -> str:
        """As a tRPC WebSocket frame."""
        return PONG


@dataclass(frozen=True)
class Close:
    """Close socket ``socket`` (after sending what precedes this)."""

    socket: int


Output = Subscribe | Stop | SendPong | Close


# -- states ------------------------------------------------------------------------------------

State = Literal["waiting", "sent", "paused", "retrying", "done"]
"""waiting: to be sent on the next socket; sent: on the current socket; paused: stopped until
its consumer drains; retrying: stopped until its retry time; done: ended, events may be left."""

TRANSITIONS: Final[Mapping[tuple[State, str], State]] = {
    ("waiting", "send"): "sent",
    ("sent", "lose"): "waiting",
    ("sent", "pause"): "paused",
    ("paused", "send"): "sent",
    ("paused", "unpause"): "waiting",
    ("sent", "retry"): "retrying",
    ("retrying", "send"): "sent",
    ("retrying", "due"): "waiting",
    **{(state, "end"): "done" for state in ("waiting", "sent", "paused", "retrying")},
}
"""(state, what happened) -> next state: every transition a subscription can make."""

ConnectionState = Literal["connecting", "open", "closed"]
"""connecting: a socket is wanted (from :attr:`SubscriptionMachine.connect_at` on); open: one
is; closed: for good."""


@dataclass(eq=False)
class _Subscription:
    key: int
    path: str
    input: object
    check: Check | None
    last_event_id: str | None
    state: State = "waiting"
    id: RequestId | None = None
    retries: int = 0
    due: float | None = None
    buffer: deque[ConsumerEvent] = field(default_factory=deque)

    def go(self, event: str) -> None:
        following = TRANSITIONS.get((self.state, event))
        if following is None:
            raise RuntimeError(f"a subscription cannot {event} when {self.state}")
        self.state = following


class SubscriptionMachine:
    """Every subscription of one logical stream connection (see the module's docs).

    ``target`` names the connection in messages ("the WebSocket to ws://..."); ``rng`` gives
    the retry jitter's random numbers in [0, 1).
    """

    def __init__(self, policy: RetryPolicy, rng: Callable[[], float], *, target: str) -> None:
        self._policy = policy
        self._rng = rng
        self._target = target
        self._subscriptions: dict[int, _Subscription] = {}  # by key
        self._by_id: dict[RequestId, _Subscription] = {}  # "sent" ones, on the current socket
        self._next_key = 1
        self._next_id = 1
        self.state: ConnectionState = "connecting"
        self.socket = 0  # the current socket's number; 0 before the first
        self._moving: int | None = None  # the socket a reconnect notice asked to leave
        self._attempts = 0  # failed opens in a row, and the seconds waited for them
        self._waited = 0.0
        self._losses = 0  # sockets lost in a row without data
        self._connect_at: float | None = None
        self._blocking: _Subscription | None = None  # the consumer the reader waits for
        self._sends: list[Output] = []
        self._ready: set[int] = set()
        self._notices: list[str] = []
        self.failure: str | None = None
        """Why the connection gave up (set once it is closed that way)."""

    # -- what the driver reads -------------------------------------------------------------

    def data_to_send(self) -> list[Output]:
        """What to send (and close), in order; each is returned once."""
        sends, self._sends = self._sends, []
        return sends

    def ready(self) -> set[int]:
        """The consumers (keys) that have got events since the last call."""
        ready, self._ready = self._ready, set()
        return ready

    def notices(self) -> list[str]:
        """Things worth logging since the last call."""
        notices, self._notices = self._notices, []
        return notices

    @property
    def has_output(self) -> bool:
        """Whether :meth:`data_to_send`, :meth:`ready` or :meth:`notices` have anything."""
        return bool(self._sends or self._ready or self._notices)

    @property
    def connect_at(self) -> float | None:
        """When the driver should open a (new) socket; None when none is wanted."""
        if self.state == "connecting" or (self.state == "open" and self._moving is not None):
            return self._connect_at if self._connect_at is not None else 0.0
        return None

    def next_deadline(self) -> float | None:
        """When to call :meth:`timer` next (None: no timer needed)."""
        times = [s.due for s in self._subscriptions.values() if s.due is not None]
        return min(times) if times else None

    @property
    def load(self) -> int:
        """How many subscriptions the connection carries (the consumers still attached)."""
        return len(self._subscriptions)

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    @property
    def reading_blocked(self) -> bool:
        """Whether the driver should stop reading: a consumer holds more than it may."""
        blocking = self._blocking
        if blocking is None:
            return False
        if len(blocking.buffer) > QUEUE_EVENTS and blocking.state == "sent":
            return True
        self._blocking = None
        return False

    # -- consumers ---------------------------------------------------------------------------

    def subscribe(
        self,
        path: str,
        input: object = ABSENT,
        *,
        last_event_id: str | None = None,
        check: Check | None = None,
    ) -> int:
        """Add a subscription (resuming after ``last_event_id``): its consumer's key."""
        if self.state == "closed":
            raise RuntimeError("the connection is closed")
        subscription = _Subscription(self._next_key, path, input, check, last_event_id)
        self._next_key += 1
        self._subscriptions[subscription.key] = subscription
        if self.state == "open":
            self._send(subscription)
        if self._contended:
            # Now shared: a subscription holding the reader back is paused instead.
            for other in list(self._by_id.values()):
                if len(other.buffer) > QUEUE_EVENTS and other.last_event_id is not None:
                    self._pause(other)
        return subscription.key

    def unsubscribe(self, key: int) -> None:
        """The consumer left: stop its subscription (if still running) and forget it."""
        subscription = self._subscriptions.pop(key, None)
        if subscription is None:
            return
        if subscription.state == "sent":
            self._stop(subscription)
        if subscription.state != "done":
            subscription.go("end")
        subscription.buffer.clear()
        self._ready.discard(key)

    def next_event(self, key: int) -> ConsumerEvent | None:
        """The consumer's next event, or None while it has none (wait for :meth:`ready`).

        After :class:`Ended` or :class:`Failed` the subscription is forgotten."""
        subscription = self._subscriptions.get(key)
        if subscription is None:
            return Failed("protocol", "the subscription is no longer known")
        if not subscription.buffer:
            return None
        event = subscription.buffer.popleft()
        if isinstance(event, Ended | Failed):
            del self._subscriptions[key]
        elif subscription.state == "paused" and len(subscription.buffer) <= RESUME_AT:
            if self.state == "open" and self._moving is None:
                self._send(subscription)
            else:
                subscription.go("unpause")
        return event

    # -- the connection ----------------------------------------------------------------------

    def connection_made(self, now: float) -> int:
        """A socket is open: its number. Waiting subscriptions are sent on it; after a
        reconnect notice, running ones move to it and are stopped on the old socket."""
        del now
        if self.state == "closed":
            raise RuntimeError("the connection is closed")
        old, moving = self.socket, self._moving
        self.socket += 1
        self.state = "open"
        self._attempts, self._waited, self._moving, self._connect_at = 0, 0.0, None, None
        moved = [s for s in self._by_id.values()] if moving is not None else []
        self._by_id.clear()
        for subscription in moved:
            assert subscription.id is not None
            self._sends.append(Stop(old, int(subscription.id)))
            subscription.go("lose")
            self._send(subscription)
        if moving is not None:
            self._sends.append(Close(old))
        for subscription in self._subscriptions.values():
            if subscription.state == "waiting":
                self._send(subscription)
        return self.socket

    def connection_failed(self, now: float, reason: str) -> None:
        """Opening a socket failed: retry (see :meth:`connect_at`) or give up."""
        decision = self._policy.decide(
            self._attempts,
            ConnectionFailed(),
            retry_safe=True,
            rng_value=self._rng(),
            spent=self._waited,
        )
        if isinstance(decision, GiveUp):
            self._fail_all(f"Could not open {self._target} ({decision.reason})", kind="connection")
            return
        self._notices.append(
            f"opening {self._target} failed ({reason}); retrying in {decision.delay:.2f} s"
        )
        self._attempts += 1
        self._waited += decision.delay
        self._connect_at = now + decision.delay

    def connection_lost(self, socket: int, now: float, reason: str = "") -> None:
        """Socket ``socket`` closed. The socket a move left may close; the current one is
        replaced while subscriptions remain (backing off after repeated losses)."""
        if socket != self.socket or self.state != "open":
            return
        self._moving = None
        for subscription in self._by_id.values():
            subscription.go("lose")
            subscription.id = None
        self._by_id.clear()
        if not self._subscriptions:
            self.state = "closed"
            return
        self._losses += 1
        if self._losses > self._policy.max_retries + 1:
            self._fail_all(f"{self._target} keeps closing without delivering", kind="connection")
            return
        self._notices.append(
            f"{self._target} lost ({reason or 'closed'}); reconnecting {self.load} subscription(s)"
        )
        self.state = "connecting"
        self._connect_at = None
        if self._losses > 1:
            self._connect_at = now + self._policy.backoff_delay(self._losses - 2, 0)

    def timer(self, now: float) -> None:
        """Time has come for what :meth:`next_deadline` named."""
        for subscription in list(self._subscriptions.values()):
            if subscription.due is not None and now >= subscription.due:
                subscription.due = None
                if self.state == "open" and self._moving is None:
                    self._send(subscription)
                else:
                    subscription.go("due")

    def close(self, message: str = "the connection was closed") -> None:
        """The driver closes the connection for good: consumers still attached get
        :class:`Failed` (``"connection"``, ``message``)."""
        if self.state != "closed":
            self._fail_all(message, kind="connection")
        self._by_id.clear()

    # -- frames from the server --------------------------------------------------------------

    def receive_frame(self, frame: str | bytes, socket: int, now: float) -> None:
        """A WebSocket frame arrived on socket ``socket``."""
        self.receive(decode_server_frame(frame), socket, now)

    def receive(self, event: ServerEvent, socket: int, now: float) -> None:
        """A server event (decoded from any transport) arrived on socket ``socket``."""
        if isinstance(event, Ping):
            self._sends.append(SendPong(socket))
            return
        if socket != self.socket or self.state != "open":
            return  # the socket a move leaves: its subscriptions live on the new one
        if isinstance(event, Data):
            subscription = self._by_id.get(event.id)
            if subscription is not None:
                self._data(subscription, event)
        elif isinstance(event, Stopped):
            subscription = self._by_id.pop(event.id, None)
            if subscription is not None:
                self._finish(subscription, Ended())
        elif isinstance(event, Error):
            if event.id is None:
                message = event.shape.get("message")
                self._fail_all(str(message), kind="server", shape=event.shape)
                self._sends.append(Close(socket))
                return
            subscription = self._by_id.pop(event.id, None)
            if subscription is not None:
                self._error(subscription, event.shape, now)
        elif isinstance(event, ReconnectRequested):
            if self._moving is None:
                self._moving = socket
                self._notices.append(
                    f"server asked to reconnect; moving {self.load} subscription(s)"
                )
        elif isinstance(event, ProtocolViolation):
            self._notices.append(f"ignoring a frame that is not tRPC: {event.reason}")
        elif isinstance(event, Started):
            pass

    # -- inside ------------------------------------------------------------------------------

    @property
    def _contended(self) -> bool:
        live = 0
        for subscription in self._subscriptions.values():
            if subscription.state in ("waiting", "sent", "retrying"):
                live += 1
        return live > 1

    def _send(self, subscription: _Subscription) -> None:
        subscription.go("send")
        subscription.id = id = self._next_id
        self._next_id += 1
        self._by_id[id] = subscription
        self._sends.append(
            Subscribe(
                self.socket, id, subscription.path, subscription.input, subscription.last_event_id
            )
        )

    def _stop(self, subscription: _Subscription) -> None:
        if subscription.id is not None:
            self._by_id.pop(subscription.id, None)
            self._sends.append(Stop(self.socket, int(subscription.id)))
            subscription.id = None

    def _pause(self, subscription: _Subscription) -> None:
        self._stop(subscription)
        subscription.go("pause")

    def _data(self, subscription: _Subscription, event: Data) -> None:
        self._losses = 0
        subscription.retries = 0  # it works again: a later failure gets a fresh budget
        data, tracked_id = event.data, event.tracked_id
        if subscription.check is not None:
            checked = subscription.check(data, tracked_id, subscription.last_event_id)
            if not isinstance(checked, Deliver):
                self._stop(subscription)
                reason = f"{subscription.path} broke exactly-once delivery: {checked.reason}"
                self._finish(subscription, Failed("protocol", reason))
                return
            if checked.data is None:
                return
            data = checked.data
        if (
            len(subscription.buffer) >= QUEUE_EVENTS
            and tracked_id is not None
            and subscription.last_event_id is not None
            and self._contended
        ):
            self._pause(subscription)
            return
        subscription.buffer.append(Delivered(data, tracked_id))
        if len(subscription.buffer) > QUEUE_EVENTS:
            self._blocking = subscription
        if tracked_id is not None:
            subscription.last_event_id = tracked_id
        self._ready.add(subscription.key)

    def _error(self, subscription: _Subscription, shape: Mapping[str, object], now: float) -> None:
        data = shape.get("data")
        key = data.get("code") if isinstance(data, Mapping) else None
        outcome = outcome_for_key(
            key if isinstance(key, str) else None, retry_after_from_shape(shape)
        )
        decision = self._policy.decide(
            subscription.retries, outcome, retry_safe=True, rng_value=self._rng()
        )
        subscription.id = None
        if isinstance(decision, GiveUp):
            self._finish(subscription, Failed("server", str(shape.get("message")), shape))
            return
        subscription.retries += 1
        subscription.go("retry")
        subscription.due = now + decision.delay
        self._notices.append(
            f"re-subscribing to {subscription.path} in {decision.delay:.2f} s after "
            f"{shape.get('message')!s}"
        )

    def _finish(self, subscription: _Subscription, last: Ended | Failed) -> None:
        subscription.id = None
        subscription.due = None
        subscription.go("end")
        subscription.buffer.append(last)
        self._ready.add(subscription.key)

    def _fail_all(
        self,
        message: str,
        *,
        kind: Literal["server", "connection"],
        shape: Mapping[str, object] | None = None,
    ) -> None:
        self.failure = message
        for subscription in self._subscriptions.values():
            if subscription.state != "done":
                self._finish(subscription, Failed(kind, message, shape))
        self._by_id.clear()
        self.state = "closed"
        self._moving = None
