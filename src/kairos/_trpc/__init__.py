"""The sans-I/O tRPC v11 core shared by the KAIROS client and the reference server.

Pure functions and small dataclasses: nothing here opens a socket, sleeps or reads a clock,
so every rule of the protocol is unit-testable. Drivers (httpx, websockets, Starlette) move
bytes; this package decides what the bytes mean.

Modules:

* :mod:`.json_values`: compact JSON encoding, never-raising decoding, the ``ABSENT`` marker.
* :mod:`.codes`: the error code table (key, JSON-RPC number, HTTP status).
* :mod:`.envelopes`: success/error envelopes, error shapes, :class:`TRPCError`, call results.
* :mod:`.http_client` / :mod:`.http_server`: the two ends of tRPC over HTTP, batching included.
* :mod:`.ws_common`, :mod:`.ws_client`, :mod:`.ws_server`: the two ends of the WebSocket.
* :mod:`.ws_state`: the server's running subscription ids on one socket.
* :mod:`.subscriptions`: the client's subscription machine (one per stream connection, driven
  over WebSocket or SSE): ids, resuming, flow control, reconnects, retries.
* :mod:`.sse`: tRPC subscriptions over Server-Sent Events, both ends.
* :mod:`.retry`: the retry decision and backoff.
* :mod:`.resume`: exactly-once delivery of a resumed trace stream (a pure check).
"""

from .codes import ERROR_CODES, ErrorCode, ErrorKey, key_from_shape
from .envelopes import CallResult, Err, Malformed, Ok, TRPCError
from .json_values import ABSENT, Absent, JSONEncodeError

__all__ = [
    "ABSENT",
    "ERROR_CODES",
    "Absent",
    "CallResult",
    "Err",
    "ErrorCode",
    "ErrorKey",
    "JSONEncodeError",
    "Malformed",
    "Ok",
    "TRPCError",
    "key_from_shape",
]
