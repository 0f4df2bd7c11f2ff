"""Success and error envelopes, the error shape, and :class:`TRPCError`.

Wire forms (HTTP; WebSocket frames wrap the same shape, see :mod:`.ws_client`)::

    {"result":{"data":<output>}}          {"result":{}} when the output is undefined
    {"error":{"message":"nope","code":-32004,
              "data":{"code":"NOT_FOUND","httpStatus":404,"stack":"...","path":"fail"}}}

The key order of the error shape is the order @trpc/server writes it; KAIROS additions
(``requestId``, ``kairos``) follow the tRPC keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .codes import ERROR_CODES, ErrorKey, key_from_shape
from .json_values import ABSENT

__all__ = [
    "CallResult",
    "Err",
    "Malformed",
    "Ok",
    "TRPCError",
    "classify_envelope",
    "error_envelope",
    "error_shape",
    "success_envelope",
]


class TRPCError(Exception):
    """An error a procedure (or the request handling around it) answers with.

    The server raises it; the encoders turn it into an error shape. ``kairos`` is the KAIROS
    detail dict of ``error.data.kairos`` (already in wire form, e.g. ``{"kind": "rate_limit",
    "retryAfter": 2.0}``); ``headers`` are extra HTTP response headers the error needs, such as
    ``allow`` on a 405 or ``retry-after`` on a 429.
    """

    def __init__(
        self,
        code: ErrorKey,
        message: str | None = None,
        *,
        path: str | None = None,
        kairos: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown tRPC error code {code!r}")
        # tRPC's default message is the key itself.
        self.code: ErrorKey = code
        self.message: str = message if message is not None else code
        self.path = path
        self.kairos: Mapping[str, object] | None = kairos
        self.headers: Mapping[str, str] = dict(headers or {})
        super().__init__(self.message)

    @property
    def number(self) -> int:
        """The JSON-RPC number of the code."""
        return ERROR_CODES[self.code].number

    @property
    def http_status(self) -> int:
        """The HTTP status of the code."""
        return ERROR_CODES[self.code].http_status

    def with_path(self, path: str | None) -> TRPCError:
        """A copy that belongs to ``path``, unless this error already names a path."""
        if self.path is not None or path is None:
            return self
        return TRPCError(
            self.code, self.message, path=path, kairos=self.kairos, headers=self.headers
        )

    def shape(
        self, *, request_id: str | None = None, stack: str | None = None
    ) -> dict[str, object]:
        """This error as a wire error shape."""
        return error_shape(
            self.code,
            self.message,
            path=self.path,
            kairos=self.kairos,
            request_id=request_id,
            stack=stack,
        )

    def __repr__(self) -> str:
        return f"TRPCError({self.code!r}, {self.message!r}, path={self.path!r})"


def error_shape(
    code: ErrorKey,
    message: str,
    *,
    path: str | None = None,
    kairos: Mapping[str, object] | None = None,
    request_id: str | None = None,
    stack: str | None = None,
) -> dict[str, object]:
    """The default tRPC error shape, with KAIROS' optional ``requestId`` and ``kairos`` data."""
    row = ERROR_CODES[code]
    data: dict[str, object] = {"code": code, "httpStatus": row.http_status}
    if stack is not None:
        data["stack"] = stack
    if path is not None:
        data["path"] = path
    if request_id is not None:
        data["requestId"] = request_id
    if kairos is not None:
        data["kairos"] = dict(kairos)
    return {"message": message, "code": row.number, "data": data}


def success_envelope(data: object) -> dict[str, object]:
    """``{"result":{"data":data}}``, or ``{"result":{}}`` when ``data`` is :data:`ABSENT`."""
    if data is ABSENT:
        return {"result": {}}
    return {"result": {"data": data}}


def error_envelope(shape: Mapping[str, object]) -> dict[str, object]:
    """``{"error":shape}``."""
    return {"error": dict(shape)}


@dataclass(frozen=True)
class Ok:
    """A call that succeeded; ``data`` is the decoded output, or :data:`ABSENT` if undefined."""

    data: Any


@dataclass(frozen=True)
class Err:
    """A call that failed with a tRPC error shape.

    ``http_status`` is the call's own status: ``data.httpStatus`` when the shape has it, else
    the status of the response it came in (a batch's 207 says nothing about one call).
    """

    shape: Mapping[str, object]
    http_status: int

    @property
    def key(self) -> str | None:
        """The error key (see :func:`.codes.key_from_shape`)."""
        return key_from_shape(self.shape, http_status=self.http_status)

    @property
    def message(self) -> str:
        """The error's message (empty if the shape has none)."""
        message = self.shape.get("message")
        return message if isinstance(message, str) else ""

    @property
    def data(self) -> Mapping[str, object]:
        """``shape["data"]``, or an empty mapping when the formatter left it out."""
        data = self.shape.get("data")
        return data if isinstance(data, Mapping) else {}


@dataclass(frozen=True)
class Malformed:
    """A response, or one envelope in it, that does not follow the tRPC protocol.

    Proxies and load balancers answer with HTML or plain text; a server bug can answer with
    JSON of the wrong shape. ``body_excerpt`` is the start of what arrived, for the error
    message; ``http_status`` lets the caller still decide a retry (a proxy's 503 page).
    """

    http_status: int
    reason: str
    body_excerpt: str = field(default="")


CallResult = Ok | Err | Malformed
"""What one call of a request came back as."""


def _status_of_shape(shape: Mapping[str, object], response_status: int) -> int:
    data = shape.get("data")
    if isinstance(data, Mapping):
        status = data.get("httpStatus")
        if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
            return status
    if response_status >= 400:
        return response_status
    key = key_from_shape(shape)
    row = ERROR_CODES.get(key) if key is not None else None
    return row.http_status if row is not None else 500


def classify_envelope(value: object, *, http_status: int, body_excerpt: str = "") -> CallResult:
    """Classify one decoded HTTP envelope as :class:`Ok`, :class:`Err` or :class:`Malformed`.

    As in the official client, an ``error`` key decides, and ``error.code`` must be a number.
    """
    if not isinstance(value, dict):
        return Malformed(http_status, "envelope is not a JSON object", body_excerpt)
    if "error" in value:
        shape = value["error"]
        if not isinstance(shape, dict):
            return Malformed(http_status, "error envelope is not an object", body_excerpt)
        number = shape.get("code")
        if not isinstance(number, int) or isinstance(number, bool):
            return Malformed(http_status, "error.code is not a number", body_excerpt)
        if not isinstance(shape.get("message", ""), str):
            return Malformed(http_status, "error.message is not a string", body_excerpt)
        return Err(shape, _status_of_shape(shape, http_status))
    result = value.get("result")
    if not isinstance(result, dict):
        return Malformed(http_status, "envelope has neither result nor error", body_excerpt)
    return Ok(result.get("data", ABSENT))
