"""The tRPC v11 error codes: key, JSON-RPC number and HTTP status, in both directions.

The table is ``TRPC_ERROR_CODES_BY_KEY`` and ``JSONRPC2_TO_HTTP_CODE`` of @trpc/server 11.25.2.
Several keys share -32603, so a number alone cannot name a key: :func:`key_from_shape` prefers
the string key in ``data.code`` and only falls back to the number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

__all__ = [
    "ERROR_CODES",
    "KEY_BY_HTTP_STATUS",
    "KEY_BY_NUMBER",
    "RETRYABLE_NUMBERS",
    "ErrorCode",
    "ErrorKey",
    "is_error_key",
    "is_retryable_shape",
    "key_from_shape",
]

ErrorKey = Literal[
    "PARSE_ERROR",
    "BAD_REQUEST",
    "INTERNAL_SERVER_ERROR",
    "NOT_IMPLEMENTED",
    "BAD_GATEWAY",
    "SERVICE_UNAVAILABLE",
    "GATEWAY_TIMEOUT",
    "UNAUTHORIZED",
    "PAYMENT_REQUIRED",
    "FORBIDDEN",
    "NOT_FOUND",
    "METHOD_NOT_SUPPORTED",
    "TIMEOUT",
    "CONFLICT",
    "PRECONDITION_FAILED",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "UNPROCESSABLE_CONTENT",
    "PRECONDITION_REQUIRED",
    "TOO_MANY_REQUESTS",
    "CLIENT_CLOSED_REQUEST",
]
"""Every tRPC v11 error code key."""


@dataclass(frozen=True)
class ErrorCode:
    """One row of the table: the key, its JSON-RPC number and the HTTP status it answers with."""

    key: ErrorKey
    number: int
    http_status: int


_ROWS: tuple[tuple[ErrorKey, int, int], ...] = (
    ("PARSE_ERROR", -32700, 400),
    ("BAD_REQUEST", -32600, 400),
    ("INTERNAL_SERVER_ERROR", -32603, 500),
    ("NOT_IMPLEMENTED", -32603, 501),
    ("BAD_GATEWAY", -32603, 502),
    ("SERVICE_UNAVAILABLE", -32603, 503),
    ("GATEWAY_TIMEOUT", -32603, 504),
    ("UNAUTHORIZED", -32001, 401),
    ("PAYMENT_REQUIRED", -32002, 402),
    ("FORBIDDEN", -32003, 403),
    ("NOT_FOUND", -32004, 404),
    ("METHOD_NOT_SUPPORTED", -32005, 405),
    ("TIMEOUT", -32008, 408),
    ("CONFLICT", -32009, 409),
    ("PRECONDITION_FAILED", -32012, 412),
    ("PAYLOAD_TOO_LARGE", -32013, 413),
    ("UNSUPPORTED_MEDIA_TYPE", -32015, 415),
    ("UNPROCESSABLE_CONTENT", -32022, 422),
    ("PRECONDITION_REQUIRED", -32028, 428),
    ("TOO_MANY_REQUESTS", -32029, 429),
    ("CLIENT_CLOSED_REQUEST", -32099, 499),
)

ERROR_CODES: Mapping[str, ErrorCode] = MappingProxyType(
    {key: ErrorCode(key, number, status) for key, number, status in _ROWS}
)
"""Every error code, by key."""

KEY_BY_NUMBER: Mapping[int, ErrorKey] = MappingProxyType(
    {number: key for key, number, _ in reversed(_ROWS)}
)
"""The key of each JSON-RPC number; -32603 maps back to INTERNAL_SERVER_ERROR, as in tRPC."""

KEY_BY_HTTP_STATUS: Mapping[int, ErrorKey] = MappingProxyType(
    {status: key for key, _, status in _ROWS if key != "PARSE_ERROR"}
)
"""The key for an HTTP status (400 maps to BAD_REQUEST), for bodies that carry no tRPC shape."""

RETRYABLE_NUMBERS: frozenset[int] = frozenset({-32603})
"""tRPC's ``retryableRpcCodes``: the numbers its SSE client reconnects on."""

_KEYS: frozenset[str] = frozenset(get_args(ErrorKey))


def is_error_key(value: object) -> bool:
    """Whether ``value`` is one of the tRPC error code keys."""
    return isinstance(value, str) and value in _KEYS


def key_from_shape(shape: Mapping[str, object], *, http_status: int | None = None) -> str | None:
    """The error key of an error shape, or None when nothing in it names one.

    Order: ``data.code`` when it is a string (kept even if unknown to this table, so that a
    newer server's key is not silently renamed), then the JSON-RPC number, then the HTTP status
    of the response (for shapes whose formatter dropped ``data``).
    """
    data = shape.get("data")
    if isinstance(data, Mapping):
        key = data.get("code")
        if isinstance(key, str) and key:
            return key
    number = shape.get("code")
    if isinstance(number, int) and not isinstance(number, bool) and number in KEY_BY_NUMBER:
        return KEY_BY_NUMBER[number]
    if http_status is not None and http_status in KEY_BY_HTTP_STATUS:
        return KEY_BY_HTTP_STATUS[http_status]
    return None


def is_retryable_shape(shape: Mapping[str, object]) -> bool:
    """tRPC's own retryability: the shape's number is -32603 (any 5xx key)."""
    return shape.get("code") in RETRYABLE_NUMBERS
