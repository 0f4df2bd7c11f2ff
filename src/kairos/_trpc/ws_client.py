"""The client end of the tRPC WebSocket protocol: frames to send, and server frames decoded.

Frames the client sends (one JSON text frame each)::

    {"method":"connectionParams","data":{"authorization":"Bearer ..."}}     first, once
    {"id":1,"method":"query","params":{"path":"engine.versions"}}
    {"id":2,"method":"subscription","params":{"path":"simulation.stream","input":{...},
                                              "lastEventId":"42"}}
    {"id":2,"method":"subscription.stop"}

:func:`decode_server_frame` turns whatever the server sent into one typed event and never
raises: a frame it cannot read becomes :class:`ProtocolViolation`. It is stateless: which ids
are whose is the subscription machine's business (:mod:`.subscriptions`). The client speaks
only subscriptions over WebSocket (queries and mutations go over HTTP).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .json_values import ABSENT, JSONDecodeFailure, decode_json, encode_json, excerpt
from .ws_common import Ping, Pong, RequestId, keep_alive, normalize_id

__all__ = [
    "Data",
    "Error",
    "ProtocolViolation",
    "ReconnectRequested",
    "ServerEvent",
    "Started",
    "Stopped",
    "WSMethod",
    "decode_server_frame",
    "encode_connection_params",
    "encode_request",
    "encode_stop",
]

WSMethod = Literal["query", "mutation", "subscription"]


def encode_request(
    id: RequestId,
    method: WSMethod,
    path: str,
    input: object = ABSENT,
    *,
    last_event_id: str | None = None,
) -> str:
    """A query, mutation or subscription request frame; ``input`` is left out when ABSENT."""
    params: dict[str, object] = {"path": path}
    if input is not ABSENT:
        params["input"] = input
    if last_event_id is not None:
        params["lastEventId"] = last_event_id
    return encode_json({"id": id, "method": method, "params": params})


def encode_stop(id: RequestId) -> str:
    """The frame that stops subscription ``id``."""
    return encode_json({"id": id, "method": "subscription.stop"})


def encode_connection_params(params: Mapping[str, str] | None) -> str:
    """The first frame on a ``?connectionParams=1`` socket; the server wants string values."""
    if params is not None:
        bad = sorted(k for k, v in params.items() if not isinstance(v, str))
        if bad:
            raise ValueError(f"connection params must be strings; not: {', '.join(bad)}")
    data = dict(params) if params is not None else None
    return encode_json({"method": "connectionParams", "data": data})


@dataclass(frozen=True)
class Started:
    """The server started subscription ``id``."""

    id: RequestId


@dataclass(frozen=True)
class Data:
    """A value for request ``id``; ``tracked_id`` is set for ``tracked(id, v)`` events."""

    id: RequestId
    data: Any
    tracked_id: str | None = None


@dataclass(frozen=True)
class Stopped:
    """Subscription ``id`` ended (completed, stopped or failed); nothing more comes for it."""

    id: RequestId


@dataclass(frozen=True)
class Error:
    """An error shape for request ``id``; ``id`` None means the connection itself failed."""

    id: RequestId | None
    shape: Mapping[str, object]


@dataclass(frozen=True)
class ReconnectRequested:
    """The server asks the client to move to a new socket (``{"method":"reconnect"}``)."""


@dataclass(frozen=True)
class ProtocolViolation:
    """A frame that is not tRPC; ``frame_excerpt`` shows its start."""

    reason: str
    frame_excerpt: str


ServerEvent = (
    Started | Data | Stopped | Error | ReconnectRequested | Ping | Pong | ProtocolViolation
)


def decode_server_frame(frame: str | bytes) -> ServerEvent:
    """Decode one frame the server sent. Never raises."""
    event = keep_alive(frame)
    if event is not None:
        return event
    shown = excerpt(frame)
    message = decode_json(frame)
    if isinstance(message, JSONDecodeFailure):
        return ProtocolViolation(message.message, shown)
    if not isinstance(message, dict):
        return ProtocolViolation("frame is not a JSON object", shown)
    raw_id = message.get("id")
    id = normalize_id(raw_id)
    if raw_id is not None and id is None:
        return ProtocolViolation("invalid request id", shown)
    if message.get("method") == "reconnect" and id is None:
        return ReconnectRequested()
    if "error" in message:
        shape = message["error"]
        if not isinstance(shape, dict) or not _is_number(shape.get("code")):
            return ProtocolViolation("error is not an error shape", shown)
        return Error(id, shape)
    result = message.get("result")
    if not isinstance(result, dict):
        return ProtocolViolation("frame has neither result, error nor method", shown)
    if id is None:
        return ProtocolViolation("result without an id", shown)
    kind = result.get("type")
    if kind == "started":
        return Started(id)
    if kind == "stopped":
        return Stopped(id)
    if kind != "data":
        return ProtocolViolation(f"unknown result type {kind!r}", shown)
    if "id" not in result:
        return Data(id, result.get("data", ABSENT))
    tracked_id = result["id"]
    wrapped = result.get("data")
    if (
        not isinstance(tracked_id, str)
        or not isinstance(wrapped, dict)
        or wrapped.get("id") != tracked_id
    ):
        return ProtocolViolation("tracked data is not {id, data: {id, data}}", shown)
    return Data(id, wrapped.get("data", ABSENT), tracked_id)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
