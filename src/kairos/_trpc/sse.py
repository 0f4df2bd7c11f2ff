"""tRPC subscriptions over Server-Sent Events (``httpSubscriptionLink``), both ends. No I/O.

Server side: the events @trpc/server 11.25.2's ``sseStreamProducer`` writes (trpc-protocol.md
§6). Every event is its field lines, each ending in ``\\n``, then ``\\n\\n``::

    event: connected            first, with the client options (reconnectAfterInactivityMs)
    data: {"reconnectAfterInactivityMs":20000}

    data: <value JSON>          one value; a tracked value's id goes in the ``id:`` field
    id: 512

    event: ping                 keep-alive
    event: return               the subscription finished (the client does not reconnect)
    event: serialized-error     the error shape; the stream then ends

Client side: :class:`SSEParser`, an incremental parser of the ``text/event-stream`` format
(WHATWG HTML §9.2.6) that yields :class:`SSEEvent` values and keeps the last event id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .envelopes import TRPCError
from .json_values import ABSENT, JSONDecodeFailure, decode_json, encode_json

__all__ = [
    "SSE_HEADERS",
    "SSEEvent",
    "SSEParser",
    "encode_connected",
    "encode_message",
    "encode_ping",
    "encode_restore_id",
    "encode_return",
    "encode_serialized_error",
    "last_event_id",
    "merge_last_event_id",
    "parse_connection_params_query",
]

SSE_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache, no-transform"),
    ("x-accel-buffering", "no"),
    ("connection", "keep-alive"),
)
"""The response headers of an SSE subscription, as @trpc/server sends them."""

CONNECTED = "connected"
PING = "ping"
RETURN = "return"
SERIALIZED_ERROR = "serialized-error"
RESTORE_ID = "restore-id"


def _check_line(value: str, what: str) -> str:
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"an SSE {what} cannot hold NUL, CR or LF")
    return value


def _event(*, event: str | None = None, data: str, id: str | None = None) -> str:
    out = f"event: {event}\n" if event is not None else ""
    out += f"data: {_check_line(data, 'data line')}\n"
    if id is not None:
        out += f"id: {_check_line(id, 'id')}\n"
    return out + "\n\n"


def encode_connected(client_options: Mapping[str, object] | None = None) -> str:
    """The first event: the options the client should use (``reconnectAfterInactivityMs``)."""
    return _event(event=CONNECTED, data=encode_json(dict(client_options or {})))


def encode_message(data: object, *, tracked_id: str | None = None) -> str:
    """One subscription value (a :class:`~.json_values.RawJSON` value is sent as it is, on one
    line); a tracked value carries its id in the ``id:`` field (``data`` is the value alone, not
    ``{id, data}``)."""
    if tracked_id is not None and not tracked_id:
        raise ValueError("a tracked id is a non-empty string without NUL, CR or LF")
    return _event(data=encode_json(data), id=tracked_id)


def encode_restore_id(last_id: str) -> str:
    """Sets the EventSource's last event id back after an untracked value (which is sent with an
    empty ``id:``). Not needed while every value is tracked."""
    return _event(event=RESTORE_ID, data="", id=last_id)


def encode_ping() -> str:
    """Keep-alive; the official client counts it as activity."""
    return _event(event=PING, data="")


def encode_return() -> str:
    """The subscription has finished: the client completes and does not reconnect."""
    return _event(event=RETURN, data="")


def encode_serialized_error(error: TRPCError, *, request_id: str | None = None) -> str:
    """The subscription failed with ``error`` (its shape, path included); the stream ends."""
    return _event(event=SERIALIZED_ERROR, data=encode_json(error.shape(request_id=request_id)))


def last_event_id(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The id a reconnecting client resumes from, where @trpc/server looks for it: the
    ``Last-Event-ID`` header, then ``?lastEventId=``, then ``?Last-Event-Id=``. An empty value
    is returned as it is (and, as in tRPC, is not merged into the input)."""
    for name, value in headers.items():
        if name.lower() == "last-event-id":
            return value
    if "lastEventId" in query:
        return query["lastEventId"]
    return query.get("Last-Event-Id")


def merge_last_event_id(input: object, last_event_id: str | None) -> object:
    """Merge a resume id into a subscription's input as tRPC does (WebSocket and SSE alike).

    An object input gets ``lastEventId`` added (replacing one already there); a null or
    absent input becomes ``{"lastEventId": id}``; any other input (a number, a string, an
    array) is left as it is.
    """
    if last_event_id is None:
        return input
    if isinstance(input, dict):
        return {**input, "lastEventId": last_event_id}
    if input is None or input is ABSENT:
        return {"lastEventId": last_event_id}
    return input


def parse_connection_params_query(value: str) -> dict[str, str] | TRPCError | None:
    """The ``?connectionParams=`` of an HTTP request: an object of strings, or null; anything
    else is tRPC's PARSE_ERROR (which fails the whole request)."""
    decoded = decode_json(value)
    if isinstance(decoded, JSONDecodeFailure):
        return TRPCError("PARSE_ERROR", "Not JSON-parsable query params")
    if decoded is None:
        return None
    if not isinstance(decoded, dict) or not all(isinstance(v, str) for v in decoded.values()):
        return TRPCError("PARSE_ERROR", "Invalid connection params shape")
    return {str(k): str(v) for k, v in decoded.items()}


# -- client side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event. ``event`` is ``"message"`` when the stream named none; ``id`` is the
    stream's last event id once this event is dispatched (as ``EventSource.lastEventId``)."""

    event: str
    data: str
    id: str


@dataclass
class SSEParser:
    """Feed it the bytes of a ``text/event-stream`` body in any pieces; it returns the events
    completed so far. ``retry`` holds the last ``retry:`` value the server sent (ms)."""

    last_event_id: str = ""
    retry: int | None = None
    _buffer: bytes = b""
    _data: list[str] = field(default_factory=list)
    _event: str = ""
    _has_data: bool = False
    _started: bool = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._buffer += chunk
        events: list[SSEEvent] = []
        while True:
            line, complete = self._next_line()
            if not complete:
                return events
            event = self._line(line)
            if event is not None:
                events.append(event)

    def _next_line(self) -> tuple[str, bool]:
        buffer = self._buffer
        lf, cr = buffer.find(b"\n"), buffer.find(b"\r")
        if cr == -1 or (lf != -1 and lf < cr):
            if lf == -1:
                return "", False
            self._buffer = buffer[lf + 1 :]
            return self._decode(buffer[:lf]), True
        if cr + 1 == len(buffer):
            return "", False  # a CR at the end: wait, it may be the start of a CRLF
        self._buffer = buffer[cr + 2 :] if buffer[cr + 1] == 0x0A else buffer[cr + 1 :]
        return self._decode(buffer[:cr]), True

    def _decode(self, raw: bytes) -> str:
        text = raw.decode("utf-8", "replace")
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        return text

    def _line(self, line: str) -> SSEEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry" and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        event, data, has_data = self._event, self._data, self._has_data
        self._event, self._data, self._has_data = "", [], False
        if not has_data:
            return None
        return SSEEvent(event or "message", "\n".join(data), self.last_event_id)
