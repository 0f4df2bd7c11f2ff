"""The server end of the tRPC WebSocket protocol: client frames parsed, server frames encoded.

Malformed client frames never close the socket; each is answered with one
``{"id":null,"error":<PARSE_ERROR>}`` carrying tRPC's message ("Not an object", "Invalid
request id", "Must be JSONRPC 2.0", "Invalid procedure type", "Invalid string", or the JSON
parser's complaint). In a batch array, one invalid element rejects the whole frame. A request
whose ``id`` is ``null`` parses, and is answered by an id-null "`id` is required" error of its
own (the rest of its batch still runs), as in @trpc/server's adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .envelopes import TRPCError
from .http_server import ProcedureLike
from .json_values import ABSENT, JSONDecodeFailure, RawJSON, decode_json, encode_json
from .sse import merge_last_event_id
from .ws_common import Ping, Pong, RequestId, keep_alive, normalize_id

__all__ = [
    "ClientFrame",
    "ConnectionParams",
    "FrameRejected",
    "Messages",
    "NullIdRequest",
    "WSRequest",
    "WSStop",
    "encode_data",
    "encode_error",
    "encode_reconnect",
    "encode_result",
    "encode_started",
    "encode_stopped",
    "merge_last_event_id",
    "parse_client_frame",
    "parse_connection_params",
    "resolve_ws_procedure",
]

JSONRPC = Literal["2.0"]
_METHODS = ("query", "mutation", "subscription")


@dataclass(frozen=True)
class WSRequest:
    """A query, mutation or subscription request.

    ``input`` is the decoded input (:data:`ABSENT` if left out) with ``lastEventId`` already
    merged in; ``jsonrpc`` is echoed in every reply when the client sent it.
    """

    id: RequestId
    method: Literal["query", "mutation", "subscription"]
    path: str
    input: object
    last_event_id: str | None = None
    jsonrpc: JSONRPC | None = None


@dataclass(frozen=True)
class WSStop:
    """``subscription.stop`` for ``id``; unknown or finished ids are ignored by the server."""

    id: RequestId
    jsonrpc: JSONRPC | None = None


@dataclass(frozen=True)
class NullIdRequest:
    """A message with ``"id": null``; answer :meth:`error` with id null, run nothing."""

    jsonrpc: JSONRPC | None = None

    @property
    def error(self) -> TRPCError:
        """The PARSE_ERROR this message is answered with."""
        return TRPCError("PARSE_ERROR", "`id` is required")


@dataclass(frozen=True)
class Messages:
    """The messages of one frame (one, or the elements of a batch array), in order."""

    items: tuple[WSRequest | WSStop | NullIdRequest, ...]


@dataclass(frozen=True)
class FrameRejected:
    """The whole frame is refused; answer ``{"id":null,"error":...}`` and keep the socket."""

    error: TRPCError


ClientFrame = Ping | Pong | Messages | FrameRejected


class _Invalid(Exception):
    pass


def _parse_message(value: object) -> WSRequest | WSStop | NullIdRequest:
    if not isinstance(value, dict):
        raise _Invalid("Not an object")
    raw_id = value.get("id")
    id = normalize_id(raw_id)
    if (raw_id is not None and id is None) or "id" not in value:
        raise _Invalid("Invalid request id")
    jsonrpc = value.get("jsonrpc")
    if "jsonrpc" in value and jsonrpc != "2.0":
        raise _Invalid("Must be JSONRPC 2.0")
    echo: JSONRPC | None = "2.0" if "jsonrpc" in value else None
    method = value.get("method")
    if method == "subscription.stop":
        return WSStop(id, echo) if id is not None else NullIdRequest(echo)
    if method not in _METHODS:
        raise _Invalid("Invalid procedure type")
    params = value.get("params")
    if not isinstance(params, dict):
        raise _Invalid("Not an object")
    path = params.get("path")
    if not isinstance(path, str):
        raise _Invalid("Invalid string")
    last_event_id = params.get("lastEventId")
    if "lastEventId" in params and not isinstance(last_event_id, str):
        raise _Invalid("Invalid string")
    if id is None:
        return NullIdRequest(echo)
    input = merge_last_event_id(params.get("input", ABSENT), last_event_id)
    kind: Literal["query", "mutation", "subscription"] = (
        "query" if method == "query" else "mutation" if method == "mutation" else "subscription"
    )
    return WSRequest(id, kind, path, input, last_event_id, echo)


def parse_client_frame(frame: str | bytes) -> ClientFrame:
    """Parse one frame from a client. Never raises."""
    event = keep_alive(frame)
    if event is not None:
        return event
    decoded = decode_json(frame)
    if isinstance(decoded, JSONDecodeFailure):
        return FrameRejected(TRPCError("PARSE_ERROR", decoded.message))
    values = decoded if isinstance(decoded, list) else [decoded]
    try:
        return Messages(tuple(_parse_message(value) for value in values))
    except _Invalid as exc:
        return FrameRejected(TRPCError("PARSE_ERROR", str(exc)))


@dataclass(frozen=True)
class ConnectionParams:
    """The connection params a client sent first (``None`` if it sent ``"data": null``)."""

    params: Mapping[str, str] | None


def parse_connection_params(frame: str | bytes) -> ConnectionParams | FrameRejected:
    """Read the first frame of a ``?connectionParams=1`` socket.

    That frame is the params frame whatever it holds (the server does not check ``method``).
    On :class:`FrameRejected` the server answers with id null and closes the socket. A
    ``PING`` should be answered before calling this: it is not a params frame.
    """
    decoded = decode_json(frame)
    if isinstance(decoded, JSONDecodeFailure):
        return FrameRejected(TRPCError("PARSE_ERROR", decoded.message))
    invalid = FrameRejected(TRPCError("PARSE_ERROR", "Invalid connection params shape"))
    if not isinstance(decoded, dict) or "data" not in decoded:
        return invalid
    data = decoded["data"]
    if data is None:
        return ConnectionParams(None)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return invalid
    return ConnectionParams(data)


def resolve_ws_procedure(
    registry: Mapping[str, ProcedureLike], request: WSRequest
) -> ProcedureLike | TRPCError:
    """The procedure a request names, or tRPC's WebSocket NOT_FOUND (which differs from HTTP's)."""
    procedure = registry.get(request.path)
    if procedure is None or procedure.kind != request.method:
        message = f'No "{request.method}"-procedure on path "{request.path}"'
        return TRPCError("NOT_FOUND", message, path=request.path)
    return procedure


def _frame(id: RequestId | None, jsonrpc: JSONRPC | None, key: str, body: object) -> str:
    message: dict[str, object] = {"id": id}
    if jsonrpc is not None:
        message["jsonrpc"] = jsonrpc
    message[key] = body
    return encode_json(message)


def encode_result(id: RequestId, data: object, *, jsonrpc: JSONRPC | None = None) -> str:
    """The output of a query or mutation."""
    result = {"type": "data"} if data is ABSENT else {"type": "data", "data": data}
    return _frame(id, jsonrpc, "result", result)


def encode_started(id: RequestId, *, jsonrpc: JSONRPC | None = None) -> str:
    """Subscription ``id`` has started."""
    return _frame(id, jsonrpc, "result", {"type": "started"})


_RAW_SLOT = "\0kairos-raw-json\0"
_RAW_SLOT_JSON = encode_json(_RAW_SLOT)


def encode_data(
    id: RequestId,
    data: object,
    *,
    tracked_id: str | None = None,
    jsonrpc: JSONRPC | None = None,
) -> str:
    """A subscription value; a tracked value is wrapped as ``{"id": t, "data": v}``. A
    :class:`~.json_values.RawJSON` value is spliced in as it is."""
    if isinstance(data, RawJSON):
        frame = encode_data(id, _RAW_SLOT, tracked_id=tracked_id, jsonrpc=jsonrpc)
        head, slot, tail = frame.rpartition(_RAW_SLOT_JSON)
        assert slot, "the data slot is always in the frame"
        return head + data.text + tail
    if tracked_id is None:
        return encode_result(id, data, jsonrpc=jsonrpc)
    if not tracked_id or any(c in tracked_id for c in "\0\n\r"):
        raise ValueError("a tracked id is a non-empty string without NUL, CR or LF")
    wrapped = {"id": tracked_id, "data": data}
    return _frame(id, jsonrpc, "result", {"type": "data", "id": tracked_id, "data": wrapped})


def encode_stopped(id: RequestId, *, jsonrpc: JSONRPC | None = None) -> str:
    """Subscription ``id`` has ended."""
    return _frame(id, jsonrpc, "result", {"type": "stopped"})


def encode_error(
    id: RequestId | None,
    error: TRPCError,
    *,
    jsonrpc: JSONRPC | None = None,
    request_id: str | None = None,
) -> str:
    """An error for request ``id``, or for the connection when ``id`` is None."""
    return _frame(id, jsonrpc, "error", error.shape(request_id=request_id))


def encode_reconnect() -> str:
    """Ask the client to move to a new socket."""
    return encode_json({"id": None, "method": "reconnect"})
